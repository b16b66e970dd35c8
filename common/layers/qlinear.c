/* qlinear.c - the integer operators of ONNX's operator ("QOperator")
 * format, computed as the deployed int8 runtime computes them, on tensors
 * that hold quantized integers (q-domain values stored as floats, exact
 * for every 8-bit and 16-bit integer):
 *   quantize    QuantizeLinear onto a q-domain tensor
 *   dequantize  DequantizeLinear back to real values
 *   qconv       QLinearConv and QLinearMatMul (rank-1 input: a matrix
 *               product with weight [out][in])
 *   convint     ConvInteger and MatMulInteger: the int32 accumulator itself
 *   qadd        QLinearAdd (com.microsoft)
 *   qavgpool    QLinearAveragePool and QLinearGlobalAveragePool
 *               (com.microsoft; kh = 0 means global)
 *
 * Arithmetic (common/ONNX.md, "Quantized operators"): products and sums of
 * (x - x_zero_point) (w - w_zero_point), exact (every term an integer,
 * summed in double, exact below 2^53; ONNX says int32, and the two agree
 * wherever int32 does not overflow), plus the int32 bias; requantization as
 * onnxruntime's MlasRequantizeOutput does it, in float32: multiplier M =
 * (x_scale * w_scale) / y_scale, v = float(acc) * M, y = clamp(rint(v) +
 * y_zero_point, qmin, qmax) with rint rounding half to even. QLinearAdd: v =
 * (a_scale / c_scale) * float(a - a_zp) + (b_scale / c_scale) * float(b -
 * b_zp); average pools: v = float(sum of (x - x_zp)) * (x_scale / (y_scale *
 * float(count))).
 *
 * Backward (BPDA): each operator is the fake-quantized float operator seen
 * in the q-domain, so its straight-through gradient is the exact gradient
 * of v (rounding removed): qconv dx = M * W^T dy, qadd da = dy * a_s/c_s,
 * and so on; the clipped STE also zeroes dy where v + zero point lies
 * outside [qmin, qmax] (the output saturates). Exact mode gives 0: these
 * nodes are non-differentiable (ROVE_OPF_NONDIFF). The `surrogate` forward
 * computes clamp(v + zero point, qmin, qmax) without rounding, the function
 * the clipped STE differentiates, for the tests and the attacks' transfer
 * check. convint and dequantize are linear in their q-domain input and
 * have exact gradients (convint sums in double: exact for the integers it
 * is given, and linear between them). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/err.h"
#include "common/layers/util.h"

static inline int32_t qi(float v) {
  return (int32_t)lrintf(v);
}

static inline float clampf(float v, float lo, float hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

static int check_range(const rove_node *n, const char *op) {
  if (n->a.qmin >= n->a.qmax)
    return ROVE_ERR(ROVE_EINVAL, "node '%s' (%s): qmin %d is not below qmax %d",
                    n->name, op, n->a.qmin, n->a.qmax);
  return 0;
}

/* ---- quantize / dequantize ----------------------------------------- */

/* Params: scale, zero point (per tensor). */
static int quantize_setup(rove_node *n) {
  ROVE_TRY(rove_layer__setup_unary(n));
  ROVE_TRY(check_range(n, rove_layers[n->op]->name));
  n->n_params = 2;
  n->n_trainable = 0;
  return 0;
}

static void quantize_forward(const rove_node *n, const float *p, int B,
                             const float *const *x, float *y, float *ws) {
  size_t T = (size_t)B * (size_t)rove_shape_numel(&n->out);
  float s = p[0], zp = (float)qi(p[1]);
  (void)ws;
  for (size_t i = 0; i < T; i++)
    y[i] = clampf(rintf(x[0][i] / s) + zp, (float)n->a.qmin, (float)n->a.qmax);
}

static void quantize_surrogate(const rove_node *n, const float *p, int B,
                               const float *const *x, float *y,
                               unsigned char *sat) {
  size_t T = (size_t)B * (size_t)rove_shape_numel(&n->out);
  float s = p[0], zp = (float)qi(p[1]);
  for (size_t i = 0; i < T; i++) {
    float v = x[0][i] / s + zp;
    y[i] = clampf(v, (float)n->a.qmin, (float)n->a.qmax);
    if (sat)
      sat[i] = y[i] != v;
  }
}

static void quantize_backward(const rove_node *n, const float *p, int B,
                              const float *const *x, const float *y,
                              const float *dy, float *const *dx, float *dp,
                              float *ws, rove_bwd bwd) {
  size_t T = (size_t)B * (size_t)rove_shape_numel(&n->out);
  float s = p[0], zp = (float)qi(p[1]);
  (void)y;
  (void)dp;
  (void)ws;
  if (!dx[0] || (bwd.mode != ROVE_BWD_STE && bwd.mode != ROVE_BWD_CLIPPED_STE))
    return;
  for (size_t i = 0; i < T; i++) {
    float v = x[0][i] / s + zp;
    if (bwd.mode == ROVE_BWD_CLIPPED_STE &&
        (v < (float)n->a.qmin || v > (float)n->a.qmax))
      continue;
    dx[0][i] += dy[i] / s;
  }
}

static int quantize_example(int variant, rove_attrs *a, rove_shape *ins,
                            int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  switch (variant) {
  case 0: rove_layer__shape3(&ins[0], 2, 3, 3); return 1;
  case 1:
    rove_layer__shape1(&ins[0], 7);
    a->qmin = -128;
    a->qmax = 127;
    return 1;
  default: return 0;
  }
}

static int dequantize_setup(rove_node *n) {
  ROVE_TRY(rove_layer__setup_unary(n));
  n->n_params = 2;
  n->n_trainable = 0;
  return 0;
}

static void dequantize_forward(const rove_node *n, const float *p, int B,
                               const float *const *x, float *y, float *ws) {
  size_t T = (size_t)B * (size_t)rove_shape_numel(&n->out);
  float s = p[0], zp = (float)qi(p[1]);
  (void)ws;
  for (size_t i = 0; i < T; i++)
    y[i] = (x[0][i] - zp) * s;
}

static void dequantize_backward(const rove_node *n, const float *p, int B,
                                const float *const *x, const float *y,
                                const float *dy, float *const *dx, float *dp,
                                float *ws, rove_bwd bwd) {
  size_t T = (size_t)B * (size_t)rove_shape_numel(&n->out);
  (void)x;
  (void)y;
  (void)dp;
  (void)ws;
  (void)bwd;
  if (!dx[0])
    return;
  for (size_t i = 0; i < T; i++)
    dx[0][i] += dy[i] * p[0];
}

static int dequantize_example(int variant, rove_attrs *a, rove_shape *ins,
                              int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  if (variant > 0)
    return 0;
  rove_layer__shape3(&ins[0], 2, 2, 3);
  return 1;
}

/* ---- qconv / convint ------------------------------------------------ */

/* Geometry of a qconv/convint node (rove_layer__cgeom; a rank-1 input is
 * a 1x1 conv on a D x 1 x 1 map) and its weight scale/zero point count. */
typedef struct qgeom {
  rove_cgeom c;
  int nc; /* K (per channel) or 1 */
} qgeom;

static void geom(const rove_node *n, qgeom *q) {
  rove_layer__cgeom(n, &q->c);
  q->nc = n->a.per_channel ? q->c.K : 1;
}

/* Param offsets: x_scale, x_zp, y_scale, y_zp, then W, w_zp[nc],
 * w_scale[nc], and with a bias its int32 values split exactly into
 * hi = b >> 12 and lo = b & 4095 (b = hi * 4096 + lo; both fit a float). */
enum { QP_XS, QP_XZ, QP_YS, QP_YZ, QP_W };

static int qconv_setup_common(rove_node *n, const char *op) {
  const rove_attrs *a = &n->a;
  ROVE_TRY(rove_layer__want_inputs(n, 1));
  int vec = n->ins[0].rank == 1;
  if (vec) {
    if (a->kh != 1 || a->kw != 1 || a->groups != 1 || a->sh != 1 ||
        a->sw != 1 || a->pt || a->pl || a->pb || a->pr)
      return ROVE_ERR(ROVE_EINVAL,
                      "node '%s' (%s): a matrix product (rank-1 input) "
                      "takes a 1x1 kernel, stride 1, no padding, 1 group",
                      n->name, op);
  } else {
    ROVE_TRY(rove_layer__check_window(n));
  }
  int C = n->ins[0].d[0];
  if (a->out < 1)
    return ROVE_ERR(ROVE_EINVAL, "node '%s' (%s): %d output channels", n->name,
                    op, a->out);
  if (a->groups < 1 || C % a->groups || a->out % a->groups)
    return ROVE_ERR(ROVE_ESHAPE,
                    "node '%s' (%s): groups %d must divide both the input "
                    "channels %d and the output channels %d",
                    n->name, op, a->groups, C, a->out);
  if (vec) {
    rove_layer__shape1(&n->out, a->out);
  } else {
    int H = n->ins[0].d[1], W = n->ins[0].d[2];
    int kh = (a->kh - 1) * a->dh + 1, kw = (a->kw - 1) * a->dw + 1;
    int OH = H + a->pt + a->pb - kh, OW = W + a->pl + a->pr - kw;
    if (OH < 0 || OW < 0)
      return ROVE_ERR(ROVE_ESHAPE,
                      "node '%s' (%s): %dx%d kernel (dilated) does not fit "
                      "the padded %dx%d input",
                      n->name, op, kh, kw, H + a->pt + a->pb,
                      W + a->pl + a->pr);
    rove_layer__shape3(&n->out, a->out, OH / a->sh + 1, OW / a->sw + 1);
  }
  qgeom g;
  geom(n, &g);
  n->n_params =
      QP_W + g.c.nw + 2 * (size_t)g.nc + (a->has_bias ? 2 * (size_t)g.c.K : 0);
  n->n_trainable = 0;
  return 0;
}

static int qconv_setup(rove_node *n) {
  ROVE_TRY(qconv_setup_common(n, "qconv"));
  ROVE_TRY(check_range(n, "qconv"));
  return 0;
}

static int convint_setup(rove_node *n) {
  return qconv_setup_common(n, "convint");
}

/* The accumulator of output (k, oh, ow) of one example: the sum of (x -
 * x_zp)(w - w_zp) plus the bias, in double. With round_x the inputs are
 * taken as the integers they hold (the runtime's arithmetic: every term an
 * integer, the sum exact below 2^53); without, as they are (the
 * surrogate's real-valued input). Padded positions count as x_zp, i.e.
 * add nothing. */
static double qconv_acc(const qgeom *g, const float *p, const float *xb, int k,
                        int oh, int ow, int has_bias, int round_x) {
  int grp = k / g->c.Kg;
  float xz = (float)qi(p[QP_XZ]);
  float wz = (float)qi(p[QP_W + g->c.nw + (g->nc > 1 ? (size_t)k : 0)]);
  const float *w = p + QP_W + (size_t)k * g->c.Cg * g->c.kh * g->c.kw;
  double acc = 0;
  for (int ci = 0; ci < g->c.Cg; ci++) {
    const float *xc = xb + (size_t)(grp * g->c.Cg + ci) * g->c.H * g->c.W;
    for (int i = 0; i < g->c.kh; i++) {
      int ih = oh * g->c.sh - g->c.pt + i * g->c.dh;
      if (ih < 0 || ih >= g->c.H)
        continue;
      for (int j = 0; j < g->c.kw; j++) {
        int iw = ow * g->c.sw - g->c.pl + j * g->c.dw;
        if (iw < 0 || iw >= g->c.W)
          continue;
        float x = xc[(size_t)ih * g->c.W + iw];
        if (round_x)
          x = (float)qi(x);
        acc += (double)(x - xz) *
               (double)((float)qi(w[((size_t)ci * g->c.kh + i) * g->c.kw + j]) -
                        wz);
      }
    }
  }
  if (has_bias) {
    const float *bh = p + QP_W + g->c.nw + 2 * (size_t)g->nc;
    acc += (double)((int64_t)qi(bh[k]) * 4096 + qi(bh[g->c.K + k]));
  }
  return acc;
}

/* The requantization multiplier of output channel k, in float32 as
 * onnxruntime forms it: (x_scale * w_scale) / y_scale. */
static float qconv_mult(const qgeom *g, const float *p, int k) {
  float ws = p[QP_W + g->c.nw + g->nc + (g->nc > 1 ? (size_t)k : 0)];
  return p[QP_XS] * ws / p[QP_YS];
}

static void qconv_forward(const rove_node *n, const float *p, int B,
                          const float *const *x, float *y, float *ws) {
  qgeom g;
  geom(n, &g);
  size_t in_n = (size_t)rove_shape_numel(&n->ins[0]);
  size_t out_n = (size_t)rove_shape_numel(&n->out);
  float yz = (float)qi(p[QP_YZ]);
  float lo = (float)n->a.qmin, hi = (float)n->a.qmax;
  int requant = n->op == ROVE_OP_QCONV;
  (void)ws;
  for (int b = 0; b < B; b++)
    for (int k = 0; k < g.c.K; k++) {
      float M = requant ? qconv_mult(&g, p, k) : 0;
      for (int oh = 0; oh < g.c.OH; oh++)
        for (int ow = 0; ow < g.c.OW; ow++) {
          const float *xb = x[0] + (size_t)b * in_n;
          float *o =
              y + (size_t)b * out_n + ((size_t)k * g.c.OH + oh) * g.c.OW + ow;
          /* convint is linear in its (integer) input: summed in double,
           * exact for integers, it is also differentiable between them. */
          if (requant)
            *o = clampf(
                rintf((float)qconv_acc(&g, p, xb, k, oh, ow, n->a.has_bias, 1) *
                      M) +
                    yz,
                lo, hi);
          else
            *o = (float)qconv_acc(&g, p, xb, k, oh, ow, n->a.has_bias, 0);
        }
    }
}

static void qconv_surrogate(const rove_node *n, const float *p, int B,
                            const float *const *x, float *y,
                            unsigned char *sat) {
  qgeom g;
  geom(n, &g);
  size_t in_n = (size_t)rove_shape_numel(&n->ins[0]);
  size_t out_n = (size_t)rove_shape_numel(&n->out);
  float yz = (float)qi(p[QP_YZ]);
  for (int b = 0; b < B; b++)
    for (int k = 0; k < g.c.K; k++) {
      float M = qconv_mult(&g, p, k);
      for (int oh = 0; oh < g.c.OH; oh++)
        for (int ow = 0; ow < g.c.OW; ow++) {
          double acc = qconv_acc(&g, p, x[0] + (size_t)b * in_n, k, oh, ow,
                                 n->a.has_bias, 0);
          size_t o =
              (size_t)b * out_n + ((size_t)k * g.c.OH + oh) * g.c.OW + ow;
          float v = (float)acc * M + yz;
          y[o] = clampf(v, (float)n->a.qmin, (float)n->a.qmax);
          if (sat)
            sat[o] = y[o] != v;
        }
    }
}

/* dx[ci][ih][iw] += sum over outputs of g * (w - w_zp), g = dy * M (qconv
 * STE) or dy (convint, exact). */
static void qconv_backward(const rove_node *n, const float *p, int B,
                           const float *const *x, const float *y,
                           const float *dy, float *const *dx, float *dp,
                           float *ws, rove_bwd bwd) {
  (void)y;
  (void)dp;
  (void)ws;
  int requant = n->op == ROVE_OP_QCONV;
  if (!dx[0] ||
      (requant && bwd.mode != ROVE_BWD_STE && bwd.mode != ROVE_BWD_CLIPPED_STE))
    return;
  qgeom g;
  geom(n, &g);
  size_t in_n = (size_t)rove_shape_numel(&n->ins[0]);
  size_t out_n = (size_t)rove_shape_numel(&n->out);
  float yz = requant ? (float)qi(p[QP_YZ]) : 0;
  int clipped = requant && bwd.mode == ROVE_BWD_CLIPPED_STE;
  for (int b = 0; b < B; b++) {
    float *dxb = dx[0] + (size_t)b * in_n;
    for (int k = 0; k < g.c.K; k++) {
      float M = requant ? qconv_mult(&g, p, k) : 1.0f;
      int grp = k / g.c.Kg;
      int wz = qi(p[QP_W + g.c.nw + (g.nc > 1 ? (size_t)k : 0)]);
      const float *w = p + QP_W + (size_t)k * g.c.Cg * g.c.kh * g.c.kw;
      for (int oh = 0; oh < g.c.OH; oh++)
        for (int ow = 0; ow < g.c.OW; ow++) {
          size_t o = ((size_t)k * g.c.OH + oh) * g.c.OW + ow;
          float gv = dy[(size_t)b * out_n + o];
          if (clipped) {
            double acc = qconv_acc(&g, p, x[0] + (size_t)b * in_n, k, oh, ow,
                                   n->a.has_bias, 0);
            float v = (float)acc * M + yz;
            if (v < (float)n->a.qmin || v > (float)n->a.qmax)
              continue;
          }
          gv *= M;
          for (int ci = 0; ci < g.c.Cg; ci++) {
            float *dc = dxb + (size_t)(grp * g.c.Cg + ci) * g.c.H * g.c.W;
            for (int i = 0; i < g.c.kh; i++) {
              int ih = oh * g.c.sh - g.c.pt + i * g.c.dh;
              if (ih < 0 || ih >= g.c.H)
                continue;
              for (int j = 0; j < g.c.kw; j++) {
                int iw = ow * g.c.sw - g.c.pl + j * g.c.dw;
                if (iw < 0 || iw >= g.c.W)
                  continue;
                float wv =
                    (float)(qi(w[((size_t)ci * g.c.kh + i) * g.c.kw + j]) - wz);
                dc[(size_t)ih * g.c.W + iw] += gv * wv;
              }
            }
          }
        }
    }
  }
}

static double qconv_macs(const rove_node *n) {
  qgeom g;
  geom(n, &g);
  return (double)g.c.K * g.c.OH * g.c.OW * g.c.Cg * g.c.kh * g.c.kw;
}

static int qconv_example(int variant, rove_attrs *a, rove_shape *ins,
                         int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  a->kh = a->kw = 3;
  a->has_bias = 1;
  switch (variant) {
  case 0: /* uint8, per-tensor weights, padding */
    rove_layer__shape3(&ins[0], 2, 5, 5);
    a->out = 3;
    a->pt = a->pl = a->pb = a->pr = 1;
    return 1;
  case 1: /* int8 output, per-channel weights, stride 2, no bias */
    rove_layer__shape3(&ins[0], 3, 6, 5);
    a->out = 4;
    a->sh = a->sw = 2;
    a->qmin = -128;
    a->qmax = 127;
    a->per_channel = 1;
    a->has_bias = 0;
    return 1;
  case 2: /* depthwise */
    rove_layer__shape3(&ins[0], 4, 4, 4);
    a->out = 4;
    a->groups = 4;
    a->pt = a->pl = a->pb = a->pr = 1;
    a->per_channel = 1;
    return 1;
  case 3: /* matrix product (QLinearMatMul: no bias), per-column scales */
    rove_layer__shape1(&ins[0], 6);
    a->kh = a->kw = 1;
    a->out = 5;
    a->has_bias = 0;
    a->per_channel = 1;
    return 1;
  default: return 0;
  }
}

static int convint_example(int variant, rove_attrs *a, rove_shape *ins,
                           int *n_in) {
  int r = qconv_example(variant, a, ins, n_in);
  if (r) {
    /* ConvInteger/MatMulInteger: no bias, no output range. */
    a->qmin = a->qmax = 0;
    a->has_bias = 0;
  }
  return r;
}

/* ---- qadd ------------------------------------------------------------ */

/* Params: a_scale, a_zp, b_scale, b_zp, c_scale, c_zp. */
static int qadd_setup(rove_node *n) {
  ROVE_TRY(rove_layer__want_inputs(n, 2));
  if (n->ins[0].rank != n->ins[1].rank ||
      memcmp(n->ins[0].d, n->ins[1].d, sizeof(int) * (size_t)n->ins[0].rank))
    return ROVE_ERR(ROVE_ESHAPE, "node '%s' (qadd): input shapes differ",
                    n->name);
  ROVE_TRY(check_range(n, "qadd"));
  n->out = n->ins[0];
  n->n_params = 6;
  n->n_trainable = 0;
  return 0;
}

static void qadd_ratios(const float *p, float *ra, float *rb) {
  *ra = p[0] / p[4];
  *rb = p[2] / p[4];
}

static void qadd_forward(const rove_node *n, const float *p, int B,
                         const float *const *x, float *y, float *ws) {
  size_t T = (size_t)B * (size_t)rove_shape_numel(&n->out);
  float ra, rb;
  qadd_ratios(p, &ra, &rb);
  int az = qi(p[1]), bz = qi(p[3]);
  float cz = (float)qi(p[5]);
  (void)ws;
  for (size_t i = 0; i < T; i++) {
    float v = ra * (float)(qi(x[0][i]) - az) + rb * (float)(qi(x[1][i]) - bz);
    y[i] = clampf(rintf(v) + cz, (float)n->a.qmin, (float)n->a.qmax);
  }
}

static void qadd_surrogate(const rove_node *n, const float *p, int B,
                           const float *const *x, float *y,
                           unsigned char *sat) {
  size_t T = (size_t)B * (size_t)rove_shape_numel(&n->out);
  float ra, rb;
  qadd_ratios(p, &ra, &rb);
  float az = (float)qi(p[1]), bz = (float)qi(p[3]), cz = (float)qi(p[5]);
  for (size_t i = 0; i < T; i++) {
    float v = ra * (x[0][i] - az) + rb * (x[1][i] - bz) + cz;
    y[i] = clampf(v, (float)n->a.qmin, (float)n->a.qmax);
    if (sat)
      sat[i] = y[i] != v;
  }
}

static void qadd_backward(const rove_node *n, const float *p, int B,
                          const float *const *x, const float *y,
                          const float *dy, float *const *dx, float *dp,
                          float *ws, rove_bwd bwd) {
  (void)y;
  (void)dp;
  (void)ws;
  if (bwd.mode != ROVE_BWD_STE && bwd.mode != ROVE_BWD_CLIPPED_STE)
    return;
  size_t T = (size_t)B * (size_t)rove_shape_numel(&n->out);
  float ra, rb;
  qadd_ratios(p, &ra, &rb);
  float az = (float)qi(p[1]), bz = (float)qi(p[3]), cz = (float)qi(p[5]);
  for (size_t i = 0; i < T; i++) {
    if (bwd.mode == ROVE_BWD_CLIPPED_STE) {
      float v = ra * (x[0][i] - az) + rb * (x[1][i] - bz) + cz;
      if (v < (float)n->a.qmin || v > (float)n->a.qmax)
        continue;
    }
    if (dx[0])
      dx[0][i] += dy[i] * ra;
    if (dx[1])
      dx[1][i] += dy[i] * rb;
  }
}

static int qadd_example(int variant, rove_attrs *a, rove_shape *ins,
                        int *n_in) {
  rove_attrs_default(a);
  *n_in = 2;
  switch (variant) {
  case 0:
    rove_layer__shape3(&ins[0], 2, 3, 3);
    ins[1] = ins[0];
    return 1;
  case 1:
    rove_layer__shape1(&ins[0], 8);
    ins[1] = ins[0];
    a->qmin = -128;
    a->qmax = 127;
    return 1;
  default: return 0;
  }
}

/* ---- qavgpool -------------------------------------------------------- */

/* Params: x_scale, x_zp, y_scale, y_zp. kh = 0: global (output C x 1 x 1,
 * as ONNX's QLinearGlobalAveragePool). */
static int qavgpool_setup(rove_node *n) {
  ROVE_TRY(rove_layer__want_inputs(n, 1));
  ROVE_TRY(check_range(n, "qavgpool"));
  if (n->ins[0].rank != 3)
    return ROVE_ERR(ROVE_ESHAPE,
                    "node '%s' (qavgpool): input has rank %d (expected 3: C, "
                    "H, W)",
                    n->name, n->ins[0].rank);
  int C = n->ins[0].d[0], H = n->ins[0].d[1], W = n->ins[0].d[2];
  if (n->a.kh == 0) {
    rove_layer__shape3(&n->out, C, 1, 1);
  } else {
    ROVE_TRY(rove_layer__check_window(n));
    int OH = rove_layer__pool_out(H, n->a.kh, n->a.sh, n->a.pt, n->a.pb,
                                  n->a.ceil_mode);
    int OW = rove_layer__pool_out(W, n->a.kw, n->a.sw, n->a.pl, n->a.pr,
                                  n->a.ceil_mode);
    if (OH <= 0 || OW <= 0)
      return ROVE_ERR(ROVE_ESHAPE,
                      "node '%s' (qavgpool): %dx%d window does not fit the "
                      "%dx%d input",
                      n->name, n->a.kh, n->a.kw, H, W);
    rove_layer__shape3(&n->out, C, OH, OW);
  }
  n->n_params = 4;
  n->n_trainable = 0;
  return 0;
}

/* The window of output (oh, ow): rows [h0, h1), columns [w0, w1) of the
 * input, and how many elements the mean divides by. */
static void qpool_window(const rove_node *n, int oh, int ow, int *h0, int *h1,
                         int *w0, int *w1, int *count) {
  int H = n->ins[0].d[1], W = n->ins[0].d[2];
  if (n->a.kh == 0) {
    *h0 = *w0 = 0;
    *h1 = H;
    *w1 = W;
    *count = H * W;
    return;
  }
  int hs = oh * n->a.sh - n->a.pt, ws = ow * n->a.sw - n->a.pl;
  int he = hs + n->a.kh, we = ws + n->a.kw;
  /* Padded extent (ONNX: the window may not run past the padding). */
  int hp = he < H + n->a.pb ? he : H + n->a.pb;
  int wp = we < W + n->a.pr ? we : W + n->a.pr;
  *h0 = hs < 0 ? 0 : hs;
  *w0 = ws < 0 ? 0 : ws;
  *h1 = he > H ? H : he;
  *w1 = we > W ? W : we;
  *count = n->a.count_include_pad ? (hp - hs) * (wp - ws)
                                  : (*h1 - *h0) * (*w1 - *w0);
}

static float qpool_mult(const float *p, int count) {
  return p[0] / (p[2] * (float)count);
}

static void qavgpool_forward(const rove_node *n, const float *p, int B,
                             const float *const *x, float *y, float *ws) {
  int C = n->ins[0].d[0], H = n->ins[0].d[1], W = n->ins[0].d[2];
  int OH = n->out.d[1], OW = n->out.d[2], xz = qi(p[1]);
  float yz = (float)qi(p[3]);
  (void)ws;
  for (int b = 0; b < B; b++)
    for (int c = 0; c < C; c++) {
      const float *xc = x[0] + ((size_t)b * C + c) * H * W;
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          int h0, h1, w0, w1, cnt;
          qpool_window(n, oh, ow, &h0, &h1, &w0, &w1, &cnt);
          int64_t acc = 0;
          for (int i = h0; i < h1; i++)
            for (int j = w0; j < w1; j++)
              acc += qi(xc[(size_t)i * W + j]) - xz;
          float v = (float)acc * qpool_mult(p, cnt);
          y[(((size_t)b * C + c) * OH + oh) * OW + ow] =
              clampf(rintf(v) + yz, (float)n->a.qmin, (float)n->a.qmax);
        }
    }
}

static void qavgpool_surrogate(const rove_node *n, const float *p, int B,
                               const float *const *x, float *y,
                               unsigned char *sat) {
  int C = n->ins[0].d[0], H = n->ins[0].d[1], W = n->ins[0].d[2];
  int OH = n->out.d[1], OW = n->out.d[2];
  float xz = (float)qi(p[1]), yz = (float)qi(p[3]);
  for (int b = 0; b < B; b++)
    for (int c = 0; c < C; c++) {
      const float *xc = x[0] + ((size_t)b * C + c) * H * W;
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          int h0, h1, w0, w1, cnt;
          qpool_window(n, oh, ow, &h0, &h1, &w0, &w1, &cnt);
          double acc = 0;
          for (int i = h0; i < h1; i++)
            for (int j = w0; j < w1; j++)
              acc += (double)(xc[(size_t)i * W + j] - xz);
          float v = (float)acc * qpool_mult(p, cnt) + yz;
          size_t o = (((size_t)b * C + c) * OH + oh) * OW + ow;
          y[o] = clampf(v, (float)n->a.qmin, (float)n->a.qmax);
          if (sat)
            sat[o] = y[o] != v;
        }
    }
}

static void qavgpool_backward(const rove_node *n, const float *p, int B,
                              const float *const *x, const float *y,
                              const float *dy, float *const *dx, float *dp,
                              float *ws, rove_bwd bwd) {
  (void)y;
  (void)dp;
  (void)ws;
  if (!dx[0] || (bwd.mode != ROVE_BWD_STE && bwd.mode != ROVE_BWD_CLIPPED_STE))
    return;
  int C = n->ins[0].d[0], H = n->ins[0].d[1], W = n->ins[0].d[2];
  int OH = n->out.d[1], OW = n->out.d[2];
  float xz = (float)qi(p[1]), yz = (float)qi(p[3]);
  for (int b = 0; b < B; b++)
    for (int c = 0; c < C; c++) {
      const float *xc = x[0] + ((size_t)b * C + c) * H * W;
      float *dc = dx[0] + ((size_t)b * C + c) * H * W;
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          int h0, h1, w0, w1, cnt;
          qpool_window(n, oh, ow, &h0, &h1, &w0, &w1, &cnt);
          float M = qpool_mult(p, cnt);
          if (bwd.mode == ROVE_BWD_CLIPPED_STE) {
            double acc = 0;
            for (int i = h0; i < h1; i++)
              for (int j = w0; j < w1; j++)
                acc += (double)(xc[(size_t)i * W + j] - xz);
            float v = (float)acc * M + yz;
            if (v < (float)n->a.qmin || v > (float)n->a.qmax)
              continue;
          }
          float g = dy[(((size_t)b * C + c) * OH + oh) * OW + ow] * M;
          for (int i = h0; i < h1; i++)
            for (int j = w0; j < w1; j++)
              dc[(size_t)i * W + j] += g;
        }
    }
}

static int qavgpool_example(int variant, rove_attrs *a, rove_shape *ins,
                            int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  switch (variant) {
  case 0: /* global */
    rove_layer__shape3(&ins[0], 3, 4, 5);
    a->kh = a->kw = 0;
    return 1;
  case 1: /* 3x3 stride 2, padded, count_include_pad = 0 */
    rove_layer__shape3(&ins[0], 2, 5, 5);
    a->kh = a->kw = 3;
    a->sh = a->sw = 2;
    a->pt = a->pl = a->pb = a->pr = 1;
    return 1;
  case 2: /* 2x2 int8 counting the padding */
    rove_layer__shape3(&ins[0], 2, 4, 4);
    a->kh = a->kw = 2;
    a->sh = a->sw = 2;
    a->pt = a->pl = 1;
    a->count_include_pad = 1;
    a->qmin = -128;
    a->qmax = 127;
    return 1;
  default: return 0;
  }
}

const rove_layer_ops rove_layer_quantize = {
    .name = "quantize",
    .flags = ROVE_OPF_NONDIFF | ROVE_OPF_INTEGER,
    .setup = quantize_setup,
    .forward = quantize_forward,
    .backward = quantize_backward,
    .surrogate = quantize_surrogate,
    .example = quantize_example,
};

const rove_layer_ops rove_layer_dequantize = {
    .name = "dequantize",
    .setup = dequantize_setup,
    .forward = dequantize_forward,
    .backward = dequantize_backward,
    .example = dequantize_example,
};

const rove_layer_ops rove_layer_qconv = {
    .name = "qconv",
    .flags = ROVE_OPF_NONDIFF | ROVE_OPF_INTEGER,
    .setup = qconv_setup,
    .forward = qconv_forward,
    .backward = qconv_backward,
    .surrogate = qconv_surrogate,
    .macs = qconv_macs,
    .example = qconv_example,
};

const rove_layer_ops rove_layer_convint = {
    .name = "convint",
    .setup = convint_setup,
    .forward = qconv_forward,
    .backward = qconv_backward,
    .macs = qconv_macs,
    .example = convint_example,
};

const rove_layer_ops rove_layer_qadd = {
    .name = "qadd",
    .flags = ROVE_OPF_NONDIFF | ROVE_OPF_INTEGER,
    .setup = qadd_setup,
    .forward = qadd_forward,
    .backward = qadd_backward,
    .surrogate = qadd_surrogate,
    .example = qadd_example,
};

const rove_layer_ops rove_layer_qavgpool = {
    .name = "qavgpool",
    .flags = ROVE_OPF_NONDIFF | ROVE_OPF_INTEGER,
    .setup = qavgpool_setup,
    .forward = qavgpool_forward,
    .backward = qavgpool_backward,
    .surrogate = qavgpool_surrogate,
    .example = qavgpool_example,
};
