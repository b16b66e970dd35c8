/* unit.c - the worker's message handling and unit execution (no MPI). */
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/eval.h"
#include "common/format_rove.h"
#include "common/util.h"
#include "worker/worker.h"

/* Largest batch of the clean forward pass. */
#define CLEAN_BATCH 100

void rove_worker_init(rove_worker *w, int rank) {
  memset(w, 0, sizeof *w);
  w->rank = rank;
}

void rove_worker_deinit(rove_worker *w) {
  for (int i = 0; i < w->n_models; i++)
    rove_model_deinit(&w->models[i].m);
  free(w->models);
  for (int i = 0; i < w->n_shards; i++)
    rove_sw_data_deinit(&w->shards[i]);
  free(w->shards);
  memset(w, 0, sizeof *w);
}

void rove_worker_data_key(const rove_sw_data *d, unsigned char key[32]) {
  crypto_generichash_state st;
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_put_i64(&w, d->first);
  rove_put_u32(&w, d->n);
  rove_put_u32(&w, d->numel);
  crypto_generichash_init(&st, NULL, 0, 32);
  crypto_generichash_update(&st, w.data, w.len);
  /* Floats and labels hashed through the wire encoding, so the key is the
   * same on any byte order. */
  for (size_t i = 0; i < (size_t)d->n * d->numel; i += 4096) {
    size_t k = (size_t)d->n * d->numel - i;
    if (k > 4096)
      k = 4096;
    w.len = 0;
    for (size_t j = 0; j < k; j++)
      rove_put_f32(&w, d->x[i + j]);
    crypto_generichash_update(&st, w.data, w.len);
  }
  w.len = 0;
  for (uint32_t i = 0; i < d->n; i++)
    rove_put_i32(&w, d->y[i]);
  crypto_generichash_update(&st, w.data, w.len);
  crypto_generichash_final(&st, key, 32);
  rove_wbuf_deinit(&w);
}

static rove_model *find_model(rove_worker *w, const unsigned char h[32]) {
  for (int i = 0; i < w->n_models; i++)
    if (!memcmp(w->models[i].hash, h, 32))
      return &w->models[i].m;
  return NULL;
}

static rove_sw_data *find_shard(rove_worker *w, const unsigned char k[32]) {
  for (int i = 0; i < w->n_shards; i++)
    if (!memcmp(w->shards[i].key, k, 32))
      return &w->shards[i];
  return NULL;
}

static int add_model(rove_worker *w, rove_rbuf *r) {
  unsigned char hash[32];
  const void *bytes;
  size_t len;
  ROVE_TRY(rove_sw_get_model(r, hash, &bytes, &len));
  if (find_model(w, hash))
    return 0;
  if (w->n_models == w->cap_models) {
    int cap = w->cap_models ? 2 * w->cap_models : 4;
    rove_worker_model *nm = realloc(w->models, (size_t)cap * sizeof *nm);
    if (!nm)
      return ROVE_ERR(ROVE_ENOMEM, "worker %d: out of memory", w->rank);
    w->models = nm;
    w->cap_models = cap;
  }
  char what[64];
  snprintf(what, sizeof what, "model sent to rank %d", w->rank);
  rove_worker_model *wm = &w->models[w->n_models];
  ROVE_TRY(rove_model_decode(&wm->m, bytes, len, what));
  if (memcmp(wm->m.hash, hash, 32) != 0) {
    rove_model_deinit(&wm->m);
    return ROVE_ERR(ROVE_EFORMAT,
                    "worker %d: model bytes do not match their content hash",
                    w->rank);
  }
  memcpy(wm->hash, hash, 32);
  w->n_models++;
  return 0;
}

static int add_shard(rove_worker *w, rove_rbuf *r) {
  rove_sw_data d;
  ROVE_TRY(rove_sw_get_data(r, &d));
  unsigned char key[32];
  rove_worker_data_key(&d, key);
  if (memcmp(key, d.key, 32) != 0) {
    rove_sw_data_deinit(&d);
    return ROVE_ERR(ROVE_EFORMAT,
                    "worker %d: data shard does not match its content key",
                    w->rank);
  }
  if (find_shard(w, key)) {
    rove_sw_data_deinit(&d);
    return 0;
  }
  if (w->n_shards == w->cap_shards) {
    int cap = w->cap_shards ? 2 * w->cap_shards : 16;
    rove_sw_data *ns = realloc(w->shards, (size_t)cap * sizeof *ns);
    if (!ns) {
      rove_sw_data_deinit(&d);
      return ROVE_ERR(ROVE_ENOMEM, "worker %d: out of memory", w->rank);
    }
    w->shards = ns;
    w->cap_shards = cap;
  }
  w->shards[w->n_shards++] = d;
  return 0;
}

/* Clean pass: argmax and margin z_y - max_{j != y} z_j in double. */
static int run_clean(rove_model *m, const rove_sw_data *d,
                     rove_unit_result *res) {
  size_t numel = (size_t)rove_shape_numel(&m->in);
  if (numel != d->numel)
    return ROVE_ERR(ROVE_ESHAPE,
                    "data has %u values per example, the model takes %zu",
                    (unsigned)d->numel, numel);
  rove_exec e;
  int bmax = d->n < CLEAN_BATCH ? (int)d->n : CLEAN_BATCH;
  ROVE_TRY(rove_exec_init(&e, m, bmax > 0 ? bmax : 1));
  int K = m->n_classes;
  for (uint32_t b0 = 0; b0 < d->n; b0 += (uint32_t)bmax) {
    int B = (int)(d->n - b0 < (uint32_t)bmax ? d->n - b0 : (uint32_t)bmax);
    rove_exec_forward(&e, B, d->x + (size_t)b0 * numel);
    const float *z = rove_exec_logits(&e);
    for (int i = 0; i < B; i++) {
      const float *zi = z + (size_t)i * K;
      int y = d->y[b0 + i], best = 0;
      double other = -INFINITY;
      for (int j = 1; j < K; j++)
        if (zi[j] > zi[best])
          best = j;
      for (int j = 0; j < K; j++)
        if (j != y && zi[j] > other)
          other = zi[j];
      res->pred[b0 + i] = best;
      res->label[b0 + i] = y;
      res->margin[b0 + i] =
          (y >= 0 && y < K) ? (double)zi[y] - other : -INFINITY;
    }
  }
  res->forward_evals = d->n;
  rove_exec_deinit(&e);
  return 0;
}

static int run_attack(rove_model *m, const rove_sw_data *d,
                      const rove_sw_task *t, rove_unit_result *res) {
  size_t numel = (size_t)rove_shape_numel(&m->in);
  if (numel != d->numel)
    return ROVE_ERR(ROVE_ESHAPE,
                    "data has %u values per example, the model takes %zu",
                    (unsigned)d->numel, numel);
  rove_profile *p = calloc(1, rove_profile_size());
  float *x = malloc((t->n ? t->n : 1) * numel * sizeof *x);
  int *y = malloc((t->n ? t->n : 1) * sizeof *y);
  int rc = 0;
  if (!p || !x || !y)
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory for %u examples", (unsigned)t->n);
  if (!rc) {
    rove_rbuf pr;
    rove_rbuf_init(&pr, t->profile, t->profile_len);
    rc = rove_profile_decode(p, &pr);
  }
  if (!rc) {
    for (uint32_t i = 0; i < t->n; i++) {
      memcpy(x + i * numel, d->x + (size_t)t->off[i] * numel,
             numel * sizeof *x);
      y[i] = d->y[t->off[i]];
    }
    rove_unit u = {.m = m,
                   .p = p,
                   .norm_linf = t->norm_linf,
                   .eps = t->eps,
                   .restart = t->restart,
                   .seed = t->seed,
                   .n = (int)t->n,
                   .x = x,
                   .y = y,
                   .idx = res->idx};
    rove_unit_stats st = {0};
    rc = rove_eval_unit(&u, res->ex, NULL, &st);
    res->grad_evals = st.grad_evals;
    res->forward_evals = st.forward_evals;
  }
  free(p);
  free(x);
  free(y);
  return rc;
}

static int run_unit(rove_worker *w, rove_rbuf *r, rove_wbuf *reply) {
  rove_sw_task t;
  ROVE_TRY(rove_sw_get_task(r, &t));
  double t0 = rove_now();
  rove_unit_result res;
  rove_unit_result_init(&res);
  res.unit = t.unit;
  res.kind = t.kind;
  memcpy(res.model_hash, t.model_hash, 32);
  int rc = rove_unit_result_alloc(&res, t.n);
  if (rc) {
    rove_sw_task_deinit(&t);
    return rc;
  }
  rove_model *m = find_model(w, t.model_hash);
  rove_sw_data *d = find_shard(w, t.data_key);
  for (uint32_t i = 0; i < t.n; i++) {
    if (!d || t.off[i] >= d->n || (i > 0 && t.off[i] <= t.off[i - 1])) {
      rove_sw_task_deinit(&t);
      rove_unit_result_deinit(&res);
      return ROVE_ERR(ROVE_EFORMAT,
                      "worker %d: unit %u names a shard it was not sent or "
                      "an example outside it",
                      w->rank, (unsigned)t.unit);
    }
    res.idx[i] = d->first + t.off[i];
  }
  if (!m)
    rc = ROVE_ERR(ROVE_ESTATE,
                  "worker %d: unit %u names a model it was not "
                  "sent",
                  w->rank, (unsigned)t.unit);
  else if (!d)
    rc = ROVE_ERR(ROVE_ESTATE, "worker %d: no shard for unit %u", w->rank,
                  (unsigned)t.unit);
  else if (t.kind == ROVE_UNIT_CLEAN)
    rc = t.n == d->n ? run_clean(m, d, &res)
                     : ROVE_ERR(ROVE_EFORMAT, "clean unit must cover a shard");
  else
    rc = run_attack(m, d, &t, &res);
  if (rc < 0) {
    /* A failed unit is a result with an error, not a dead rank. */
    res.status = rc;
    snprintf(res.error, sizeof res.error, "%s", rove_error_message());
    for (uint32_t i = 0; i < t.n; i++) {
      if (res.ex) {
        res.ex[i].broken = 0;
        res.ex[i].attack = -1;
        res.ex[i].margin = NAN;
      }
    }
    res.grad_evals = res.forward_evals = 0;
  }
  res.seconds = rove_now() - t0;
  rove_sw_put_result(reply, &res);
  rove_unit_result_deinit(&res);
  rove_sw_task_deinit(&t);
  if (reply->failed)
    return ROVE_ERR(ROVE_ENOMEM, "worker %d: out of memory encoding a result",
                    w->rank);
  return 0;
}

int rove_worker_handle(rove_worker *w, const void *msg, size_t len,
                       rove_wbuf *reply, int *stop) {
  rove_rbuf r;
  rove_rbuf_init(&r, msg, len);
  int type;
  ROVE_TRY(rove_sw_peek(&r, &type));
  rove_rbuf_init(&r, msg, len);
  switch (type) {
  case ROVE_SW_MODEL: return add_model(w, &r);
  case ROVE_SW_DATA: return add_shard(w, &r);
  case ROVE_SW_UNIT: return run_unit(w, &r, reply);
  case ROVE_SW_STOP: *stop = 1; return 0;
  default:
    return ROVE_ERR(ROVE_EFORMAT, "worker %d: unexpected message type %d",
                    w->rank, type);
  }
}
