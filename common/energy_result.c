/* energy_result.c - the energy result's codec, names and table
 * (energy_result.h). */
#include "common/energy_result.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"

int rove_energy_name_ok(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("-_.:@", *s))
      return 0;
  return 1;
}

uint64_t rove_ep_request_id(const unsigned char model_hash[32],
                            const char *board) {
  crypto_generichash_state st;
  unsigned char out[16];
  crypto_generichash_init(&st, NULL, 0, sizeof out);
  crypto_generichash_update(&st, model_hash, 32);
  crypto_generichash_update(&st, (const unsigned char *)board, strlen(board));
  crypto_generichash_final(&st, out, sizeof out);
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= (uint64_t)out[i] << (8 * i);
  return v;
}

void rove_energy_result_put(rove_wbuf *w, const rove_energy_result *r) {
  rove_put_u64(w, r->request_id);
  rove_put_bytes(w, r->model_hash, 32);
  rove_put_str(w, r->model_name);
  rove_put_str(w, r->board);
  rove_put_str(w, r->agent_id);
  rove_put_str(w, r->sensor);
  rove_put_str(w, r->input_set);
  rove_put_i32(w, r->scope);
  rove_put_i32(w, r->status);
  rove_put_str(w, r->reason);
  rove_put_u32(w, r->flags);
  rove_put_u32(w, r->batch);
  rove_put_u32(w, r->n_trials);
  for (uint32_t i = 0; i < r->n_trials && i < ROVE_ER_MAX_TRIALS; i++)
    rove_put_f64(w, r->trial_j[i]);
  const double d[] = {
      r->energy_j,     r->energy_dyn_j,  r->ci_lo_j,       r->ci_hi_j,
      r->cv,           r->power_w,       r->idle_power_w,  r->idle_before_w,
      r->idle_after_w, r->latency_p50_s, r->latency_p99_s, r->sample_period_s,
      r->jitter_s};
  for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
    rove_put_f64(w, d[i]);
  rove_put_u64(w, r->n_inferences);
  rove_put_u64(w, r->n_samples);
}

int rove_energy_result_get(rove_rbuf *rb, rove_energy_result *r) {
  memset(r, 0, sizeof *r);
  r->request_id = rove_get_u64(rb);
  rove_get_bytes(rb, r->model_hash, 32);
  rove_get_str(rb, r->model_name, sizeof r->model_name);
  rove_get_str(rb, r->board, sizeof r->board);
  rove_get_str(rb, r->agent_id, sizeof r->agent_id);
  rove_get_str(rb, r->sensor, sizeof r->sensor);
  rove_get_str(rb, r->input_set, sizeof r->input_set);
  r->scope = rove_get_i32(rb);
  r->status = rove_get_i32(rb);
  rove_get_str(rb, r->reason, sizeof r->reason);
  r->flags = rove_get_u32(rb);
  r->batch = rove_get_u32(rb);
  r->n_trials = rove_get_u32(rb);
  if (r->n_trials > ROVE_ER_MAX_TRIALS)
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy result: n_trials = %u, expected <= %d", r->n_trials,
                    ROVE_ER_MAX_TRIALS);
  for (uint32_t i = 0; i < r->n_trials; i++)
    r->trial_j[i] = rove_get_f64(rb);
  double *d[] = {&r->energy_j,
                 &r->energy_dyn_j,
                 &r->ci_lo_j,
                 &r->ci_hi_j,
                 &r->cv,
                 &r->power_w,
                 &r->idle_power_w,
                 &r->idle_before_w,
                 &r->idle_after_w,
                 &r->latency_p50_s,
                 &r->latency_p99_s,
                 &r->sample_period_s,
                 &r->jitter_s};
  for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
    *d[i] = rove_get_f64(rb);
  r->n_inferences = rove_get_u64(rb);
  r->n_samples = rove_get_u64(rb);
  if (rb->failed)
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy result: truncated or a field too long");
  if (r->scope < 0 || r->scope > ROVE_SCOPE_ESTIMATE)
    return ROVE_ERR(ROVE_EFORMAT, "energy result: scope = %d, expected 0..%d",
                    r->scope, ROVE_SCOPE_ESTIMATE);
  if (r->status < 0 || r->status > ROVE_ER_FAILED)
    return ROVE_ERR(ROVE_EFORMAT, "energy result: status = %d, expected 0..2",
                    r->status);
  if (!rove_energy_name_ok(r->board))
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy result: board name \"%s\" is not valid", r->board);
  if (r->request_id != rove_ep_request_id(r->model_hash, r->board))
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy result: request id does not match (model hash, "
                    "board \"%s\")",
                    r->board);
  return 0;
}

/* ---- Names ------------------------------------------------------------ */

const char *rove_energy_scope_name(int scope) {
  switch (scope) {
  case ROVE_SCOPE_BOARD_INPUT: return "board_input";
  case ROVE_SCOPE_MODULE_RAILS: return "module_rails";
  case ROVE_SCOPE_CPU_PACKAGE: return "cpu_package";
  case ROVE_SCOPE_EXTERNAL: return "external_meter";
  case ROVE_SCOPE_SENSOR: return "sensor";
  case ROVE_SCOPE_ESTIMATE: return "estimate";
  default: return "unknown";
  }
}

const char *rove_energy_status_name(int status) {
  switch (status) {
  case ROVE_ER_OK: return "ok";
  case ROVE_ER_UNMEASURABLE: return "unmeasurable";
  case ROVE_ER_FAILED: return "failed";
  default: return "unknown";
  }
}

const char *rove_energy_flag_name(unsigned bit_index) {
  static const char *const names[ROVE_EF_COUNT_] = {
      "idle_drift", "few_samples",    "short_window", "high_cv",
      "jitter",     "not_above_idle", "few_trials",   "estimate",
      "quick",      "counter_wrap",   "stuck",        "counter_reset"};
  return bit_index < ROVE_EF_COUNT_ ? names[bit_index] : "unknown";
}

void rove_energy_flags_str(uint32_t flags, char *buf, size_t cap) {
  size_t k = 0;
  if (cap)
    buf[0] = 0;
  for (unsigned i = 0; i < ROVE_EF_COUNT_; i++) {
    if (!(flags & (1u << i)))
      continue;
    int n = snprintf(buf + k, cap > k ? cap - k : 0, "%s%s", k ? "|" : "",
                     rove_energy_flag_name(i));
    if (n < 0 || (size_t)n >= cap - k)
      return;
    k += (size_t)n;
  }
}

int rove_energy_result_valid(const rove_energy_result *r) {
  return r->status == ROVE_ER_OK && !(r->flags & ROVE_EF_INVALIDATING) &&
         isfinite(r->energy_j);
}

/* ---- Table ------------------------------------------------------------ */

void rove_energy_table_init(rove_energy_table *t) {
  memset(t, 0, sizeof *t);
}

void rove_energy_table_deinit(rove_energy_table *t) {
  free(t->r);
  memset(t, 0, sizeof *t);
}

const rove_energy_result *rove_energy_table_find_id(const rove_energy_table *t,
                                                    uint64_t request_id) {
  for (size_t i = 0; i < t->n; i++)
    if (t->r[i].request_id == request_id)
      return &t->r[i];
  return NULL;
}

const rove_energy_result *
rove_energy_table_find(const rove_energy_table *t,
                       const unsigned char model_hash[32], const char *board) {
  return rove_energy_table_find_id(t, rove_ep_request_id(model_hash, board));
}

int rove_energy_table_add(rove_energy_table *t, const rove_energy_result *r,
                          int *added) {
  if (added)
    *added = 0;
  if (rove_energy_table_find_id(t, r->request_id))
    return 0;
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 16;
    rove_energy_result *p = realloc(t->r, cap * sizeof *p);
    if (!p)
      return ROVE_ERR(ROVE_ENOMEM, "energy table: out of memory");
    t->r = p;
    t->cap = cap;
  }
  t->r[t->n++] = *r;
  if (added)
    *added = 1;
  return 0;
}
