/* test_export.c - ONNX export: every architecture, quantized forms and the
 * PyTorch-exported fixtures go out through rove_onnx_export_mem and come
 * back through the importer with bit-identical logits. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/arch.h"
#include "common/arch_zoo.h"
#include "common/err.h"
#include "common/model.h"
#include "common/onnx.h"
#include "common/onnx_export.h"
#include "common/rng.h"
#include "common/train/train.h"
#include "test_models.h"

/* Exports m, imports it again and compares the logits on n seeded random
 * inputs in [0, 1] (scaled by `amp` to reach saturating quantizers) bit
 * for bit. Returns the re-imported model's count of non-differentiable
 * layers. */
static char rt_tag[96]; /* names the model in failure messages */

static int round_trip(const rove_model *m, int n, float amp, size_t *bytes) {
  uint8_t *buf;
  size_t len;
  rove_model b;
  cr_assert_eq(rove_onnx_export_mem(m, &buf, &len), 0, "%s",
               rove_error_message());
  cr_assert_eq(rove_onnx_load_mem(&b, buf, len, "exported"), 0, "%s",
               rove_error_message());
  if (bytes)
    *bytes = len;
  free(buf);
  cr_assert_eq(b.n_classes, m->n_classes);
  size_t d = (size_t)rove_shape_numel(&m->in), K = (size_t)m->n_classes;
  float *x = malloc(sizeof *x * d * (size_t)n);
  uint64_t id[2] = {0x74657374ull, (uint64_t)n};
  rove_rng g;
  rove_rng_init(&g, id, 2);
  for (size_t i = 0; i < d * (size_t)n; i++)
    x[i] = amp * rove_rng_uniform(&g);
  rove_exec ea, eb;
  cr_assert_eq(rove_exec_init(&ea, m, n), 0);
  cr_assert_eq(rove_exec_init(&eb, &b, n), 0);
  rove_exec_forward(&ea, n, x);
  rove_exec_forward(&eb, n, x);
  const float *za = rove_exec_logits(&ea), *zb = rove_exec_logits(&eb);
  for (size_t j = 0; j < (size_t)n * K; j++)
    cr_assert_eq(memcmp(&za[j], &zb[j], 4), 0, "%s logit %zu: %.9g vs %.9g",
                 rt_tag, j, za[j], zb[j]);
  rove_exec_deinit(&ea);
  rove_exec_deinit(&eb);
  int nd = rove_model_count_nondiff(&b);
  rove_model_deinit(&b);
  free(x);
  return nd;
}

Test(export, float_architectures_round_trip) {
  rove_model m;
  cr_assert_eq(rove_arch_smallcnn(&m, 0.5f, 10, 1), 0);
  cr_assert_eq(round_trip(&m, 8, 1, NULL), 0);
  rove_model_deinit(&m);
  cr_assert_eq(rove_arch_rescnn(&m, 0.5f, 10, 2), 0);
  cr_assert_eq(round_trip(&m, 8, 1, NULL), 0);
  rove_model_deinit(&m);
  rove_shape in = {3, {1, 28, 28, 0}};
  int hidden[2] = {32, 16};
  cr_assert_eq(rove_arch_mlp(&m, &in, hidden, 2, 10, 3), 0);
  cr_assert_eq(round_trip(&m, 8, 1, NULL), 0);
  rove_model_deinit(&m);
}

/* The QAT form at 8, 4 and 2 bits: activation quantizers stay
 * non-differentiable layers (case 2) after the round trip, and quantized
 * weights are stored as int8 (a smaller file). */
Test(export, quantized_models_round_trip_as_qdq) {
  rove_model f, q;
  cr_assert_eq(rove_arch_smallcnn(&f, 0.5f, 10, 4), 0);
  size_t fbytes;
  round_trip(&f, 4, 1, &fbytes);
  float *scale = calloc((size_t)f.n_nodes, sizeof *scale);
  float *x = malloc(sizeof *x * 784 * 8);
  for (int i = 0; i < 784 * 8; i++)
    x[i] = (float)((i * 7919) % 256) / 255.0f;
  for (int bits = 2; bits <= 8; bits *= 2) {
    cr_assert_eq(rove_qat_calibrate(&f, x, 8, bits, scale), 0);
    cr_assert_eq(rove_arch_quantized(&q, &f, 8, bits, scale), 0);
    rove_qat_quantize_weights(&q, q.params, q.params, bits);
    rove_model_finalize(&q, q.output);
    size_t qbytes;
    /* amp 2 drives the input quantizer into saturation too. */
    int nd = round_trip(&q, 8, 2, &qbytes);
    cr_assert_eq(nd, 7, "bits %d: %d quantizers after import", bits, nd);
    cr_assert(qbytes < fbytes / 2, "bits %d: %zu bytes vs float %zu", bits,
              qbytes, fbytes);
    rove_model_deinit(&q);
  }
  free(x);
  free(scale);
  rove_model_deinit(&f);
}

/* Layers with no QAT use: per-channel fake quant with a narrow range
 * (exported as Div/Round/Add/Clip/Sub/Mul), constants, clip, pools,
 * batchnorm, concat, leaky ReLU. */
Test(export, general_layers_round_trip) {
  rove_model m;
  rove_shape in = {3, {2, 6, 6, 0}};
  rove_attrs a;
  int x = ROVE_INPUT, c, bn, fq, cl, mp, ap, cc, lr, sc, gp;
  cr_assert_eq(rove_model_init(&m, &in), 0);
  rove_attrs_default(&a);
  a.kh = a.kw = 3;
  a.pt = a.pl = 1;
  a.pb = a.pr = 1;
  a.out = 4;
  a.has_bias = 1;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_CONV, "c", &x, 1, &a, &c), 0);
  rove_attrs_default(&a);
  a.eps = 1e-3f;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_BATCHNORM, "bn", &c, 1, &a, &bn), 0);
  rove_attrs_default(&a);
  a.per_channel = 1;
  a.qmin = -3;
  a.qmax = 4;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_FAKEQUANT, "fq", &bn, 1, &a, &fq), 0);
  rove_attrs_default(&a);
  a.lo = -0.5f;
  a.hi = 0.75f;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_CLIP, "clip", &fq, 1, &a, &cl), 0);
  rove_attrs_default(&a);
  a.kh = a.kw = 2;
  a.sh = a.sw = 2;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_MAXPOOL, "mp", &cl, 1, &a, &mp), 0);
  a.pt = a.pl = 1;
  a.count_include_pad = 1;
  a.sh = a.sw = 2;
  a.kh = a.kw = 3;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_AVGPOOL, "ap", &cl, 1, &a, &ap), 0);
  rove_attrs_default(&a);
  int two[2] = {mp, ap};
  cr_assert_eq(rove_model_add(&m, ROVE_OP_CONCAT, "cat", two, 2, &a, &cc), 0);
  rove_attrs_default(&a);
  a.alpha = 0.2f;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_LEAKYRELU, "lr", &cc, 1, &a, &lr), 0);
  rove_attrs_default(&a);
  a.cmode = 2;
  a.const_first = 1;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_SUB, "sub", &lr, 1, &a, &sc), 0);
  rove_attrs_default(&a);
  cr_assert_eq(rove_model_add(&m, ROVE_OP_GAP, "gap", &sc, 1, &a, &gp), 0);
  rove_attrs_default(&a);
  a.out = 5;
  a.has_bias = 1;
  int fc;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_LINEAR, "fc", &gp, 1, &a, &fc), 0);
  /* Deterministic parameter values; quantizer scales positive and zero
   * points integer. */
  for (size_t i = 0; i < m.n_params; i++)
    m.params[i] = 0.3f * sinf((float)i * 1.7f);
  float *p = rove_model_node_params(&m, bn);
  for (int k = 0; k < 4; k++)
    p[12 + k] = 0.5f + (float)k; /* variances > 0 */
  p = rove_model_node_params(&m, fq);
  for (int k = 0; k < 4; k++) {
    p[k] = 0.1f + 0.05f * (float)k;
    p[4 + k] = (float)(k - 1);
  }
  cr_assert_eq(rove_model_finalize(&m, fc), 0);
  cr_assert_eq(round_trip(&m, 6, 3, NULL), 1);
  rove_model_deinit(&m);
}

/* Models written by PyTorch's exporter (tests/fixtures) go through rove
 * and out again unchanged in their logits. */
Test(export, pytorch_fixtures_round_trip) {
  static const char *const fx[] = {"smallcnn",  "resnet",    "mobilenet",
                                   "mlp",       "handquant", "qdq",
                                   "fmnist_q2", "softmax"};
  for (size_t i = 0; i < sizeof fx / sizeof fx[0]; i++) {
    char path[256];
    rove_model m;
    snprintf(path, sizeof path, "tests/fixtures/%s.onnx", fx[i]);
    cr_assert_eq(rove_onnx_load(&m, path), 0, "%s", rove_error_message());
    int nd = rove_model_count_nondiff(&m);
    cr_assert_eq(round_trip(&m, 4, 1, NULL), nd, "%s", fx[i]);
    rove_model_deinit(&m);
  }
}

Test(export, refuses_unfinalized_models) {
  rove_model m;
  rove_shape in = {1, {4}};
  uint8_t *buf;
  size_t len;
  cr_assert_eq(rove_model_init(&m, &in), 0);
  cr_assert_eq(rove_onnx_export_mem(&m, &buf, &len), ROVE_ESTATE);
  cr_assert_null(buf);
  rove_model_deinit(&m);
  cr_assert_eq(rove_arch_smallcnn(&m, 0.25f, 10, 1), 0);
  cr_assert_lt(rove_onnx_export(&m, "/nonexistent-dir/x.onnx"), 0);
  cr_assert(strstr(rove_error_message(), "/nonexistent-dir/x.onnx"));
  rove_model_deinit(&m);
}

/* Fills every parameter of node `id` from U(0.5, 1.5) with random signs
 * (BatchNorm kept positive: its variances must be; fake-quant gets a
 * valid scale and an integer zero point inside its range). */
/* Every layer of layers.def, in every example configuration it offers,
 * goes out to ONNX and comes back with bit-identical logits; a
 * configuration ONNX cannot express must say so by name, and every layer
 * must export in at least one configuration. A new layer is covered by
 * this test the moment it is registered. */
Test(export, every_layer_example_round_trips) {
  for (int op = 0; op < ROVE_OP_COUNT; op++) {
    const rove_layer_ops *ops = rove_layers[op];
    int exported = 0, tried = 0;
    for (int v = 0; v < 64; v++) {
      rove_attrs a;
      rove_attrs_default(&a);
      rove_shape ins[ROVE_MAX_IN];
      int n_in = 1;
      memset(ins, 0, sizeof ins);
      if (!ops->example(v, &a, ins, &n_in))
        break;
      rove_model m;
      if (!build_example(&m, op, &a, ins, n_in, (uint64_t)(op * 64 + v)))
        continue;
      tried++;
      uint8_t *buf;
      size_t len;
      int rc = rove_onnx_export_mem(&m, &buf, &len);
      if (rc == ROVE_EUNSUPPORTED) {
        cr_assert(strstr(rove_error_message(), "no ONNX export") != NULL,
                  "%s variant %d: %s", ops->name, v, rove_error_message());
        rove_model_deinit(&m);
        continue;
      }
      cr_assert_eq(rc, 0, "%s variant %d: %s", ops->name, v,
                   rove_error_message());
      free(buf);
      snprintf(rt_tag, sizeof rt_tag, "%s variant %d:", ops->name, v);
      round_trip(&m, 3, 1.0f, NULL);
      exported++;
      rove_model_deinit(&m);
    }
    cr_assert_gt(tried, 0, "%s: no example could be built", ops->name);
    cr_assert_gt(exported, 0, "%s: no example exports to ONNX", ops->name);
  }
}
