/* conv.c - 2-D convolution (groups, stride, dilation, 4-sided padding) by
 * im2col + sgemm, one example at a time. */
#include <cblas.h>
#include <string.h>

#include "common/err.h"
#include "common/layers/util.h"

/* Params: W[K][C/groups][kh][kw], then bias[K] when has_bias (the ONNX and
 * PyTorch layout). Input {C, H, W}, output {K, OH, OW}.
 *
 * Every GEMM is per example and per group, with shapes that do not depend
 * on the batch size B, so per-example results are bit-identical for any B
 * (the exec's contract). */

typedef struct conv_geom {
  int C, H, W, K, OH, OW, G, Cg, Kg, R; /* R = Cg*kh*kw rows of col */
  int kh, kw, sh, sw, pt, pl, dh, dw;
  int direct; /* 1x1, stride 1, no padding: col is the input itself */
} conv_geom;

static void conv_geom_of(const rove_node *n, conv_geom *g) {
  const rove_attrs *a = &n->a;
  g->C = n->ins[0].d[0];
  g->H = n->ins[0].d[1];
  g->W = n->ins[0].d[2];
  g->K = n->out.d[0];
  g->OH = n->out.d[1];
  g->OW = n->out.d[2];
  g->G = a->groups;
  g->Cg = g->C / g->G;
  g->Kg = g->K / g->G;
  g->kh = a->kh;
  g->kw = a->kw;
  g->sh = a->sh;
  g->sw = a->sw;
  g->pt = a->pt;
  g->pl = a->pl;
  g->dh = a->dh;
  g->dw = a->dw;
  g->R = g->Cg * g->kh * g->kw;
  g->direct = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 &&
              a->pt == 0 && a->pl == 0 && a->pb == 0 && a->pr == 0;
}

static int conv_setup(rove_node *n) {
  const rove_attrs *a = &n->a;
  ROVE_TRY(rove_layer__want_inputs(n, 1));
  ROVE_TRY(rove_layer__check_window(n));
  int C = n->ins[0].d[0], H = n->ins[0].d[1], W = n->ins[0].d[2];
  if (a->out < 1)
    return ROVE_ERR(ROVE_EINVAL, "node '%s' (conv): %d output channels",
                    n->name, a->out);
  if (a->groups < 1 || C % a->groups || a->out % a->groups)
    return ROVE_ERR(ROVE_ESHAPE,
                    "node '%s' (conv): groups %d must divide both the input "
                    "channels %d and the output channels %d",
                    n->name, a->groups, C, a->out);
  int kh = (a->kh - 1) * a->dh + 1, kw = (a->kw - 1) * a->dw + 1;
  int OH = H + a->pt + a->pb - kh, OW = W + a->pl + a->pr - kw;
  if (OH < 0 || OW < 0)
    return ROVE_ERR(ROVE_ESHAPE,
                    "node '%s' (conv): %dx%d kernel (dilated) does not fit "
                    "the padded %dx%d input",
                    n->name, kh, kw, H + a->pt + a->pb, W + a->pl + a->pr);
  rove_layer__shape3(&n->out, a->out, OH / a->sh + 1, OW / a->sw + 1);
  n->n_params =
      (size_t)a->out * (size_t)(C / a->groups) * (size_t)a->kh * (size_t)a->kw +
      (a->has_bias ? (size_t)a->out : 0);
  n->n_trainable = n->n_params;
  return 0;
}

/* Backward to the input of a stride-1 convolution is itself a stride-1
 * correlation of dy with the flipped, transposed kernel
 * Wt[c][k][kh-1-i][kw-1-j] = W[k][c][i][j], padded by dh*(kh-1) - pt on
 * top and dw*(kw-1) - pl on the left. Its GEMM has the long inner
 * dimension Kg*kh*kw, where dcol = W^T dy has only Kg, and it writes dx
 * directly instead of a dcol buffer that col2im scatters. Sets *t to the
 * geometry of that correlation and returns 1 when it applies. */
static int transposed_geom(const conv_geom *g, conv_geom *t) {
  if (g->direct || g->sh != 1 || g->sw != 1)
    return 0;
  *t = *g;
  t->Cg = g->Kg;
  t->Kg = g->Cg;
  t->H = g->OH;
  t->W = g->OW;
  t->OH = g->H;
  t->OW = g->W;
  t->pt = g->dh * (g->kh - 1) - g->pt;
  t->pl = g->dw * (g->kw - 1) - g->pl;
  t->R = g->Kg * g->kh * g->kw;
  return t->pt >= 0 && t->pl >= 0;
}

static size_t conv_workspace(const rove_node *n, int B) {
  conv_geom g, t;
  (void)B;
  conv_geom_of(n, &g);
  size_t fwd = g.direct ? 0 : (size_t)g.R * (size_t)g.OH * (size_t)g.OW;
  if (!transposed_geom(&g, &t))
    return fwd;
  /* Backward: the flipped weights, then one column buffer for either
   * im2col. */
  size_t col = (size_t)t.R * (size_t)t.OH * (size_t)t.OW;
  return (size_t)g.K * (size_t)g.R + (fwd > col ? fwd : col);
}

/* Wt for all groups: per group a Cg x (Kg*kh*kw) matrix. */
static void flip_weights(const conv_geom *g, const float *W, float *Wt) {
  int khw = g->kh * g->kw;
  for (int gi = 0; gi < g->G; gi++) {
    const float *Wg = W + (size_t)gi * g->Kg * g->R;
    float *Tg = Wt + (size_t)gi * g->Kg * g->R;
    for (int c = 0; c < g->Cg; c++)
      for (int k = 0; k < g->Kg; k++)
        for (int q = 0; q < khw; q++)
          Tg[((size_t)c * g->Kg + k) * khw + (khw - 1 - q)] =
              Wg[((size_t)k * g->Cg + c) * khw + q];
  }
}

/* col[(c*kh + i)*kw + j][oh*OW + ow] = x[c][oh*sh - pt + i*dh][ow*sw - pl +
 * j*dw], zero in the padding. x: Cg x H x W, col: R x (OH*OW). */
static void im2col(const conv_geom *g, const float *x, float *col) {
  for (int c = 0; c < g->Cg; c++)
    for (int i = 0; i < g->kh; i++)
      for (int j = 0; j < g->kw; j++) {
        float *row =
            col + (size_t)((c * g->kh + i) * g->kw + j) * g->OH * g->OW;
        int woff = j * g->dw - g->pl;
        /* Output columns whose input column lies inside [0, W). */
        int ow0 = woff >= 0 ? 0 : (-woff + g->sw - 1) / g->sw;
        int ow1 = (g->W - woff + g->sw - 1) / g->sw;
        if (ow0 > g->OW)
          ow0 = g->OW;
        if (ow1 > g->OW)
          ow1 = g->OW;
        if (ow1 < ow0)
          ow1 = ow0;
        for (int oh = 0; oh < g->OH; oh++) {
          float *r = row + (size_t)oh * g->OW;
          int ih = oh * g->sh - g->pt + i * g->dh;
          if (ih < 0 || ih >= g->H) {
            memset(r, 0, sizeof(float) * (size_t)g->OW);
            continue;
          }
          const float *xr = x + ((size_t)c * g->H + ih) * g->W + woff;
          for (int ow = 0; ow < ow0; ow++)
            r[ow] = 0;
          /* A plain loop: rows are short (tens of floats), where a memcpy
           * call costs more than the copy. */
          if (g->sw == 1)
            for (int ow = ow0; ow < ow1; ow++)
              r[ow] = xr[ow];
          else
            for (int ow = ow0; ow < ow1; ow++)
              r[ow] = xr[ow * g->sw];
          for (int ow = ow1; ow < g->OW; ow++)
            r[ow] = 0;
        }
      }
}

/* The adjoint of im2col: dx += scatter(dcol). */
static void col2im(const conv_geom *g, const float *col, float *dx) {
  for (int c = 0; c < g->Cg; c++)
    for (int i = 0; i < g->kh; i++)
      for (int j = 0; j < g->kw; j++) {
        const float *row =
            col + (size_t)((c * g->kh + i) * g->kw + j) * g->OH * g->OW;
        int woff = j * g->dw - g->pl;
        int ow0 = woff >= 0 ? 0 : (-woff + g->sw - 1) / g->sw;
        int ow1 = (g->W - woff + g->sw - 1) / g->sw;
        if (ow1 > g->OW)
          ow1 = g->OW;
        for (int oh = 0; oh < g->OH; oh++) {
          int ih = oh * g->sh - g->pt + i * g->dh;
          if (ih < 0 || ih >= g->H)
            continue;
          const float *r = row + (size_t)oh * g->OW;
          float *xr = dx + ((size_t)c * g->H + ih) * g->W + woff;
          if (g->sw == 1)
            for (int ow = ow0; ow < ow1; ow++)
              xr[ow] += r[ow];
          else
            for (int ow = ow0; ow < ow1; ow++)
              xr[ow * g->sw] += r[ow];
        }
      }
}

/* x: B x C x H x W, y: B x K x OH x OW. */
static void conv_forward(const rove_node *n, const float *p, int B,
                         const float *const *x, float *y, float *ws) {
  conv_geom g;
  conv_geom_of(n, &g);
  int P = g.OH * g.OW;
  const float *bias = n->a.has_bias ? p + (size_t)g.K * g.R : NULL;
  for (int b = 0; b < B; b++) {
    const float *xb = x[0] + (size_t)b * g.C * g.H * g.W;
    float *yb = y + (size_t)b * g.K * P;
    for (int k = 0; k < g.K; k++) {
      float v = bias ? bias[k] : 0.0f;
      for (int q = 0; q < P; q++)
        yb[(size_t)k * P + q] = v;
    }
    for (int gi = 0; gi < g.G; gi++) {
      const float *xg = xb + (size_t)gi * g.Cg * g.H * g.W;
      const float *col = xg;
      if (!g.direct) {
        im2col(&g, xg, ws);
        col = ws;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.Kg, P, g.R, 1.0f,
                  p + (size_t)gi * g.Kg * g.R, g.R, col, P, 1.0f,
                  yb + (size_t)gi * g.Kg * P, P);
    }
  }
}

static void conv_backward(const rove_node *n, const float *p, int B,
                          const float *const *x, const float *y,
                          const float *dy, float *const *dx, float *dp,
                          float *ws, rove_bwd bwd) {
  conv_geom g, t;
  (void)y;
  (void)bwd;
  conv_geom_of(n, &g);
  int P = g.OH * g.OW;
  int tr = dx[0] && transposed_geom(&g, &t);
  float *Wt = ws, *buf = ws + (tr ? (size_t)g.K * g.R : 0);
  if (tr)
    flip_weights(&g, p, Wt);
  float *dbias = dp && n->a.has_bias ? dp + (size_t)g.K * g.R : NULL;
  for (int b = 0; b < B; b++) {
    const float *xb = x[0] + (size_t)b * g.C * g.H * g.W;
    const float *dyb = dy + (size_t)b * g.K * P;
    if (dbias)
      for (int k = 0; k < g.K; k++) {
        float s = 0;
        for (int q = 0; q < P; q++)
          s += dyb[(size_t)k * P + q];
        dbias[k] += s;
      }
    for (int gi = 0; gi < g.G; gi++) {
      const float *Wg = p + (size_t)gi * g.Kg * g.R;
      const float *dyg = dyb + (size_t)gi * g.Kg * P;
      if (dp) {
        const float *xg = xb + (size_t)gi * g.Cg * g.H * g.W;
        const float *col = xg;
        if (!g.direct) {
          im2col(&g, xg, buf);
          col = buf;
        }
        /* dW_g (Kg x R) += dy_g (Kg x P) . col^T (P x R) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.Kg, g.R, P, 1.0f,
                    dyg, P, col, P, 1.0f, dp + (size_t)gi * g.Kg * g.R, g.R);
      }
      if (dx[0]) {
        float *dxg = dx[0] + ((size_t)b * g.C + (size_t)gi * g.Cg) * g.H * g.W;
        if (tr) {
          /* dx_g (Cg x HW) += Wt_g (Cg x Kg*kh*kw) . col(dy_g) */
          im2col(&t, dyg, buf);
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g.Cg,
                      g.H * g.W, t.R, 1.0f, Wt + (size_t)gi * g.Kg * g.R, t.R,
                      buf, g.H * g.W, 1.0f, dxg, g.H * g.W);
        } else if (g.direct) {
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g.R, P, g.Kg,
                      1.0f, Wg, g.R, dyg, P, 1.0f, dxg, P);
        } else {
          /* dcol (R x P) = W_g^T (R x Kg) . dy_g (Kg x P) */
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, g.R, P, g.Kg,
                      1.0f, Wg, g.R, dyg, P, 0.0f, buf, P);
          col2im(&g, buf, dxg);
        }
      }
    }
  }
}

static double conv_macs(const rove_node *n) {
  conv_geom g;
  conv_geom_of(n, &g);
  return (double)g.K * g.R * g.OH * g.OW;
}

static int conv_example(int variant, rove_attrs *a, rove_shape *ins,
                        int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  a->kh = a->kw = 3;
  a->has_bias = 1;
  switch (variant) {
  case 0: /* plain 3x3 */
    rove_layer__shape3(&ins[0], 3, 6, 7);
    a->out = 4;
    return 1;
  case 1: /* rectangular kernel, strides, asymmetric padding, groups */
    rove_layer__shape3(&ins[0], 4, 8, 7);
    a->out = 6;
    a->kh = 3;
    a->kw = 2;
    a->sh = 2;
    a->sw = 1;
    a->pt = 1;
    a->pl = 0;
    a->pb = 2;
    a->pr = 1;
    a->groups = 2;
    return 1;
  case 2: /* dilation, no bias */
    rove_layer__shape3(&ins[0], 2, 9, 8);
    a->out = 3;
    a->dh = 2;
    a->dw = 2;
    a->pt = a->pl = a->pb = a->pr = 2;
    a->has_bias = 0;
    return 1;
  case 3: /* depthwise, stride 2, padding 1 */
    rove_layer__shape3(&ins[0], 4, 7, 6);
    a->out = 4;
    a->groups = 4;
    a->sh = a->sw = 2;
    a->pt = a->pl = a->pb = a->pr = 1;
    return 1;
  case 4: /* 1x1 (the direct path) */
    rove_layer__shape3(&ins[0], 5, 4, 5);
    a->out = 3;
    a->kh = a->kw = 1;
    return 1;
  case 5: /* 1x1 with stride 2 and groups (im2col path) */
    rove_layer__shape3(&ins[0], 4, 5, 5);
    a->out = 2;
    a->kh = a->kw = 1;
    a->sh = a->sw = 2;
    a->groups = 2;
    return 1;
  case 6: /* stride 3 with horizontal stride and left padding */
    rove_layer__shape3(&ins[0], 2, 7, 9);
    a->out = 2;
    a->sh = 1;
    a->sw = 3;
    a->pl = 2;
    a->pr = 1;
    return 1;
  case 7: /* stride 1 with groups and asymmetric padding (the transposed
           * backward path) */
    rove_layer__shape3(&ins[0], 4, 6, 5);
    a->out = 6;
    a->groups = 2;
    a->kh = 3;
    a->kw = 2;
    a->pt = 2;
    a->pl = 0;
    a->pb = 1;
    a->pr = 1;
    return 1;
  default: return 0;
  }
}

const rove_layer_ops rove_layer_conv = {
    .name = "conv",
    .flags = 0,
    .setup = conv_setup,
    .workspace = conv_workspace,
    .forward = conv_forward,
    .backward = conv_backward,
    .macs = conv_macs,
    .example = conv_example,
};
