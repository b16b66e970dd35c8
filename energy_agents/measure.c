/* measure.c - idle/warm-up/trial protocol, per-model statistics and validity
 * flags. */
#include "energy_agents/measure.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "energy_agents/sampler.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double rove_stat_quantile(const double *x, int n, double p) {
  if (n <= 0)
    return NAN;
  double *s = malloc((size_t)n * sizeof *s);
  if (!s)
    return NAN;
  memcpy(s, x, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, cmp_double);
  double pos = p * (n - 1);
  int i = (int)floor(pos);
  double f = pos - i;
  double v = i + 1 < n ? s[i] + f * (s[i + 1] - s[i]) : s[n - 1];
  free(s);
  return v;
}

double rove_stat_median(const double *x, int n) {
  return rove_stat_quantile(x, n, 0.5);
}

double rove_stat_t975(int df) {
  static const double t[] = {0,     12.706, 4.303, 3.182, 2.776, 2.571, 2.447,
                             2.365, 2.306,  2.262, 2.228, 2.201, 2.179, 2.160,
                             2.145, 2.131,  2.120, 2.110, 2.101, 2.093, 2.086,
                             2.080, 2.074,  2.069, 2.064, 2.060, 2.056, 2.052,
                             2.048, 2.045,  2.042};
  if (df < 1)
    return NAN;
  if (df <= 30)
    return t[df];
  return 1.96 + 2.4 / df; /* within 0.003 of the exact value past 30 */
}

double rove_estimate_joules(const rove_workload *w, int batch) {
  double mul_pj, add_pj;
  switch (w->bits) {
  case 8: mul_pj = 0.2, add_pj = 0.03; break;
  case 16: mul_pj = 1.1, add_pj = 0.4; break;
  default: mul_pj = 3.7, add_pj = 0.9; break;
  }
  const double dram_pj_per_byte = 1950.0 / 8, sram_pj_per_byte = 10.0 / 8;
  double pj = w->macs * (mul_pj + add_pj) +
              w->param_bytes * dram_pj_per_byte / (batch > 0 ? batch : 1) +
              w->act_bytes * sram_pj_per_byte;
  return pj * 1e-12;
}

static void fill_common(rove_energy_result *r, const rove_sensor *s,
                        const rove_workload *w, const rove_ep_mconf *c) {
  memset(r, 0, sizeof *r);
  memcpy(r->model_hash, w->model_hash, 32);
  snprintf(r->model_name, sizeof r->model_name, "%s", w->name);
  snprintf(r->input_set, sizeof r->input_set, "%s",
           w->input_set[0] ? w->input_set : "synthetic");
  snprintf(r->sensor, sizeof r->sensor, "%s", s->name);
  r->scope = s->scope;
  r->batch = c->batch;
  r->energy_j = r->energy_dyn_j = r->ci_lo_j = r->ci_hi_j = NAN;
  r->power_w = r->idle_power_w = r->idle_before_w = r->idle_after_w = NAN;
  r->latency_p50_s = r->latency_p99_s = r->cv = NAN;
}

/* Per-model bookkeeping while trials run. */
typedef struct mstate {
  double t0[ROVE_ER_MAX_TRIALS], t1[ROVE_ER_MAX_TRIALS];
  long ninf[ROVE_ER_MAX_TRIALS];
  double *lat;
  size_t nlat, caplat;
  int failed;
} mstate;

static int run_window(rove_workload *w, mstate *m, double secs, int record,
                      int trial, rove_energy_result *r) {
  double t0 = rove_now(), t = t0;
  long ninf = 0;
  do {
    int k = 0;
    double a = rove_now();
    int rc = w->run(w->ctx, &k);
    t = rove_now();
    if (rc < 0) {
      m->failed = 1;
      r->status = ROVE_ER_FAILED;
      snprintf(r->reason, sizeof r->reason, "inference failed: %s",
               rove_error_message());
      return 0;
    }
    ninf += k;
    if (record) {
      if (m->nlat == m->caplat) {
        size_t cap = m->caplat ? 2 * m->caplat : 1024;
        double *p = realloc(m->lat, cap * sizeof *p);
        if (!p)
          return ROVE_ERR(ROVE_ENOMEM, "measure: out of memory");
        m->lat = p;
        m->caplat = cap;
      }
      m->lat[m->nlat++] = t - a;
    }
  } while (t - t0 < secs);
  if (record) {
    m->t0[trial] = t0;
    m->t1[trial] = t;
    m->ninf[trial] = ninf;
  }
  return 0;
}

static void finish_estimate(rove_workload *w, const rove_ep_mconf *c, mstate *m,
                            rove_energy_result *r) {
  double e = rove_estimate_joules(w, (int)c->batch);
  r->flags |= ROVE_EF_ESTIMATE;
  r->n_trials = c->trials;
  for (uint32_t i = 0; i < c->trials; i++)
    r->trial_j[i] = e;
  r->energy_j = r->energy_dyn_j = r->ci_lo_j = r->ci_hi_j = e;
  r->cv = 0;
  for (uint32_t i = 0; i < c->trials; i++)
    r->n_inferences += (uint64_t)m->ninf[i];
  if (m->nlat) {
    r->latency_p50_s = rove_stat_quantile(m->lat, (int)m->nlat, 0.5);
    r->latency_p99_s = rove_stat_quantile(m->lat, (int)m->nlat, 0.99);
  }
}

/* The sensor's own refresh interval, or the sample period when it is not
 * known. A sensor that averages over its interval (INA226, INA3221: 1 to
 * 140 ms) still reports load power up to one interval after the load
 * stops, so the protocol settles for two intervals before each idle
 * window and makes each idle window at least ten intervals long. */
static double sensor_tau(const rove_sensor *s, const rove_ep_mconf *c) {
  return fmax(s->update_interval_s, c->sample_period_s);
}

double rove_measure_settle_s(const rove_sensor *s, const rove_ep_mconf *c) {
  return fmax(2 * sensor_tau(s, c), 3 * c->sample_period_s);
}

double rove_measure_idle_s(const rove_sensor *s, const rove_ep_mconf *c) {
  return fmax(c->idle_s, 10 * sensor_tau(s, c));
}

/* Marks every result of the batch failed (a broken sensor), keeping the
 * flag that says why. */
static void fail_all(rove_energy_result *out, int n, uint32_t flag,
                     const char *why) {
  for (int i = 0; i < n; i++) {
    if (out[i].status != ROVE_ER_OK)
      continue;
    out[i].status = ROVE_ER_FAILED;
    out[i].flags |= flag;
    out[i].energy_j = out[i].energy_dyn_j = NAN;
    out[i].ci_lo_j = out[i].ci_hi_j = out[i].power_w = NAN;
    snprintf(out[i].reason, sizeof out[i].reason, "%s", why);
  }
}

int rove_measure(rove_sensor *s, const rove_ep_mconf *c, int quick,
                 rove_workload *w, int n, rove_energy_result *out) {
  ROVE_TRY(rove_ep_mconf_check(c));
  for (int i = 0; i < n; i++) {
    fill_common(&out[i], s, &w[i], c);
    if (quick)
      out[i].flags |= ROVE_EF_QUICK;
  }
  if (s->reason[0]) {
    for (int i = 0; i < n; i++) {
      out[i].status = ROVE_ER_UNMEASURABLE;
      snprintf(out[i].reason, sizeof out[i].reason, "%s", s->reason);
    }
    return 0;
  }
  mstate *ms = calloc((size_t)(n > 0 ? n : 1), sizeof *ms);
  if (!ms)
    return ROVE_ERR(ROVE_ENOMEM, "measure: out of memory");
  int estimate = s->kind == ROVE_SENSOR_ESTIMATE;
  rove_sampler sp;
  memset(&sp, 0, sizeof sp);
  int rc = 0;
  double idle0 = 0, idle1 = 0, i0a = 0, i0b = 0, i1a = 0, i1b = 0;
  if (!estimate) {
    rc = rove_sampler_start(&sp, s, c->sample_period_s);
    if (rc < 0)
      goto out;
    /* Let the sampler take its first readings (and the sensor's average
     * lose whatever ran before) before the idle window. */
    rove_sleep(rove_measure_settle_s(s, c));
    i0a = rove_now();
    rove_sleep(rove_measure_idle_s(s, c));
    i0b = rove_now();
  }
  for (int i = 0; i < n; i++)
    if ((rc = run_window(&w[i], &ms[i], c->warmup_s, 0, 0, &out[i])) < 0)
      goto out;
  for (uint32_t t = 0; t < c->trials; t++)
    for (int i = 0; i < n; i++)
      if (!ms[i].failed &&
          (rc = run_window(&w[i], &ms[i], c->window_s, 1, (int)t, &out[i])) < 0)
        goto out;
  if (estimate) {
    for (int i = 0; i < n; i++)
      if (!ms[i].failed)
        finish_estimate(&w[i], c, &ms[i], &out[i]);
    goto out;
  }
  rove_sleep(rove_measure_settle_s(s, c));
  i1a = rove_now();
  rove_sleep(rove_measure_idle_s(s, c));
  i1b = rove_now();
  /* Integrate everything only now: the sampler has samples past every
   * window's end, so each edge can be interpolated. */
  rc = rove_sampler_energy(&sp, i0a, i0b, &idle0, NULL);
  if (rc == 0)
    rc = rove_sampler_energy(&sp, i1a, i1b, &idle1, NULL);
  if (rc < 0 &&
      (rove_sampler_gap(&sp, i0a, i0b) || rove_sampler_gap(&sp, i1a, i1b))) {
    /* a counter reset in an idle window: no model's idle is known */
    fail_all(out, n, ROVE_EF_COUNTER_RESET, rove_error_message());
    rove_error_clear();
    rc = 0;
    goto out;
  }
  if (rc < 0)
    goto out;
  /* A sensor whose reading never moves from the first idle window to the
   * last has stopped updating (a wedged driver, a stale file): its
   * numbers are not measurements. */
  double stuck_v;
  size_t stuck_n;
  if (rove_sampler_flat(&sp, i0a, i1b, &stuck_v, &stuck_n)) {
    char why[sizeof out[0].reason];
    snprintf(why, sizeof why,
             "sensor %s stuck: every one of %zu readings over %.2f s was %g "
             "%s",
             s->name, stuck_n, i1b - i0a, stuck_v,
             s->kind == ROVE_SENSOR_ENERGY ? "J" : "W");
    fail_all(out, n, ROVE_EF_STUCK, why);
    goto out;
  }
  idle0 /= i0b - i0a;
  idle1 /= i1b - i1a;
  double idle = 0.5 * (idle0 + idle1);
  double mean_dt, jitter;
  rove_sampler_timing(&sp, i0a, i1b, &mean_dt, &jitter);
  for (int i = 0; i < n; i++) {
    rove_energy_result *r = &out[i];
    mstate *m = &ms[i];
    r->idle_before_w = idle0;
    r->idle_after_w = idle1;
    r->idle_power_w = idle;
    r->sample_period_s = mean_dt;
    r->jitter_s = jitter;
    if (fabs(idle0 - idle1) > 0.1 * fmax(fabs(idle0), fabs(idle1)))
      r->flags |= ROVE_EF_IDLE_DRIFT;
    if (jitter > 0.2 * c->sample_period_s)
      r->flags |= ROVE_EF_JITTER;
    if (s->wraps)
      r->flags |= ROVE_EF_COUNTER_WRAP;
    if (s->update_interval_s > 0 && c->window_s < 10 * s->update_interval_s)
      r->flags |= ROVE_EF_SHORT_WINDOW;
    if (c->trials < 3)
      r->flags |= ROVE_EF_FEW_TRIALS;
    if (m->failed)
      continue;
    double etot = 0, ttot = 0, dyn[ROVE_ER_MAX_TRIALS];
    long itot = 0;
    for (uint32_t t = 0; t < c->trials; t++) {
      double e;
      size_t inside;
      if (rove_sampler_gap(&sp, m->t0[t], m->t1[t])) {
        /* a reset inside this model's trial: its energy is unknown; the
         * other models' windows are measured as usual */
        r->flags |= ROVE_EF_COUNTER_RESET;
        rove_sampler_energy(&sp, m->t0[t], m->t1[t], &e, &inside);
        fail_all(r, 1, ROVE_EF_COUNTER_RESET, rove_error_message());
        rove_error_clear();
        break;
      }
      rc = rove_sampler_energy(&sp, m->t0[t], m->t1[t], &e, &inside);
      if (rc < 0)
        goto out;
      double tau = sensor_tau(s, c);
      if (s->kind == ROVE_SENSOR_ENERGY && !(e > 0) &&
          m->t1[t] - m->t0[t] > 2 * tau) {
        char why[sizeof out[0].reason];
        snprintf(why, sizeof why,
                 "sensor %s stuck: the energy counter did not advance in a "
                 "%.3f s trial window",
                 s->name, m->t1[t] - m->t0[t]);
        fail_all(r, 1, ROVE_EF_STUCK, why);
        break;
      }
      double dt = m->t1[t] - m->t0[t];
      long k = m->ninf[t] > 0 ? m->ninf[t] : 1;
      r->trial_j[t] = e / (double)k;
      dyn[t] = (e - idle * dt) / (double)k;
      r->n_samples += inside;
      if (inside < 10)
        r->flags |= ROVE_EF_FEW_SAMPLES;
      etot += e;
      ttot += dt;
      itot += m->ninf[t];
    }
    if (r->status != ROVE_ER_OK)
      continue;
    int T = (int)c->trials;
    r->n_trials = c->trials;
    r->n_inferences = (uint64_t)itot;
    r->energy_j = rove_stat_median(r->trial_j, T);
    r->energy_dyn_j = rove_stat_median(dyn, T);
    double mean = 0, var = 0;
    for (int t = 0; t < T; t++)
      mean += r->trial_j[t] / T;
    for (int t = 0; t < T; t++)
      var += (r->trial_j[t] - mean) * (r->trial_j[t] - mean);
    double sd = T > 1 ? sqrt(var / (T - 1)) : 0;
    r->cv = mean != 0 ? sd / fabs(mean) : NAN;
    double half = T > 1 ? rove_stat_t975(T - 1) * sd / sqrt((double)T) : 0;
    r->ci_lo_j = mean - half;
    r->ci_hi_j = mean + half;
    if (T > 1 && r->cv > 0.05)
      r->flags |= ROVE_EF_HIGH_CV;
    r->power_w = ttot > 0 ? etot / ttot : NAN;
    if (!(r->power_w > idle))
      r->flags |= ROVE_EF_NOT_ABOVE_IDLE;
    r->latency_p50_s = rove_stat_quantile(m->lat, (int)m->nlat, 0.5);
    r->latency_p99_s = rove_stat_quantile(m->lat, (int)m->nlat, 0.99);
  }
out:
  if (!estimate && sp.sensor) {
    int src = rove_sampler_stop(&sp);
    if (rc == 0)
      rc = src;
    rove_sampler_deinit(&sp);
  }
  if (rc < 0)
    for (int i = 0; i < n; i++)
      if (out[i].status == ROVE_ER_OK) {
        out[i].status = ROVE_ER_FAILED;
        snprintf(out[i].reason, sizeof out[i].reason, "sensor: %s",
                 rove_error_message());
      }
  for (int i = 0; i < n; i++)
    free(ms[i].lat);
  free(ms);
  return rc;
}
