/* test_precision.c - deployed precision read off graphs and weights. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/model.h"
#include "common/precision.h"

/* linear 16 -> 3 (bias), fakequant, linear 3 -> 2: the first layer's
 * weights take `levels` distinct values per output channel, the second's
 * two. */
static void build(rove_model *m, int levels, int qmax, int with_quant) {
  rove_shape in = {1, {16}};
  cr_assert_eq(rove_model_init(m, &in), 0);
  rove_attrs a;
  rove_attrs_default(&a);
  a.out = 3;
  a.has_bias = 1;
  int l1, prev, in0 = ROVE_INPUT;
  cr_assert_eq(rove_model_add(m, ROVE_OP_LINEAR, "fc1", &in0, 1, &a, &l1), 0);
  prev = l1;
  if (with_quant) {
    rove_attrs q;
    rove_attrs_default(&q);
    q.qmin = 0;
    q.qmax = qmax;
    cr_assert_eq(rove_model_add(m, ROVE_OP_FAKEQUANT, "q", &prev, 1, &q, &prev),
                 0);
    float *qp = rove_model_node_params(m, prev);
    qp[0] = 0.5f; /* scale */
    qp[1] = 0.0f; /* zero point */
  }
  a.out = 2;
  int l2;
  cr_assert_eq(rove_model_add(m, ROVE_OP_LINEAR, "fc2", &prev, 1, &a, &l2), 0);
  float *w = rove_model_node_params(m, l1);
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < 16; i++)
      w[k * 16 + i] = levels ? (float)((i + k) % levels) * 0.25f - 0.5f
                             : sqrtf((float)i + 0.37f) + 0.01f * (float)k;
  float *w2 = rove_model_node_params(m, l2);
  for (int i = 0; i < 2 * 3; i++)
    w2[i] = (float)(i % 2); /* 2 levels: 1 bit */
  cr_assert_eq(rove_model_finalize(m, -1), 0);
}

Test(precision, float_model_with_few_weights_per_channel) {
  rove_model m;
  build(&m, 0, 255, 0); /* fc1: 16 off-grid values per channel */
  rove_precision p;
  rove_precision_of(&m, &p);
  /* fc2's channels are on a 1-bit grid, but fc1's square roots are on no
   * uniform grid: the model's weights are float. */
  cr_assert_eq(p.n_quantizers, 0);
  cr_assert_eq(p.act_bits, 32);
  cr_assert_eq(p.weight_bits, 32);
  char buf[64];
  rove_precision_describe(&p, buf, sizeof buf);
  cr_assert_str_eq(buf, "float32");
  rove_model_deinit(&m);
}

Test(precision, quantized_weights_and_activations) {
  rove_model m;
  build(&m, 4, 3, 1); /* 4 levels = 2-bit weights, 4-level activations */
  rove_precision p;
  rove_precision_of(&m, &p);
  cr_assert_eq(p.n_quantizers, 1);
  cr_assert_eq(p.act_bits, 2);
  cr_assert_eq(p.weight_bits, 2);
  /* fc1 on a 4-level grid (2 bits), fc2 on a 2-level one: the widest is
   * 2 bits for all 54 weights; biases (3 + 2) and the quantizer's scale and
   * zero point at 4 bytes. */
  double want = 54 * 2 / 8.0 + 5 * 4 + 2 * 4;
  cr_assert_float_eq(p.weight_bytes, want, 1e-9);
  char buf[64];
  rove_precision_describe(&p, buf, sizeof buf);
  cr_assert_str_eq(buf, "w2a2");
  rove_model_deinit(&m);
}

Test(precision, random_weights_are_float32) {
  rove_model m;
  rove_shape in = {1, {300}};
  cr_assert_eq(rove_model_init(&m, &in), 0);
  rove_attrs a;
  rove_attrs_default(&a);
  a.out = 2;
  int id, in0 = ROVE_INPUT;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_LINEAR, "fc", &in0, 1, &a, &id), 0);
  float *w = rove_model_node_params(&m, id);
  for (int i = 0; i < 600; i++)
    w[i] = 0.001f * (float)i; /* a grid, but of 300 steps: past 8 bits */
  cr_assert_eq(rove_model_finalize(&m, -1), 0);
  rove_precision p;
  rove_precision_of(&m, &p);
  cr_assert_eq(p.weight_bits, 32);
  cr_assert_float_eq(p.weight_bytes, 600 * 4.0, 1e-9);
  char buf[64];
  rove_precision_describe(&p, buf, sizeof buf);
  cr_assert_str_eq(buf, "float32");
  rove_model_deinit(&m);
}

Test(precision, int8_grid_with_missing_levels) {
  /* Symmetric 8-bit: w = s * q with q in [-127, 127], most levels unused
   * (a few per channel), as a trained int8 layer's channels are. */
  rove_model m;
  rove_shape in = {1, {64}};
  cr_assert_eq(rove_model_init(&m, &in), 0);
  rove_attrs a;
  rove_attrs_default(&a);
  a.out = 4;
  a.has_bias = 1;
  int id, in0 = ROVE_INPUT;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_LINEAR, "fc", &in0, 1, &a, &id), 0);
  float *w = rove_model_node_params(&m, id);
  for (int c = 0; c < 4; c++) {
    float s = 0.0123f * (float)(c + 1);
    for (int i = 0; i < 64; i++)
      w[c * 64 + i] = s * (float)((i * 37 + c) % 255 - 127);
    w[c * 64] = s * -127.0f;
    w[c * 64 + 1] = s * -126.0f; /* the smallest gap is one step */
  }
  cr_assert_eq(rove_model_finalize(&m, -1), 0);
  rove_precision p;
  rove_precision_of(&m, &p);
  cr_assert_eq(p.weight_bits, 8);
  char buf[64];
  rove_precision_describe(&p, buf, sizeof buf);
  cr_assert_str_eq(buf, "w8a32");
  rove_model_deinit(&m);
}
