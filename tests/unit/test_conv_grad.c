/* test_conv_grad.c - conv's output and its parameter and input
 * gradients over batches whose output pixels span several of the GEMMs'
 * chunks, against direct double-precision sums, and the input gradient's
 * independence of the batch. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/kernels/cpu.h"
#include "common/kernels/depthwise.h"
#include "common/kernels/winograd.h"
#include "common/layer.h"
#include "common/layers/util.h"
#include "common/rng.h"

/* The layer gradient test (test_layers.c) runs two examples of a few
 * pixels, which never leave the first chunk of the gathered weight
 * gradient; these geometries run hundreds of pixels per call, so chunk
 * boundaries fall inside examples, and check every weight and bias
 * gradient against the definition dW[k][c][i][j] = sum over b, oh, ow of
 * dy[b][k][oh][ow] * x[b][c'][oh*sh - pt + i*dh][ow*sw - pl + j*dw]. */
typedef struct geom {
  int C, H, W, K, kh, kw, sh, sw, dh, dw, pad, groups, B;
} geom;

static float *rnd(size_t n, uint32_t key) {
  float *v = malloc(sizeof(float) * (n ? n : 1));
  cr_assert(v);
  rove_rng r;
  uint64_t ident[2] = {0x636f6e76u, key};
  rove_rng_init(&r, ident, 2);
  for (size_t i = 0; i < n; i++)
    v[i] = 2.0f * rove_rng_uniform(&r) - 1.0f;
  return v;
}

/* The conv node of geometry g, set up (with a bias). */
static void conv_node(const geom *g, uint32_t key, rove_node *n) {
  memset(n, 0, sizeof *n);
  n->op = ROVE_OP_CONV;
  n->n_in = 1;
  snprintf(n->name, sizeof n->name, "conv%u", key);
  rove_attrs_default(&n->a);
  n->a.out = g->K;
  n->a.kh = g->kh;
  n->a.kw = g->kw;
  n->a.sh = g->sh;
  n->a.sw = g->sw;
  n->a.dh = g->dh;
  n->a.dw = g->dw;
  n->a.pt = n->a.pl = n->a.pb = n->a.pr = g->pad;
  n->a.groups = g->groups;
  n->a.has_bias = 1;
  rove_layer__shape3(&n->ins[0], g->C, g->H, g->W);
  cr_assert_eq(rove_layers[ROVE_OP_CONV]->setup(n), 0, "%s",
               rove_error_message());
}

static void check(const geom *g, uint32_t key) {
  rove_node n;
  conv_node(g, key, &n);
  const rove_layer_ops *ops = rove_layers[ROVE_OP_CONV];
  int B = g->B, OH = n.out.d[1], OW = n.out.d[2], P = OH * OW;
  int Cg = g->C / g->groups, Kg = g->K / g->groups;
  size_t R = (size_t)Cg * g->kh * g->kw, nx = (size_t)B * g->C * g->H * g->W;
  size_t ny = (size_t)B * g->K * P;
  float *x = rnd(nx, key), *dy = rnd(ny, key + 1000);
  float *p = rnd(n.n_params, key + 2000);
  float *dp = malloc(sizeof(float) * n.n_params);
  float *dp2 = malloc(sizeof(float) * n.n_params);
  float *ws = malloc(sizeof(float) * (ops->workspace(&n, B) + 1));
  cr_assert(dp && dp2 && ws);
  /* The backward accumulates: start from 0.5 and take it off again. */
  for (size_t i = 0; i < n.n_params; i++)
    dp[i] = dp2[i] = 0.5f;
  float *none[ROVE_MAX_IN] = {NULL};
  const float *xs[ROVE_MAX_IN] = {x};
  rove_bwd bwd;
  memset(&bwd, 0, sizeof bwd);
  ops->backward(&n, p, B, xs, NULL, dy, none, dp, ws, bwd);
  ops->backward(&n, p, B, xs, NULL, dy, none, dp2, ws, bwd);
  cr_assert_eq(memcmp(dp, dp2, sizeof(float) * n.n_params), 0,
               "conv%u: two runs of the same batch differ", key);
  int bad = 0;
  for (int k = 0; k < g->K; k++) {
    int gi = k / Kg;
    for (size_t r = 0; r < R + 1; r++) {
      /* r == R: the bias. */
      int c = (int)(r / (g->kh * g->kw)), i = (int)(r / g->kw % g->kh);
      int j = (int)(r % g->kw);
      double s = 0, mag = 0;
      for (int b = 0; b < B; b++)
        for (int oh = 0; oh < OH; oh++)
          for (int ow = 0; ow < OW; ow++) {
            double v = dy[((size_t)b * g->K + k) * P + oh * OW + ow];
            if (r < R) {
              int ih = oh * g->sh - g->pad + i * g->dh;
              int iw = ow * g->sw - g->pad + j * g->dw;
              if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W)
                continue;
              v *=
                  x[(((size_t)b * g->C + gi * Cg + c) * g->H + ih) * g->W + iw];
            }
            s += v;
            mag += fabs(v);
          }
      size_t at = r < R ? (size_t)k * R + r : (size_t)g->K * R + k;
      double got = (double)dp[at] - 0.5;
      /* float accumulation of |terms| up to a few thousand long, plus the
       * rounding of the 0.5 start. */
      double tol = 1e-5 * mag + 1e-6;
      if (fabs(got - s) > tol && bad++ < 8)
        cr_log_error("conv%u: dp[%zu] = %.9g, direct sum %.9g (tol %.3g)", key,
                     at, got, s, tol);
    }
  }
  cr_expect_eq(bad, 0, "conv%u: %d parameter gradients wrong", key, bad);

  /* The input gradient, accumulated onto 0.5: dx[b][c'][ih][iw] = sum of
   * W[k][c][i][j] * dy[b][k][oh][ow] over the taps that read it. */
  float *dx = malloc(sizeof(float) * nx), *dx1 = malloc(sizeof(float) * nx);
  double *want = calloc(nx, sizeof(double)), *wmag = calloc(nx, sizeof(double));
  cr_assert(dx && dx1 && want && wmag);
  for (size_t i = 0; i < nx; i++)
    dx[i] = dx1[i] = 0.5f;
  float *dxs[ROVE_MAX_IN] = {dx};
  ops->backward(&n, p, B, xs, NULL, dy, dxs, NULL, ws, bwd);
  for (int b = 0; b < B; b++)
    for (int k = 0; k < g->K; k++)
      for (size_t r = 0; r < R; r++) {
        int gi = k / Kg, c = (int)(r / (g->kh * g->kw));
        int i = (int)(r / g->kw % g->kh), j = (int)(r % g->kw);
        double w = p[(size_t)k * R + r];
        for (int oh = 0; oh < OH; oh++)
          for (int ow = 0; ow < OW; ow++) {
            int ih = oh * g->sh - g->pad + i * g->dh;
            int iw = ow * g->sw - g->pad + j * g->dw;
            if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W)
              continue;
            size_t at =
                (((size_t)b * g->C + gi * Cg + c) * g->H + ih) * g->W + iw;
            double t = w * dy[((size_t)b * g->K + k) * P + oh * OW + ow];
            want[at] += t;
            wmag[at] += fabs(t);
          }
      }
  bad = 0;
  for (size_t i = 0; i < nx; i++) {
    double got = (double)dx[i] - 0.5, tol = 1e-5 * wmag[i] + 1e-6;
    if (fabs(got - want[i]) > tol && bad++ < 8)
      cr_log_error("conv%u: dx[%zu] = %.9g, direct sum %.9g (tol %.3g)", key, i,
                   got, want[i], tol);
  }
  cr_expect_eq(bad, 0, "conv%u: %d input gradients wrong", key, bad);
  /* Each example alone (batch 1) gives the same bits as inside the
   * batch. */
  size_t xe = (size_t)g->C * g->H * g->W, ye = (size_t)g->K * P;
  for (int b = 0; b < B; b++) {
    const float *xb[ROVE_MAX_IN] = {x + b * xe};
    float *db[ROVE_MAX_IN] = {dx1 + b * xe};
    ops->backward(&n, p, 1, xb, NULL, dy + b * ye, db, NULL, ws, bwd);
    cr_expect_eq(memcmp(dx1 + b * xe, dx + b * xe, sizeof(float) * xe), 0,
                 "conv%u: example %d's input gradient differs between batch "
                 "%d and batch 1",
                 key, b, B);
  }
  /* The portable kernels (what the aarch64 boards run) give the same
   * bits as the SIMD ones. */
  for (size_t i = 0; i < nx; i++)
    dx1[i] = 0.5f;
  rove_cpu_set_simd(0);
  ops->backward(&n, p, B, xs, NULL, dy, (float *[ROVE_MAX_IN]){dx1}, NULL, ws,
                bwd);
  rove_cpu_set_simd(1);
  cr_expect_eq(memcmp(dx1, dx, sizeof(float) * nx), 0,
               "conv%u: the portable input gradient differs from the SIMD one",
               key);
  /* The forward against the definition: the same geometries run the
   * gathering forward (no padding) with its 8 x 8 transposed stores, and
   * the packed one. */
  float *y = malloc(sizeof(float) * ny);
  cr_assert(y);
  ops->forward(&n, p, B, xs, y, ws);
  bad = 0;
  for (int b = 0; b < B; b++)
    for (int k = 0; k < g->K; k++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          int gi = k / Kg;
          double acc = p[(size_t)g->K * R + k], mag = fabs(acc);
          for (size_t r = 0; r < R; r++) {
            int c = (int)(r / (g->kh * g->kw)), i = (int)(r / g->kw % g->kh);
            int j = (int)(r % g->kw);
            int ih = oh * g->sh - g->pad + i * g->dh;
            int iw = ow * g->sw - g->pad + j * g->dw;
            if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W)
              continue;
            double t =
                (double)p[(size_t)k * R + r] *
                x[(((size_t)b * g->C + gi * Cg + c) * g->H + ih) * g->W + iw];
            acc += t;
            mag += fabs(t);
          }
          size_t at = ((size_t)b * g->K + k) * P + oh * OW + ow;
          if (fabs(y[at] - acc) > 1e-6 * mag + 1e-7 && bad++ < 8)
            cr_log_error("conv%u: y[%zu] = %.9g, direct sum %.9g", key, at,
                         (double)y[at], acc);
        }
  cr_expect_eq(bad, 0, "conv%u: %d outputs wrong", key, bad);
  free(y);
  free(dx);
  free(dx1);
  free(want);
  free(wmag);
  free(x);
  free(dy);
  free(p);
  free(dp);
  free(dp2);
  free(ws);
}

Test(conv_grad, plain_3x3_many_chunks) {
  /* 7x9 = 63 output pixels per example, 11 examples: 693 pixels, chunk
   * boundaries inside examples. */
  geom g = {3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 0, 1, 11};
  check(&g, 1);
}

Test(conv_grad, strides_dilation_groups) {
  geom g = {4, 13, 12, 6, 3, 2, 2, 1, 2, 3, 0, 2, 9};
  check(&g, 2);
}

Test(conv_grad, one_by_one_and_wide_output) {
  /* 1x1 convolution; 17 output channels (two panels, one mostly padding). */
  geom g = {5, 7, 8, 17, 1, 1, 1, 1, 1, 1, 0, 1, 13};
  check(&g, 3);
}

Test(conv_grad, padded_fallback) {
  geom g = {3, 8, 9, 4, 3, 3, 2, 2, 1, 1, 1, 1, 6};
  check(&g, 4);
}

Test(conv_grad, smallcnn_second_layer) {
  /* SmallCNN x1's second convolution at a batch of 3. */
  geom g = {32, 26, 26, 32, 3, 3, 1, 1, 1, 1, 0, 1, 3};
  check(&g, 5);
}

/* Geometries for the input gradient's paths (see conv.c). */
static const geom paths[] = {
    /* Rows wider than one vector with padded edges: 5-wide kernel,
     * padding 2, dilation 2 (output 15 wide); a plain 3x3 over rows of
     * exactly 8 and 9 columns; a 2x2 kernel over rows of 20. Few
     * channels: the GEMM and scatter path. */
    {2, 12, 19, 5, 5, 5, 1, 1, 2, 2, 2, 1, 4},
    {3, 10, 8, 4, 3, 3, 1, 1, 1, 1, 0, 1, 5},
    {3, 10, 9, 4, 3, 3, 1, 1, 1, 1, 1, 1, 5},
    {2, 6, 20, 3, 2, 2, 1, 1, 1, 1, 0, 1, 7},
    /* The backward as a forward convolution over the padded dy (stride
     * 1, >= 8 input channels per group, little padding work): padding 1
     * with groups, dilation 2 with padding 2, a rectangular kernel. */
    {16, 12, 13, 8, 3, 3, 1, 1, 1, 1, 1, 2, 3},
    {8, 14, 15, 6, 3, 3, 1, 1, 2, 2, 2, 1, 3},
    {8, 9, 17, 5, 2, 4, 1, 1, 1, 1, 1, 1, 4},
    /* Just past its threshold (the padding adds 44%): GEMM and scatter
     * again, at the same channel counts. */
    {32, 12, 12, 16, 3, 3, 1, 1, 1, 1, 0, 1, 2},
    /* Rows of 70 columns: more blocks than the scatter keeps masks for. */
    {3, 5, 70, 4, 3, 3, 1, 1, 1, 1, 1, 1, 3},
    /* 1x1 convolutions with >= 8 input channels: on a map of 8x8 or less
     * and where the convolution widens, the packed W^T dy GEMM; else the
     * correlation. */
    {12, 3, 3, 20, 1, 1, 1, 1, 1, 1, 0, 1, 5},
    {8, 9, 9, 20, 1, 1, 1, 1, 1, 1, 0, 1, 2},
    {16, 10, 10, 8, 1, 1, 1, 1, 1, 1, 0, 1, 2},
};

Test(conv_grad, input_gradient_paths) {
  for (unsigned i = 0; i < sizeof paths / sizeof paths[0]; i++)
    check(&paths[i], 6 + i);
}

/* ---- the direct depthwise kernels (common/kernels/depthwise.c) --------- */

/* Depthwise geometries (groups = C = K) covering the kernels' edges: rows
 * past one AVX-512 vector with a scalar tail, maps narrower than a vector,
 * channels not a multiple of anything, odd sizes, no padding, stride 2 (the
 * scatter backward), a 5x5 kernel, asymmetric maps. */
static const geom dw_geoms[] = {
    {5, 9, 19, 5, 3, 3, 1, 1, 1, 1, 1, 5, 4},
    {3, 8, 7, 3, 3, 3, 2, 2, 1, 1, 1, 3, 3},
    {17, 12, 33, 17, 3, 3, 1, 1, 1, 1, 1, 17, 2},
    {4, 10, 10, 4, 5, 5, 1, 1, 1, 1, 2, 4, 3},
    {6, 7, 9, 6, 3, 3, 1, 1, 1, 1, 0, 6, 2},
    {2, 11, 40, 2, 3, 3, 2, 2, 1, 1, 1, 2, 2},
    {8, 4, 4, 8, 3, 3, 1, 1, 1, 1, 1, 8, 5},
    /* maps narrower than a vector (no padded copy): 2x2 and 7x3 */
    {12, 2, 2, 12, 3, 3, 1, 1, 1, 1, 1, 12, 6},
    {5, 7, 3, 5, 3, 3, 1, 1, 1, 1, 1, 5, 3},
    /* channels as lanes (>= 8 channels, strided or small): a block of 16
     * and a tail of 4; stride 2 by 1 with a 5x5 kernel */
    {20, 9, 12, 20, 3, 3, 2, 2, 1, 1, 1, 20, 3},
    {10, 6, 5, 10, 5, 5, 2, 1, 1, 1, 2, 10, 2},
};

/* y, dx (from 0.5) and dp (from 0.5) of one geometry at kernel level
 * `form` (rove_cpu_set_level), or with -2 on the im2col path the depthwise
 * kernels replaced. */
static void dw_run(const geom *g, int form, float **y, float **dx, float **dp,
                   size_t *ny, size_t *nx, size_t *np) {
  rove_node n;
  rove_dw_enable(form != -2);
  rove_cpu_set_level(form == -2 ? -1 : form);
  conv_node(g, 0, &n);
  const rove_layer_ops *ops = rove_layers[ROVE_OP_CONV];
  *nx = (size_t)g->B * g->C * g->H * g->W;
  *ny = (size_t)g->B * g->K * n.out.d[1] * n.out.d[2];
  *np = n.n_params;
  float *x = rnd(*nx, 77), *dyv = rnd(*ny, 78), *p = rnd(*np, 79);
  float *ws = malloc(sizeof(float) * (ops->workspace(&n, g->B) + 1));
  *y = malloc(sizeof(float) * *ny);
  *dx = malloc(sizeof(float) * *nx);
  *dp = malloc(sizeof(float) * *np);
  cr_assert(ws && *y && *dx && *dp);
  for (size_t i = 0; i < *nx; i++)
    (*dx)[i] = 0.5f;
  for (size_t i = 0; i < *np; i++)
    (*dp)[i] = 0.5f;
  const float *xs[ROVE_MAX_IN] = {x};
  float *dxs[ROVE_MAX_IN] = {*dx};
  rove_bwd bwd;
  memset(&bwd, 0, sizeof bwd);
  ops->forward(&n, p, g->B, xs, *y, ws);
  ops->backward(&n, p, g->B, xs, NULL, dyv, dxs, *dp, ws, bwd);
  rove_dw_enable(1);
  rove_cpu_set_level(-1);
  free(x);
  free(dyv);
  free(p);
  free(ws);
}

Test(conv_grad, depthwise_direct_kernels) {
  for (unsigned gi = 0; gi < sizeof dw_geoms / sizeof dw_geoms[0]; gi++) {
    const geom *g = &dw_geoms[gi];
    /* The definition in double, batch-1 identity, portable == SIMD. */
    check(g, 100 + gi);
    /* Every form gives the same bits: portable, AVX2, AVX-512 (a form
     * the CPU lacks falls back, and then compares with itself). */
    float *y0, *dx0, *dp0;
    size_t ny, nx, np;
    dw_run(g, 0, &y0, &dx0, &dp0, &ny, &nx, &np);
    for (int form = 1; form <= 2; form++) {
      float *y, *dx, *dp;
      dw_run(g, form, &y, &dx, &dp, &ny, &nx, &np);
      cr_expect_eq(memcmp(y, y0, sizeof(float) * ny), 0,
                   "depthwise %u: form %d forward differs from portable", gi,
                   form);
      cr_expect_eq(memcmp(dx, dx0, sizeof(float) * nx), 0,
                   "depthwise %u: form %d input gradient differs", gi, form);
      cr_expect_eq(memcmp(dp, dp0, sizeof(float) * np), 0,
                   "depthwise %u: form %d parameter gradient differs", gi,
                   form);
      free(y);
      free(dx);
      free(dp);
    }
    /* Against the im2col path it replaces: the forward is the same fma
     * chain over the taps (same bits); the gradients sum in another order
     * (close). */
    float *y1, *dx1, *dp1;
    dw_run(g, -2, &y1, &dx1, &dp1, &ny, &nx, &np);
    cr_expect_eq(memcmp(y1, y0, sizeof(float) * ny), 0,
                 "depthwise %u: forward differs from the im2col path", gi);
    for (size_t i = 0; i < nx; i++)
      cr_expect(fabsf(dx1[i] - dx0[i]) <= 1e-5f * (1 + fabsf(dx0[i])),
                "depthwise %u: dx[%zu] %.9g vs im2col %.9g", gi, i,
                (double)dx0[i], (double)dx1[i]);
    for (size_t i = 0; i < np; i++)
      cr_expect(fabsf(dp1[i] - dp0[i]) <= 1e-4f * (1 + fabsf(dp0[i])),
                "depthwise %u: dp[%zu] %.9g vs im2col %.9g", gi, i,
                (double)dp0[i], (double)dp1[i]);
    free(y0);
    free(dx0);
    free(dp0);
    free(y1);
    free(dx1);
    free(dp1);
  }
  printf("depthwise forms compared: portable, AVX2, AVX-512 (this CPU runs "
         "form %d)\n",
         rove_cpu_level());
}

/* ---- Winograd F(2x2, 3x3) (common/kernels/winograd.c) ------------------ */

/* Odd maps (a cropped last tile), padding 0, 1 and 2, channel counts not
 * multiples of the GEMM's tiles, a batch whose tiles cross chunks, maps
 * 32 and 34 wide (16 and 17 tiles a row: panels of 16 tiles side by side,
 * read as strided loads and written whole, beside panels that wrap): in
 * mode all, against the double sums, batch 1 = batch B and portable =
 * SIMD (check). The last geometry takes the default policy (256
 * channels). */
Test(conv_grad, winograd_f2x2_3x3) {
  static const geom wg[] = {
      {16, 9, 11, 16, 3, 3, 1, 1, 1, 1, 1, 1, 3},
      {20, 7, 8, 17, 3, 3, 1, 1, 1, 1, 0, 1, 2},
      {16, 6, 6, 24, 3, 3, 1, 1, 1, 1, 2, 1, 2},
      {3, 10, 12, 5, 3, 3, 1, 1, 1, 1, 1, 1, 4},
      {8, 33, 30, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2},
      {3, 5, 32, 4, 3, 3, 1, 1, 1, 1, 1, 1, 3},
      {4, 6, 34, 5, 3, 3, 1, 1, 1, 1, 0, 1, 2},
  };
  rove_wino_set_mode(ROVE_WINO_ALL);
  for (unsigned i = 0; i < sizeof wg / sizeof wg[0]; i++)
    check(&wg[i], 200 + i);
  rove_wino_set_mode(ROVE_WINO_AUTO);
  geom big = {256, 4, 4, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  rove_conv_geom t = {.C = 256,
                      .K = 256,
                      .G = 1,
                      .Cg = 256,
                      .Kg = 256,
                      .kh = 3,
                      .kw = 3,
                      .sh = 1,
                      .sw = 1,
                      .dh = 1,
                      .dw = 1,
                      .H = 4,
                      .W = 4,
                      .OH = 4,
                      .OW = 4,
                      .pt = 1,
                      .pl = 1};
  cr_assert(rove_wino_use(&t, 1) && rove_wino_use(&t, 0),
            "the default policy: 256 channels take Winograd");
  rove_conv_geom few = t;
  few.C = few.Cg = ROVE_WINO_MIN_CHANNELS - 1;
  cr_assert(!rove_wino_use(&few, 0) && !rove_wino_use(&few, 1),
            "the default policy: too few input channels for Winograd");
  rove_conv_geom full = t; /* unpadded: its input gradient's map is 10x10 */
  full.H = full.W = 10;
  full.OH = full.OW = 8;
  full.pt = full.pl = 0;
  cr_assert(rove_wino_use(&full, 0) && !rove_wino_use(&full, 1),
            "the default policy: an unpadded 8x8 convolution's input gradient "
            "(25 tiles, 400 multiplies against 576) stays direct");
  rove_conv_geom s2 = t;
  s2.sh = s2.sw = 2;
  s2.OH = s2.OW = 2;
  cr_assert(!rove_wino_use(&s2, 0), "stride 2 is not Winograd's");
  check(&big, 210);
}
