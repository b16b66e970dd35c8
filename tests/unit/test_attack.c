/* test_attack.c - every registered attack: stays in the ball and [0, 1],
 * same seed bit-identical, batch 1 vs 64 identical per example, reported
 * points consistent with a fresh forward; a linear classifier's closed-form
 * worst case; APGD's step-size schedule; profiles. */
#include "tests/unit/test_attack_util.h"

#include "common/wire.h"

/* Checks the outputs of one unit against an independent fresh forward:
 * every returned point is inside [0, 1] and the ball; a broken example's
 * point is misclassified; every other example's point has exactly the
 * margin reported (the lowest-margin iterate was kept, not the last). */
static void check_outputs(const rove_model *m, const tu_data *t,
                          const rove_example_result *r, const float *xa,
                          double eps, int linf) {
  rove_exec e;
  TRY_OK(rove_exec_init(&e, m, 1));
  int d = t->d;
  for (int i = 0; i < t->n; i++) {
    const float *x = t->x + (size_t)i * d, *p = xa + (size_t)i * d;
    double l1 = 0, l2 = 0;
    int outside = 0;
    for (int q = 0; q < d; q++) {
      outside += !(p[q] >= 0.0f && p[q] <= 1.0f);
      double dd = fabs((double)p[q] - x[q]);
      l1 = dd > l1 ? dd : l1;
      l2 += dd * dd;
    }
    cr_assert(outside == 0, "example %d leaves [0, 1]", i);
    double nrm = linf ? l1 : sqrt(l2);
    cr_assert(nrm <= eps + ROVE_EPS_TOL, "example %d: norm %.9g > eps %g", i,
              nrm, eps);
    rove_exec_forward(&e, 1, p);
    const float *z = rove_exec_logits(&e);
    double mg = rove__margin(z, m->n_classes, t->y[i]);
    if (r[i].broken) {
      cr_assert(rove__argmax(z, m->n_classes) != t->y[i],
                "example %d reported broken but its point is classified "
                "correctly",
                i);
      cr_assert(rove_verify_adv(&e, x, p, t->y[i], linf, eps));
    } else {
      cr_assert(mg == r[i].margin,
                "example %d: reported margin %.17g, its point has %.17g", i,
                r[i].margin, mg);
    }
  }
  rove_exec_deinit(&e);
}

/* Field by field: the struct has padding. */
static int same_results(const rove_example_result *a,
                        const rove_example_result *b, int n) {
  for (int i = 0; i < n; i++)
    if (a[i].broken != b[i].broken || a[i].attack != b[i].attack ||
        memcmp(&a[i].margin, &b[i].margin, sizeof(double)) ||
        a[i].diag != b[i].diag)
      return 0;
  return 1;
}

static void run_unit(const rove_model *m, rove_profile *p, const tu_data *t,
                     double eps, int linf, int bmax, uint64_t seed,
                     rove_example_result *r, float *xa) {
  rove_unit u = tu_unit(m, p, t, eps, linf);
  u.bmax = bmax;
  u.seed = seed;
  TRY_OK(rove_eval_unit(&u, r, xa, NULL));
}

static void generic_attack(const char *name, int linf, double eps) {
  rove_model m;
  tu_cnn(&m, 5, 11);
  tu_data t;
  tu_data_make(&t, &m, 10, 3);
  rove_profile *p;
  TRY_OK(rove_profile_create(&p, "naive"));
  TRY_OK(rove_profile_set(p, "attack", name));
  TRY_OK(rove_profile_set(p, "steps", "6"));
  TRY_OK(rove_profile_set(p, "queries", "40"));
  TRY_OK(rove_profile_set(p, "targets", "2"));
  size_t nx = (size_t)t.n * t.d;
  rove_example_result r1[10], r2[10], r3[10];
  float *x1 = malloc(nx * sizeof(float)), *x2 = malloc(nx * sizeof(float)),
        *x3 = malloc(nx * sizeof(float));
  run_unit(&m, p, &t, eps, linf, 64, 5, r1, x1);
  run_unit(&m, p, &t, eps, linf, 64, 5, r2, x2);
  run_unit(&m, p, &t, eps, linf, 1, 5, r3, x3);
  cr_expect(same_results(r1, r2, 10) && !memcmp(x1, x2, nx * 4),
            "%s: same seed must be bit-identical", name);
  cr_expect(same_results(r1, r3, t.n) && !memcmp(x1, x3, nx * 4),
            "%s: batch 1 and batch 64 must agree per example", name);
  check_outputs(&m, &t, r1, x1, eps, linf);
  /* Something happened: the attack lowered at least one margin below the
   * clean one or broke an example. */
  rove_exec e;
  TRY_OK(rove_exec_init(&e, &m, 1));
  int moved = 0;
  for (int i = 0; i < t.n; i++) {
    rove_exec_forward(&e, 1, t.x + (size_t)i * t.d);
    moved += r1[i].broken ||
             r1[i].margin < rove__margin(rove_exec_logits(&e), 5, t.y[i]);
  }
  cr_expect(moved > 0, "%s did not move any example", name);
  rove_exec_deinit(&e);
  free(x1);
  free(x2);
  free(x3);
  rove_profile_destroy(&p);
  tu_data_free(&t);
  rove_model_deinit(&m);
}

Test(attack, every_attack_linf) {
  int n;
  const char *const *names = rove_attack_names(&n);
  cr_assert(n >= 5);
  for (int i = 0; i < n; i++)
    generic_attack(names[i], 1, 0.1);
}

Test(attack, every_gradient_attack_l2) {
  int n;
  const char *const *names = rove_attack_names(&n);
  for (int i = 0; i < n; i++)
    if (rove__atk_uses_grad(i))
      generic_attack(names[i], 0, 0.5);
}

Test(attack, precise_pipeline_is_batch_and_seed_stable) {
  rove_model m;
  tu_cnn(&m, 5, 12);
  tu_data t;
  tu_data_make(&t, &m, 8, 4);
  rove_profile *p;
  TRY_OK(rove_profile_create(&p, "precise"));
  TRY_OK(rove_profile_set(p, "steps", "5"));
  TRY_OK(rove_profile_set(p, "queries", "30"));
  TRY_OK(rove_profile_set(p, "targets", "2"));
  size_t nx = (size_t)t.n * t.d;
  rove_example_result r1[8], r3[8];
  float *x1 = malloc(nx * 4), *x3 = malloc(nx * 4);
  for (int restart = 0; restart < rove_profile_restarts(p); restart++) {
    rove_unit u = tu_unit(&m, p, &t, 0.05, 1);
    u.restart = restart;
    u.bmax = 64;
    TRY_OK(rove_eval_unit(&u, r1, x1, NULL));
    u.bmax = 3;
    TRY_OK(rove_eval_unit(&u, r3, x3, NULL));
    cr_expect(same_results(r1, r3, t.n) && !memcmp(x1, x3, nx * 4),
              "restart %d: batch 3 and 64 differ", restart);
    check_outputs(&m, &t, r1, x1, 0.05, 1);
  }
  free(x1);
  free(x3);
  rove_profile_destroy(&p);
  tu_data_free(&t);
  rove_model_deinit(&m);
}

/* Closed form: for z = W x + b with two classes and label y, the worst
 * L-inf perturbation moves each pixel by -eps * sign(w_y - w_o), clipped
 * to [0, 1]. */
static void linear_closed_form(const char *attack) {
  enum { D = 20, N = 48 };
  float W[2 * D], b[2] = {0.3f, -0.2f};
  rove_rng r;
  uint64_t seed = 99;
  rove_rng_init(&r, &seed, 1);
  for (int i = 0; i < 2 * D; i++)
    W[i] = (float)rove_rng_normal(&r) * 0.5f;
  rove_model m;
  tu_linear(&m, D, 2, W, b);
  tu_data t;
  tu_data_make(&t, &m, N, 21);
  const double eps = 0.06;
  double want_margin[N];
  float worst[N][D];
  int robust_want = 0, counted[N];
  for (int i = 0; i < N; i++) {
    int y = t.y[i], o = 1 - y;
    double mg = (double)b[y] - b[o];
    for (int q = 0; q < D; q++) {
      double v = (double)W[y * D + q] - W[o * D + q];
      float x = t.x[i * D + q];
      float xw = v > 0 ? x - (float)eps : v < 0 ? x + (float)eps : x;
      worst[i][q] = xw < 0 ? 0 : xw > 1 ? 1 : xw;
      mg += v * worst[i][q];
    }
    want_margin[i] = mg;
    /* Points within float noise of the decision boundary prove nothing. */
    counted[i] = fabs(mg) > 1e-3;
    robust_want += counted[i] && mg > 0;
  }
  rove_profile *p;
  TRY_OK(rove_profile_create(&p, "naive"));
  TRY_OK(rove_profile_set(p, "attack", attack));
  rove_unit u = tu_unit(&m, p, &t, eps, 1);
  rove_example_result res[N];
  float *xa = malloc(sizeof(float) * N * D);
  TRY_OK(rove_eval_unit(&u, res, xa, NULL));
  int robust = 0, n_counted = 0;
  for (int i = 0; i < N; i++) {
    if (!counted[i])
      continue;
    n_counted++;
    robust += !res[i].broken;
    cr_expect_eq(res[i].broken, want_margin[i] <= 0,
                 "%s example %d: analytic worst margin %g, broken %d", attack,
                 i, want_margin[i], res[i].broken);
    if (!res[i].broken) {
      /* The attack found the analytic worst point itself. */
      int off = -1;
      for (int q = 0; q < D; q++)
        if (fabsf(xa[i * D + q] - worst[i][q]) > 1e-6f)
          off = q;
      cr_expect(off < 0, "%s example %d pixel %d: %g vs analytic %g", attack, i,
                off, off < 0 ? 0.0 : xa[i * D + off],
                off < 0 ? 0.0 : worst[i][off]);
      cr_expect(fabs(res[i].margin - want_margin[i]) < 1e-4);
    }
  }
  cr_expect_eq(robust, robust_want, "%s robust %d of %d, analytic %d", attack,
               robust, n_counted, robust_want);
  cr_expect(robust_want > 0 && robust_want < n_counted,
            "eps should leave some examples robust and break others");
  free(xa);
  rove_profile_destroy(&p);
  tu_data_free(&t);
  rove_model_deinit(&m);
}

Test(attack, linear_closed_form_pgd) {
  linear_closed_form("pgd");
}

Test(attack, linear_closed_form_apgd) {
  linear_closed_form("apgd");
}

Test(attack, apgd_checkpoints_match_reference_schedule) {
  /* N = 100: windows 22, 19, 16, 13, 10, 7, 6, 6, ... */
  int cp[32];
  int n = rove__apgd_checkpoints(100, cp, 32);
  const int want[] = {21, 40, 56, 69, 79, 86, 92, 98};
  cr_assert_eq(n, 8);
  for (int i = 0; i < 8; i++)
    cr_expect_eq(cp[i], want[i], "checkpoint %d: %d vs %d", i, cp[i], want[i]);
  n = rove__apgd_checkpoints(20, cp, 32);
  const int want20[] = {3, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  cr_assert_eq(n, 14);
  for (int i = 0; i < n; i++)
    cr_expect_eq(cp[i], want20[i]);
}

Test(attack, apgd_step_size_trace_by_hand) {
  /* A two-class linear model whose margin stays large: from the zero
   * start the first step (2 eps) reaches the ball's corner, after which
   * the iterate and its loss never change. So at every checkpoint the
   * loss rose in at most one step of the window, which is <= 75%: the
   * step halves at every checkpoint (windows 4, 3, 2, 1, 1, ...). */
  enum { D = 4, N = 20 };
  float W[2 * D] = {0.1f, -0.2f, 0.3f, 0.1f, -0.1f, 0.2f, 0.0f, 0.4f};
  float b[2] = {10.0f, 0.0f};
  rove_model m;
  tu_linear(&m, D, 2, W, b);
  float x[D] = {0.5f, 0.5f, 0.5f, 0.5f};
  int y = 0;
  int64_t idx = 0;
  rove_profile *p;
  TRY_OK(rove_profile_create(&p, "naive"));
  TRY_OK(rove_profile_set(p, "attack", "apgd"));
  TRY_OK(rove_profile_set(p, "init", "zero"));
  TRY_OK(rove_profile_set(p, "steps", "20"));
  rove_unit u;
  memset(&u, 0, sizeof u);
  u.m = &m;
  u.p = p;
  u.norm_linf = 1;
  u.eps = 0.1;
  u.n = 1;
  u.x = x;
  u.y = &y;
  u.idx = &idx;
  double eta[N];
  for (int i = 0; i < N; i++)
    eta[i] = -1;
  rove_example_result r;
  float xa[D];
  TRY_OK(rove__eval_unit_traced(&u, &r, xa, NULL, eta));
  double want[N];
  for (int i = 0; i < N; i++)
    want[i] = i < 4 ? 0.2 : i < 7 ? 0.1 : i < 9 ? 0.05 : 0.025 / pow(2, i - 9);
  for (int i = 0; i < N; i++)
    cr_expect(fabs(eta[i] - want[i]) < 1e-15, "iteration %d: step %g vs %g", i,
              eta[i], want[i]);
  /* And the point is the corner x - eps * sign(w_0 - w_1). */
  for (int q = 0; q < D; q++) {
    float v = W[q] - W[D + q];
    cr_expect(fabsf(xa[q] - (v > 0 ? 0.4f : 0.6f)) < 1e-6f);
  }
  rove_profile_destroy(&p);
  rove_model_deinit(&m);
}

Test(attack, profiles_round_trip_and_refuse_bad_options) {
  for (int i = 0; rove_ablation_presets[i]; i++) {
    rove_profile *p, *q;
    TRY_OK(rove_profile_create(&p, rove_ablation_presets[i]));
    TRY_OK(rove_profile_set(p, "step-size", "0.25eps"));
    TRY_OK(rove_profile_create(&q, "naive"));
    rove_wbuf w;
    rove_wbuf_init(&w);
    rove_profile_encode(p, &w);
    cr_assert(!w.failed);
    rove_rbuf rb;
    rove_rbuf_init(&rb, w.data, w.len);
    TRY_OK(rove_profile_decode(q, &rb));
    char a[512], b[512];
    rove_profile_describe(p, a, sizeof a);
    rove_profile_describe(q, b, sizeof b);
    cr_expect_str_eq(a, b);
    cr_expect(strstr(a, "0.25eps") != NULL, "%s", a);
    cr_expect_eq(rove_profile_restarts(p), rove_profile_restarts(q));
    /* A truncated encoding is an error, not garbage. */
    rove_rbuf_init(&rb, w.data, w.len - 3);
    cr_expect(rove_profile_decode(q, &rb) < 0);
    rove_wbuf_deinit(&w);
    rove_profile_destroy(&p);
    rove_profile_destroy(&q);
    cr_expect(p == NULL);
  }
  rove_profile *p;
  cr_expect(rove_profile_create(&p, "strong") == ROVE_EINVAL);
  cr_expect(strstr(rove_error_message(), "strong") != NULL);
  TRY_OK(rove_profile_create(&p, "precise"));
  cr_expect(rove_profile_set(p, "attack", "fab") == ROVE_EINVAL);
  cr_expect(strstr(rove_error_message(), "fab") != NULL);
  cr_expect(rove_profile_set(p, "steps", "0") == ROVE_EINVAL);
  cr_expect(strstr(rove_error_message(), "steps") != NULL);
  cr_expect(rove_profile_set(p, "loss", "mse") == ROVE_EINVAL);
  cr_expect(rove_profile_set(p, "bpda", "maybe") == ROVE_EINVAL);
  cr_expect(rove_profile_set(p, "step-size", "-1") == ROVE_EINVAL);
  cr_expect(rove_profile_set(p, "colour", "red") == ROVE_EINVAL);
  TRY_OK(rove_profile_set(p, "restarts", "3"));
  cr_expect_eq(rove_profile_restarts(p), 3);

  /* The precise profile needs 4 classes (targeted DLR): a two-class
   * model is refused with the reason, and so is eps outside [0, 1]. */
  float W[4] = {1, 0, 0, 1}, b[2] = {0, 0};
  rove_model m;
  tu_linear(&m, 2, 2, W, b);
  float x[2] = {0.5f, 0.2f};
  int y = 0;
  int64_t idx = 0;
  rove_unit u;
  memset(&u, 0, sizeof u);
  u.m = &m;
  u.p = p;
  u.norm_linf = 1;
  u.eps = 0.1;
  u.n = 1;
  u.x = x;
  u.y = &y;
  u.idx = &idx;
  rove_example_result r;
  cr_expect(rove_eval_unit(&u, &r, NULL, NULL) == ROVE_EINVAL);
  cr_expect(strstr(rove_error_message(), "at least 4 classes") != NULL, "%s",
            rove_error_message());
  TRY_OK(rove_profile_set(p, "attack", "pgd"));
  u.eps = 1.5;
  cr_expect(rove_eval_unit(&u, &r, NULL, NULL) == ROVE_ERANGE);
  u.eps = 0.1;
  y = 2;
  cr_expect(rove_eval_unit(&u, &r, NULL, NULL) == ROVE_ERANGE);
  y = 0;
  TRY_OK(rove_profile_set(p, "attack", "square"));
  u.norm_linf = 0;
  cr_expect(rove_eval_unit(&u, &r, NULL, NULL) == ROVE_EUNSUPPORTED);
  rove_profile_destroy(&p);
  rove_model_deinit(&m);
}
