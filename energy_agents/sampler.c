/* sampler.c - fixed-period sampling thread and window integration. */
#include "energy_agents/sampler.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"

/* Index of the last sample with t <= x, or -1. */
static long last_at_or_before(const rove_sample *s, size_t n, double x) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s[mid].t <= x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return (long)lo - 1;
}

/* Linear interpolation of the value at x between samples i and i+1. */
static double interp(const rove_sample *s, long i, double x) {
  const rove_sample *a = &s[i], *b = &s[i + 1];
  if (b->t <= a->t)
    return b->v;
  return a->v + (b->v - a->v) * (x - a->t) / (b->t - a->t);
}

int rove_integrate(const rove_sample *s, size_t n, int kind, double t0,
                   double t1, double *joules, size_t *n_inside) {
  if (!(t1 > t0))
    return ROVE_ERR(ROVE_EINVAL, "integration window [%.6f, %.6f] is empty", t0,
                    t1);
  long i0 = last_at_or_before(s, n, t0);
  long i1 = last_at_or_before(s, n, t1);
  if (n < 2 || i0 < 0 || i1 >= (long)n - 1)
    return ROVE_ERR(ROVE_ERANGE,
                    "the samples (%zu) do not cover the window [%.6f, %.6f] "
                    "s: the sensor stopped or the window is too short",
                    n, t0, t1);
  if (n_inside) {
    *n_inside = 0;
    for (long i = i0 + 1; i <= i1; i++)
      *n_inside += s[i].t > t0 && s[i].t < t1;
  }
  double v0 = interp(s, i0, t0), v1 = interp(s, i1, t1);
  if (kind == ROVE_SENSOR_ENERGY) {
    for (long i = i0 + 1; i <= i1 + 1; i++)
      if (s[i].gap)
        return ROVE_ERR(ROVE_ERANGE,
                        "the energy counter went backwards at %.6f s, inside "
                        "the window [%.6f, %.6f] s, and the sensor gives no "
                        "wrap range: a reset, the window's energy is unknown",
                        s[i].t, t0, t1);
    *joules = v1 - v0;
    return 0;
  }
  double e = 0, pt = t0, pv = v0;
  for (long i = i0 + 1; i <= i1; i++) {
    e += 0.5 * (pv + s[i].v) * (s[i].t - pt);
    pt = s[i].t;
    pv = s[i].v;
  }
  e += 0.5 * (pv + v1) * (t1 - pt);
  *joules = e;
  return 0;
}

static void *sampler_main(void *arg) {
  rove_sampler *sp = arg;
  double next = rove_now();
  for (;;) {
    pthread_mutex_lock(&sp->mu);
    int stop = sp->stop;
    pthread_mutex_unlock(&sp->mu);
    if (stop)
      break;
    rove_sample x;
    unsigned resets = sp->sensor->resets;
    int rc = rove_sensor_read(sp->sensor, 2.0 + 10 * sp->period_s, &x.v, &x.t);
    x.gap = sp->sensor->resets != resets;
    pthread_mutex_lock(&sp->mu);
    if (rc < 0) {
      sp->err = rc;
      snprintf(sp->errmsg, sizeof sp->errmsg, "%s", rove_error_message());
      pthread_mutex_unlock(&sp->mu);
      break;
    }
    if (sp->n == sp->cap) {
      size_t cap = sp->cap ? 2 * sp->cap : 4096;
      rove_sample *b = realloc(sp->buf, cap * sizeof *b);
      if (!b) {
        sp->err = ROVE_ENOMEM;
        snprintf(sp->errmsg, sizeof sp->errmsg, "sampler: out of memory");
        pthread_mutex_unlock(&sp->mu);
        break;
      }
      sp->buf = b;
      sp->cap = cap;
    }
    sp->buf[sp->n++] = x;
    pthread_mutex_unlock(&sp->mu);
    if (rove_sensor_self_paced(sp->sensor))
      continue; /* the meter sets its own pace: one line, one sample */
    /* Fixed grid of deadlines; after a stall (a slow read) the missed
     * ticks are skipped rather than fired as a burst. */
    next += sp->period_s;
    double now = rove_now();
    while (next < now)
      next += sp->period_s;
    rove_sleep_until(next);
  }
  return NULL;
}

int rove_sampler_start(rove_sampler *sp, rove_sensor *s, double period_s) {
  memset(sp, 0, sizeof *sp);
  if (!rove_sensor_measurable(s))
    return ROVE_ERR(ROVE_ESTATE, "sensor %s is not measurable: %s", s->name,
                    s->reason[0] ? s->reason : "an estimate has no samples");
  if (!(period_s >= 0.0001 && period_s <= 10))
    return ROVE_ERR(ROVE_ERANGE, "sample period %g s, expected 0.0001..10",
                    period_s);
  sp->sensor = s;
  sp->period_s = period_s;
  pthread_mutex_init(&sp->mu, NULL);
  if (pthread_create(&sp->thread, NULL, sampler_main, sp) != 0) {
    pthread_mutex_destroy(&sp->mu);
    return ROVE_ERR(ROVE_EIO, "sampler: cannot start the thread");
  }
  sp->running = 1;
  return 0;
}

int rove_sampler_stop(rove_sampler *sp) {
  if (sp->running) {
    pthread_mutex_lock(&sp->mu);
    sp->stop = 1;
    pthread_mutex_unlock(&sp->mu);
    pthread_join(sp->thread, NULL);
    sp->running = 0;
  }
  if (sp->err)
    return ROVE_ERR(sp->err, "%s", sp->errmsg);
  return 0;
}

void rove_sampler_deinit(rove_sampler *sp) {
  if (sp->running)
    (void)rove_sampler_stop(sp);
  if (sp->sensor)
    pthread_mutex_destroy(&sp->mu);
  free(sp->buf);
  memset(sp, 0, sizeof *sp);
}

int rove_sampler_energy(rove_sampler *sp, double t0, double t1, double *joules,
                        size_t *n_inside) {
  double deadline = rove_now() + 2.0 + 4 * sp->period_s;
  for (;;) {
    pthread_mutex_lock(&sp->mu);
    int have = sp->n > 0 && sp->buf[sp->n - 1].t > t1;
    int err = sp->err;
    pthread_mutex_unlock(&sp->mu);
    if (have || err || !sp->running || rove_now() > deadline)
      break;
    rove_sleep(sp->period_s);
  }
  pthread_mutex_lock(&sp->mu);
  int rc = rove_integrate(sp->buf, sp->n, sp->sensor->kind, t0, t1, joules,
                          n_inside);
  pthread_mutex_unlock(&sp->mu);
  if (rc < 0 && sp->err)
    return ROVE_ERR(sp->err, "%s", sp->errmsg);
  return rc;
}

int rove_sampler_flat(rove_sampler *sp, double t0, double t1, double *value,
                      size_t *n) {
  pthread_mutex_lock(&sp->mu);
  size_t k = 0;
  int flat = 1;
  double v0 = 0;
  for (size_t i = 0; i < sp->n; i++) {
    if (sp->buf[i].t < t0 || sp->buf[i].t > t1)
      continue;
    if (k++ == 0)
      v0 = sp->buf[i].v;
    else if (sp->buf[i].v != v0)
      flat = 0;
  }
  pthread_mutex_unlock(&sp->mu);
  *value = v0;
  *n = k;
  return flat && k >= 3;
}

int rove_sampler_gap(rove_sampler *sp, double t0, double t1) {
  pthread_mutex_lock(&sp->mu);
  int gap = 0;
  for (size_t i = 0; i < sp->n && !gap; i++)
    gap = sp->buf[i].gap && sp->buf[i].t > t0 &&
          (i == 0 || sp->buf[i - 1].t < t1);
  pthread_mutex_unlock(&sp->mu);
  return gap;
}

void rove_sampler_timing(rove_sampler *sp, double t0, double t1,
                         double *mean_dt, double *jitter) {
  pthread_mutex_lock(&sp->mu);
  double sum = 0, sum2 = 0;
  size_t k = 0;
  for (size_t i = 1; i < sp->n; i++) {
    if (sp->buf[i - 1].t < t0 || sp->buf[i].t > t1)
      continue;
    double d = sp->buf[i].t - sp->buf[i - 1].t;
    sum += d;
    sum2 += d * d;
    k++;
  }
  pthread_mutex_unlock(&sp->mu);
  *mean_dt = k ? sum / (double)k : 0;
  double var = k > 1 ? (sum2 - sum * sum / (double)k) / (double)(k - 1) : 0;
  *jitter = var > 0 ? sqrt(var) : 0;
}
