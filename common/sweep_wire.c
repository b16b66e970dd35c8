/* sweep_wire.c - encoding and decoding of the sweep's MPI messages. */
#include "common/sweep_wire.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* Bounds on counts read from the wire, so a corrupt length cannot make a
 * rank allocate gigabytes before the short read is noticed. */
#define SW_MAX_N (1u << 26)

static void put_header(rove_wbuf *w, int type) {
  rove_put_u32(w, ROVE_SW_MAGIC);
  rove_put_u16(w, ROVE_SW_VERSION);
  rove_put_u8(w, (uint8_t)type);
}

int rove_sw_peek(rove_rbuf *r, int *type) {
  uint32_t magic = rove_get_u32(r);
  uint16_t ver = rove_get_u16(r);
  *type = rove_get_u8(r);
  if (r->failed || magic != ROVE_SW_MAGIC)
    return ROVE_ERR(ROVE_EFORMAT,
                    "sweep message: bad magic (not a rove sweep message)");
  if (ver != ROVE_SW_VERSION)
    return ROVE_ERR(ROVE_EVERSION,
                    "sweep message: version %u, this rove speaks %u (mixed "
                    "rove builds in one job?)",
                    (unsigned)ver, ROVE_SW_VERSION);
  if (*type < ROVE_SW_MODEL || *type > ROVE_SW_STOP)
    return ROVE_ERR(ROVE_EFORMAT, "sweep message: unknown type %d", *type);
  return 0;
}

static int expect(rove_rbuf *r, int want, const char *what) {
  int type;
  ROVE_TRY(rove_sw_peek(r, &type));
  if (type != want)
    return ROVE_ERR(ROVE_EFORMAT, "sweep message: expected %s, got type %d",
                    what, type);
  return 0;
}

static int finish(rove_rbuf *r, const char *what) {
  if (r->failed)
    return ROVE_ERR(ROVE_EFORMAT, "sweep %s message: truncated", what);
  if (rove_rbuf_left(r))
    return ROVE_ERR(ROVE_EFORMAT, "sweep %s message: %zu trailing bytes", what,
                    rove_rbuf_left(r));
  return 0;
}

void rove_sw_put_model(rove_wbuf *w, const unsigned char hash[32],
                       const void *bytes, size_t len) {
  put_header(w, ROVE_SW_MODEL);
  rove_put_bytes(w, hash, 32);
  rove_put_u64(w, len);
  rove_put_bytes(w, bytes, len);
}

int rove_sw_get_model(rove_rbuf *r, unsigned char hash[32], const void **bytes,
                      size_t *len) {
  ROVE_TRY(expect(r, ROVE_SW_MODEL, "a model"));
  rove_get_bytes(r, hash, 32);
  uint64_t n = rove_get_u64(r);
  if (r->failed || n > rove_rbuf_left(r))
    return ROVE_ERR(ROVE_EFORMAT, "sweep model message: truncated");
  *len = (size_t)n;
  *bytes = rove_get_view(r, (size_t)n);
  return finish(r, "model");
}

void rove_sw_put_data(rove_wbuf *w, const rove_sw_data *d) {
  put_header(w, ROVE_SW_DATA);
  rove_put_bytes(w, d->key, 32);
  rove_put_i64(w, d->first);
  rove_put_u32(w, d->n);
  rove_put_u32(w, d->numel);
  for (size_t i = 0; i < (size_t)d->n * d->numel; i++)
    rove_put_f32(w, d->x[i]);
  for (uint32_t i = 0; i < d->n; i++)
    rove_put_i32(w, d->y[i]);
}

void rove_sw_data_deinit(rove_sw_data *d) {
  free(d->x);
  free(d->y);
  d->x = NULL;
  d->y = NULL;
}

int rove_sw_get_data(rove_rbuf *r, rove_sw_data *d) {
  memset(d, 0, sizeof *d);
  ROVE_TRY(expect(r, ROVE_SW_DATA, "a data shard"));
  rove_get_bytes(r, d->key, 32);
  d->first = rove_get_i64(r);
  d->n = rove_get_u32(r);
  d->numel = rove_get_u32(r);
  uint64_t cnt = (uint64_t)d->n * d->numel;
  if (r->failed || d->first < 0 || d->n > SW_MAX_N || d->numel > SW_MAX_N ||
      cnt * 4 + (uint64_t)d->n * 4 > rove_rbuf_left(r))
    return ROVE_ERR(ROVE_EFORMAT, "sweep data message: bad sizes");
  d->x = malloc(cnt ? cnt * sizeof *d->x : 1);
  d->y = malloc(d->n ? d->n * sizeof *d->y : 1);
  if (!d->x || !d->y) {
    rove_sw_data_deinit(d);
    return ROVE_ERR(ROVE_ENOMEM, "sweep data message: out of memory");
  }
  for (uint64_t i = 0; i < cnt; i++)
    d->x[i] = rove_get_f32(r);
  for (uint32_t i = 0; i < d->n; i++)
    d->y[i] = rove_get_i32(r);
  int rc = finish(r, "data");
  if (rc)
    rove_sw_data_deinit(d);
  return rc;
}

void rove_sw_put_task(rove_wbuf *w, const rove_sw_task *t) {
  put_header(w, ROVE_SW_UNIT);
  rove_put_u32(w, t->unit);
  rove_put_u8(w, t->kind);
  rove_put_bytes(w, t->model_hash, 32);
  rove_put_bytes(w, t->data_key, 32);
  rove_put_u64(w, t->seed);
  rove_put_u8(w, (uint8_t)t->norm_linf);
  rove_put_f64(w, t->eps);
  rove_put_i32(w, t->restart);
  rove_put_u32(w, t->profile_len);
  rove_put_bytes(w, t->profile, t->profile_len);
  rove_put_u32(w, t->n);
  for (uint32_t i = 0; i < t->n; i++)
    rove_put_u32(w, t->off[i]);
}

void rove_sw_task_deinit(rove_sw_task *t) {
  free(t->off);
  t->off = NULL;
}

int rove_sw_get_task(rove_rbuf *r, rove_sw_task *t) {
  memset(t, 0, sizeof *t);
  ROVE_TRY(expect(r, ROVE_SW_UNIT, "a unit"));
  t->unit = rove_get_u32(r);
  t->kind = rove_get_u8(r);
  rove_get_bytes(r, t->model_hash, 32);
  rove_get_bytes(r, t->data_key, 32);
  t->seed = rove_get_u64(r);
  t->norm_linf = rove_get_u8(r);
  t->eps = rove_get_f64(r);
  t->restart = rove_get_i32(r);
  t->profile_len = rove_get_u32(r);
  if (r->failed || t->profile_len > rove_rbuf_left(r))
    return ROVE_ERR(ROVE_EFORMAT, "sweep unit message: truncated profile");
  t->profile = rove_get_view(r, t->profile_len);
  t->n = rove_get_u32(r);
  if (r->failed || t->kind > ROVE_UNIT_ATTACK || t->norm_linf > 1 ||
      t->n > SW_MAX_N || (uint64_t)t->n * 4 > rove_rbuf_left(r))
    return ROVE_ERR(ROVE_EFORMAT, "sweep unit message: bad fields");
  t->off = malloc(t->n ? t->n * sizeof *t->off : 1);
  if (!t->off)
    return ROVE_ERR(ROVE_ENOMEM, "sweep unit message: out of memory");
  for (uint32_t i = 0; i < t->n; i++)
    t->off[i] = rove_get_u32(r);
  int rc = finish(r, "unit");
  if (rc)
    rove_sw_task_deinit(t);
  return rc;
}

void rove_unit_result_init(rove_unit_result *r) {
  memset(r, 0, sizeof *r);
}

void rove_unit_result_deinit(rove_unit_result *r) {
  free(r->idx);
  free(r->ex);
  free(r->label);
  free(r->pred);
  free(r->margin);
  r->idx = NULL;
  r->ex = NULL;
  r->label = r->pred = NULL;
  r->margin = NULL;
  r->n = 0;
}

int rove_unit_result_alloc(rove_unit_result *r, uint32_t n) {
  size_t k = n ? n : 1;
  r->n = n;
  r->idx = calloc(k, sizeof *r->idx);
  int ok = r->idx != NULL;
  if (r->kind == ROVE_UNIT_ATTACK) {
    r->ex = calloc(k, sizeof *r->ex);
    ok = ok && r->ex;
  } else {
    r->label = calloc(k, sizeof *r->label);
    r->pred = calloc(k, sizeof *r->pred);
    r->margin = calloc(k, sizeof *r->margin);
    ok = ok && r->label && r->pred && r->margin;
  }
  if (!ok) {
    rove_unit_result_deinit(r);
    return ROVE_ERR(ROVE_ENOMEM, "unit result: out of memory (%u examples)",
                    (unsigned)n);
  }
  return 0;
}

void rove_sw_put_result(rove_wbuf *w, const rove_unit_result *r) {
  put_header(w, ROVE_SW_RESULT);
  rove_put_u32(w, r->unit);
  rove_put_u8(w, r->kind);
  rove_put_i32(w, r->status);
  rove_put_str(w, r->error);
  rove_put_u64(w, r->grad_evals);
  rove_put_u64(w, r->forward_evals);
  rove_put_f64(w, r->seconds);
  rove_put_bytes(w, r->model_hash, 32);
  rove_put_u32(w, r->n);
  for (uint32_t i = 0; i < r->n; i++) {
    rove_put_i64(w, r->idx[i]);
    if (r->kind == ROVE_UNIT_ATTACK) {
      rove_put_u8(w, (uint8_t)r->ex[i].broken);
      rove_put_u8(w, (uint8_t)r->ex[i].attack);
      rove_put_f64(w, r->ex[i].margin);
      rove_put_u32(w, r->ex[i].diag);
    } else {
      rove_put_i32(w, r->label[i]);
      rove_put_i32(w, r->pred[i]);
      rove_put_f64(w, r->margin[i]);
    }
  }
}

int rove_sw_get_result(rove_rbuf *r, rove_unit_result *res) {
  rove_unit_result_init(res);
  ROVE_TRY(expect(r, ROVE_SW_RESULT, "a result"));
  res->unit = rove_get_u32(r);
  res->kind = rove_get_u8(r);
  res->status = rove_get_i32(r);
  rove_get_str(r, res->error, sizeof res->error);
  res->grad_evals = rove_get_u64(r);
  res->forward_evals = rove_get_u64(r);
  res->seconds = rove_get_f64(r);
  rove_get_bytes(r, res->model_hash, 32);
  uint32_t n = rove_get_u32(r);
  /* 21 bytes per example is the smaller of the two record layouts. */
  if (r->failed || res->kind > ROVE_UNIT_ATTACK || res->status > 0 ||
      n > SW_MAX_N || (uint64_t)n * 21 > rove_rbuf_left(r))
    return ROVE_ERR(ROVE_EFORMAT, "sweep result: bad fields");
  ROVE_TRY(rove_unit_result_alloc(res, n));
  for (uint32_t i = 0; i < n; i++) {
    res->idx[i] = rove_get_i64(r);
    if (res->kind == ROVE_UNIT_ATTACK) {
      res->ex[i].broken = (int8_t)rove_get_u8(r);
      res->ex[i].attack = (int8_t)rove_get_u8(r);
      res->ex[i].margin = rove_get_f64(r);
      res->ex[i].diag = rove_get_u32(r);
      if (res->ex[i].broken != 0 && res->ex[i].broken != 1)
        r->failed = 1;
    } else {
      res->label[i] = rove_get_i32(r);
      res->pred[i] = rove_get_i32(r);
      res->margin[i] = rove_get_f64(r);
    }
    if (res->idx[i] < 0 || (i > 0 && res->idx[i] <= res->idx[i - 1]))
      r->failed = 1;
  }
  return finish(r, "result");
}

void rove_sw_put_stop(rove_wbuf *w) {
  put_header(w, ROVE_SW_STOP);
}
