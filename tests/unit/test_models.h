/* test_models.h - a small model around any layer of the registry, in any
 * example configuration it offers (header-only, test code; used by the
 * export and the certification tests, so a new layer is covered by both
 * the moment it is registered). */
#ifndef ROVE_TESTS_UNIT_TEST_MODELS_H
#define ROVE_TESTS_UNIT_TEST_MODELS_H

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/err.h"
#include "common/model.h"
#include "common/rng.h"

static inline void fill_params(rove_model *m, int id, rove_rng *g) {
  const rove_node *n = &m->nodes[id];
  float *p = rove_model_node_params(m, id);
  for (size_t k = 0; k < n->n_params; k++) {
    float v = 0.5f + rove_rng_uniform(g);
    p[k] = n->op != ROVE_OP_BATCHNORM && (rove_rng_u32(g) & 1) ? -v : v;
  }
  /* The integer layers: scales 0.01..0.05 (quantize's maps [0, 1] onto
   * about 30 levels), zero points and int8 weights as integers, a small
   * int32 bias (hi, lo). */
  if (n->op == ROVE_OP_QUANTIZE || n->op == ROVE_OP_DEQUANTIZE) {
    p[0] = n->op == ROVE_OP_QUANTIZE ? 0.03f : 0.05f;
    p[1] = (float)(n->a.qmin + 10);
  } else if (n->op == ROVE_OP_QADD || n->op == ROVE_OP_QAVGPOOL) {
    /* Input zero points of the uint8 inputs, the output's in its range. */
    for (size_t k = 0; k < n->n_params; k += 2) {
      int out = k + 2 == n->n_params;
      p[k] = 0.01f + 0.04f * rove_rng_uniform(g);
      p[k + 1] =
          (float)((out ? n->a.qmin : 0) + 5 + (int)rove_rng_below(g, 20));
    }
  } else if (n->op == ROVE_OP_QCONV || n->op == ROVE_OP_CONVINT) {
    int K = n->a.out, nc = n->a.per_channel ? K : 1;
    size_t nw =
        n->n_params - 4 - 2 * (size_t)nc - (n->a.has_bias ? 2 * (size_t)K : 0);
    p[0] = 0.03f;
    p[1] = 10;
    p[2] = 0.05f;
    p[3] = (float)(n->a.qmin + 100);
    for (size_t k = 0; k < nw; k++)
      p[4 + k] = (float)rove_rng_below(g, 201) - 100;
    for (int k = 0; k < nc; k++) {
      p[4 + nw + (size_t)k] = (float)rove_rng_below(g, 5) - 2;
      p[4 + nw + (size_t)nc + (size_t)k] =
          0.001f + 0.002f * rove_rng_uniform(g);
    }
    for (int k = 0; n->a.has_bias && k < K; k++) {
      p[4 + nw + 2 * (size_t)nc + (size_t)k] = (float)rove_rng_below(g, 3) - 1;
      p[4 + nw + 2 * (size_t)nc + (size_t)K + (size_t)k] =
          (float)rove_rng_below(g, 4096);
    }
  }
  if (n->op == ROVE_OP_FAKEQUANT) {
    size_t nc = n->n_params / 2;
    float range = (float)(n->a.qmax - n->a.qmin);
    for (size_t k = 0; k < nc; k++) {
      p[k] = (0.5f + rove_rng_uniform(g)) * 3.0f / range;
      p[nc + k] =
          rintf((float)n->a.qmin + (0.2f + 0.3f * rove_rng_uniform(g)) * range);
    }
  }
}

/* A model around one example configuration of a layer: the model input
 * feeds input 0; further inputs come from a 1x1 convolution of it (or a
 * sigmoid when the shape is the same); the output is flattened into a
 * linear layer of 3 classes. Returns 0 when the example's extra inputs
 * cannot be made from its first one. */
/* Layers that take quantized integers, and that give them. */
static inline int takes_q(int op) {
  return op == ROVE_OP_DEQUANTIZE || op == ROVE_OP_QCONV ||
         op == ROVE_OP_CONVINT || op == ROVE_OP_QADD || op == ROVE_OP_QAVGPOOL;
}
static inline int gives_q(int op) {
  return op == ROVE_OP_QUANTIZE || op == ROVE_OP_QCONV || op == ROVE_OP_QADD ||
         op == ROVE_OP_QAVGPOOL;
}

/* A uint8 quantize node of `src`, or a dequantize of an integer node of
 * range [lo, hi]. */
static inline int add_q(rove_model *m, int op, int src, int lo, int hi,
                        rove_rng *g) {
  rove_attrs q;
  rove_attrs_default(&q);
  q.qmin = lo;
  q.qmax = hi;
  int id;
  cr_assert_eq(rove_model_add(m, op, NULL, &src, 1, &q, &id), 0, "%s",
               rove_error_message());
  fill_params(m, id, g);
  return id;
}

static inline int build_example(rove_model *m, int op, const rove_attrs *a,
                                const rove_shape *ins, int n_in,
                                uint64_t seed) {
  cr_assert_eq(rove_model_init(m, &ins[0]), 0);
  uint64_t ident[2] = {seed, 0x6578616d706c65ull};
  rove_rng g;
  rove_rng_init(&g, ident, 2);
  int in_ids[ROVE_MAX_IN];
  in_ids[0] = ROVE_INPUT;
  if (takes_q(op))
    in_ids[0] = add_q(m, ROVE_OP_QUANTIZE, ROVE_INPUT, 0, 255, &g);
  for (int i = 1; i < n_in; i++) {
    int same = ins[i].rank == ins[0].rank;
    for (int k = 0; same && k < ins[i].rank; k++)
      same = ins[i].d[k] == ins[0].d[k];
    rove_attrs b;
    rove_attrs_default(&b);
    int id, bop = ROVE_OP_SIGMOID;
    if (!same) {
      if (ins[i].rank != 3 || ins[0].rank != 3 || ins[i].d[1] != ins[0].d[1] ||
          ins[i].d[2] != ins[0].d[2]) {
        rove_model_deinit(m);
        return 0;
      }
      bop = ROVE_OP_CONV;
      b.kh = b.kw = 1;
      b.out = ins[i].d[0];
      b.has_bias = 1;
    }
    int src = ROVE_INPUT;
    cr_assert_eq(rove_model_add(m, bop, NULL, &src, 1, &b, &id), 0, "%s",
                 rove_error_message());
    fill_params(m, id, &g);
    in_ids[i] = takes_q(op) ? add_q(m, ROVE_OP_QUANTIZE, id, 0, 255, &g) : id;
  }
  int id;
  cr_assert_eq(rove_model_add(m, op, NULL, in_ids, n_in, a, &id), 0, "%s",
               rove_error_message());
  fill_params(m, id, &g);
  if (gives_q(op))
    id = add_q(m, ROVE_OP_DEQUANTIZE, id, a->qmin, a->qmax, &g);
  rove_attrs r;
  rove_attrs_default(&r);
  r.shape.rank = 1;
  r.shape.d[0] = (int)rove_shape_numel(&m->nodes[id].out);
  int flat;
  cr_assert_eq(rove_model_add(m, ROVE_OP_RESHAPE, NULL, &id, 1, &r, &flat), 0,
               "%s", rove_error_message());
  rove_attrs l;
  rove_attrs_default(&l);
  l.out = 3;
  l.has_bias = 1;
  int lin;
  cr_assert_eq(rove_model_add(m, ROVE_OP_LINEAR, NULL, &flat, 1, &l, &lin), 0,
               "%s", rove_error_message());
  fill_params(m, lin, &g);
  cr_assert_eq(rove_model_finalize(m, -1), 0, "%s", rove_error_message());
  return 1;
}

#endif
