/* test_layers.c - one table-driven test walks every layer in the registry
 * and every example variant: gradients against central finite differences,
 * the BPDA backward modes, and batch independence. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/kernels/cpu.h"
#include "common/layer.h"
#include "common/rng.h"

#define TB 2        /* examples per batch in the gradient checks */
#define BETA 3.0f   /* sharpness of the smooth surrogates under test */
#define MAX_FAIL 12 /* failures printed before the rest are only counted */

/* One configured layer with its inputs, params and a random projection r
 * of its output: the scalar checked is L = sum r * y. */
typedef struct lcase {
  rove_node n;
  const rove_layer_ops *ops;
  int B;
  float *x[ROVE_MAX_IN];
  size_t nx[ROVE_MAX_IN];
  float h[ROVE_MAX_IN]; /* finite-difference step per input */
  float *p, *y, *r, *ws;
  size_t ny;
  char tag[96];
} lcase;

static int n_fail;

static void fail(const lcase *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail(const lcase *c, const char *fmt, ...) {
  if (n_fail++ < MAX_FAIL) {
    va_list ap;
    char msg[256];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", c->tag, msg);
  }
}

static float *falloc(size_t n) {
  float *p = calloc(n ? n : 1, sizeof(float));
  cr_assert(p != NULL);
  return p;
}

static float uni(rove_rng *g, float lo, float hi) {
  return lo + (hi - lo) * rove_rng_uniform(g);
}

/* Inputs are distinct values of magnitude in [0.5, 2.5) with random
 * signs: far from ReLU's kink and from zero denominators, and no two
 * entries of a pooling window within 4 steps of each other, so a central
 * difference never crosses a kink or changes an argmax. */
static void draw_input(lcase *c, int i, rove_rng *g) {
  size_t n = c->nx[i];
  uint32_t *perm = malloc(n * sizeof *perm);
  cr_assert(perm != NULL);
  for (size_t k = 0; k < n; k++)
    perm[k] = (uint32_t)k;
  for (size_t k = n - 1; k > 0; k--) {
    uint32_t j = rove_rng_below(g, (uint32_t)k + 1), t = perm[k];
    perm[k] = perm[j];
    perm[j] = t;
  }
  float spacing = 2.0f / (float)n;
  c->h[i] = fminf(spacing / 4, 2e-3f);
  for (size_t k = 0; k < n; k++) {
    float v = 0.5f + spacing * (float)perm[k];
    c->x[i][k] = rove_rng_u32(g) & 1 ? -v : v;
  }
  free(perm);
  /* The integer operators' inputs are quantized integers (uint8 values);
   * quantize takes real values. */
  if (c->n.op >= ROVE_OP_DEQUANTIZE && c->n.op <= ROVE_OP_QAVGPOOL) {
    for (size_t k = 0; k < n; k++)
      c->x[i][k] = (float)rove_rng_below(g, 256);
    /* Outputs are large (convint's reach 1e5): a step this size keeps
     * float rounding far below the differences of these linear maps. */
    c->h[i] = 0.25f;
  }
  /* Clip's kinks sit at lo and hi: move inputs away from them. */
  if (c->n.op == ROVE_OP_CLIP)
    for (size_t k = 0; k < n; k++) {
      float *v = &c->x[i][k];
      if (fabsf(*v - c->n.a.lo) < 4 * c->h[i] ||
          fabsf(*v - c->n.a.hi) < 4 * c->h[i])
        *v += 8 * c->h[i];
    }
}

/* Trainable params: random sign, magnitude [0.5, 1.5). Constants (the
 * params past n_trainable: running statistics, binary-op constants) are
 * positive, so variances and divisors are valid. Quantizer scales
 * spread the inputs over the levels with both tails saturating, and zero
 * points are integers. */
static void draw_params(lcase *c, rove_rng *g) {
  for (size_t k = 0; k < c->n.n_params; k++) {
    float v = uni(g, 0.5f, 1.5f);
    c->p[k] = k < c->n.n_trainable && (rove_rng_u32(g) & 1) ? -v : v;
  }
  if (c->n.op == ROVE_OP_FAKEQUANT) {
    size_t nc = c->n.n_params / 2;
    float range = (float)(c->n.a.qmax - c->n.a.qmin);
    for (size_t k = 0; k < nc; k++) {
      c->p[k] = uni(g, 0.5f, 1.5f) * 3.0f / range;
      c->p[nc + k] = rintf((float)c->n.a.qmin + uni(g, 0.2f, 0.5f) * range);
    }
  }
}

/* The q-domain layers' params (common/layers/qlinear.c): integer zero
 * points, int8 weights, small positive scales, an int32 bias split into
 * hi/lo; then the output scale and zero point are set from the
 * unsaturated surrogate so that its 20th..80th percentiles span the output
 * range: about a fifth of the outputs saturate at each end. */
static int cmp_f(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static void draw_qparams(lcase *c, rove_rng *g) {
  int op = c->n.op;
  float *p = c->p;
  size_t np = c->n.n_params;
  int so = -1; /* index of the output scale (its zero point follows) */
  if (op == ROVE_OP_QUANTIZE) {
    p[0] = 1;
    p[1] = 0;
    so = 0;
  } else if (op == ROVE_OP_DEQUANTIZE) {
    p[0] = uni(g, 0.02f, 0.05f);
    p[1] = (float)rove_rng_below(g, 200) - 100;
  } else if (op == ROVE_OP_QCONV || op == ROVE_OP_CONVINT) {
    int K = c->n.a.out, nc = c->n.a.per_channel ? K : 1;
    size_t nw = np - 4 - 2 * (size_t)nc - (c->n.a.has_bias ? 2 * (size_t)K : 0);
    p[0] = uni(g, 0.01f, 0.03f);
    p[1] = (float)(100 + rove_rng_below(g, 50));
    p[2] = 1;
    p[3] = 0;
    for (size_t k = 0; k < nw; k++)
      p[4 + k] = (float)rove_rng_below(g, 201) - 100;
    for (int k = 0; k < nc; k++) {
      p[4 + nw + (size_t)k] = (float)rove_rng_below(g, 7) - 3;
      p[4 + nw + (size_t)nc + (size_t)k] = uni(g, 0.005f, 0.02f);
    }
    for (int k = 0; c->n.a.has_bias && k < K; k++) {
      p[4 + nw + 2 * (size_t)nc + (size_t)k] = (float)rove_rng_below(g, 5) - 2;
      p[4 + nw + 2 * (size_t)nc + (size_t)K + (size_t)k] =
          (float)rove_rng_below(g, 4096);
    }
    so = op == ROVE_OP_QCONV ? 2 : -1;
  } else if (op == ROVE_OP_QADD) {
    for (int k = 0; k < 3; k++) {
      p[2 * k] = uni(g, 0.01f, 0.05f);
      p[2 * k + 1] = (float)(100 + rove_rng_below(g, 50));
    }
    p[4] = 1;
    p[5] = 0;
    so = 4;
  } else if (op == ROVE_OP_QAVGPOOL) {
    p[0] = uni(g, 0.01f, 0.05f);
    p[1] = (float)(100 + rove_rng_below(g, 50));
    p[2] = 1;
    p[3] = 0;
    so = 2;
  }
  if (so < 0)
    return;
  /* Percentiles of v with output scale 1 and zero point 0, unclamped. */
  rove_node wide = c->n;
  wide.a.qmin = -(1 << 30);
  wide.a.qmax = 1 << 30;
  float *v = falloc(c->ny);
  c->ops->surrogate(&wide, p, c->B, (const float *const *)c->x, v, NULL);
  qsort(v, c->ny, sizeof *v, cmp_f);
  /* Edges between two outputs, never on one (its difference would cross
   * the edge). */
  size_t a = c->ny / 5, b = c->ny - 1 - c->ny / 5;
  float lo = 0.5f * (v[a] + v[a + 1]), hi = 0.5f * (v[b] + v[b - 1]);
  free(v);
  float range = (float)(c->n.a.qmax - c->n.a.qmin);
  float s = (hi - lo) / range;
  if (!(s > 0))
    s = 1;
  p[so] = s;
  p[so + 1] = rintf((float)c->n.a.qmin - lo / s);
}

/* Configures op/variant at batch B; returns 0 when there is no variant. */
static int case_init(lcase *c, int op, int variant, int B) {
  memset(c, 0, sizeof *c);
  c->ops = rove_layers[op];
  c->B = B;
  c->n.op = op;
  if (!c->ops->example(variant, &c->n.a, c->n.ins, &c->n.n_in))
    return 0;
  snprintf(c->n.name, sizeof c->n.name, "%s#%d", c->ops->name, variant);
  snprintf(c->tag, sizeof c->tag, "%s variant %d", c->ops->name, variant);
  for (int i = 0; i < c->n.n_in; i++)
    c->n.in[i] = i == 0 ? ROVE_INPUT : i - 1;
  int rc = c->ops->setup(&c->n);
  if (rc < 0)
    cr_assert_fail("%s: setup failed: %s", c->tag, rove_error_message());
  uint64_t id[3] = {0x6c61796572ull, (uint64_t)op, (uint64_t)variant};
  rove_rng g;
  rove_rng_init(&g, id, 3);
  for (int i = 0; i < c->n.n_in; i++) {
    c->nx[i] = (size_t)B * (size_t)rove_shape_numel(&c->n.ins[i]);
    c->x[i] = falloc(c->nx[i]);
    draw_input(c, i, &g);
  }
  c->p = falloc(c->n.n_params);
  draw_params(c, &g);
  if (c->n.op >= ROVE_OP_QUANTIZE && c->n.op <= ROVE_OP_QAVGPOOL) {
    c->ny = (size_t)B * (size_t)rove_shape_numel(&c->n.out);
    draw_qparams(c, &g);
  }
  c->ny = (size_t)B * (size_t)rove_shape_numel(&c->n.out);
  c->y = falloc(c->ny);
  c->r = falloc(c->ny);
  for (size_t k = 0; k < c->ny; k++)
    c->r[k] = uni(&g, -1, 1);
  c->ws = falloc(c->ops->workspace ? c->ops->workspace(&c->n, B) : 0);
  return 1;
}

static void case_deinit(lcase *c) {
  for (int i = 0; i < c->n.n_in; i++)
    free(c->x[i]);
  free(c->p);
  free(c->y);
  free(c->r);
  free(c->ws);
}

static void forward(lcase *c) {
  c->ops->forward(&c->n, c->p, c->B, (const float *const *)c->x, c->y, c->ws);
}

/* sum r * y of the true layer, accumulated in double. */
static double loss_true(lcase *c) {
  forward(c);
  double s = 0;
  for (size_t k = 0; k < c->ny; k++)
    s += (double)c->r[k] * c->y[k];
  return s;
}

/* The smooth surrogates, in double, written independently of the layer
 * code: ReLU -> softplus_beta; MaxPool -> (1/beta) log sum exp(beta x)
 * over each window's input elements (padding excluded). */
static double loss_smooth(lcase *c) {
  double s = 0, beta = BETA;
  if (c->n.op == ROVE_OP_RELU) {
    for (size_t k = 0; k < c->ny; k++) {
      double v = beta * c->x[0][k];
      double sp = v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
      s += c->r[k] * sp / beta;
    }
    return s;
  }
  cr_assert_eq(c->n.op, ROVE_OP_MAXPOOL, "no surrogate for %s", c->tag);
  const rove_attrs *a = &c->n.a;
  int C = c->n.ins[0].d[0], H = c->n.ins[0].d[1], W = c->n.ins[0].d[2];
  int OH = c->n.out.d[1], OW = c->n.out.d[2];
  for (int b = 0; b < c->B; b++)
    for (int ch = 0; ch < C; ch++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          const float *xp = c->x[0] + ((size_t)b * C + ch) * H * W;
          double m = -INFINITY, z = 0;
          for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < a->kh; i++)
              for (int j = 0; j < a->kw; j++) {
                int ih = oh * a->sh - a->pt + i * a->dh;
                int iw = ow * a->sw - a->pl + j * a->dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                  continue;
                double v = xp[ih * W + iw];
                if (pass == 0)
                  m = v > m ? v : m;
                else
                  z += exp(beta * (v - m));
              }
          cr_assert(z > 0, "%s: empty pooling window", c->tag);
          s += c->r[((size_t)(b * C + ch) * OH + oh) * OW + ow] *
               (m + log(z) / beta);
        }
  return s;
}

static double loss(lcase *c, int smooth) {
  return smooth ? loss_smooth(c) : loss_true(c);
}

/* Runs backward with dy = r into dx = z (a random start, to check that
 * backward accumulates) and dp = zp; returns the increments in dx/dp. */
static void backward(lcase *c, rove_bwd bwd, float **dx, float *dp, int want_dx,
                     int want_dp) {
  float *d[ROVE_MAX_IN] = {0}, *z[ROVE_MAX_IN] = {0}, *zp = NULL;
  for (int i = 0; i < c->n.n_in; i++) {
    z[i] = falloc(c->nx[i]);
    for (size_t k = 0; k < c->nx[i]; k++)
      z[i][k] = (float)((int)(k % 7) - 3) * 0.25f;
    d[i] = want_dx ? dx[i] : NULL;
    if (d[i])
      memcpy(d[i], z[i], c->nx[i] * sizeof(float));
  }
  zp = falloc(c->n.n_trainable);
  for (size_t k = 0; k < c->n.n_trainable; k++)
    zp[k] = (float)((int)(k % 5) - 2) * 0.5f;
  if (want_dp)
    memcpy(dp, zp, c->n.n_trainable * sizeof(float));
  forward(c);
  c->ops->backward(&c->n, c->p, c->B, (const float *const *)c->x, c->y, c->r, d,
                   want_dp ? dp : NULL, c->ws, bwd);
  /* The offsets are multiples of 1/4 with small magnitude: subtracting
   * them back is exact whenever the increment is representable at that
   * scale, and otherwise off by half an ulp of the offset. */
  for (int i = 0; i < c->n.n_in; i++) {
    if (d[i])
      for (size_t k = 0; k < c->nx[i]; k++)
        d[i][k] -= z[i][k];
    free(z[i]);
  }
  if (want_dp)
    for (size_t k = 0; k < c->n.n_trainable; k++)
      dp[k] -= zp[k];
  free(zp);
}

/* Compares analytic gradients g[0..n) of `v` with central differences of
 * loss(c, smooth) in that variable. */
static void check_fd(lcase *c, float *v, size_t n, float h, const float *g,
                     int smooth, const char *what) {
  double rms = 0;
  for (size_t k = 0; k < n; k++)
    rms += (double)g[k] * g[k];
  rms = sqrt(rms / (double)(n ? n : 1));
  for (size_t k = 0; k < n; k++) {
    float v0 = v[k];
    v[k] = v0 + h;
    double xp = v[k], lp = loss(c, smooth);
    v[k] = v0 - h;
    double xm = v[k], lm = loss(c, smooth);
    v[k] = v0;
    double fd = (lp - lm) / (xp - xm);
    double err = fabs(fd - g[k]);
    double tol = 2e-3 * fmax(fabs(fd), fabs((double)g[k])) + 2e-3 * rms + 1e-6;
    if (!(err <= tol))
      fail(c, "%s%s[%zu]: analytic %.7g, finite difference %.7g",
           smooth ? "smooth " : "", what, k, (double)g[k], fd);
  }
}

static void check_differentiable(lcase *c, int smooth) {
  float *dx[ROVE_MAX_IN] = {0};
  float *dp = falloc(c->n.n_trainable), *dp2 = falloc(c->n.n_trainable);
  rove_bwd bwd = {smooth ? ROVE_BWD_SMOOTH : ROVE_BWD_EXACT, BETA};
  for (int i = 0; i < c->n.n_in; i++)
    dx[i] = falloc(c->nx[i]);
  backward(c, bwd, dx, dp, 1, c->n.n_trainable > 0);
  for (int i = 0; i < c->n.n_in; i++) {
    char what[16];
    snprintf(what, sizeof what, "dx%d", i);
    check_fd(c, c->x[i], c->nx[i], c->h[i], dx[i], smooth, what);
  }
  if (!smooth && c->n.n_trainable) {
    check_fd(c, c->p, c->n.n_trainable, 1e-3f, dp, 0, "dparams");
    /* Parameter gradients must not depend on whether dx was asked for. */
    float *none[ROVE_MAX_IN] = {0};
    backward(c, bwd, none, dp2, 0, 1);
    if (memcmp(dp, dp2, c->n.n_trainable * sizeof(float)))
      fail(c, "dparams differ when dx is not requested");
  }
  /* The straight-through modes on a differentiable op are the exact
   * gradient, bit for bit. */
  if (!smooth)
    for (int mode = ROVE_BWD_STE; mode <= ROVE_BWD_CLIPPED_STE; mode++) {
      float *dx2[ROVE_MAX_IN] = {0};
      rove_bwd b2 = {mode, BETA};
      for (int i = 0; i < c->n.n_in; i++)
        dx2[i] = falloc(c->nx[i]);
      backward(c, b2, dx2, dp2, 1, 0);
      for (int i = 0; i < c->n.n_in; i++) {
        if (memcmp(dx[i], dx2[i], c->nx[i] * sizeof(float)))
          fail(c, "backward mode %d differs from exact on dx%d", mode, i);
        free(dx2[i]);
      }
    }
  for (int i = 0; i < c->n.n_in; i++)
    free(dx[i]);
  free(dp);
  free(dp2);
}

/* Non-differentiable ops (round, floor, fakequant): exact gives exactly 0,
 * STE exactly dy, clipped STE dy where the quantizer is not saturated. */
static void check_nondiff(lcase *c) {
  float *dx[ROVE_MAX_IN] = {0};
  dx[0] = falloc(c->nx[0]);
  for (int mode = ROVE_BWD_EXACT; mode <= ROVE_BWD_CLIPPED_STE; mode++) {
    rove_bwd bwd = {mode, BETA};
    backward(c, bwd, dx, NULL, 1, 0);
    long N = rove_shape_numel(&c->n.ins[0]);
    int inside = 0, outside = 0;
    for (size_t k = 0; k < c->nx[0]; k++) {
      float want = c->r[k];
      if (mode == ROVE_BWD_EXACT)
        want = 0;
      if (mode == ROVE_BWD_CLIPPED_STE && c->n.op == ROVE_OP_FAKEQUANT) {
        size_t nc = c->n.n_params / 2;
        size_t ch =
            nc == 1 ? 0 : (size_t)((long)(k % (size_t)N) / (N / (long)nc));
        float q = rintf(c->x[0][k] / c->p[ch]) + c->p[nc + ch];
        int in = q >= (float)c->n.a.qmin && q <= (float)c->n.a.qmax;
        inside += in;
        outside += !in;
        if (!in)
          want = 0;
      }
      /* dx started at a multiple of 1/4 and dy is added once: compare
       * with the same float operations. */
      float z = (float)((int)(k % 7) - 3) * 0.25f;
      float expect = (z + want) - z;
      if (dx[0][k] != expect)
        fail(c, "mode %d: dx[%zu] = %.9g, expected %.9g", mode, k,
             (double)dx[0][k], (double)expect);
    }
    if (mode == ROVE_BWD_CLIPPED_STE && c->n.op == ROVE_OP_FAKEQUANT &&
        (!inside || !outside))
      fail(c,
           "example does not exercise both sides of the clipped STE "
           "(%d inside, %d saturated)",
           inside, outside);
  }
  free(dx[0]);
}

/* sum r * y of the layer's surrogate (rounding removed, saturation kept). */
static double loss_surrogate(lcase *c) {
  float *y = falloc(c->ny);
  c->ops->surrogate(&c->n, c->p, c->B, (const float *const *)c->x, y, NULL);
  double s = 0;
  for (size_t k = 0; k < c->ny; k++)
    s += (double)c->r[k] * y[k];
  free(y);
  return s;
}

/* Integer (q-domain) operators: the forward is the surrogate rounded
 * (within half a step of it); exact mode adds nothing; the clipped STE
 * equals the surrogate's central differences and, bit for bit, the plain
 * STE run with dy zeroed where the surrogate saturates. */
static void check_integer(lcase *c) {
  cr_assert_not_null(c->ops->surrogate, "%s: no surrogate", c->tag);
  unsigned char *sat = malloc(c->ny);
  float *ys = falloc(c->ny);
  c->ops->surrogate(&c->n, c->p, c->B, (const float *const *)c->x, ys, sat);
  forward(c);
  size_t nsat = 0;
  for (size_t k = 0; k < c->ny; k++) {
    nsat += sat[k];
    if (!(fabsf(c->y[k] - ys[k]) <= 0.5f + 1e-4f * fabsf(ys[k])))
      fail(c, "forward y[%zu] = %g is not the surrogate %g rounded", k,
           (double)c->y[k], (double)ys[k]);
    if (c->y[k] != rintf(c->y[k]))
      fail(c, "forward y[%zu] = %g is not an integer", k, (double)c->y[k]);
  }
  if (nsat == 0 || nsat == c->ny)
    fail(c,
         "example does not exercise both sides of the clipped STE (%zu of "
         "%zu saturated)",
         nsat, c->ny);
  float *dxe[ROVE_MAX_IN] = {0}, *dxc[ROVE_MAX_IN] = {0},
        *dxs[ROVE_MAX_IN] = {0};
  for (int i = 0; i < c->n.n_in; i++) {
    dxe[i] = falloc(c->nx[i]);
    dxc[i] = falloc(c->nx[i]);
    dxs[i] = falloc(c->nx[i]);
  }
  backward(c, (rove_bwd){ROVE_BWD_EXACT, BETA}, dxe, NULL, 1, 0);
  backward(c, (rove_bwd){ROVE_BWD_CLIPPED_STE, BETA}, dxc, NULL, 1, 0);
  float *r0 = c->r, *rm = falloc(c->ny);
  for (size_t k = 0; k < c->ny; k++)
    rm[k] = sat[k] ? 0.0f : r0[k];
  c->r = rm;
  backward(c, (rove_bwd){ROVE_BWD_STE, BETA}, dxs, NULL, 1, 0);
  c->r = r0;
  for (int i = 0; i < c->n.n_in; i++) {
    size_t bad = 0;
    double rms = 0;
    for (size_t k = 0; k < c->nx[i]; k++) {
      if (dxe[i][k] != 0)
        fail(c, "exact mode: dx%d[%zu] = %g, expected 0", i, k,
             (double)dxe[i][k]);
      if (dxc[i][k] != dxs[i][k])
        fail(c,
             "clipped STE dx%d[%zu] = %.9g, STE with saturated dy zeroed "
             "%.9g",
             i, k, (double)dxc[i][k], (double)dxs[i][k]);
      rms += (double)dxc[i][k] * dxc[i][k];
    }
    rms = sqrt(rms / (double)c->nx[i]);
    /* Central differences of the surrogate, which is piecewise linear: a
     * difference that crosses a saturation edge is off, so a few percent
     * of the inputs may disagree. */
    const float h = c->n.op == ROVE_OP_QUANTIZE ? c->h[i] : 0.05f;
    for (size_t k = 0; k < c->nx[i]; k++) {
      float v0 = c->x[i][k];
      c->x[i][k] = v0 + h;
      double lp = loss_surrogate(c);
      c->x[i][k] = v0 - h;
      double lm = loss_surrogate(c);
      c->x[i][k] = v0;
      double fd = (lp - lm) / (2.0 * h), g = dxc[i][k];
      if (!(fabs(fd - g) <= 1e-2 * fmax(fabs(fd), fabs(g)) + 1e-2 * rms + 1e-6))
        bad++;
    }
    if (bad * 20 > c->nx[i])
      fail(c,
           "clipped STE dx%d disagrees with the surrogate's finite "
           "differences at %zu of %zu inputs",
           i, bad, c->nx[i]);
    free(dxe[i]);
    free(dxc[i]);
    free(dxs[i]);
  }
  free(rm);
  free(sat);
  free(ys);
}

/* Per-example outputs and input gradients are bit-identical whether the
 * example runs alone or in a batch of 3. */
static void check_batch_independence(int op, int variant) {
  lcase one, three;
  case_init(&three, op, variant, 3);
  case_init(&one, op, variant, 1);
  for (int i = 0; i < one.n.n_in; i++)
    memcpy(one.x[i], three.x[i], one.nx[i] * sizeof(float));
  memcpy(one.r, three.r, one.ny * sizeof(float));
  memcpy(one.p, three.p, one.n.n_params * sizeof(float));
  forward(&one);
  forward(&three);
  if (memcmp(one.y, three.y, one.ny * sizeof(float)))
    fail(&one, "forward of example 0 differs between batch 1 and batch 3");
  float *d1[ROVE_MAX_IN] = {0}, *d3[ROVE_MAX_IN] = {0};
  for (int i = 0; i < one.n.n_in; i++) {
    d1[i] = falloc(one.nx[i]);
    d3[i] = falloc(three.nx[i]);
  }
  rove_bwd bwd = {ROVE_BWD_EXACT, BETA};
  one.ops->backward(&one.n, one.p, 1, (const float *const *)one.x, one.y, one.r,
                    d1, NULL, one.ws, bwd);
  three.ops->backward(&three.n, three.p, 3, (const float *const *)three.x,
                      three.y, three.r, d3, NULL, three.ws, bwd);
  for (int i = 0; i < one.n.n_in; i++) {
    if (memcmp(d1[i], d3[i], one.nx[i] * sizeof(float)))
      fail(&one, "dx%d of example 0 differs between batch 1 and batch 3", i);
    free(d1[i]);
    free(d3[i]);
  }
  case_deinit(&one);
  case_deinit(&three);
}

Test(layers, every_op_gradients_and_modes) {
  int total = 0;
  for (int op = 0; op < ROVE_OP_COUNT; op++) {
    const rove_layer_ops *ops = rove_layers[op];
    cr_assert(ops && ops->name && ops->setup && ops->forward && ops->backward &&
                  ops->example,
              "layer %d lacks an op", op);
    cr_assert_eq(rove_layer_find(ops->name), op);
    int variants = 0;
    for (int v = 0;; v++) {
      lcase c;
      if (!case_init(&c, op, v, TB))
        break;
      variants++;
      if (ops->flags & ROVE_OPF_INTEGER) {
        check_integer(&c);
      } else if (ops->flags & ROVE_OPF_NONDIFF) {
        check_nondiff(&c);
      } else {
        check_differentiable(&c, 0);
        if (ops->flags & ROVE_OPF_SMOOTHABLE)
          check_differentiable(&c, 1);
      }
      case_deinit(&c);
      check_batch_independence(op, v);
    }
    cr_expect(variants > 0, "layer '%s' has no example variant", ops->name);
    total += variants;
  }
  cr_log_info("checked %d layer variants", total);
  cr_assert_eq(n_fail, 0, "%d gradient/mode checks failed (first %d above)",
               n_fail, MAX_FAIL);
}

/* ONNX Round is round half to even; roundf would give 1, 3, -1, -3. */
Test(layers, round_is_half_to_even) {
  rove_node n = {.op = ROVE_OP_ROUND, .n_in = 1};
  rove_attrs_default(&n.a);
  n.ins[0].rank = 1;
  n.ins[0].d[0] = 6;
  cr_assert_eq(rove_layers[ROVE_OP_ROUND]->setup(&n), 0);
  const float x[6] = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 2.4999998f};
  const float want[6] = {0.0f, 2.0f, 2.0f, -0.0f, -2.0f, 2.0f};
  float y[6];
  const float *xs[1] = {x};
  rove_layers[ROVE_OP_ROUND]->forward(&n, NULL, 1, xs, y, NULL);
  for (int i = 0; i < 6; i++)
    cr_expect_eq(y[i], want[i], "round(%g) = %g, expected %g", (double)x[i],
                 (double)y[i], (double)want[i]);
}

/* QuantizeLinear/DequantizeLinear by hand: scale 0.1, zero point 3,
 * uint8. x / 0.1 is a true division: 0.25 / 0.1 = 2.5 rounds to 2 (half to
 * even), 0.35 / 0.1 = 3.4999998 to 3; -1 saturates at q = 0. */
Test(layers, fakequant_known_values) {
  rove_node n = {.op = ROVE_OP_FAKEQUANT, .n_in = 1};
  rove_attrs_default(&n.a);
  n.ins[0].rank = 1;
  n.ins[0].d[0] = 5;
  cr_assert_eq(rove_layers[ROVE_OP_FAKEQUANT]->setup(&n), 0);
  cr_assert_eq(n.n_params, 2);
  cr_assert_eq(n.n_trainable, 0);
  const float p[2] = {0.1f, 3.0f};
  const float x[5] = {0.25f, 0.35f, -1.0f, 100.0f, 0.0f};
  float y[5];
  const float *xs[1] = {x};
  rove_layers[ROVE_OP_FAKEQUANT]->forward(&n, p, 1, xs, y, NULL);
  const float q[5] = {rintf(0.25f / 0.1f) + 3, rintf(0.35f / 0.1f) + 3, 0, 255,
                      3};
  for (int i = 0; i < 5; i++)
    cr_expect_eq(y[i], (q[i] - 3.0f) * 0.1f, "x %g: y %g", (double)x[i],
                 (double)y[i]);
  cr_expect_eq(q[0], 5.0f);
  /* Clipped STE passes dy where rint(x / s) + zp is within [qmin, qmax],
   * including exactly at qmax (x = 25.2: q = 252 + 3 = 255). */
  const float x2[5] = {0.25f, 25.2f, -1.0f, 100.0f, 0.0f};
  const float pass[5] = {1, 1, 0, 0, 1};
  const float dy[5] = {1, 1, 1, 1, 1};
  float dx[5] = {0};
  float *dxs[1] = {dx};
  const float *x2s[1] = {x2};
  rove_bwd bwd = {ROVE_BWD_CLIPPED_STE, 1};
  rove_layers[ROVE_OP_FAKEQUANT]->forward(&n, p, 1, x2s, y, NULL);
  rove_layers[ROVE_OP_FAKEQUANT]->backward(&n, p, 1, x2s, y, dy, dxs, NULL,
                                           NULL, bwd);
  for (int i = 0; i < 5; i++)
    cr_expect_eq(dx[i], pass[i], "clipped STE at x %g: %g", (double)x2[i],
                 (double)dx[i]);
}

/* The 2x2 stride-2 backward (vectorised, mask-based) routes each dy to
 * the same element as the generic window scan, ties and NaN included.
 * The oracle is the same pooling with one column of right padding, which
 * the fast path does not take but which yields the same windows for an
 * even width. Values come from {0, 1, 2, NaN}, so most windows hold ties;
 * widths 22 and 14 exercise the vector loop and its scalar tail. */
Test(layers, maxpool_2x2_backward_matches_generic_scan) {
  const int C = 3, H = 6;
  const int widths[2] = {22, 14};
  for (int wi = 0; wi < 2; wi++) {
    int W = widths[wi];
    rove_node fast = {.op = ROVE_OP_MAXPOOL, .n_in = 1}, slow;
    rove_attrs_default(&fast.a);
    fast.a.kh = fast.a.kw = fast.a.sh = fast.a.sw = 2;
    fast.ins[0].rank = 3;
    fast.ins[0].d[0] = C;
    fast.ins[0].d[1] = H;
    fast.ins[0].d[2] = W;
    slow = fast;
    slow.a.pr = 1;
    cr_assert_eq(rove_layers[ROVE_OP_MAXPOOL]->setup(&fast), 0);
    cr_assert_eq(rove_layers[ROVE_OP_MAXPOOL]->setup(&slow), 0);
    cr_assert_eq(fast.out.d[2], W / 2);
    cr_assert_eq(slow.out.d[2], W / 2);
    size_t nx = (size_t)C * H * W, ny = (size_t)C * (H / 2) * (W / 2);
    float *x = falloc(nx), *y = falloc(ny), *dy = falloc(ny);
    float *d1 = falloc(nx), *d2 = falloc(nx);
    rove_rng g;
    uint64_t id[2] = {0x6d6178706f6f6cull, (uint64_t)W};
    rove_rng_init(&g, id, 2);
    for (size_t k = 0; k < nx; k++) {
      uint32_t v = rove_rng_below(&g, 16);
      x[k] = v == 0 ? NAN : (float)(v % 3);
    }
    for (size_t k = 0; k < ny; k++)
      dy[k] = (float)(k + 1);
    const float *xs[1] = {x};
    float *dx1[1] = {d1}, *dx2[1] = {d2};
    rove_bwd ex = {ROVE_BWD_EXACT, 1};
    rove_layers[ROVE_OP_MAXPOOL]->backward(&fast, NULL, 1, xs, y, dy, dx1, NULL,
                                           NULL, ex);
    rove_layers[ROVE_OP_MAXPOOL]->backward(&slow, NULL, 1, xs, y, dy, dx2, NULL,
                                           NULL, ex);
    for (size_t k = 0; k < nx; k++)
      cr_expect_eq(d1[k], d2[k], "W %d, element %zu: fast %g, generic %g", W, k,
                   (double)d1[k], (double)d2[k]);
    free(x);
    free(y);
    free(dy);
    free(d1);
    free(d2);
  }
}

/* The generic MaxPool path (any window, stride, dilation, padding) picks
 * the same winners with the AVX2 kernel as with the scalar scan, ties and
 * NaN included: forward outputs and input gradients compared bit for bit
 * with the SIMD kernels on and off. Rows are at least eight windows wide,
 * so the vector loop and its scalar tail both run. */
Test(layers, maxpool_generic_simd_matches_scan) {
  struct {
    int C, H, W, k, s, d, pad, ceil;
  } gs[] = {
      {3, 16, 37, 3, 2, 1, 1, 1}, /* a ResNet stem's 3x3/2, padded */
      {2, 9, 30, 2, 1, 2, 1, 0},  /* dilated, overlapping */
      {2, 7, 40, 3, 3, 1, 1, 1},  /* stride 3, ceil mode */
  };
  for (unsigned gi = 0; gi < sizeof gs / sizeof gs[0]; gi++) {
    rove_node n = {.op = ROVE_OP_MAXPOOL, .n_in = 1};
    rove_attrs_default(&n.a);
    n.a.kh = n.a.kw = gs[gi].k;
    n.a.sh = n.a.sw = gs[gi].s;
    n.a.dh = n.a.dw = gs[gi].d;
    n.a.pt = n.a.pl = n.a.pb = n.a.pr = gs[gi].pad;
    n.a.ceil_mode = gs[gi].ceil;
    n.ins[0].rank = 3;
    n.ins[0].d[0] = gs[gi].C;
    n.ins[0].d[1] = gs[gi].H;
    n.ins[0].d[2] = gs[gi].W;
    cr_assert_eq(rove_layers[ROVE_OP_MAXPOOL]->setup(&n), 0, "%s",
                 rove_error_message());
    const int B = 2;
    size_t nx = (size_t)B * gs[gi].C * gs[gi].H * gs[gi].W;
    size_t ny = (size_t)B * rove_shape_numel(&n.out);
    float *x = falloc(nx), *dy = falloc(ny), *y[2], *dx[2];
    rove_rng g;
    uint64_t id[2] = {0x67656e6d6178ull, gi};
    rove_rng_init(&g, id, 2);
    for (size_t k = 0; k < nx; k++) {
      uint32_t v = rove_rng_below(&g, 16);
      x[k] = v == 0 ? NAN : (float)(v % 3);
    }
    for (size_t k = 0; k < ny; k++)
      dy[k] = (float)(k % 7 + 1);
    const float *xs[1] = {x};
    rove_bwd ex = {ROVE_BWD_EXACT, 1};
    for (int simd = 0; simd < 2; simd++) {
      rove_cpu_set_simd(simd);
      y[simd] = falloc(ny);
      dx[simd] = falloc(nx);
      float *dxs[1] = {dx[simd]};
      rove_layers[ROVE_OP_MAXPOOL]->forward(&n, NULL, B, xs, y[simd], NULL);
      rove_layers[ROVE_OP_MAXPOOL]->backward(&n, NULL, B, xs, y[simd], dy, dxs,
                                             NULL, NULL, ex);
    }
    rove_cpu_set_simd(1);
    cr_expect(memcmp(y[0], y[1], ny * sizeof(float)) == 0,
              "geometry %u: outputs differ between the kernels", gi);
    cr_expect(memcmp(dx[0], dx[1], nx * sizeof(float)) == 0,
              "geometry %u: input gradients differ between the kernels", gi);
    for (int k = 0; k < 2; k++) {
      free(y[k]);
      free(dx[k]);
    }
    free(x);
    free(dy);
  }
}
