/* test_model.c - the graph builder and exec: whole-model gradients against
 * finite differences, bit-identical per-example results for any batch
 * size, and builder errors that name the node. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/arch.h"
#include "common/arch_zoo.h"
#include "common/err.h"
#include "common/kernels/cpu.h"
#include "common/kernels/winograd.h"
#include "common/model.h"
#include "common/onnx.h"
#include "common/rng.h"

static float *falloc(size_t n) {
  float *p = calloc(n ? n : 1, sizeof(float));
  cr_assert(p != NULL);
  return p;
}

static void fill_uniform(float *v, size_t n, float lo, float hi, uint64_t key) {
  uint64_t id[2] = {0x6d6f64656cull, key};
  rove_rng g;
  rove_rng_init(&g, id, 2);
  for (size_t i = 0; i < n; i++)
    v[i] = lo + (hi - lo) * rove_rng_uniform(&g);
}

/* conv -> relu -> maxpool -> conv (+ residual add) -> relu -> branch: gap
 * and flatten, concat -> linear. Input {2, 8, 8}. */
static void build_dag(rove_model *m) {
  rove_shape in = {3, {2, 8, 8, 0}};
  rove_attrs a;
  int c1, r1, mp, c2, ad, r2, gp, fl, cc, fc;
  cr_assert_eq(rove_model_init(m, &in), 0);
  rove_attrs_default(&a);
  a.kh = a.kw = 3;
  a.pt = a.pl = a.pb = a.pr = 1;
  a.out = 4;
  a.has_bias = 1;
  int x = ROVE_INPUT;
  cr_assert_eq(rove_model_add(m, ROVE_OP_CONV, "c1", &x, 1, &a, &c1), 0);
  cr_assert_eq(rove_model_add(m, ROVE_OP_RELU, "r1", &c1, 1, NULL, &r1), 0);
  rove_attrs_default(&a);
  a.kh = a.kw = 2;
  a.sh = a.sw = 2;
  cr_assert_eq(rove_model_add(m, ROVE_OP_MAXPOOL, "mp", &r1, 1, &a, &mp), 0);
  rove_attrs_default(&a);
  a.kh = a.kw = 3;
  a.pt = a.pl = a.pb = a.pr = 1;
  a.out = 4;
  a.groups = 2;
  a.has_bias = 1;
  cr_assert_eq(rove_model_add(m, ROVE_OP_CONV, "c2", &mp, 1, &a, &c2), 0);
  int res[2] = {c2, mp};
  cr_assert_eq(rove_model_add(m, ROVE_OP_ADD, "res", res, 2, NULL, &ad), 0);
  cr_assert_eq(rove_model_add(m, ROVE_OP_RELU, "r2", &ad, 1, NULL, &r2), 0);
  cr_assert_eq(rove_model_add(m, ROVE_OP_GAP, "gap", &r2, 1, NULL, &gp), 0);
  rove_attrs_default(&a);
  a.shape.rank = 1;
  a.shape.d[0] = 4;
  cr_assert_eq(rove_model_add(m, ROVE_OP_RESHAPE, "gflat", &gp, 1, &a, &gp), 0);
  a.shape.d[0] = 4 * 4 * 4;
  cr_assert_eq(rove_model_add(m, ROVE_OP_RESHAPE, "flat", &r2, 1, &a, &fl), 0);
  int cat[2] = {gp, fl};
  rove_attrs_default(&a);
  cr_assert_eq(rove_model_add(m, ROVE_OP_CONCAT, "cat", cat, 2, &a, &cc), 0);
  rove_attrs_default(&a);
  a.out = 5;
  a.has_bias = 1;
  cr_assert_eq(rove_model_add(m, ROVE_OP_LINEAR, "fc", &cc, 1, &a, &fc), 0);
  for (int i = 0; i < m->n_nodes; i++)
    rove_arch_init_he(m, i, 7);
  /* Nonzero biases, so their gradients are exercised too. */
  for (int i = 0; i < m->n_nodes; i++) {
    const rove_node *n = &m->nodes[i];
    if (n->a.has_bias) {
      float *p = rove_model_node_params(m, i);
      fill_uniform(p + n->n_params - (size_t)n->a.out, (size_t)n->a.out, -0.3f,
                   0.3f, 100 + (uint64_t)i);
    }
  }
  cr_assert_eq(rove_model_finalize(m, -1), 0);
  cr_assert_eq(m->n_classes, 5);
}

/* L = sum r * logits, in double. */
static double model_loss(rove_exec *e, int B, const float *x, const float *r) {
  rove_exec_forward(e, B, x);
  const float *z = rove_exec_logits(e);
  double s = 0;
  for (int i = 0; i < B * e->m->n_classes; i++)
    s += (double)r[i] * z[i];
  return s;
}

/* Central difference of L in v[k]; near a ReLU/MaxPool kink the steps h
 * and h/2 disagree (by more than float noise, judged against the gradient
 * scale `rms`), and the point is reported as unusable (returns 0). */
static int fd_at(rove_exec *e, int B, float *x, const float *r, float *v,
                 size_t k, double rms, double *out) {
  double d[2];
  float hs[2] = {1e-3f, 5e-4f};
  for (int t = 0; t < 2; t++) {
    float v0 = v[k];
    v[k] = v0 + hs[t];
    double xp = v[k], lp = model_loss(e, B, x, r);
    v[k] = v0 - hs[t];
    double xm = v[k], lm = model_loss(e, B, x, r);
    v[k] = v0;
    d[t] = (lp - lm) / (xp - xm);
  }
  *out = d[1];
  return fabs(d[0] - d[1]) <= 1e-3 * (fabs(d[0]) + fabs(d[1])) + 1e-2 * rms;
}

Test(model, dag_gradients_match_finite_differences) {
  rove_model m;
  rove_exec e;
  build_dag(&m);
  const int B = 3;
  cr_assert_eq(rove_exec_init(&e, &m, B), 0);
  size_t nx = (size_t)B * (size_t)rove_shape_numel(&m.in);
  size_t nz = (size_t)B * (size_t)m.n_classes;
  float *x = falloc(nx), *r = falloc(nz), *dx = falloc(nx);
  float *dp = falloc(m.n_params);
  fill_uniform(x, nx, 0, 1, 1);
  fill_uniform(r, nz, -1, 1, 2);
  rove_exec_forward(&e, B, x);
  rove_exec_backward(&e, B, x, r, dx, dp);

  double rms = 0;
  for (size_t k = 0; k < nx; k++)
    rms += (double)dx[k] * dx[k];
  rms = sqrt(rms / (double)nx);
  int bad = 0, skipped = 0;
  for (size_t k = 0; k < nx; k++) {
    double fd;
    if (!fd_at(&e, B, x, r, x, k, rms, &fd)) {
      skipped++;
      continue;
    }
    if (!(fabs(fd - dx[k]) <= 3e-3 * fabs(fd) + 1e-2 * rms)) {
      if (bad++ < 10)
        cr_log_error("dx[%zu]: analytic %g, finite difference %g", k,
                     (double)dx[k], fd);
    }
  }
  cr_expect_eq(bad, 0, "%d input gradients disagree", bad);
  cr_expect_lt(skipped, (int)nx / 20, "%d of %zu inputs near kinks", skipped,
               nx);

  /* Parameter gradients: every trainable parameter of every node. */
  bad = skipped = 0;
  int checked = 0;
  for (int i = 0; i < m.n_nodes; i++) {
    const rove_node *n = &m.nodes[i];
    float *p = m.params + n->param_off;
    const float *g = dp + n->param_off;
    double prms = 0;
    for (size_t k = 0; k < n->n_trainable; k++)
      prms += (double)g[k] * g[k];
    prms = sqrt(prms / (double)(n->n_trainable ? n->n_trainable : 1));
    for (size_t k = 0; k < n->n_trainable; k++) {
      double fd;
      if (!fd_at(&e, B, x, r, p, k, prms, &fd)) {
        skipped++;
        continue;
      }
      checked++;
      if (!(fabs(fd - g[k]) <= 3e-3 * fabs(fd) + 1e-2 * prms)) {
        if (bad++ < 10)
          cr_log_error("%s param %zu: analytic %g, finite difference %g",
                       n->name, k, (double)g[k], fd);
      }
    }
  }
  cr_expect_eq(bad, 0, "%d parameter gradients disagree", bad);
  cr_expect_gt(checked, 150);
  cr_expect_lt(skipped, checked / 20);

  /* Backward without parameter gradients gives the same dx. */
  float *dx2 = falloc(nx);
  rove_exec_forward(&e, B, x);
  rove_exec_backward(&e, B, x, r, dx2, NULL);
  cr_expect(memcmp(dx, dx2, nx * sizeof(float)) == 0);
  free(dx2);
  free(x);
  free(r);
  free(dx);
  free(dp);
  rove_exec_deinit(&e);
  rove_model_deinit(&m);
}

/* Runs examples [off, off + B) alone and compares logits and input
 * gradients bit for bit with the rows of a reference run. */
static void check_batches(const rove_model *m, const int *sizes, int n_sizes,
                          int bmax) {
  rove_exec e;
  cr_assert_eq(rove_exec_init(&e, m, bmax), 0);
  size_t d = (size_t)rove_shape_numel(&m->in), N = (size_t)m->n_classes;
  float *x = falloc((size_t)bmax * d), *r = falloc((size_t)bmax * N);
  float *z = falloc((size_t)bmax * N), *dx = falloc((size_t)bmax * d);
  float *dx1 = falloc((size_t)bmax * d);
  fill_uniform(x, (size_t)bmax * d, 0, 1, 11);
  fill_uniform(r, (size_t)bmax * N, -1, 1, 12);
  rove_exec_forward(&e, bmax, x);
  memcpy(z, rove_exec_logits(&e), (size_t)bmax * N * sizeof(float));
  rove_exec_backward(&e, bmax, x, r, dx, NULL);
  for (int s = 0; s < n_sizes; s++) {
    int B = sizes[s];
    /* Odd offsets: the batch starts at a different example each time. */
    for (int off = 0; off + B <= bmax; off += B + 3) {
      rove_exec_forward(&e, B, x + (size_t)off * d);
      cr_assert(memcmp(rove_exec_logits(&e), z + (size_t)off * N,
                       (size_t)B * N * sizeof(float)) == 0,
                "logits of examples %d..%d differ at batch %d vs %d", off,
                off + B - 1, B, bmax);
      rove_exec_backward(&e, B, x + (size_t)off * d, r + (size_t)off * N, dx1,
                         NULL);
      cr_assert(
          memcmp(dx1, dx + (size_t)off * d, (size_t)B * d * sizeof(float)) == 0,
          "input gradients of examples %d..%d differ at batch %d vs %d", off,
          off + B - 1, B, bmax);
      if (B > 8)
        break;
    }
  }
  free(x);
  free(r);
  free(z);
  free(dx);
  free(dx1);
  rove_exec_deinit(&e);
}

Test(model, per_example_results_do_not_depend_on_batch_size) {
  rove_model m;
  const int sizes[] = {1, 7, 64, 99};
  cr_assert_eq(rove_arch_smallcnn(&m, 1.0f, 10, 3), 0);
  check_batches(&m, sizes, 4, 100);
  rove_model_deinit(&m);
  build_dag(&m);
  check_batches(&m, sizes, 4, 100);
  rove_model_deinit(&m);
  int hidden[2] = {37, 300};
  rove_shape in = {3, {3, 5, 5, 0}};
  cr_assert_eq(rove_arch_mlp(&m, &in, hidden, 2, 9, 4), 0);
  check_batches(&m, sizes, 4, 100);
  rove_model_deinit(&m);
}

Test(model, smallcnn_shape_and_determinism) {
  rove_model a, b;
  cr_assert_eq(rove_arch_smallcnn(&a, 1.0f, 10, 5), 0);
  cr_assert_eq(rove_arch_smallcnn(&b, 1.0f, 10, 5), 0);
  cr_expect_eq(a.n_classes, 10);
  /* conv 320 + 9248 + 18496 + 36928, fc 205000 + 40200 + 2010 */
  cr_expect_eq(a.n_params, 312202);
  cr_expect(memcmp(a.hash, b.hash, sizeof a.hash) == 0);
  /* MACs: 26*26*32*9 + 24*24*32*288 + 10*10*64*288 + 8*8*64*576 +
   * 1024*200 + 200*200 + 200*10 */
  cr_expect_eq(rove_model_macs(&a), 194688.0 + 5308416.0 + 1843200.0 +
                                        2359296.0 + 204800.0 + 40000.0 +
                                        2000.0);
  rove_model_deinit(&b);
  cr_assert_eq(rove_arch_smallcnn(&b, 1.0f, 10, 6), 0);
  cr_expect(memcmp(a.hash, b.hash, sizeof a.hash) != 0);
  rove_model_deinit(&a);
  rove_model_deinit(&b);
}

/* Builds in {C, 6, 6} and expects `op` with inputs `in` to fail with a
 * negative code and a message naming the node. */
static void expect_error(int op, const int *in, int n_in, const rove_attrs *a,
                         int C) {
  rove_model m;
  rove_shape s = {3, {C, 6, 6, 0}};
  rove_attrs r;
  int c;
  cr_assert_eq(rove_model_init(&m, &s), 0);
  rove_attrs_default(&r);
  cr_assert_eq(rove_model_add(&m, ROVE_OP_RELU, "first", (int[]){ROVE_INPUT}, 1,
                              &r, NULL),
               0);
  rove_attrs_default(&r);
  r.kh = r.kw = 3;
  r.out = 2;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_CONV, "second", (int[]){ROVE_INPUT},
                              1, &r, &c),
               0);
  rove_error_clear();
  int rc = rove_model_add(&m, op, "culprit", in, n_in, a, NULL);
  cr_expect_lt(rc, 0, "op %s should fail", rove_layers[op]->name);
  cr_expect(strstr(rove_error_message(), "culprit") != NULL,
            "message does not name the node: '%s'", rove_error_message());
  cr_expect_eq(m.n_nodes, 2, "a failed add must not leave a node behind");
  rove_model_deinit(&m);
}

Test(model, builder_errors_name_the_node) {
  rove_attrs a;
  rove_attrs_default(&a);
  /* Node 5 does not exist (nodes 0 and 1 do). */
  expect_error(ROVE_OP_RELU, (int[]){5}, 1, &a, 3);
  /* A node cannot read itself or a later node. */
  expect_error(ROVE_OP_RELU, (int[]){2}, 1, &a, 3);
  expect_error(ROVE_OP_RELU, (int[]){-5}, 1, &a, 3);
  /* add: {3,6,6} + {2,4,4} */
  expect_error(ROVE_OP_ADD, (int[]){0, 1}, 2, &a, 3);
  /* concat along channels: spatial sizes 6x6 vs 4x4 */
  expect_error(ROVE_OP_CONCAT, (int[]){0, 1}, 2, &a, 3);
  /* conv: groups 2 does not divide 3 input channels */
  rove_attrs_default(&a);
  a.out = 4;
  a.groups = 2;
  expect_error(ROVE_OP_CONV, (int[]){0}, 1, &a, 3);
  /* conv: groups 3 does not divide 4 output channels */
  a.groups = 3;
  expect_error(ROVE_OP_CONV, (int[]){0}, 1, &a, 3);
  /* conv: kernel larger than the input */
  rove_attrs_default(&a);
  a.out = 2;
  a.kh = a.kw = 7;
  expect_error(ROVE_OP_CONV, (int[]){0}, 1, &a, 3);
  /* linear on a vector: the wrong number of inputs */
  rove_attrs_default(&a);
  a.out = 2;
  expect_error(ROVE_OP_LINEAR, (int[]){0, 1}, 2, &a, 3);
  /* reshape to a different element count */
  rove_attrs_default(&a);
  a.shape.rank = 1;
  a.shape.d[0] = 100;
  expect_error(ROVE_OP_RESHAPE, (int[]){0}, 1, &a, 3);
  /* binary op with an unknown constant mode */
  rove_attrs_default(&a);
  a.cmode = 9;
  expect_error(ROVE_OP_MUL, (int[]){0}, 1, &a, 3);
}

/* Logits and input gradients of B examples at a kernel level
 * (rove_cpu_set_level: 0 portable, -1 the best the CPU has), on an exec
 * whose params are frozen (rove_exec_freeze_params) or not. */
static void run_kernels(const rove_model *m, int B, int level, int frozen,
                        float *z, float *dx) {
  rove_exec e;
  size_t d = (size_t)rove_shape_numel(&m->in), N = (size_t)m->n_classes;
  float *x = falloc((size_t)B * d), *r = falloc((size_t)B * N);
  fill_uniform(x, (size_t)B * d, 0, 1, 21);
  fill_uniform(r, (size_t)B * N, -1, 1, 22);
  rove_cpu_set_level(level);
  cr_assert_eq(rove_exec_init(&e, m, B), 0);
  if (frozen)
    cr_assert_eq(rove_exec_freeze_params(&e, NULL), 0);
  rove_exec_forward(&e, B, x);
  memcpy(z, rove_exec_logits(&e), (size_t)B * N * sizeof(float));
  rove_exec_backward(&e, B, x, r, dx, NULL);
  rove_exec_deinit(&e);
  rove_cpu_set_level(-1);
  free(x);
  free(r);
}

/* A frozen exec keeps the transformed kernels: after the params change it
 * must be told (rove_exec_params_changed), and then agrees with a fresh
 * exec again; untold, it still computes with the old kernels, which shows
 * the kept ones are what ran. Winograd in mode all, so that the small
 * fixture's convolutions take it. */
Test(model, frozen_params_follow_params_changed) {
  rove_model m;
  cr_assert_eq(rove_onnx_load(&m, "tests/fixtures/bench_resnet18.onnx"), 0,
               "%s", rove_error_message());
  rove_wino_set_mode(ROVE_WINO_ALL);
  size_t d = (size_t)rove_shape_numel(&m.in), N = (size_t)m.n_classes;
  float *x = falloc(2 * d), *z = falloc(2 * N), *zf = falloc(2 * N);
  fill_uniform(x, 2 * d, 0, 1, 21); /* run_kernels's batch */
  rove_exec e;
  size_t bytes = 0;
  cr_assert_eq(rove_exec_init(&e, &m, 2), 0);
  cr_assert_eq(rove_exec_freeze_params(&e, &bytes), 0);
  cr_expect(bytes > 0, "the fixture has 3x3 stride-1 convolutions to keep");
  rove_exec_forward(&e, 2, x);
  for (size_t i = 0; i < m.n_params; i++)
    m.params[i] *= 0.75f;
  float *dxf = falloc(2 * d);
  run_kernels(&m, 2, -1, 1, zf, dxf);
  free(dxf);
  rove_exec_forward(&e, 2, x);
  memcpy(z, rove_exec_logits(&e), 2 * N * sizeof(float));
  cr_expect(memcmp(z, zf, 2 * N * sizeof(float)) != 0,
            "the kept kernels were not used (or not kept)");
  rove_exec_params_changed(&e);
  rove_exec_forward(&e, 2, x);
  cr_expect(memcmp(rove_exec_logits(&e), zf, 2 * N * sizeof(float)) == 0,
            "after rove_exec_params_changed the logits differ from a fresh "
            "exec's");
  rove_exec_deinit(&e);
  rove_wino_set_mode(ROVE_WINO_AUTO);
  free(x);
  free(z);
  free(zf);
  rove_model_deinit(&m);
}

/* The AVX2 kernels and the portable ones (what an aarch64 board runs)
 * give the same bits, through every conv path (gathered, packed with
 * padding, the correlation backward, col2im), the dense products, 2x2
 * MaxPool, ReLU and the fake-quantizers. On a CPU without AVX2 both runs
 * are portable. */
Test(model, simd_and_portable_kernels_agree_bit_for_bit) {
  rove_model ms[5];
  cr_assert_eq(rove_arch_smallcnn(&ms[0], 0.5f, 10, 5), 0);
  cr_assert_eq(rove_arch_rescnn(&ms[1], 1.0f, 10, 6), 0);
  float *scale = falloc((size_t)ms[1].n_nodes);
  for (int i = 0; i < ms[1].n_nodes; i++)
    scale[i] = 0.05f; /* taken at every ReLU */
  cr_assert_eq(rove_arch_quantized(&ms[2], &ms[1], 8, 4, scale), 0);
  free(scale);
  build_dag(&ms[3]);
  /* Dense products with ragged sizes: 75 inputs (not a multiple of 8),
   * 37 and 300 features, 9 classes. */
  int hidden[2] = {37, 300};
  rove_shape in = {3, {3, 5, 5, 0}};
  cr_assert_eq(rove_arch_mlp(&ms[4], &in, hidden, 2, 9, 4), 0);
  const int B = 5;
  for (int i = 0; i < 5; i++) {
    size_t d = (size_t)rove_shape_numel(&ms[i].in), N = (size_t)ms[i].n_classes;
    float *z0 = falloc(B * N), *z1 = falloc(B * N);
    float *dx0 = falloc(B * d), *dx1 = falloc(B * d);
    run_kernels(&ms[i], B, 0, 0, z0, dx0);
    run_kernels(&ms[i], B, -1, 0, z1, dx1);
    cr_expect(memcmp(z0, z1, B * N * sizeof(float)) == 0,
              "model %d: logits differ between the kernels", i);
    cr_expect(memcmp(dx0, dx1, B * d * sizeof(float)) == 0,
              "model %d: input gradients differ between the kernels", i);
    free(z0);
    free(z1);
    free(dx0);
    free(dx1);
    rove_model_deinit(&ms[i]);
  }
}

/* The benchmark architectures (bench/bench_models.py), small
 * (tests/fixtures/gen_bench_fixtures.py): torchvision ResNet-18 with the
 * CIFAR stem, PreAct ResNet-18, WideResNet-10-1 and MobileNetV2, with
 * random weights and BatchNorm statistics. Every example's logits and
 * input gradient are the same bits alone (batch 1) and inside a batch of
 * 4, and at every kernel level (portable, AVX2, AVX-512; a level the CPU
 * lacks runs the best it has). test_model_winograd runs this again with
 * Winograd on every 3x3 stride-1 convolution. */
Test(model, bench_architectures_are_bit_identical) {
  static const char *const fx[] = {"tests/fixtures/bench_resnet18.onnx",
                                   "tests/fixtures/bench_preact_resnet18.onnx",
                                   "tests/fixtures/bench_wrn.onnx",
                                   "tests/fixtures/bench_mobilenet_v2.onnx"};
  for (unsigned f = 0; f < sizeof fx / sizeof fx[0]; f++) {
    rove_model m;
    cr_assert_eq(rove_onnx_load(&m, fx[f]), 0, "%s", rove_error_message());
    const int B = 4;
    size_t d = (size_t)rove_shape_numel(&m.in), N = (size_t)m.n_classes;
    float *z[3], *dx[3];
    for (int level = 0; level < 3; level++) {
      z[level] = falloc(B * N);
      dx[level] = falloc(B * d);
      run_kernels(&m, B, level, 0, z[level], dx[level]);
    }
    for (int level = 1; level < 3; level++) {
      cr_expect(memcmp(z[0], z[level], B * N * sizeof(float)) == 0,
                "%s: logits at level %d differ from portable", fx[f], level);
      cr_expect(memcmp(dx[0], dx[level], B * d * sizeof(float)) == 0,
                "%s: input gradients at level %d differ from portable", fx[f],
                level);
    }
    /* run_kernels draws the batch from fixed seeds: example 0 alone is
     * example 0 of the batch. */
    float *z1 = falloc((size_t)B * N), *dx1 = falloc((size_t)B * d);
    run_kernels(&m, 1, -1, 0, z1, dx1);
    cr_expect(memcmp(z1, z[0], N * sizeof(float)) == 0,
              "%s: example 0's logits differ between batch 1 and 4", fx[f]);
    cr_expect(memcmp(dx1, dx[0], d * sizeof(float)) == 0,
              "%s: example 0's input gradient differs between batch 1 and 4",
              fx[f]);
    cr_expect(isfinite(z[0][0]) && fabsf(z[0][0]) < 1e6f);
    /* With the params frozen (prepared Winograd kernels kept): the same
     * bits. */
    run_kernels(&m, B, -1, 1, z1, dx1);
    cr_expect(memcmp(z1, z[0], N * sizeof(float)) == 0,
              "%s: logits differ with the params frozen", fx[f]);
    cr_expect(memcmp(dx1, dx[0], d * sizeof(float)) == 0,
              "%s: input gradients differ with the params frozen", fx[f]);
    free(z1);
    free(dx1);
    for (int level = 0; level < 3; level++) {
      free(z[level]);
      free(dx[level]);
    }
    rove_model_deinit(&m);
  }
}

/* ---- BatchNorm folded into the convolution before it (common/fold.c) -- */

/* conv (no bias) -> BN -> relu -> conv (bias, groups 2) -> BN, + relu
 * output -> BN (after the Add: stays) -> a conv read by a BN and by the
 * Add of a branch (stays) -> gap -> linear. Two pairs fold. */
static void build_bn(rove_model *m) {
  rove_shape in = {3, {4, 6, 6, 0}};
  rove_attrs a, bn;
  int c1, b1, r1, c2, b2, ad, b3, c3, b4, ad2, gp, fl, fc;
  cr_assert_eq(rove_model_init(m, &in), 0);
  rove_attrs_default(&a);
  a.kh = a.kw = 3;
  a.pt = a.pl = a.pb = a.pr = 1;
  a.out = 4;
  rove_attrs_default(&bn);
  bn.eps = 1e-3f;
  int x = ROVE_INPUT;
  cr_assert_eq(rove_model_add(m, ROVE_OP_CONV, "c1", &x, 1, &a, &c1), 0);
  cr_assert_eq(rove_model_add(m, ROVE_OP_BATCHNORM, "b1", &c1, 1, &bn, &b1), 0);
  cr_assert_eq(rove_model_add(m, ROVE_OP_RELU, "r1", &b1, 1, NULL, &r1), 0);
  a.groups = 2;
  a.has_bias = 1;
  cr_assert_eq(rove_model_add(m, ROVE_OP_CONV, "c2", &r1, 1, &a, &c2), 0);
  cr_assert_eq(rove_model_add(m, ROVE_OP_BATCHNORM, "b2", &c2, 1, &bn, &b2), 0);
  int s1[2] = {b2, r1};
  cr_assert_eq(rove_model_add(m, ROVE_OP_ADD, "ad", s1, 2, NULL, &ad), 0);
  cr_assert_eq(rove_model_add(m, ROVE_OP_BATCHNORM, "b3", &ad, 1, &bn, &b3), 0);
  a.groups = 1;
  cr_assert_eq(rove_model_add(m, ROVE_OP_CONV, "c3", &b3, 1, &a, &c3), 0);
  cr_assert_eq(rove_model_add(m, ROVE_OP_BATCHNORM, "b4", &c3, 1, &bn, &b4), 0);
  int s2[2] = {b4, c3};
  cr_assert_eq(rove_model_add(m, ROVE_OP_ADD, "ad2", s2, 2, NULL, &ad2), 0);
  cr_assert_eq(rove_model_add(m, ROVE_OP_GAP, "gap", &ad2, 1, NULL, &gp), 0);
  rove_attrs_default(&a);
  a.shape.rank = 1;
  a.shape.d[0] = 4;
  cr_assert_eq(rove_model_add(m, ROVE_OP_RESHAPE, "fl", &gp, 1, &a, &fl), 0);
  rove_attrs_default(&a);
  a.out = 3;
  a.has_bias = 1;
  cr_assert_eq(rove_model_add(m, ROVE_OP_LINEAR, "fc", &fl, 1, &a, &fc), 0);
  fill_uniform(m->params, m->n_params, -0.5f, 0.5f, 31);
  /* BatchNorm: gamma in [0.5, 1.5], beta and mean in [-0.3, 0.3], var in
   * [0.2, 1.2]. */
  for (int i = 0; i < m->n_nodes; i++)
    if (m->nodes[i].op == ROVE_OP_BATCHNORM) {
      float *p = m->params + m->nodes[i].param_off;
      int C = m->nodes[i].out.d[0];
      fill_uniform(p, (size_t)C, 0.5f, 1.5f, 32 + (uint64_t)i);
      fill_uniform(p + C, 2 * (size_t)C, -0.3f, 0.3f, 40 + (uint64_t)i);
      fill_uniform(p + 3 * C, (size_t)C, 0.2f, 1.2f, 50 + (uint64_t)i);
    }
  cr_assert_eq(rove_model_finalize(m, fc), 0);
}

static int count_op(const rove_model *m, int op) {
  int n = 0;
  for (int i = 0; i < m->n_nodes; i++)
    n += m->nodes[i].op == op;
  return n;
}

/* The folded model computes what the graph did (logits and input
 * gradients to rounding), with two layers fewer, and keeps the loaded
 * model's hash; BatchNorms after an Add or after a convolution read twice
 * stay. */
Test(model, batchnorm_folds_into_the_convolution) {
  rove_model m, f;
  build_bn(&m);
  cr_assert_eq(rove_model_clone(&f, &m), 0);
  int folded = -1;
  cr_assert_eq(rove_model_fold_batchnorm(&f, &folded), 0, "%s",
               rove_error_message());
  cr_expect_eq(folded, 2);
  cr_expect_eq(f.n_nodes, m.n_nodes - 2);
  cr_expect_eq(count_op(&f, ROVE_OP_BATCHNORM), 2);
  cr_expect_eq(memcmp(f.hash, m.hash, sizeof m.hash), 0,
               "the hash is the loaded model's");
  const int B = 3;
  size_t d = (size_t)rove_shape_numel(&m.in), N = (size_t)m.n_classes;
  float *x = falloc(B * d), *r = falloc(B * N);
  float *z[2], *dx[2];
  fill_uniform(x, B * d, 0, 1, 60);
  fill_uniform(r, B * N, -1, 1, 61);
  const rove_model *ms[2] = {&m, &f};
  for (int k = 0; k < 2; k++) {
    rove_exec e;
    z[k] = falloc(B * N);
    dx[k] = falloc(B * d);
    cr_assert_eq(rove_exec_init(&e, ms[k], B), 0);
    rove_exec_forward(&e, B, x);
    memcpy(z[k], rove_exec_logits(&e), B * N * sizeof(float));
    rove_exec_backward(&e, B, x, r, dx[k], NULL);
    rove_exec_deinit(&e);
  }
  double zmax = 0, gmax = 0;
  for (size_t i = 0; i < B * N; i++)
    zmax = fmax(zmax, fabs(z[0][i]));
  for (size_t i = 0; i < B * d; i++)
    gmax = fmax(gmax, fabs(dx[0][i]));
  cr_assert(zmax > 0.01 && gmax > 1e-4, "a degenerate test model");
  for (size_t i = 0; i < B * N; i++)
    cr_expect(fabs(z[1][i] - z[0][i]) <= 1e-5 * zmax, "logit %zu: %g vs %g", i,
              (double)z[1][i], (double)z[0][i]);
  for (size_t i = 0; i < B * d; i++)
    cr_expect(fabs(dx[1][i] - dx[0][i]) <= 1e-5 * gmax, "dx %zu: %g vs %g", i,
              (double)dx[1][i], (double)dx[0][i]);
  /* Nothing left to fold: unchanged. */
  cr_assert_eq(rove_model_fold_batchnorm(&f, &folded), 0);
  cr_expect_eq(folded, 0);
  cr_expect_eq(f.n_nodes, m.n_nodes - 2);
  for (int k = 0; k < 2; k++) {
    free(z[k]);
    free(dx[k]);
  }
  free(x);
  free(r);
  rove_model_deinit(&f);
  rove_model_deinit(&m);
}

/* The ONNX importer folds: the resnet fixture keeps its BatchNormalization
 * nodes in the file (exported with TrainingMode.PRESERVE), four of which
 * follow a convolution; the one after an Add stays (its logits and
 * gradients against PyTorch's are test_onnx's). */
Test(model, onnx_import_folds_batchnorm) {
  rove_model m;
  cr_assert_eq(rove_onnx_load(&m, "tests/fixtures/resnet.onnx"), 0, "%s",
               rove_error_message());
  cr_expect_eq(count_op(&m, ROVE_OP_BATCHNORM), 1);
  rove_model_deinit(&m);
}
