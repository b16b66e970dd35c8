/* test_certify.c - certified bounds (IBP, CROWN): soundness over every
 * layer of the registry (random points of the ball, corners included, stay
 * inside every node's bounds), closed forms (a linear classifier's exact
 * worst margin, a ReLU of a known interval, a MaxPool over a known box),
 * monotonicity in eps, CROWN tighter than IBP, and no certified example
 * broken by an attack. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/arch.h"
#include "common/certify/certify.h"
#include "test_attack_util.h"
#include "test_models.h"

static const rove_cert_opts crown_linf = {ROVE_CERT_CROWN, 1, 0};
static const rove_cert_opts ibp_linf = {ROVE_CERT_IBP, 1, 0};

/* A point of the ball around x (L-inf or L2) cut to [0, 1]: kind 0 the
 * lower corner, 1 the upper, 2 a random corner, else uniform inside. */
static void ball_point(const float *x, long d, double eps, int linf, int kind,
                       rove_rng *g, float *out) {
  double nrm = 0;
  for (long j = 0; j < d; j++) {
    double u = kind == 0   ? -1
               : kind == 1 ? 1
               : kind == 2 ? (rove_rng_u32(g) & 1 ? 1 : -1)
                           : 2 * rove_rng_uniform(g) - 1;
    out[j] = (float)u;
    nrm += u * u;
  }
  double scale = linf ? eps : eps / fmax(sqrt(nrm), 1e-12);
  for (long j = 0; j < d; j++) {
    double v = (double)x[j] + scale * out[j];
    out[j] = (float)fmin(1.0, fmax(0.0, v));
    /* float rounding may step just outside the ball */
    if (fabs((double)out[j] - x[j]) > eps)
      out[j] = x[j];
  }
}

/* Every node's value at n_pts points of the ball lies in its bounds. */
static int check_sound(const rove_model *m, const float *x, double eps,
                       const rove_cert_opts *o, int n_pts, uint64_t seed,
                       const char *tag) {
  double *lo[64], *hi[64];
  cr_assert_leq(m->output, 63);
  int rc = rove_cert_bounds(m, x, eps, o, lo, hi);
  cr_assert_eq(rc, 0, "%s: %s", tag, rove_error_message());
  long d = rove_shape_numel(&m->in);
  float *p = malloc(sizeof(float) * (size_t)d);
  rove_exec e;
  cr_assert_eq(rove_exec_init(&e, m, 1), 0);
  rove_rng g;
  rove_rng_init(&g, &seed, 1);
  int bad = 0;
  for (int t = 0; t < n_pts && !bad; t++) {
    ball_point(x, d, eps, o->norm_linf, t, &g, p);
    rove_exec_forward(&e, 1, p);
    for (int i = 0; i <= m->output && !bad; i++) {
      long no = rove_shape_numel(&m->nodes[i].out);
      for (long k = 0; k < no; k++) {
        double v = e.act[i][k];
        if (!(v >= lo[i][k] && v <= hi[i][k])) {
          cr_expect_fail("%s: point %d, node %d ('%s', %s) value %ld = %.9g "
                         "outside [%.9g, %.9g]",
                         tag, t, i, m->nodes[i].name,
                         rove_layers[m->nodes[i].op]->name, k, v, lo[i][k],
                         hi[i][k]);
          bad = 1;
          break;
        }
      }
    }
  }
  rove_exec_deinit(&e);
  free(p);
  rove_cert_bounds_free(m, lo, hi);
  return !bad;
}

/* Soundness over the registry: every layer in every example configuration
 * (the export test's models: the layer, then flatten and a linear layer),
 * both methods, both norms. */
Test(certify, every_layer_bounds_are_sound) {
  int checked = 0;
  for (int op = 0; op < ROVE_OP_COUNT; op++) {
    const rove_layer_ops *ops = rove_layers[op];
    int built = 0;
    for (int v = 0; v < 64; v++) {
      rove_attrs a;
      rove_attrs_default(&a);
      rove_shape ins[ROVE_MAX_IN];
      int n_in = 1;
      memset(ins, 0, sizeof ins);
      if (!ops->example(v, &a, ins, &n_in))
        break;
      rove_model m;
      if (!build_example(&m, op, &a, ins, n_in, (uint64_t)(op * 64 + v) + 7))
        continue;
      built++;
      long d = rove_shape_numel(&m.in);
      float *x = malloc(sizeof(float) * (size_t)d);
      rove_rng g;
      uint64_t s = (uint64_t)(op * 100 + v);
      rove_rng_init(&g, &s, 1);
      for (long j = 0; j < d; j++)
        x[j] = rove_rng_uniform(&g);
      for (int method = ROVE_CERT_IBP; method <= ROVE_CERT_CROWN; method++)
        for (int linf = 0; linf <= 1; linf++) {
          rove_cert_opts o = {method, linf, 0};
          char tag[96];
          snprintf(tag, sizeof tag, "%s variant %d %s %s", ops->name, v,
                   rove_cert_method_name(method), linf ? "linf" : "l2");
          double eps = linf ? 0.03 : 0.2;
          check_sound(&m, x, eps, &o, 24, s + 1, tag);
          /* The final CROWN margins bound the sampled logit differences. */
          double spec[3 * 3] = {1, -1, 0, 0, 1, -1, -1, 0, 1}, lb[3];
          cr_assert_eq(rove_cert_crown_spec(&m, x, eps, &o, 3, spec, lb), 0,
                       "%s: %s", tag, rove_error_message());
          rove_exec e;
          cr_assert_eq(rove_exec_init(&e, &m, 1), 0);
          float *p = malloc(sizeof(float) * (size_t)d);
          for (int t = 0; t < 16; t++) {
            ball_point(x, d, eps, linf, t, &g, p);
            rove_exec_forward(&e, 1, p);
            const float *z = rove_exec_logits(&e);
            for (int r = 0; r < 3; r++) {
              double val = spec[r * 3] * z[0] + spec[r * 3 + 1] * z[1] +
                           spec[r * 3 + 2] * z[2];
              cr_expect(val >= lb[r] - 1e-5 * (1 + fabs(val)),
                        "%s: spec row %d value %.9g below its bound %.9g", tag,
                        r, val, lb[r]);
            }
          }
          free(p);
          rove_exec_deinit(&e);
          checked++;
        }
      free(x);
      rove_model_deinit(&m);
    }
    cr_expect_gt(built, 0, "layer '%s' has no buildable example", ops->name);
  }
  cr_log_info("checked %d configurations", checked);
}

/* z = W x + b, two classes: min over the L-inf ball cut to [0, 1] of
 * (w_y - w_o) . x + (b_y - b_o) takes each coordinate at the end its
 * coefficient prefers: CROWN gets exactly that. */
Test(certify, linear_classifier_margin_is_exact) {
  enum { D = 12 };
  float W[2 * D], b[2] = {0.25f, -0.5f};
  rove_rng g;
  uint64_t seed = 3;
  rove_rng_init(&g, &seed, 1);
  for (int i = 0; i < 2 * D; i++)
    W[i] = (float)rove_rng_normal(&g);
  rove_model m;
  tu_linear(&m, D, 2, W, b);
  float x[D];
  for (int j = 0; j < D; j++)
    x[j] = rove_rng_uniform(&g);
  x[0] = 0.01f; /* near the box edge: the cut matters */
  x[1] = 0.995f;
  for (int y = 0; y < 2; y++) {
    for (int q = 0; q < 3; q++) {
      double eps = 0.02 + 0.1 * q, want = (double)b[y] - b[1 - y];
      for (int j = 0; j < D; j++) {
        double a = (double)W[y * D + j] - W[(1 - y) * D + j];
        double lo = fmax(0, x[j] - eps), hi = fmin(1, x[j] + eps);
        want += a > 0 ? a * lo : a * hi;
      }
      double spec[4] = {0}, lb[2];
      spec[y] = 1;
      spec[1 - y] = -1;
      cr_assert_eq(rove_cert_crown_spec(&m, x, eps, &crown_linf, 1, spec, lb),
                   0);
      cr_expect(fabs(lb[0] - want) <= 1e-9 * (1 + fabs(want)),
                "y %d eps %g: CROWN %.12g, exact %.12g", y, eps, lb[0], want);
      /* rove_certify reports the same margin. */
      rove_cert_result r;
      double mg[2];
      cr_assert_eq(rove_certify(&m, x, y, eps, &crown_linf, &r, mg), 0);
      cr_expect(fabs(mg[1 - y] - want) <= 1e-9 * (1 + fabs(want)));
      cr_expect_eq(r.certified, r.clean_ok && want > r.tol);
    }
  }
  rove_model_deinit(&m);
}

/* [lo, hi] contains [wl, wh] and exceeds it by no more than the outward
 * rounding (a relative 2e-5 after a few layers). */
static int tight(double lo, double hi, double wl, double wh) {
  return lo <= wl && hi >= wh && wl - lo <= 2e-5 * (1 + fabs(wl)) &&
         hi - wh <= 2e-5 * (1 + fabs(wh));
}

/* ReLU of a known interval and MaxPool over a known box: IBP is exact, up
 * to its outward rounding. */
Test(certify, relu_and_maxpool_of_known_boxes) {
  rove_shape in = {3, {1, 2, 2}};
  rove_model m;
  cr_assert_eq(rove_model_init(&m, &in), 0);
  rove_attrs a;
  rove_attrs_default(&a);
  int i0 = ROVE_INPUT, sub, relu, pool, flat, fc;
  a.cmode = 3;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_SUB, "shift", &i0, 1, &a, &sub), 0);
  float *c = rove_model_node_params(&m, sub);
  c[0] = 0.5f;
  c[1] = 0.2f;
  c[2] = 0.8f;
  c[3] = 0.0f;
  rove_attrs_default(&a);
  cr_assert_eq(rove_model_add(&m, ROVE_OP_RELU, "relu", &sub, 1, &a, &relu), 0);
  rove_attrs_default(&a);
  a.kh = a.kw = 2;
  a.sh = a.sw = 2;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_MAXPOOL, "pool", &relu, 1, &a, &pool),
               0);
  rove_attrs_default(&a);
  a.shape = (rove_shape){1, {1}};
  cr_assert_eq(rove_model_add(&m, ROVE_OP_RESHAPE, "flat", &pool, 1, &a, &flat),
               0);
  rove_attrs_default(&a);
  a.out = 2;
  cr_assert_eq(rove_model_add(&m, ROVE_OP_LINEAR, "fc", &flat, 1, &a, &fc), 0);
  float *w = rove_model_node_params(&m, fc);
  w[0] = 1;
  w[1] = -1;
  cr_assert_eq(rove_model_finalize(&m, -1), 0);
  float x[4] = {0.5f, 0.3f, 0.6f, 0.05f};
  double eps = 0.1, *lo[8], *hi[8];
  cr_assert_eq(rove_cert_bounds(&m, x, eps, &ibp_linf, lo, hi), 0);
  /* x - c in [x - c - eps, x - c + eps] cut to [0, 1] first. */
  double want_lo[4], want_hi[4];
  for (int j = 0; j < 4; j++) {
    double l = fmax(0, x[j] - eps) - c[j], h = fmin(1, x[j] + eps) - c[j];
    want_lo[j] = fmax(0, l);
    want_hi[j] = fmax(0, h);
    cr_expect(tight(lo[relu][j], hi[relu][j], want_lo[j], want_hi[j]),
              "relu %d: [%g, %g], expected [%g, %g]", j, lo[relu][j],
              hi[relu][j], want_lo[j], want_hi[j]);
  }
  double ml = 0, mh = 0;
  for (int j = 0; j < 4; j++) {
    ml = fmax(ml, want_lo[j]);
    mh = fmax(mh, want_hi[j]);
  }
  cr_expect(tight(lo[pool][0], hi[pool][0], ml, mh),
            "maxpool [%g, %g], expected [%g, %g]", lo[pool][0], hi[pool][0], ml,
            mh);
  rove_cert_bounds_free(&m, lo, hi);
  rove_model_deinit(&m);
}

/* Bounds at a larger eps contain those at a smaller one, and certified
 * accuracy never rises with eps. */
Test(certify, monotone_in_eps) {
  rove_model m;
  tu_cnn(&m, 4, 11);
  tu_data t;
  tu_data_make(&t, &m, 12, 5);
  const double eps[4] = {0, 0.002, 0.01, 0.05};
  int prev = 1 << 30;
  for (int q = 0; q < 4; q++) {
    int cert = 0;
    for (int i = 0; i < t.n; i++) {
      rove_cert_result r;
      cr_assert_eq(rove_certify(&m, t.x + (size_t)i * t.d, t.y[i], eps[q],
                                &crown_linf, &r, NULL),
                   0);
      cert += r.certified;
    }
    cr_expect_leq(cert, prev, "eps %g certifies %d, smaller eps %d", eps[q],
                  cert, prev);
    if (q == 0)
      cr_expect_eq(cert, t.n, "at eps 0 every clean-correct example");
    prev = cert;
    if (q > 0) {
      double *l1[16], *h1[16], *l2[16], *h2[16];
      for (int method = 0; method <= 1; method++) {
        rove_cert_opts o = {method, 1, 0};
        cr_assert_eq(rove_cert_bounds(&m, t.x, eps[q - 1], &o, l1, h1), 0);
        cr_assert_eq(rove_cert_bounds(&m, t.x, eps[q], &o, l2, h2), 0);
        for (int i = 0; i <= m.output; i++)
          for (long k = 0; k < rove_shape_numel(&m.nodes[i].out); k++)
            cr_expect(l2[i][k] <= l1[i][k] && h2[i][k] >= h1[i][k],
                      "node %d value %ld: [%g, %g] at eps %g does not contain "
                      "[%g, %g] at %g",
                      i, k, l2[i][k], h2[i][k], eps[q], l1[i][k], h1[i][k],
                      eps[q - 1]);
        rove_cert_bounds_free(&m, l1, h1);
        rove_cert_bounds_free(&m, l2, h2);
      }
    }
  }
  tu_data_free(&t);
  rove_model_deinit(&m);
}

/* On a small MLP, CROWN certifies strictly more than IBP at some eps, and
 * never fewer; no certified example is broken by the precise attack. */
Test(certify, crown_beats_ibp_and_certified_is_never_broken) {
  rove_shape in = {1, {16}};
  int hidden[2] = {24, 16};
  rove_model m;
  cr_assert_eq(rove_arch_mlp(&m, &in, hidden, 2, 4, 9), 0);
  tu_data t;
  tu_data_make(&t, &m, 24, 13);
  const double eps[3] = {0.005, 0.01, 0.02};
  int strictly = 0;
  rove_profile *p;
  TRY_OK(rove_profile_create(&p, "precise"));
  TRY_OK(rove_profile_set(p, "steps", "30"));
  for (int q = 0; q < 3; q++) {
    int ni = 0, nc = 0;
    int cert[24];
    for (int i = 0; i < t.n; i++) {
      rove_cert_result ri, rc;
      const float *x = t.x + (size_t)i * t.d;
      cr_assert_eq(rove_certify(&m, x, t.y[i], eps[q], &ibp_linf, &ri, NULL),
                   0);
      cr_assert_eq(rove_certify(&m, x, t.y[i], eps[q], &crown_linf, &rc, NULL),
                   0);
      cr_expect(!ri.certified || rc.certified || rc.min_lb >= ri.min_lb - 1e-9,
                "example %d: IBP certifies, CROWN does not", i);
      ni += ri.certified;
      nc += rc.certified;
      cert[i] = rc.certified || ri.certified;
    }
    strictly |= nc > ni;
    cr_log_info("eps %g: IBP %d, CROWN %d of %d", eps[q], ni, nc, t.n);
    rove_unit u = tu_unit(&m, p, &t, eps[q], 1);
    rove_example_result res[24];
    TRY_OK(rove_eval_unit(&u, res, NULL, NULL));
    for (int i = 0; i < t.n; i++)
      cr_expect(!(cert[i] && res[i].broken),
                "eps %g example %d: certified, yet the attack broke it", eps[q],
                i);
  }
  cr_expect(strictly, "CROWN never certified more than IBP");
  rove_profile_destroy(&p);
  tu_data_free(&t);
  rove_model_deinit(&m);
}

/* One ReLU (or LeakyReLU) of x - 0.5 over an interval that crosses 0: the
 * upper relaxation is the chord, so the lower bound of -relu is exact; the
 * lower bound of +relu is valid (between the adaptive line's value and
 * the true minimum). */
Test(certify, relu_relaxation_at_the_interval_ends) {
  for (int leaky = 0; leaky <= 1; leaky++) {
    rove_shape in = {1, {1}};
    rove_model m;
    cr_assert_eq(rove_model_init(&m, &in), 0);
    rove_attrs a;
    rove_attrs_default(&a);
    a.cmode = 1;
    int i0 = ROVE_INPUT, sub, act, fc;
    cr_assert_eq(rove_model_add(&m, ROVE_OP_SUB, "s", &i0, 1, &a, &sub), 0);
    rove_model_node_params(&m, sub)[0] = 0.5f;
    rove_attrs_default(&a);
    a.alpha = 0.1f;
    cr_assert_eq(rove_model_add(&m, leaky ? ROVE_OP_LEAKYRELU : ROVE_OP_RELU,
                                "r", &sub, 1, &a, &act),
                 0);
    rove_attrs_default(&a);
    a.out = 2;
    cr_assert_eq(rove_model_add(&m, ROVE_OP_LINEAR, "fc", &act, 1, &a, &fc), 0);
    float *w = rove_model_node_params(&m, fc);
    w[0] = 1;
    w[1] = 0;
    cr_assert_eq(rove_model_finalize(&m, -1), 0);
    double al = leaky ? 0.1 : 0.0;
    const float xs[3] = {0.5f, 0.45f, 0.6f};
    for (int q = 0; q < 3; q++) {
      double eps = 0.2, l = fmax(0, xs[q] - eps) - 0.5,
             u = fmin(1, xs[q] + eps) - 0.5;
      double f_l = l > 0 ? l : al * l, f_u = u > 0 ? u : al * u;
      double spec[4] = {1, 0, -1, 0}, lb[2];
      cr_assert_eq(
          rove_cert_crown_spec(&m, &xs[q], eps, &crown_linf, 2, spec, lb), 0);
      cr_expect(fabs(lb[1] - (-f_u)) <= 1e-9,
                "%s x %g: lower bound of -relu %.12g, exact %.12g",
                leaky ? "leaky" : "relu", xs[q], lb[1], -f_u);
      double tmin = fmin(f_l, f_u) < 0 ? f_l : (l < 0 && u > 0 ? 0 : f_l);
      cr_expect(lb[0] <= tmin + 1e-12 && lb[0] >= fmin(l, al * l) - 1e-12,
                "%s x %g: lower bound of relu %.12g, true minimum %.12g",
                leaky ? "leaky" : "relu", xs[q], lb[0], tmin);
    }
    rove_model_deinit(&m);
  }
}

/* Sigmoid and Tanh of x - c on intervals wholly below or above 0 (convex
 * and concave sides): the CROWN bounds of +f and -f lie below the true
 * minima over a dense grid, and within 0.05 of them. */
Test(certify, sigmoid_tanh_chord_and_tangent) {
  for (int op = 0; op < 2; op++)
    for (int side = 0; side < 2; side++) {
      rove_shape in = {1, {1}};
      rove_model m;
      cr_assert_eq(rove_model_init(&m, &in), 0);
      rove_attrs a;
      rove_attrs_default(&a);
      a.cmode = 1;
      int i0 = ROVE_INPUT, sub, act, fc;
      cr_assert_eq(rove_model_add(&m, ROVE_OP_SUB, "s", &i0, 1, &a, &sub), 0);
      float c = side ? -1.0f : 2.0f;
      rove_model_node_params(&m, sub)[0] = c;
      rove_attrs_default(&a);
      cr_assert_eq(rove_model_add(&m, op ? ROVE_OP_TANH : ROVE_OP_SIGMOID, "f",
                                  &sub, 1, &a, &act),
                   0);
      rove_attrs_default(&a);
      a.out = 2;
      cr_assert_eq(rove_model_add(&m, ROVE_OP_LINEAR, "fc", &act, 1, &a, &fc),
                   0);
      rove_model_node_params(&m, fc)[0] = 1;
      cr_assert_eq(rove_model_finalize(&m, -1), 0);
      float x = 0.5f;
      double eps = 0.4, spec[4] = {1, 0, -1, 0}, lb[2];
      cr_assert_eq(rove_cert_crown_spec(&m, &x, eps, &crown_linf, 2, spec, lb),
                   0);
      double mn[2] = {INFINITY, INFINITY};
      for (int g = 0; g <= 4000; g++) {
        double v = (0.1 + 0.8 * g / 4000.0) - c;
        double f = op ? tanh(v) : 1 / (1 + exp(-v));
        mn[0] = fmin(mn[0], f);
        mn[1] = fmin(mn[1], -f);
      }
      for (int r = 0; r < 2; r++)
        cr_expect(lb[r] <= mn[r] + 1e-9 && lb[r] >= mn[r] - 0.05,
                  "%s side %d row %d: bound %.9g, true minimum %.9g",
                  op ? "tanh" : "sigmoid", side, r, lb[r], mn[r]);
      rove_model_deinit(&m);
    }
}
