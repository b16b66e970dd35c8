/* test_attack_comp.c - the three compensations and the diagnostics:
 * logit-scale invariance (saturation), BPDA on a 2-bit fake-quantized
 * network, ODI and restarts where a zero start is blind; on hand-built
 * models and on the trained PyTorch fixtures. */
#include "tests/unit/test_attack_util.h"

#include "common/data.h"

/* Multiplies the logits layer (weights and bias) by `s`. */
static void scale_logits(rove_model *m, float s) {
  rove_node *o = &m->nodes[m->output];
  cr_assert(o->op == ROVE_OP_LINEAR, "output node is %s, expected linear",
            rove_layers[o->op]->name);
  float *p = m->params + o->param_off;
  for (size_t i = 0; i < o->n_params; i++)
    p[i] *= s;
  TRY_OK(rove_model_finalize(m, m->output));
}

static int count_diag(const rove_example_result *r, int n, int bit) {
  int c = 0;
  for (int i = 0; i < n; i++)
    c += (r[i].diag >> bit) & 1;
  return c;
}

/* Exact robustness of a multi-class linear classifier under L-inf with
 * the [0, 1] box: robust iff for every other class j the closed-form
 * worst margin of (w_y - w_j) . x' + b_y - b_j stays positive. */
static double linear_worst(const float *W, const float *b, int D, int K,
                           const float *x, int y, double eps) {
  double worst = INFINITY;
  for (int j = 0; j < K; j++) {
    if (j == y)
      continue;
    double mg = (double)b[y] - b[j];
    for (int q = 0; q < D; q++) {
      double v = (double)W[y * D + q] - W[j * D + q];
      double xw = v > 0 ? x[q] - eps : x[q] + eps;
      xw = xw < 0 ? 0 : xw > 1 ? 1 : xw;
      mg += v * xw;
    }
    worst = mg < worst ? mg : worst;
  }
  return worst;
}

static const char *const fast_precise[] = {
    "steps", "20", "targets", "3", "queries", "100", "restarts", "1", NULL};

Test(comp, linear_logit_scale_invariance) {
  enum { D = 24, K = 10, N = 40 };
  float W[K * D], b[K], W2[K * D], b2[K];
  rove_rng r;
  uint64_t seed = 5;
  rove_rng_init(&r, &seed, 1);
  for (int i = 0; i < K * D; i++)
    W[i] = (float)rove_rng_normal(&r) * 0.4f;
  for (int i = 0; i < K; i++)
    b[i] = (float)rove_rng_normal(&r) * 0.1f;
  for (int i = 0; i < K * D; i++)
    W2[i] = W[i] * 1000.0f;
  for (int i = 0; i < K; i++)
    b2[i] = b[i] * 1000.0f;
  rove_model m1, m2;
  tu_linear(&m1, D, K, W, b);
  tu_linear(&m2, D, K, W2, b2);
  tu_data t;
  tu_data_make(&t, &m1, N, 8);
  const double eps = 0.05;
  int exact = 0;
  for (int i = 0; i < N; i++)
    exact += linear_worst(W, b, D, K, t.x + i * D, t.y[i], eps) > 0;
  rove_example_result r1[N], r2[N], n1[N], n2[N];
  int p1 = tu_robust(&m1, "precise", fast_precise, &t, eps, r1);
  int p2 = tu_robust(&m2, "precise", fast_precise, &t, eps, r2);
  int q1 = tu_robust(&m1, "naive", NULL, &t, eps, n1);
  int q2 = tu_robust(&m2, "naive", NULL, &t, eps, n2);
  cr_expect_eq(p1, exact, "precise robust %d, exact %d", p1, exact);
  cr_expect_eq(p2, exact, "precise robust at logits x1000: %d, exact %d", p2,
               exact);
  cr_expect(q2 > p2, "naive CE-PGD should overestimate at x1000 (%d vs %d)", q2,
            p2);
  cr_expect(q1 >= p1);
  cr_expect(exact > 0 && exact < N, "eps should split the examples");
  cr_expect(count_diag(n2, N, ROVE_DIAG_SATURATED) > N / 2);
  cr_expect(count_diag(n2, N, ROVE_DIAG_ZERO_GRAD) > 0,
            "CE gradients vanish at margins past 104");
  cr_expect_eq(count_diag(n1, N, ROVE_DIAG_ZERO_GRAD), 0);
  tu_data_free(&t);
  rove_model_deinit(&m1);
  rove_model_deinit(&m2);
}

/* A 2-bit activation network: linear 16 -> 8, fake-quantize to 4 levels,
 * linear 8 -> 4. Its exact input gradient is zero almost everywhere. */
static void quant_model(rove_model *m) {
  rove_shape in = {1, {16}};
  TRY_OK(rove_model_init(m, &in));
  rove_attrs a;
  int prev = ROVE_INPUT, id[3];
  rove_attrs_default(&a);
  a.out = 8;
  a.has_bias = 1;
  TRY_OK(rove_model_add(m, ROVE_OP_LINEAR, "fc1", &prev, 1, &a, &id[0]));
  rove_attrs_default(&a);
  a.qmin = 0;
  a.qmax = 3;
  TRY_OK(rove_model_add(m, ROVE_OP_FAKEQUANT, "q", &id[0], 1, &a, &id[1]));
  rove_attrs_default(&a);
  a.out = 4;
  a.has_bias = 1;
  TRY_OK(rove_model_add(m, ROVE_OP_LINEAR, "fc2", &id[1], 1, &a, &id[2]));
  rove_rng r;
  uint64_t seed = 77;
  rove_rng_init(&r, &seed, 1);
  float *p = rove_model_node_params(m, id[0]);
  /* Pre-activations centred at 0.75 +- 0.5 (x - 0.5) . w: mostly inside
   * the quantizer's range [0, 1.5]. */
  for (int i = 0; i < 16 * 8; i++)
    p[i] = tu_uniform(&r, -1.0f, 1.0f);
  for (int q = 0; q < 8; q++) {
    float s = 0;
    for (int i = 0; i < 16; i++)
      s += p[q * 16 + i];
    p[128 + q] = 0.75f - 0.5f * s;
  }
  p = rove_model_node_params(m, id[1]);
  p[0] = 0.5f; /* scale */
  p[1] = 0.0f; /* zero point */
  p = rove_model_node_params(m, id[2]);
  for (int i = 0; i < 4 * 8; i++)
    p[i] = tu_uniform(&r, -1.0f, 1.0f);
  for (int i = 0; i < 4; i++)
    p[32 + i] = 0.0f;
  TRY_OK(rove_model_finalize(m, -1));
}

static void check_verified(const rove_model *m, const tu_data *t,
                           const rove_example_result *r, const float *xa,
                           double eps) {
  rove_exec e;
  TRY_OK(rove_exec_init(&e, m, 1));
  for (int i = 0; i < t->n; i++)
    if (r[i].broken && r[i].attack >= 0)
      cr_expect(rove_verify_adv(&e, t->x + (size_t)i * t->d,
                                xa + (size_t)i * t->d, t->y[i], 1, eps),
                "example %d reported broken, fails a fresh check", i);
  rove_exec_deinit(&e);
}

static int run_all(const rove_model *m, const char *preset,
                   const char *const *opts, const tu_data *t, double eps,
                   rove_example_result *out, float *xa) {
  rove_profile *p;
  TRY_OK(rove_profile_create(&p, preset));
  for (int i = 0; opts && opts[i]; i += 2)
    TRY_OK(rove_profile_set(p, opts[i], opts[i + 1]));
  rove_unit u = tu_unit(m, p, t, eps, 1);
  TRY_OK(rove_eval_all(&u, out, xa, NULL));
  rove_profile_destroy(&p);
  return tu_broken(out, t->n);
}

Test(comp, quantized_needs_bpda) {
  enum { N = 32 };
  rove_model m;
  quant_model(&m);
  tu_data t;
  tu_data_make(&t, &m, N, 9);
  rove_example_result r0[N], r1[N];
  float *xa = malloc(sizeof(float) * N * 16);
  const char *const zero[] = {"init", "zero", NULL};
  int exact = run_all(&m, "naive", zero, &t, 0.15, r0, xa);
  int bpda = run_all(&m, "naive+bpda", zero, &t, 0.15, r1, xa);
  check_verified(&m, &t, r1, xa, 0.15);
  cr_expect_eq(exact, 0, "exact gradients of a quantizer are zero: %d", exact);
  cr_expect(count_diag(r0, N, ROVE_DIAG_ZERO_GRAD) == N);
  cr_expect(bpda >= N / 4, "BPDA broke only %d of %d", bpda, N);
  free(xa);
  tu_data_free(&t);
  rove_model_deinit(&m);
}

/* One hidden ReLU unit that is dead at every clean point, with a ball
 * that reaches its active side only in some directions: from the zero
 * start the gradient is exactly zero and PGD never moves; random starts
 * land on the active side now and then, and restarts compound that. */
static void dead_relu_model(rove_model *m, int D, double eps) {
  rove_shape in = {1, {D}};
  TRY_OK(rove_model_init(m, &in));
  rove_attrs a;
  int prev = ROVE_INPUT, id[3];
  rove_attrs_default(&a);
  a.out = 1;
  a.has_bias = 1;
  TRY_OK(rove_model_add(m, ROVE_OP_LINEAR, "u", &prev, 1, &a, &id[0]));
  rove_attrs_default(&a);
  TRY_OK(rove_model_add(m, ROVE_OP_RELU, "relu", &id[0], 1, &a, &id[1]));
  rove_attrs_default(&a);
  a.out = 2;
  a.has_bias = 1;
  TRY_OK(rove_model_add(m, ROVE_OP_LINEAR, "out", &id[1], 1, &a, &id[2]));
  float *p = rove_model_node_params(m, id[0]);
  for (int q = 0; q < D; q++)
    p[q] = 1.0f / (float)D;
  p[D] = (float)(-0.5 - 0.1 * eps); /* pre-activation -0.1 eps */
  p = rove_model_node_params(m, id[2]);
  p[0] = 0.0f;  /* z0 = 1 */
  p[1] = 50.0f; /* z1 = 50 h */
  p[2] = 1.0f;
  p[3] = 0.0f;
  TRY_OK(rove_model_finalize(m, -1));
}

Test(comp, restarts_and_odi_where_zero_start_is_blind) {
  enum { D = 16, N = 16 };
  const double eps = 0.1;
  rove_model m;
  dead_relu_model(&m, D, eps);
  tu_data t;
  tu_data_make(&t, &m, N, 10);
  /* Inputs with mean exactly 0.5 so every clean pre-activation is
   * -0.1 eps: pairs symmetric around 0.5. */
  for (int i = 0; i < N; i++) {
    for (int q = 0; q < D; q += 2) {
      float s = (float)(q % 4) * 0.05f + (float)i * 0.003f;
      t.x[i * D + q] = 0.5f + s;
      t.x[i * D + q + 1] = 0.5f - s;
    }
    t.y[i] = 0;
  }
  rove_example_result r[N];
  const char *const zero[] = {"init", "zero", NULL};
  const char *const restarts[] = {"restarts", "8", NULL};
  const char *const odi[] = {"restarts", "8", NULL};
  int b0 = run_all(&m, "naive", zero, &t, eps, r, NULL);
  cr_expect_eq(b0, 0, "zero start must be blind here (%d broken)", b0);
  cr_expect_eq(count_diag(r, N, ROVE_DIAG_ZERO_GRAD), N);
  int b1 = run_all(&m, "naive", restarts, &t, eps, r, NULL);
  cr_expect(b1 >= N / 2, "8 uniform restarts broke %d of %d", b1, N);
  cr_expect(count_diag(r, N, ROVE_DIAG_NONCONVERGING) > 0,
            "some example should be broken by a later restart only");
  int b2 = run_all(&m, "naive+odi", odi, &t, eps, r, NULL);
  cr_expect(b2 >= N / 4, "ODI with 8 restarts broke %d of %d", b2, N);
  tu_data_free(&t);
  rove_model_deinit(&m);
}

Test(comp, incomplete_and_probability_output_diagnostics) {
  /* A linear model ending in softmax: rove strips it and says so. */
  enum { D = 8, K = 4, N = 6 };
  rove_shape in = {1, {D}};
  rove_model m;
  TRY_OK(rove_model_init(&m, &in));
  rove_attrs a;
  int prev = ROVE_INPUT, id[2];
  rove_attrs_default(&a);
  a.out = K;
  a.has_bias = 1;
  TRY_OK(rove_model_add(&m, ROVE_OP_LINEAR, "fc", &prev, 1, &a, &id[0]));
  rove_attrs_default(&a);
  a.axis = 0;
  TRY_OK(rove_model_add(&m, ROVE_OP_SOFTMAX, "sm", &id[0], 1, &a, &id[1]));
  float *p = rove_model_node_params(&m, id[0]);
  for (int i = 0; i < D * K + K; i++)
    p[i] = (float)((i * 37) % 11) / 11.0f - 0.5f;
  TRY_OK(rove_model_finalize(&m, -1));
  cr_assert(m.softmax_stripped);
  tu_data t;
  tu_data_make(&t, &m, N, 12);
  /* PGD with a step far too small to cross the ball in 30 steps: the
   * loss is still climbing when it stops. */
  const char *const slow[] = {"steps", "30",   "step-size", "0.01eps",
                              "init",  "zero", NULL};
  rove_example_result r[N];
  run_all(&m, "naive", slow, &t, 0.3, r, NULL);
  cr_expect_eq(count_diag(r, N, ROVE_DIAG_PROB_OUTPUT), N);
  int alive = 0, inc = 0;
  for (int i = 0; i < N; i++)
    if (!r[i].broken) {
      alive++;
      inc += (r[i].diag >> ROVE_DIAG_INCOMPLETE) & 1;
    }
  cr_expect(alive > 0 && inc == alive, "incomplete %d of %d", inc, alive);
  /* With enough steps the optimisation converges: no flag. */
  const char *const ok[] = {"steps", "40", "init", "zero", NULL};
  run_all(&m, "naive", ok, &t, 0.3, r, NULL);
  for (int i = 0; i < N; i++)
    if (!r[i].broken)
      cr_expect(!((r[i].diag >> ROVE_DIAG_INCOMPLETE) & 1));
  tu_data_free(&t);
  rove_model_deinit(&m);
}

/* The trained PyTorch fixtures (tests/fixtures, Fashion-MNIST). */
static void load_fixture(rove_model *m, tu_data *t, const char *path, int n) {
  TRY_OK(rove_model_load(m, path));
  rove_dataset ds;
  char spec[64];
  snprintf(spec, sizeof spec, "fashion-mnist:test[0:%d]", 4 * n);
  TRY_OK(rove_dataset_load(&ds, spec));
  /* Keep the first n examples the model classifies correctly. */
  tu_data_make(t, m, n, 1);
  rove_exec e;
  TRY_OK(rove_exec_init(&e, m, 1));
  int k = 0, d = t->d;
  for (int i = 0; i < ds.n && k < n; i++) {
    rove_exec_forward(&e, 1, rove_dataset_x(&ds, i));
    if (rove__argmax(rove_exec_logits(&e), m->n_classes) != ds.y[i])
      continue;
    memcpy(t->x + (size_t)k * d, rove_dataset_x(&ds, i), sizeof(float) * d);
    t->y[k] = ds.y[i];
    t->idx[k] = ds.first + i;
    k++;
  }
  cr_assert_eq(k, n, "only %d correctly classified examples", k);
  rove_exec_deinit(&e);
  rove_dataset_deinit(&ds);
}

Test(comp, fixture_cnn_logit_scale_invariance) {
  enum { N = 12 };
  rove_model m1, m2;
  tu_data t;
  load_fixture(&m1, &t, "tests/fixtures/fmnist_cnn.onnx", N);
  TRY_OK(rove_model_clone(&m2, &m1));
  scale_logits(&m2, 1000.0f);
  /* eps where the fixture is neither fully robust nor fully broken. */
  const double eps = 0.02;
  rove_example_result r1[N], r2[N], n1[N], n2[N];
  const char *const opts[] = {"steps", "12",       "targets", "2", "queries",
                              "60",    "restarts", "1",       NULL};
  int p1 = tu_robust(&m1, "precise", opts, &t, eps, r1);
  int p2 = tu_robust(&m2, "precise", opts, &t, eps, r2);
  int q1 = tu_robust(&m1, "naive", NULL, &t, eps, n1);
  int q2 = tu_robust(&m2, "naive", NULL, &t, eps, n2);
  cr_log_info("fixture cnn: precise %d/%d, naive %d/%d of %d", p1, p2, q1, q2,
              N);
  cr_expect_eq(p1, p2, "precise robust %d vs %d at logits x1000", p1, p2);
  cr_expect(q2 > p2,
            "naive CE-PGD should report more robustness at x1000 "
            "(%d vs precise %d)",
            q2, p2);
  cr_expect(q1 >= p1, "naive %d below precise %d", q1, p1);
  tu_data_free(&t);
  rove_model_deinit(&m1);
  rove_model_deinit(&m2);
}

Test(comp, fixture_q2_exact_gradients_fail_bpda_succeeds) {
  enum { N = 12 };
  rove_model m;
  tu_data t;
  load_fixture(&m, &t, "tests/fixtures/fmnist_q2.onnx", N);
  cr_assert(rove_model_count_nondiff(&m) > 0);
  const double eps = 0.1;
  rove_example_result r0[N], r1[N];
  float *xa = malloc(sizeof(float) * N * t.d);
  const char *const zero[] = {"init", "zero", NULL};
  int exact = run_all(&m, "naive", zero, &t, eps, r0, xa);
  int bpda = run_all(&m, "naive+bpda", zero, &t, eps, r1, xa);
  check_verified(&m, &t, r1, xa, eps);
  cr_log_info("fixture q2: exact %d, bpda %d of %d", exact, bpda, N);
  cr_expect(exact <= 1, "exact gradients broke %d", exact);
  cr_expect(bpda > exact + 2, "BPDA broke %d, exact %d", bpda, exact);
  free(xa);
  tu_data_free(&t);
  rove_model_deinit(&m);
}

Test(comp, transfer_failure_on_the_bpda_surrogate) {
  /* z = (0.7, 2 round(x)) on scalar inputs x in [0.30, 0.33], label 0,
   * eps 0.15: straight-through sees z1 = 2x and pushes x to x + eps,
   * where the surrogate says class 1 (2x > 0.7) but the true model still
   * rounds to 0. Nothing is broken; every example is a transfer failure. */
  enum { N = 4 };
  rove_shape in = {1, {1}};
  rove_model m;
  TRY_OK(rove_model_init(&m, &in));
  rove_attrs a;
  int prev = ROVE_INPUT, id[3];
  rove_attrs_default(&a);
  a.out = 1;
  a.has_bias = 1;
  TRY_OK(rove_model_add(&m, ROVE_OP_LINEAR, "id", &prev, 1, &a, &id[0]));
  rove_attrs_default(&a);
  TRY_OK(rove_model_add(&m, ROVE_OP_ROUND, "round", &id[0], 1, &a, &id[1]));
  rove_attrs_default(&a);
  a.out = 2;
  a.has_bias = 1;
  TRY_OK(rove_model_add(&m, ROVE_OP_LINEAR, "out", &id[1], 1, &a, &id[2]));
  float *p = rove_model_node_params(&m, id[0]);
  p[0] = 1.0f;
  p[1] = 0.0f;
  p = rove_model_node_params(&m, id[2]);
  p[0] = 0.0f;
  p[1] = 2.0f;
  p[2] = 0.7f;
  p[3] = 0.0f;
  TRY_OK(rove_model_finalize(&m, -1));
  tu_data t;
  tu_data_make(&t, &m, N, 3);
  for (int i = 0; i < N; i++) {
    t.x[i] = 0.30f + 0.01f * (float)i;
    t.y[i] = 0;
  }
  rove_example_result r[N];
  const char *const opts[] = {"init", "zero", "steps", "10", NULL};
  int b = run_all(&m, "naive+bpda", opts, &t, 0.15, r, NULL);
  cr_expect_eq(b, 0);
  cr_expect_eq(count_diag(r, N, ROVE_DIAG_TRANSFER_FAIL), N);
  b = run_all(&m, "naive", opts, &t, 0.15, r, NULL);
  cr_expect_eq(b, 0);
  cr_expect_eq(count_diag(r, N, ROVE_DIAG_TRANSFER_FAIL), 0);
  cr_expect_eq(count_diag(r, N, ROVE_DIAG_ZERO_GRAD), N);
  tu_data_free(&t);
  rove_model_deinit(&m);
}

Test(comp, precise_contains_autoattack_apgd_ce_and_apgd_t) {
  /* Stages draw their randomness by identity, not position: precise's
   * APGD-CE and APGD-T runs on an example are exactly the stand-alone
   * runs, so precise breaks every example either of them breaks. */
  enum { N = 12 };
  rove_model m;
  tu_data t;
  load_fixture(&m, &t, "tests/fixtures/fmnist_cnn.onnx", N);
  const double eps = 0.02;
  rove_example_result rp[N], rc[N], rt[N];
  const char *const pre[] = {"steps", "10",       "targets", "3", "queries",
                             "40",    "restarts", "1",       NULL};
  const char *const ce[] = {"attack", "apgd", "steps", "10",
                            "bpda",   "auto", NULL};
  const char *const tg[] = {"attack", "apgd-t", "steps", "10", "targets",
                            "3",      "bpda",   "auto",  NULL};
  int bp = run_all(&m, "precise", pre, &t, eps, rp, NULL);
  int bc = run_all(&m, "naive", ce, &t, eps, rc, NULL);
  int bt = run_all(&m, "naive", tg, &t, eps, rt, NULL);
  cr_log_info("broken: precise %d, apgd-ce %d, apgd-t %d of %d", bp, bc, bt, N);
  for (int i = 0; i < N; i++)
    cr_expect(rp[i].broken || (!rc[i].broken && !rt[i].broken),
              "example %d: broken by apgd-ce %d / apgd-t %d, not by precise", i,
              rc[i].broken, rt[i].broken);
  cr_expect(bp >= bc && bp >= bt);
  cr_expect(bc > 0 && bc < N, "eps should split the examples");
  tu_data_free(&t);
  rove_model_deinit(&m);
}
