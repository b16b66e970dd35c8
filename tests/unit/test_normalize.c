/* test_normalize.c - input normalization folded into a model: the same
 * logits as the raw model on manually normalized inputs, epsilon measured
 * in pixel space (closed form on a linear model), the folded model kept by
 * .rove and ONNX round trips, and the errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/format_rove.h"
#include "common/normalize.h"
#include "common/onnx.h"
#include "common/onnx_export.h"
#include "test_attack_util.h"

/* conv 3x3 (3 -> 4 channels, pad 1) on 3x5x5, relu, linear to 3 classes. */
static void rgb_cnn(rove_model *m, uint64_t seed) {
  rove_shape in = {3, {3, 5, 5}};
  TRY_OK(rove_model_init(m, &in));
  rove_attrs a;
  int prev = ROVE_INPUT, id;
  rove_attrs_default(&a);
  a.out = 4;
  a.kh = a.kw = 3;
  a.pt = a.pl = a.pb = a.pr = 1;
  a.has_bias = 1;
  TRY_OK(rove_model_add(m, ROVE_OP_CONV, "conv", &prev, 1, &a, &id));
  rove_attrs_default(&a);
  TRY_OK(rove_model_add(m, ROVE_OP_RELU, "relu", &id, 1, &a, &id));
  rove_attrs_default(&a);
  a.out = 3;
  a.has_bias = 1;
  TRY_OK(rove_model_add(m, ROVE_OP_LINEAR, "fc", &id, 1, &a, &id));
  rove_rng r;
  rove_rng_init(&r, &seed, 1);
  for (size_t i = 0; i < m->n_params; i++)
    m->params[i] = tu_uniform(&r, -1.0f, 1.0f);
  TRY_OK(rove_model_finalize(m, -1));
}

static const rove_norm cifar = {
    3, 3, {0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};

static void logits(const rove_model *m, const float *x, int n, float *z) {
  rove_exec e;
  TRY_OK(rove_exec_init(&e, m, n));
  rove_exec_forward(&e, n, x);
  memcpy(z, rove_exec_logits(&e), sizeof(float) * (size_t)n * m->n_classes);
  rove_exec_deinit(&e);
}

Test(normalize, folded_model_equals_raw_model_on_normalized_inputs) {
  enum { N = 16, D = 75 };
  rove_model raw, folded;
  rgb_cnn(&raw, 3);
  rgb_cnn(&folded, 3);
  TRY_OK(rove_model_normalize(&folded, &cifar));
  cr_assert_eq(folded.n_nodes, raw.n_nodes + 2);
  cr_assert_str_eq(folded.nodes[0].name, "normalize_sub");
  cr_assert_str_eq(folded.nodes[1].name, "normalize_div");
  cr_assert_neq(memcmp(raw.hash, folded.hash, 32), 0);
  float x[N * D], xn[N * D], za[N * 3], zb[N * 3];
  rove_rng r;
  uint64_t seed = 5;
  rove_rng_init(&r, &seed, 1);
  for (int i = 0; i < N * D; i++) {
    x[i] = rove_rng_uniform(&r);
    int c = (i % D) / 25;
    /* torchvision's Normalize: (x - mean) / std. */
    xn[i] = (x[i] - cifar.mean[c]) / cifar.std[c];
  }
  logits(&folded, x, N, za);
  logits(&raw, xn, N, zb);
  for (int i = 0; i < N * 3; i++)
    cr_assert_eq(za[i], zb[i], "logit %d: %a vs %a", i, za[i], zb[i]);

  /* .rove and ONNX keep the folded nodes and give the same logits. */
  char path[] = "/tmp/rove-norm-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  TRY_OK(rove_model_save(&folded, path));
  rove_model back;
  TRY_OK(rove_model_load(&back, path));
  unlink(path);
  cr_assert_eq(memcmp(back.hash, folded.hash, 32), 0);
  logits(&back, x, N, zb);
  cr_assert_eq(memcmp(za, zb, sizeof za), 0);
  rove_model_deinit(&back);
  uint8_t *buf;
  size_t len;
  TRY_OK(rove_onnx_export_mem(&folded, &buf, &len));
  TRY_OK(rove_onnx_load_mem(&back, buf, len, "folded.onnx"));
  free(buf);
  logits(&back, x, N, zb);
  cr_assert_eq(memcmp(za, zb, sizeof za), 0);
  rove_model_deinit(&back);

  /* One value applies to every channel; a missing std means 1. */
  rove_norm one = {1, 0, {0.5f}, {0}};
  rove_model m1;
  rgb_cnn(&m1, 3);
  TRY_OK(rove_model_normalize(&m1, &one));
  const float *p = m1.params + m1.nodes[1].param_off;
  cr_assert(p[0] == 1.0f && p[1] == 1.0f && p[2] == 1.0f);
  p = m1.params + m1.nodes[0].param_off;
  cr_assert(p[0] == 0.5f && p[2] == 0.5f);
  rove_model_deinit(&m1);
  rove_model_deinit(&raw);
  rove_model_deinit(&folded);
}

/* Closed form: a linear model behind normalization, z = W (x - m) / s + b,
 * attacked at radius eps. The worst L-inf point moves every pixel by eps
 * in PIXEL space against the sign of (w_y - w_o) (s > 0 keeps the sign),
 * clipped to [0, 1]; if the ball were measured after normalization it
 * would move each pixel by eps * s_c instead, and the verdicts differ. */
Test(normalize, epsilon_is_measured_in_pixel_space) {
  enum { C = 2, H = 1, W = 10, D = C * H * W, N = 64 };
  rove_shape in = {3, {C, H, W}};
  rove_model m;
  TRY_OK(rove_model_init(&m, &in));
  rove_attrs a;
  rove_attrs_default(&a);
  a.out = 2;
  a.has_bias = 1;
  int i0 = ROVE_INPUT, id;
  TRY_OK(rove_model_add(&m, ROVE_OP_LINEAR, "fc", &i0, 1, &a, &id));
  float Wt[2 * D], b[2] = {0.1f, -0.1f};
  rove_rng r;
  uint64_t seed = 11;
  rove_rng_init(&r, &seed, 1);
  for (int i = 0; i < 2 * D; i++)
    Wt[i] = (float)rove_rng_normal(&r) * 0.3f;
  memcpy(rove_model_node_params(&m, id), Wt, sizeof Wt);
  memcpy(rove_model_node_params(&m, id) + 2 * D, b, sizeof b);
  TRY_OK(rove_model_finalize(&m, -1));
  rove_norm z = {2, 2, {0.5f, 0.25f}, {0.2f, 0.1f}};
  TRY_OK(rove_model_normalize(&m, &z));
  tu_data t;
  tu_data_make(&t, &m, N, 17);
  const double eps = 0.03;
  int want_broken[N], counted[N], n_pixel = 0, n_normed = 0;
  for (int i = 0; i < N; i++) {
    int y = t.y[i], o = 1 - y;
    double mg = (double)b[y] - b[o], mg_normed = mg;
    for (int q = 0; q < D; q++) {
      int c = q / (H * W);
      double v = ((double)Wt[y * D + q] - Wt[o * D + q]) / z.std[c];
      double x = t.x[i * D + q];
      double step = v > 0 ? -eps : v < 0 ? eps : 0;
      double xw = fmin(1, fmax(0, x + step));
      double xs = fmin(1, fmax(0, x + step * z.std[c]));
      mg += v * (xw - z.mean[c]);
      mg_normed += v * (xs - z.mean[c]);
    }
    counted[i] = fabs(mg) > 1e-3;
    want_broken[i] = mg <= 0;
    n_pixel += counted[i] && mg <= 0;
    n_normed += counted[i] && mg_normed <= 0;
  }
  cr_assert_neq(n_pixel, n_normed,
                "the test needs eps where pixel and normalized space differ");
  rove_profile *p;
  TRY_OK(rove_profile_create(&p, "naive"));
  rove_unit u = tu_unit(&m, p, &t, eps, 1);
  rove_example_result res[N];
  float *xa = malloc(sizeof(float) * N * D);
  TRY_OK(rove_eval_unit(&u, res, xa, NULL));
  int broken = 0;
  for (int i = 0; i < N; i++) {
    for (int q = 0; q < D; q++)
      cr_assert_leq(fabsf(xa[i * D + q] - t.x[i * D + q]), (float)eps + 1e-7f,
                    "example %d pixel %d moved beyond eps", i, q);
    if (!counted[i])
      continue;
    broken += res[i].broken;
    cr_expect_eq(res[i].broken, want_broken[i], "example %d", i);
  }
  cr_expect_eq(broken, n_pixel,
               "broken %d, closed form %d (normalized-space "
               "ball would give %d)",
               broken, n_pixel, n_normed);
  free(xa);
  rove_profile_destroy(&p);
  tu_data_free(&t);
  rove_model_deinit(&m);
}

Test(normalize, bad_values_are_errors_and_leave_the_model) {
  rove_model m;
  rgb_cnn(&m, 1);
  unsigned char h[32];
  memcpy(h, m.hash, 32);
  rove_norm two = {2, 0, {0.1f, 0.2f}, {0}};
  cr_assert_lt(rove_model_normalize(&m, &two), 0);
  cr_assert(strstr(rove_error_message(), "2 values") &&
            strstr(rove_error_message(), "3 channels"));
  rove_norm zero = {0, 3, {0}, {0.2f, 0.0f, 0.2f}};
  cr_assert_lt(rove_model_normalize(&m, &zero), 0);
  cr_assert(strstr(rove_error_message(), "std of channel 1 is 0"));
  cr_assert_eq(memcmp(h, m.hash, 32), 0);
  cr_assert_eq(m.n_nodes, 3);
  float v[ROVE_NORM_MAX];
  int n;
  TRY_OK(rove_norm_parse("0.5, 0.25,1e-1", v, &n, "--mean"));
  cr_assert_eq(n, 3);
  cr_assert(v[1] == 0.25f && v[2] == 0.1f);
  cr_assert_lt(rove_norm_parse("0.5;0.2", v, &n, "--std"), 0);
  cr_assert(strstr(rove_error_message(), "--std '0.5;0.2'"));
  cr_assert_lt(rove_norm_parse("", v, &n, "--std"), 0);
  cr_assert_lt(rove_norm_parse("nan", v, &n, "--std"), 0);
  rove_model_deinit(&m);
}
