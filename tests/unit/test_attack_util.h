/* test_attack_util.h - small models built with the graph builder and
 * helpers shared by the attack tests (header-only, test code). */
#ifndef ROVE_TESTS_UNIT_TEST_ATTACK_UTIL_H
#define ROVE_TESTS_UNIT_TEST_ATTACK_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/attack/attack.h"
#include "common/err.h"
#include "common/eval.h"
#include "common/model.h"
#include "common/rng.h"

#define TRY_OK(expr)                                                           \
  do {                                                                         \
    int rc_ = (expr);                                                          \
    cr_assert(rc_ == 0, "%s failed: %s", #expr, rove_error_message());         \
  } while (0)

static inline float tu_uniform(rove_rng *r, float lo, float hi) {
  return lo + (hi - lo) * rove_rng_uniform(r);
}

/* A linear classifier z = W x + b on vectors of d features. */
static inline void tu_linear(rove_model *m, int d, int K, const float *W,
                             const float *b) {
  rove_shape in = {1, {d}};
  TRY_OK(rove_model_init(m, &in));
  rove_attrs a;
  rove_attrs_default(&a);
  a.out = K;
  a.has_bias = 1;
  int in0 = ROVE_INPUT, id;
  TRY_OK(rove_model_add(m, ROVE_OP_LINEAR, "fc", &in0, 1, &a, &id));
  float *p = rove_model_node_params(m, id);
  memcpy(p, W, sizeof(float) * (size_t)d * (size_t)K);
  memcpy(p + (size_t)d * K, b, sizeof(float) * (size_t)K);
  TRY_OK(rove_model_finalize(m, -1));
}

/* A tiny CNN on 1x6x6 inputs: conv 3x3 (4 channels, pad 1) -> relu ->
 * maxpool 2x2 -> linear to K classes, weights drawn from `seed`. */
static inline void tu_cnn(rove_model *m, int K, uint64_t seed) {
  rove_shape in = {3, {1, 6, 6}};
  TRY_OK(rove_model_init(m, &in));
  rove_attrs a;
  int prev = ROVE_INPUT, id[4];
  rove_attrs_default(&a);
  a.out = 4;
  a.kh = a.kw = 3;
  a.pt = a.pl = a.pb = a.pr = 1;
  a.has_bias = 1;
  TRY_OK(rove_model_add(m, ROVE_OP_CONV, "conv", &prev, 1, &a, &id[0]));
  rove_attrs_default(&a);
  TRY_OK(rove_model_add(m, ROVE_OP_RELU, "relu", &id[0], 1, &a, &id[1]));
  rove_attrs_default(&a);
  a.kh = a.kw = 2;
  a.sh = a.sw = 2;
  TRY_OK(rove_model_add(m, ROVE_OP_MAXPOOL, "pool", &id[1], 1, &a, &id[2]));
  rove_attrs_default(&a);
  a.out = K;
  a.has_bias = 1;
  TRY_OK(rove_model_add(m, ROVE_OP_LINEAR, "fc", &id[2], 1, &a, &id[3]));
  rove_rng r;
  rove_rng_init(&r, &seed, 1);
  for (size_t i = 0; i < m->n_params; i++)
    m->params[i] = tu_uniform(&r, -1.0f, 1.0f);
  TRY_OK(rove_model_finalize(m, -1));
}

/* n random inputs of model m in [0, 1]; labels = the clean prediction (so
 * every example starts correctly classified); indices 1000 + i. */
typedef struct tu_data {
  int n, d;
  float *x;
  int *y;
  int64_t *idx;
} tu_data;

static inline void tu_data_make(tu_data *t, const rove_model *m, int n,
                                uint64_t seed) {
  t->n = n;
  t->d = (int)rove_shape_numel(&m->in);
  t->x = malloc(sizeof(float) * (size_t)n * t->d);
  t->y = malloc(sizeof(int) * (size_t)n);
  t->idx = malloc(sizeof(int64_t) * (size_t)n);
  rove_rng r;
  rove_rng_init(&r, &seed, 1);
  for (long i = 0; i < (long)n * t->d; i++)
    t->x[i] = rove_rng_uniform(&r);
  rove_exec e;
  TRY_OK(rove_exec_init(&e, m, 1));
  for (int i = 0; i < n; i++) {
    rove_exec_forward(&e, 1, t->x + (size_t)i * t->d);
    t->y[i] = rove__argmax(rove_exec_logits(&e), m->n_classes);
    t->idx[i] = 1000 + i;
  }
  rove_exec_deinit(&e);
}

static inline void tu_data_free(tu_data *t) {
  free(t->x);
  free(t->y);
  free(t->idx);
}

static inline rove_unit tu_unit(const rove_model *m, const rove_profile *p,
                                const tu_data *t, double eps, int linf) {
  rove_unit u;
  memset(&u, 0, sizeof u);
  u.m = m;
  u.p = p;
  u.norm_linf = linf;
  u.eps = eps;
  u.seed = 7;
  u.n = t->n;
  u.x = t->x;
  u.y = t->y;
  u.idx = t->idx;
  return u;
}

static inline int tu_broken(const rove_example_result *r, int n) {
  int c = 0;
  for (int i = 0; i < n; i++)
    c += r[i].broken;
  return c;
}

/* Runs every restart (rove_eval_all) and returns the robust count. */
static inline int tu_robust(const rove_model *m, const char *preset,
                            const char *const *opts, const tu_data *t,
                            double eps, rove_example_result *out) {
  rove_profile *p;
  TRY_OK(rove_profile_create(&p, preset));
  for (int i = 0; opts && opts[i]; i += 2)
    TRY_OK(rove_profile_set(p, opts[i], opts[i + 1]));
  rove_unit u = tu_unit(m, p, t, eps, 1);
  TRY_OK(rove_eval_all(&u, out, NULL, NULL));
  rove_profile_destroy(&p);
  return t->n - tu_broken(out, t->n);
}

#endif
