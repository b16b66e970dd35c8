/* sensor.c - the sensor registry (sensors.def): opening a spec, the
 * channel reader of file-based back-ends with wrap-aware counters, and the
 * sysfs helpers the back-ends in energy_agents/sensors/ share. */
#include "energy_agents/sensor.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/energy_proto.h"
#include "common/err.h"
#include "energy_agents/sensor_backend.h"

static const rove_sensor_ops *const backends[] = {
#define X(sym) &rove_sensor_##sym,
#include "energy_agents/sensors.def"
#undef X
};
#define N_BACKENDS ((int)(sizeof backends / sizeof backends[0]))

const rove_sensor_ops *const *rove_sensor_backends(int *n) {
  *n = N_BACKENDS;
  return backends;
}

void rove_sensor_usage(char *buf, size_t cap) {
  size_t k = 0;
  buf[0] = 0;
  k += (size_t)snprintf(buf, cap, "auto");
  for (int i = 0; i < N_BACKENDS && k < cap; i++)
    k += (size_t)snprintf(buf + k, cap - k, ", %s", backends[i]->usage);
}

int rove_sensor_self_paced(const rove_sensor *s) {
  return s->ops && (s->ops->flags & ROVE_SENSORF_SELF_PACED);
}

void rove_sleep_until(double t) {
  /* One absolute deadline, so a sleep cut short by a signal resumes
   * towards the same instant and the sampler's grid does not drift.
   * qemu-user handles TIMER_ABSTIME too (tests/integration/
   * test_agent_aarch64.sh samples through it). */
  if (!(t > 0))
    return;
  struct timespec ts;
  ts.tv_sec = (time_t)t;
  ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
  if (ts.tv_nsec > 999999999)
    ts.tv_nsec = 999999999;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
    ;
}

void rove_sleep(double s) {
  if (s > 0)
    rove_sleep_until(rove_now() + s);
}

/* Reads a small sysfs file. Returns 0, or -errno. */
int sensor__read_text(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  ssize_t n;
  do
    n = read(fd, buf, cap - 1);
  while (n < 0 && errno == EINTR);
  int e = errno;
  close(fd);
  if (n < 0)
    return -e;
  buf[n] = 0;
  while (n > 0 && isspace((unsigned char)buf[n - 1]))
    buf[--n] = 0;
  return 0;
}

/* Reads a number; returns 0, -errno, or -EINVAL when not a number. */
int sensor__read_number(const char *path, double *v) {
  char buf[64];
  int e = sensor__read_text(path, buf, sizeof buf);
  if (e)
    return e;
  char *end;
  errno = 0;
  double x = strtod(buf, &end);
  if (end == buf || *end || errno || !isfinite(x))
    return -EINVAL;
  *v = x;
  return 0;
}

void sensor__join(char *out, size_t cap, const char *root, const char *path) {
  snprintf(out, cap, "%.250s%.200s", root, path);
}

/* Replaces the trailing "<suffix>" of a path's last component: used to
 * go from rail_name_K to in_power_K_input and from inK_label to inK_input
 * (the channel number is read from the file name, the sensor__rail is known by
 * its label). */
int sensor__path_dir(const char *path, char *dir, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (!slash || (size_t)(slash - path) >= cap)
    return -1;
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = 0;
  return 0;
}

/* The INA3221 hwmon "sum of shunt voltages" channel, in any case. */
int sensor__has_sum(const char *l) {
  for (; *l; l++)
    if (!strncasecmp(l, "sum", 3))
      return 1;
  return 0;
}

int sensor__is_total_label(const char *l) {
  return !strcasecmp(l, "VDD_IN") || !strcasecmp(l, "POM_5V_IN") ||
         !strcasecmp(l, "VIN") || !strcasecmp(l, "VDD_IN_TOTAL");
}

int sensor__add_ch(rove_sensor *s, const char *label, const char *a,
                   const char *b, double scale, double max_range_j) {
  if (s->n_ch >= ROVE_SENSOR_MAX_CH)
    return 0;
  rove_sensor_ch *c = &s->ch[s->n_ch++];
  memset(c, 0, sizeof *c);
  snprintf(c->label, sizeof c->label, "%s", label);
  snprintf(c->path_a, sizeof c->path_a, "%.500s", a);
  snprintf(c->path_b, sizeof c->path_b, "%.500s", b ? b : "");
  c->scale = scale;
  c->max_range_j = max_range_j;
  return 1;
}

/* Candidate rails before the total/sub-sensor__rail decision. */

/* Picks the board total if there is one, else all rails (module scope),
 * or the one sensor__rail the user named. */
int sensor__choose_rails(rove_sensor *s, const char *backend, sensor__rail *r,
                         int n, const char *want, double scale) {
  int total = -1;
  for (int i = 0; i < n; i++) {
    if (want && !strcasecmp(r[i].label, want)) {
      sensor__add_ch(s, r[i].label, r[i].a, r[i].b[0] ? r[i].b : NULL, scale,
                     0);
      snprintf(s->name, sizeof s->name, "%s:%s", backend, r[i].label);
      s->scope = sensor__is_total_label(r[i].label) ? ROVE_SCOPE_BOARD_INPUT
                                                    : ROVE_SCOPE_MODULE_RAILS;
      return 1;
    }
    if (total < 0 && sensor__is_total_label(r[i].label))
      total = i;
  }
  if (want)
    return 0;
  if (total >= 0) {
    /* Never the total plus its sub-rails: the total already contains
     * them (jetson_stats #51). */
    sensor__add_ch(s, r[total].label, r[total].a,
                   r[total].b[0] ? r[total].b : NULL, scale, 0);
    snprintf(s->name, sizeof s->name, "%s:%s", backend, r[total].label);
    s->scope = ROVE_SCOPE_BOARD_INPUT;
    return 1;
  }
  /* No board total (e.g. AGX Orin): the sum of the module rails, labelled
   * as such because a wall meter reads much more. */
  size_t k = (size_t)snprintf(s->name, sizeof s->name, "%s:", backend);
  for (int i = 0; i < n; i++) {
    sensor__add_ch(s, r[i].label, r[i].a, r[i].b[0] ? r[i].b : NULL, scale, 0);
    if (k < sizeof s->name)
      k += (size_t)snprintf(s->name + k, sizeof s->name - k, "%s%s",
                            i ? "+" : "", r[i].label);
  }
  s->scope = ROVE_SCOPE_MODULE_RAILS;
  return n > 0;
}

int sensor__read_fail(const char *path, int e) {
  if (e == -EACCES || e == -EPERM)
    return ROVE_ERR(ROVE_EACCES, "%s: permission denied%s", path,
                    strstr(path, "powercap")
                        ? " (RAPL energy_uj is root-only since Linux 5.10: "
                          "see the udev rule in deploy/agent/README.md)"
                        : "");
  if (e == -ENOENT || e == -ENODEV)
    return ROVE_ERR(ROVE_ENOENT, "%s: sensor file vanished", path);
  if (e == -EINVAL)
    return ROVE_ERR(ROVE_EFORMAT, "%s: expected a number", path);
  return ROVE_ERR(ROVE_EIO, "%s: %s", path, strerror(-e));
}

static const rove_sensor_ops *backend(const char *name) {
  for (int i = 0; i < N_BACKENDS; i++)
    if (!strcmp(backends[i]->name, name))
      return backends[i];
  return NULL;
}

int rove_sensor_open(rove_sensor *s, const char *root, const char *spec) {
  memset(s, 0, sizeof *s);
  if (!root)
    root = "";
  if (!spec || !*spec)
    spec = "auto";
  char kind[32];
  const char *colon = strchr(spec, ':');
  size_t kl = colon ? (size_t)(colon - spec) : strlen(spec);
  const char *arg = colon ? colon + 1 : NULL;
  if (arg && !*arg)
    arg = NULL;
  if (kl >= sizeof kind)
    kl = sizeof kind - 1;
  memcpy(kind, spec, kl);
  kind[kl] = 0;
  int r = 0;
  if (!strcmp(kind, "auto")) {
    if (arg)
      return ROVE_ERR(ROVE_EINVAL, "--sensor auto takes no argument");
    for (int i = 0; i < N_BACKENDS && r == 0; i++) {
      if (backends[i]->flags & ROVE_SENSORF_NOT_AUTO)
        continue;
      s->ops = backends[i];
      r = backends[i]->find(s, root, NULL);
      ROVE_TRY(r);
    }
    if (r == 0) {
      s->ops = &rove_sensor_estimate;
      ROVE_TRY(rove_sensor_estimate.find(s, root, NULL));
      return 0;
    }
  } else {
    s->ops = backend(kind);
    if (!s->ops) {
      char usage[256];
      rove_sensor_usage(usage, sizeof usage);
      return ROVE_ERR(ROVE_EINVAL,
                      "--sensor %s: unknown back-end \"%s\" (expected %s)",
                      spec, kind, usage);
    }
    if (arg && (s->ops->flags & ROVE_SENSORF_NO_ARG))
      return ROVE_ERR(ROVE_EINVAL, "--sensor %s takes no argument", kind);
    r = s->ops->find(s, root, arg);
    ROVE_TRY(r);
  }
  if (s->kind == ROVE_SENSOR_ESTIMATE)
    return 0;
  if (r <= 0 && !s->reason[0]) {
    if (!s->name[0])
      snprintf(s->name, sizeof s->name, "%.120s", spec);
    snprintf(s->reason, sizeof s->reason, "no %s sensor%s%s found under %s/sys",
             kind, arg ? " " : "", arg ? arg : "", root);
    return 0;
  }
  if (!s->name[0])
    snprintf(s->name, sizeof s->name, "%.120s", spec);
  if (s->reason[0] || rove_sensor_self_paced(s))
    return 0;
  /* A sensor that is there but unreadable (EACCES, a driver error) is
   * unmeasurable: try one reading now so the reason is known up front. */
  double v, t;
  if (rove_sensor_read(s, 1.0, &v, &t) < 0) {
    snprintf(s->reason, sizeof s->reason, "%s", rove_error_message());
    rove_error_clear();
  }
  for (int i = 0; i < s->n_ch; i++) { /* restart the unwrapping */
    s->ch[i].have_last = 0;
    s->ch[i].acc_j = 0;
  }
  s->wraps = 0;
  return 0;
}

void rove_sensor_deinit(rove_sensor *s) {
  if (s->ops && s->ops->deinit)
    s->ops->deinit(s);
  s->priv = NULL;
}

int rove_sensor_measurable(const rove_sensor *s) {
  return !s->reason[0] && s->kind != ROVE_SENSOR_ESTIMATE;
}

int rove_sensor_read(rove_sensor *s, double timeout_s, double *value,
                     double *t) {
  if (s->kind == ROVE_SENSOR_ESTIMATE)
    return ROVE_ERR(ROVE_ESTATE, "%s: an estimate has no reading", s->name);
  if (s->ops && s->ops->read)
    return s->ops->read(s, timeout_s, value, t);
  double sum = 0;
  for (int i = 0; i < s->n_ch; i++) {
    rove_sensor_ch *c = &s->ch[i];
    double a, b = 1;
    int e = sensor__read_number(c->path_a, &a);
    if (e)
      return sensor__read_fail(c->path_a, e);
    if (c->path_b[0] && (e = sensor__read_number(c->path_b, &b)) != 0)
      return sensor__read_fail(c->path_b, e);
    double x = a * b * c->scale;
    if (s->kind == ROVE_SENSOR_ENERGY) {
      if (c->have_last) {
        double d = x - c->last_raw;
        if (d < 0) {
          /* A cumulative counter only goes backwards by wrapping, or by
           * a reset (driver reload, a counter narrower than it says). */
          if (c->max_range_j > 0) {
            d += c->max_range_j;
            s->wraps++;
          } else {
            d = 0;
            s->resets++;
          }
        }
        c->acc_j += d;
      }
      c->last_raw = x;
      c->have_last = 1;
      sum += c->acc_j;
    } else {
      sum += x;
    }
  }
  *t = rove_now();
  *value = sum;
  return 0;
}
