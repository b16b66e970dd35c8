/* sensor.c - discovery and reading of INA3221 (iio and hwmon), generic hwmon,
 * RAPL, an external meter and the estimate. */
#include "energy_agents/sensor.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/energy_proto.h"
#include "common/err.h"

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
static int read_text(const char *path, char *buf, size_t cap) {
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
static int read_number(const char *path, double *v) {
  char buf[64];
  int e = read_text(path, buf, sizeof buf);
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

static void join(char *out, size_t cap, const char *root, const char *path) {
  snprintf(out, cap, "%.250s%.200s", root, path);
}

/* Replaces the trailing "<suffix>" of a path's last component: used to
 * go from rail_name_K to in_power_K_input and from inK_label to inK_input
 * (the channel number is read from the file name, the rail is known by
 * its label). */
static int path_dir(const char *path, char *dir, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (!slash || (size_t)(slash - path) >= cap)
    return -1;
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = 0;
  return 0;
}

/* The INA3221 hwmon "sum of shunt voltages" channel, in any case. */
static int has_sum(const char *l) {
  for (; *l; l++)
    if (!strncasecmp(l, "sum", 3))
      return 1;
  return 0;
}

static int is_total_label(const char *l) {
  return !strcasecmp(l, "VDD_IN") || !strcasecmp(l, "POM_5V_IN") ||
         !strcasecmp(l, "VIN") || !strcasecmp(l, "VDD_IN_TOTAL");
}

static int add_ch(rove_sensor *s, const char *label, const char *a,
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

/* Candidate rails before the total/sub-rail decision. */
typedef struct rail {
  char label[64];
  char a[ROVE_SENSOR_PATH], b[ROVE_SENSOR_PATH];
} rail;

/* Picks the board total if there is one, else all rails (module scope),
 * or the one rail the user named. */
static int choose_rails(rove_sensor *s, const char *backend, rail *r, int n,
                        const char *want, double scale) {
  int total = -1;
  for (int i = 0; i < n; i++) {
    if (want && !strcasecmp(r[i].label, want)) {
      add_ch(s, r[i].label, r[i].a, r[i].b[0] ? r[i].b : NULL, scale, 0);
      snprintf(s->name, sizeof s->name, "%s:%s", backend, r[i].label);
      s->scope = is_total_label(r[i].label) ? ROVE_SCOPE_BOARD_INPUT
                                            : ROVE_SCOPE_MODULE_RAILS;
      return 1;
    }
    if (total < 0 && is_total_label(r[i].label))
      total = i;
  }
  if (want)
    return 0;
  if (total >= 0) {
    /* Never the total plus its sub-rails: the total already contains
     * them (jetson_stats #51). */
    add_ch(s, r[total].label, r[total].a, r[total].b[0] ? r[total].b : NULL,
           scale, 0);
    snprintf(s->name, sizeof s->name, "%s:%s", backend, r[total].label);
    s->scope = ROVE_SCOPE_BOARD_INPUT;
    return 1;
  }
  /* No board total (e.g. AGX Orin): the sum of the module rails, labelled
   * as such because a wall meter reads much more. */
  size_t k = (size_t)snprintf(s->name, sizeof s->name, "%s:", backend);
  for (int i = 0; i < n; i++) {
    add_ch(s, r[i].label, r[i].a, r[i].b[0] ? r[i].b : NULL, scale, 0);
    if (k < sizeof s->name)
      k += (size_t)snprintf(s->name + k, sizeof s->name - k, "%s%s",
                            i ? "+" : "", r[i].label);
  }
  s->scope = ROVE_SCOPE_MODULE_RAILS;
  return n > 0;
}

/* Old L4T iio driver: rail_name_K next to in_power_K_input (mW). */
static int find_ina_iio(rove_sensor *s, const char *root, const char *want) {
  char pat[ROVE_SENSOR_PATH];
  join(pat, sizeof pat, root,
       "/sys/bus/i2c/drivers/ina3221x/*/iio:device*/rail_name_*");
  glob_t g;
  if (glob(pat, 0, NULL, &g) != 0)
    return 0;
  rail r[ROVE_SENSOR_MAX_CH];
  int n = 0;
  for (size_t i = 0; i < g.gl_pathc && n < ROVE_SENSOR_MAX_CH; i++) {
    const char *p = g.gl_pathv[i];
    const char *k = strrchr(p, '_') + 1;
    char dir[ROVE_SENSOR_PATH], label[64];
    if (path_dir(p, dir, sizeof dir) || read_text(p, label, sizeof label))
      continue;
    if (!label[0] || strstr(label, "NC"))
      continue;
    snprintf(r[n].label, sizeof r[n].label, "%s", label);
    snprintf(r[n].a, sizeof r[n].a, "%.400s/in_power%.8s_input", dir, k);
    r[n].b[0] = 0;
    n++;
  }
  globfree(&g);
  if (n == 0)
    return 0;
  s->kind = ROVE_SENSOR_POWER;
  return choose_rails(s, "ina3221-iio", r, n, want, 1e-3) ? 1 : -1;
}

/* JetPack >= 5 hwmon driver: inK_label, inK_input (mV), currK_input (mA).
 * Channels labelled NC and the "sum of shunt voltages" channel are
 * skipped. */
static int find_ina_hwmon(rove_sensor *s, const char *root, const char *want) {
  char pat[ROVE_SENSOR_PATH];
  join(pat, sizeof pat, root,
       "/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/in*_label");
  glob_t g;
  if (glob(pat, 0, NULL, &g) != 0)
    return 0;
  rail r[ROVE_SENSOR_MAX_CH];
  int n = 0;
  double upd = 0;
  for (size_t i = 0; i < g.gl_pathc && n < ROVE_SENSOR_MAX_CH; i++) {
    const char *p = g.gl_pathv[i];
    const char *base = strrchr(p, '/') + 1;
    int k;
    char dir[ROVE_SENSOR_PATH], label[64], tmp[ROVE_SENSOR_PATH + 32];
    if (sscanf(base, "in%d_label", &k) != 1 || path_dir(p, dir, sizeof dir) ||
        read_text(p, label, sizeof label))
      continue;
    if (!label[0] || strstr(label, "NC") || has_sum(label))
      continue;
    snprintf(r[n].label, sizeof r[n].label, "%s", label);
    snprintf(r[n].a, sizeof r[n].a, "%.400s/in%d_input", dir, k);
    snprintf(r[n].b, sizeof r[n].b, "%.400s/curr%d_input", dir, k);
    snprintf(tmp, sizeof tmp, "%s/update_interval", dir);
    double ms;
    if (read_number(tmp, &ms) == 0 && ms > 0)
      upd = ms * 1e-3;
    n++;
  }
  globfree(&g);
  if (n == 0)
    return 0;
  s->kind = ROVE_SENSOR_POWER;
  s->update_interval_s = upd;
  return choose_rails(s, "ina3221-hwmon", r, n, want, 1e-6) ? 1 : -1;
}

/* RAPL: top-level intel-rapl:N zones named package-N (or the named zone
 * at any level). intel-rapl-mmio zones duplicate the package counter and
 * would double it, so they are dropped. */
static int find_rapl(rove_sensor *s, const char *root, const char *want) {
  char pat[ROVE_SENSOR_PATH];
  join(pat, sizeof pat, root, "/sys/class/powercap/intel-rapl*");
  glob_t g;
  if (glob(pat, 0, NULL, &g) != 0)
    return 0;
  size_t k = (size_t)snprintf(s->name, sizeof s->name, "rapl:");
  int found = 0;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    const char *p = g.gl_pathv[i];
    const char *base = strrchr(p, '/') + 1;
    if (!strncmp(base, "intel-rapl-mmio", 15) || !strcmp(base, "intel-rapl"))
      continue;
    int depth = 0;
    for (const char *c = base; *c; c++)
      depth += *c == ':';
    char f[ROVE_SENSOR_PATH + 32], name[64], e[ROVE_SENSOR_PATH + 32];
    snprintf(f, sizeof f, "%s/name", p);
    if (read_text(f, name, sizeof name))
      continue;
    if (want ? strcmp(name, want) != 0
             : (depth != 1 || strncmp(name, "package", 7) != 0))
      continue;
    double range = 0;
    snprintf(f, sizeof f, "%s/max_energy_range_uj", p);
    int er = read_number(f, &range);
    snprintf(e, sizeof e, "%s/energy_uj", p);
    found++;
    if (er != 0)
      range = 0; /* unknown: a backwards step is then an error */
    add_ch(s, name, e, NULL, 1e-6, range > 0 ? range * 1e-6 : 0);
    if (k < sizeof s->name)
      k += (size_t)snprintf(s->name + k, sizeof s->name - k, "%s%s",
                            found > 1 ? "+" : "", name);
  }
  globfree(&g);
  if (!found)
    return 0;
  s->kind = ROVE_SENSOR_ENERGY;
  s->scope = ROVE_SCOPE_CPU_PACKAGE;
  return 1;
}

/* Generic hwmon: prefers an energy counter (µJ) over power (µW). INA3221
 * devices are handled by their own back-end (they have no power file). */
static int find_hwmon(rove_sensor *s, const char *root, const char *want) {
  char pat[ROVE_SENSOR_PATH];
  join(pat, sizeof pat, root, "/sys/class/hwmon/hwmon*/name");
  glob_t g;
  if (glob(pat, 0, NULL, &g) != 0)
    return 0;
  int rc = 0;
  for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
    char dir[ROVE_SENSOR_PATH], name[64], f[ROVE_SENSOR_PATH + 32];
    if (path_dir(g.gl_pathv[i], dir, sizeof dir) ||
        read_text(g.gl_pathv[i], name, sizeof name))
      continue;
    if (want ? strcmp(name, want) != 0 : !strcmp(name, "ina3221"))
      continue;
    const char *kinds[2] = {"energy", "power"};
    for (int kd = 0; kd < 2 && !rc; kd++) {
      char p2[ROVE_SENSOR_PATH + 32];
      snprintf(p2, sizeof p2, "%s/%s*_input", dir, kinds[kd]);
      glob_t g2;
      if (glob(p2, 0, NULL, &g2) != 0)
        continue;
      /* one channel: the first, which is the device's total */
      const char *file = g2.gl_pathv[0];
      char label[64];
      int num = 1;
      sscanf(strrchr(file, '/') + 1 + strlen(kinds[kd]), "%d", &num);
      snprintf(f, sizeof f, "%s/%s%d_label", dir, kinds[kd], num);
      if (read_text(f, label, sizeof label))
        snprintf(label, sizeof label, "%s%d", kinds[kd], num);
      add_ch(s, label, file, NULL, 1e-6, 0);
      s->kind = kd == 0 ? ROVE_SENSOR_ENERGY : ROVE_SENSOR_POWER;
      s->scope = ROVE_SCOPE_SENSOR;
      snprintf(s->name, sizeof s->name, "hwmon:%.40s:%.60s", name, label);
      snprintf(f, sizeof f, "%s/update_interval", dir);
      double ms;
      if (read_number(f, &ms) == 0 && ms > 0)
        s->update_interval_s = ms * 1e-3;
      globfree(&g2);
      rc = 1;
    }
  }
  globfree(&g);
  return rc;
}

static int meter_start(rove_sensor *s) {
  int fds[2];
  if (pipe(fds) != 0)
    return ROVE_ERR(ROVE_EIO, "meter: pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return ROVE_ERR(ROVE_EIO, "meter: fork: %s", strerror(errno));
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl("/bin/sh", "sh", "-c", s->meter_cmd, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  s->meter_fd = fds[0];
  s->meter_pid = (int)pid;
  return 0;
}

int rove_sensor_open(rove_sensor *s, const char *root, const char *spec) {
  memset(s, 0, sizeof *s);
  s->meter_fd = -1;
  if (!root)
    root = "";
  if (!spec || !*spec)
    spec = "auto";
  char kind[32];
  const char *colon = strchr(spec, ':');
  size_t kl = colon ? (size_t)(colon - spec) : strlen(spec);
  if (kl >= sizeof kind)
    return ROVE_ERR(ROVE_EINVAL, "--sensor %s: unknown back-end", spec);
  memcpy(kind, spec, kl);
  kind[kl] = 0;
  const char *arg = colon ? colon + 1 : NULL;
  if (arg && !*arg)
    arg = NULL;
  int r = 0;
  if (!strcmp(kind, "estimate")) {
    s->kind = ROVE_SENSOR_ESTIMATE;
    s->scope = ROVE_SCOPE_ESTIMATE;
    snprintf(s->name, sizeof s->name, "estimate:horowitz-45nm");
    return 0;
  }
  if (!strcmp(kind, "meter")) {
    if (!arg)
      return ROVE_ERR(ROVE_EINVAL,
                      "--sensor meter:COMMAND: the command is missing");
    snprintf(s->meter_cmd, sizeof s->meter_cmd, "%s", arg);
    s->kind = ROVE_SENSOR_POWER;
    s->scope = ROVE_SCOPE_EXTERNAL;
    snprintf(s->name, sizeof s->name, "meter:%.120s", arg);
    ROVE_TRY(meter_start(s));
    return 0;
  }
  if (!strcmp(kind, "ina3221")) {
    r = find_ina_iio(s, root, arg);
    if (r == 0)
      r = find_ina_hwmon(s, root, arg);
  } else if (!strcmp(kind, "rapl")) {
    r = find_rapl(s, root, arg);
  } else if (!strcmp(kind, "hwmon")) {
    r = find_hwmon(s, root, arg);
  } else if (!strcmp(kind, "auto")) {
    if (arg)
      return ROVE_ERR(ROVE_EINVAL, "--sensor auto takes no argument");
    r = find_ina_iio(s, root, NULL);
    if (r == 0)
      r = find_ina_hwmon(s, root, NULL);
    if (r == 0)
      r = find_rapl(s, root, NULL);
    if (r == 0)
      r = find_hwmon(s, root, NULL);
    if (r == 0) {
      s->kind = ROVE_SENSOR_ESTIMATE;
      s->scope = ROVE_SCOPE_ESTIMATE;
      snprintf(s->name, sizeof s->name, "estimate:horowitz-45nm");
      return 0;
    }
  } else {
    return ROVE_ERR(ROVE_EINVAL,
                    "--sensor %s: unknown back-end \"%s\" (expected auto, "
                    "ina3221, hwmon, rapl, meter:CMD or estimate)",
                    spec, kind);
  }
  if (r <= 0 && !s->reason[0]) {
    if (!s->name[0])
      snprintf(s->name, sizeof s->name, "%.120s", spec);
    snprintf(s->reason, sizeof s->reason, "no %s sensor%s%s found under %s/sys",
             kind, arg ? " " : "", arg ? arg : "", root);
    return 0;
  }
  if (!s->name[0])
    snprintf(s->name, sizeof s->name, "%.120s", spec);
  if (s->reason[0])
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
  if (s->meter_fd >= 0)
    close(s->meter_fd);
  if (s->meter_pid > 0) {
    kill((pid_t)s->meter_pid, SIGTERM);
    waitpid((pid_t)s->meter_pid, NULL, 0);
  }
  s->meter_fd = -1;
  s->meter_pid = 0;
}

int rove_sensor_measurable(const rove_sensor *s) {
  return !s->reason[0] && s->kind != ROVE_SENSOR_ESTIMATE;
}

static int read_fail(const char *path, int e) {
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

static int meter_read(rove_sensor *s, double timeout_s, double *v, double *t) {
  double end = rove_now() + timeout_s;
  for (;;) {
    char *nl = memchr(s->meter_line, '\n', s->meter_len);
    if (nl) {
      *nl = 0;
      *t = rove_now();
      char *e;
      double x = strtod(s->meter_line, &e);
      int ok = e != s->meter_line && isfinite(x);
      while (ok && *e && isspace((unsigned char)*e))
        e++;
      ok = ok && !*e;
      char bad[64];
      snprintf(bad, sizeof bad, "%.60s", s->meter_line);
      size_t used = (size_t)(nl - s->meter_line) + 1;
      memmove(s->meter_line, nl + 1, s->meter_len - used);
      s->meter_len -= used;
      if (!ok)
        return ROVE_ERR(ROVE_EFORMAT,
                        "meter \"%s\": line \"%s\": expected one reading in "
                        "watts",
                        s->meter_cmd, bad);
      *v = x;
      return 0;
    }
    if (s->meter_len >= sizeof s->meter_line - 1)
      return ROVE_ERR(ROVE_EFORMAT, "meter \"%s\": line longer than %zu bytes",
                      s->meter_cmd, sizeof s->meter_line - 1);
    double left = end - rove_now();
    if (left <= 0)
      return ROVE_ERR(ROVE_ERANGE, "meter \"%s\": no reading for %.1f s",
                      s->meter_cmd, timeout_s);
    struct pollfd p = {s->meter_fd, POLLIN, 0};
    int pr = poll(&p, 1, (int)(left * 1000) + 1);
    if (pr < 0 && errno != EINTR)
      return ROVE_ERR(ROVE_EIO, "meter: poll: %s", strerror(errno));
    if (pr <= 0)
      continue;
    ssize_t n = read(s->meter_fd, s->meter_line + s->meter_len,
                     sizeof s->meter_line - 1 - s->meter_len);
    if (n == 0)
      return ROVE_ERR(ROVE_EIO, "meter \"%s\": the command exited",
                      s->meter_cmd);
    if (n < 0 && errno != EINTR)
      return ROVE_ERR(ROVE_EIO, "meter: read: %s", strerror(errno));
    if (n > 0)
      s->meter_len += (size_t)n;
  }
}

int rove_sensor_read(rove_sensor *s, double timeout_s, double *value,
                     double *t) {
  if (s->kind == ROVE_SENSOR_ESTIMATE)
    return ROVE_ERR(ROVE_ESTATE, "%s: an estimate has no reading", s->name);
  if (s->meter_fd >= 0)
    return meter_read(s, timeout_s, value, t);
  double sum = 0;
  for (int i = 0; i < s->n_ch; i++) {
    rove_sensor_ch *c = &s->ch[i];
    double a, b = 1;
    int e = read_number(c->path_a, &a);
    if (e)
      return read_fail(c->path_a, e);
    if (c->path_b[0] && (e = read_number(c->path_b, &b)) != 0)
      return read_fail(c->path_b, e);
    double x = a * b * c->scale;
    if (s->kind == ROVE_SENSOR_ENERGY) {
      if (c->have_last) {
        double d = x - c->last_raw;
        if (d < 0) {
          /* A cumulative counter only goes backwards by wrapping. */
          if (c->max_range_j <= 0)
            return ROVE_ERR(ROVE_ERANGE,
                            "%s: energy counter went backwards (%.6f -> %.6f "
                            "J) and the sensor gives no wrap range",
                            c->path_a, c->last_raw, x);
          d += c->max_range_j;
          s->wraps++;
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
