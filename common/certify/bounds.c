/* bounds.c - interval bound propagation (IBP) over rove's graph: the
 * bounds of every node's output over the input set. Affine layers (conv,
 * linear, batchnorm, binary ops with constants, the integer convolution)
 * are bounded in double by center and radius; layers monotone in every
 * input (ReLU and its kin, pools, reshapes, quantizers, ...) by running
 * their own float32 forward on the lower and on the upper corner, rounded
 * outward. A layer kind with no rule here is a compile error (-Wswitch). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/certify/internal.h"
#include "common/err.h"

/* Outward rounding of a value computed in float32: a relative 2^-17 (the
 * forward's own rounding, a few ulps, with room for short sums) and an
 * absolute 1e-30. */
double cert__down(double v) {
  return v - fabs(v) * 7.7e-6 - 1e-30;
}
double cert__up(double v) {
  return v + fabs(v) * 7.7e-6 + 1e-30;
}

/* A double rounded to a float no larger (no smaller). */
static float f_down(double v) {
  if (v <= -FLT_MAX)
    return -FLT_MAX;
  if (v >= FLT_MAX)
    return FLT_MAX;
  float f = (float)v;
  return (double)f > v ? nextafterf(f, -INFINITY) : f;
}
static float f_up(double v) {
  if (v >= FLT_MAX)
    return FLT_MAX;
  if (v <= -FLT_MAX)
    return -FLT_MAX;
  float f = (float)v;
  return (double)f < v ? nextafterf(f, INFINITY) : f;
}

/* Bounds of a layer monotone non-decreasing in every input: the forward
 * of the lower corner and of the upper corner. */
static int mono(cert__ctx *c, int i) {
  const rove_node *n = &c->m->nodes[i];
  const float *p = c->m->params + n->param_off;
  float *xl[ROVE_MAX_IN], *xh[ROVE_MAX_IN];
  size_t no = (size_t)rove_shape_numel(&n->out);
  int rc = 0;
  float *yl = malloc(no * sizeof *yl), *yh = malloc(no * sizeof *yh);
  const rove_layer_ops *ops = rove_layers[n->op];
  size_t nws = ops->workspace ? ops->workspace(n, 1) : 0;
  float *ws = malloc((nws + 1) * sizeof *ws);
  for (int k = 0; k < n->n_in; k++)
    xl[k] = xh[k] = NULL;
  if (!yl || !yh || !ws)
    rc = ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
  for (int k = 0; rc == 0 && k < n->n_in; k++) {
    size_t ni = (size_t)rove_shape_numel(&n->ins[k]);
    const double *lo = cert__lo(c, n->in[k]), *hi = cert__hi(c, n->in[k]);
    xl[k] = malloc(ni * sizeof(float));
    xh[k] = malloc(ni * sizeof(float));
    if (!xl[k] || !xh[k]) {
      rc = ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
      break;
    }
    for (size_t j = 0; j < ni; j++) {
      xl[k][j] = f_down(lo[j]);
      xh[k][j] = f_up(hi[j]);
    }
  }
  if (rc == 0) {
    ops->forward(n, p, 1, (const float *const *)xl, yl, ws);
    ops->forward(n, p, 1, (const float *const *)xh, yh, ws);
    for (size_t j = 0; j < no; j++) {
      c->lo[i][j] = cert__down(yl[j]);
      c->hi[i][j] = cert__up(yh[j]);
      if (isnan(c->lo[i][j]) || isnan(c->hi[i][j])) {
        c->lo[i][j] = -INFINITY;
        c->hi[i][j] = INFINITY;
      }
    }
  }
  for (int k = 0; k < n->n_in; k++) {
    free(xl[k]);
    free(xh[k]);
  }
  free(yl);
  free(yh);
  free(ws);
  return rc;
}

/* y = W x + b by center and radius, W [out][in]. */
static void ibp_linear(cert__ctx *c, int i) {
  const rove_node *n = &c->m->nodes[i];
  const float *W = c->m->params + n->param_off;
  int O = n->a.out;
  long I = rove_shape_numel(&n->ins[0]);
  const double *lo = cert__lo(c, n->in[0]), *hi = cert__hi(c, n->in[0]);
  for (int o = 0; o < O; o++) {
    double ctr = n->a.has_bias ? (double)W[(size_t)O * I + o] : 0, rad = 0;
    const float *w = W + (size_t)o * I;
    for (long j = 0; j < I; j++) {
      double m = 0.5 * (lo[j] + hi[j]), r = 0.5 * (hi[j] - lo[j]);
      ctr += (double)w[j] * m;
      rad += fabs((double)w[j]) * r;
    }
    c->lo[i][o] = ctr - rad;
    c->hi[i][o] = ctr + rad;
  }
}

static void ibp_conv(cert__ctx *c, int i) {
  const rove_node *n = &c->m->nodes[i];
  cert__conv g;
  cert__conv_geom(n, &g);
  const float *W = c->m->params + n->param_off;
  const double *lo = cert__lo(c, n->in[0]), *hi = cert__hi(c, n->in[0]);
  for (int k = 0; k < g.K; k++) {
    int grp = k / g.Kg;
    double b = n->a.has_bias ? (double)W[g.nw + (size_t)k] : 0;
    for (int oh = 0; oh < g.OH; oh++)
      for (int ow = 0; ow < g.OW; ow++) {
        double ctr = b, rad = 0;
        for (int ci = 0; ci < g.Cg; ci++)
          for (int a = 0; a < g.kh; a++) {
            int ih = oh * g.sh - g.pt + a * g.dh;
            if (ih < 0 || ih >= g.H)
              continue;
            for (int e = 0; e < g.kw; e++) {
              int iw = ow * g.sw - g.pl + e * g.dw;
              if (iw < 0 || iw >= g.W)
                continue;
              size_t xi = ((size_t)(grp * g.Cg + ci) * g.H + ih) * g.W + iw;
              double w = W[(((size_t)k * g.Cg + ci) * g.kh + a) * g.kw + e];
              ctr += w * 0.5 * (lo[xi] + hi[xi]);
              rad += fabs(w) * 0.5 * (hi[xi] - lo[xi]);
            }
          }
        size_t o = ((size_t)k * g.OH + oh) * g.OW + ow;
        c->lo[i][o] = ctr - rad;
        c->hi[i][o] = ctr + rad;
      }
  }
}

/* The integer convolution's accumulator (qconv, convint) over real input
 * intervals: (x - x_zp)(w - w_zp) summed, plus the bias. */
static void ibp_qacc(cert__ctx *c, int i, double *alo, double *ahi) {
  const rove_node *n = &c->m->nodes[i];
  cert__conv g;
  cert__conv_geom(n, &g);
  const float *p = c->m->params + n->param_off;
  const double *lo = cert__lo(c, n->in[0]), *hi = cert__hi(c, n->in[0]);
  int nc = n->a.per_channel ? g.K : 1;
  double xz = rint(p[1]);
  for (int k = 0; k < g.K; k++) {
    int grp = k / g.Kg;
    double wz = rint(p[4 + g.nw + (nc > 1 ? (size_t)k : 0)]);
    double b = 0;
    if (n->a.has_bias) {
      const float *bh = p + 4 + g.nw + 2 * (size_t)nc;
      b = rint(bh[k]) * 4096 + rint(bh[g.K + k]);
    }
    for (int oh = 0; oh < g.OH; oh++)
      for (int ow = 0; ow < g.OW; ow++) {
        double ctr = b, rad = 0;
        for (int ci = 0; ci < g.Cg; ci++)
          for (int a = 0; a < g.kh; a++) {
            int ih = oh * g.sh - g.pt + a * g.dh;
            if (ih < 0 || ih >= g.H)
              continue;
            for (int e = 0; e < g.kw; e++) {
              int iw = ow * g.sw - g.pl + e * g.dw;
              if (iw < 0 || iw >= g.W)
                continue;
              size_t xi = ((size_t)(grp * g.Cg + ci) * g.H + ih) * g.W + iw;
              double w =
                  rint(p[4 + (((size_t)k * g.Cg + ci) * g.kh + a) * g.kw + e]) -
                  wz;
              ctr += w * (0.5 * (lo[xi] + hi[xi]) - xz);
              rad += fabs(w) * 0.5 * (hi[xi] - lo[xi]);
            }
          }
        size_t o = ((size_t)k * g.OH + oh) * g.OW + ow;
        alo[o] = ctr - rad;
        ahi[o] = ctr + rad;
      }
  }
}

static void ibp_qconv(cert__ctx *c, int i) {
  const rove_node *n = &c->m->nodes[i];
  cert__conv g;
  cert__conv_geom(n, &g);
  size_t no = (size_t)rove_shape_numel(&n->out);
  ibp_qacc(c, i, c->lo[i], c->hi[i]);
  if (n->op == ROVE_OP_CONVINT) {
    for (size_t o = 0; o < no; o++) {
      c->lo[i][o] = cert__down(c->lo[i][o]);
      c->hi[i][o] = cert__up(c->hi[i][o]);
    }
    return;
  }
  /* Requantization is monotone in the accumulator, which is an integer
   * when the inputs are: evaluate it (float32, as the layer does) at the
   * integers bracketing the interval. */
  const float *p = c->m->params + n->param_off;
  int nc = n->a.per_channel ? g.K : 1;
  float yz = rintf(p[3]);
  long per = (long)g.OH * g.OW;
  for (size_t o = 0; o < no; o++) {
    int k = (int)((long)o / per);
    float ws = p[4 + g.nw + (size_t)nc + (nc > 1 ? (size_t)k : 0)];
    float M = p[0] * ws / p[2];
    double al = ceil(c->lo[i][o] - 1e-6), ah = floor(c->hi[i][o] + 1e-6);
    float ql = rintf((float)al * M) + yz, qh = rintf((float)ah * M) + yz;
    float lo = (float)n->a.qmin, hi = (float)n->a.qmax;
    c->lo[i][o] = ql < lo ? lo : ql > hi ? hi : ql;
    c->hi[i][o] = qh < lo ? lo : qh > hi ? hi : qh;
  }
}

static void ibp_batchnorm(cert__ctx *c, int i) {
  const rove_node *n = &c->m->nodes[i];
  const float *p = c->m->params + n->param_off;
  int C = n->ins[0].d[0];
  long inner = rove_shape_numel(&n->ins[0]) / C;
  const double *lo = cert__lo(c, n->in[0]), *hi = cert__hi(c, n->in[0]);
  for (int ch = 0; ch < C; ch++) {
    double a = (double)p[ch] / sqrt((double)p[3 * C + ch] + (double)n->a.eps);
    double b = (double)p[C + ch] - (double)p[2 * C + ch] * a;
    for (long j = 0; j < inner; j++) {
      size_t k = (size_t)ch * inner + j;
      double u = a * lo[k] + b, v = a * hi[k] + b;
      c->lo[i][k] = fmin(u, v);
      c->hi[i][k] = fmax(u, v);
    }
  }
}

/* The constant of a binary op for element k of an example of N values. */
double cert__bin_const(const rove_node *n, const float *p, long k, long N) {
  switch (n->a.cmode) {
  case 1: return p[0];
  case 2: return p[k / (N / n->ins[0].d[0])];
  default: return p[k];
  }
}

static void ibp_binary(cert__ctx *c, int i) {
  const rove_node *n = &c->m->nodes[i];
  const float *p = c->m->params + n->param_off;
  long N = rove_shape_numel(&n->out);
  const double *l0 = cert__lo(c, n->in[0]), *h0 = cert__hi(c, n->in[0]);
  const double *l1 = n->a.cmode == 0 ? cert__lo(c, n->in[1]) : NULL;
  const double *h1 = n->a.cmode == 0 ? cert__hi(c, n->in[1]) : NULL;
  for (long k = 0; k < N; k++) {
    double a0 = l0[k], b0 = h0[k], a1, b1;
    if (n->a.cmode == 0) {
      a1 = l1[k];
      b1 = h1[k];
    } else {
      a1 = b1 = cert__bin_const(n, p, k, N);
      if (n->a.const_first) {
        double t0 = a0, t1 = b0;
        a0 = a1;
        b0 = b1;
        a1 = t0;
        b1 = t1;
      }
    }
    double lo, hi;
    switch (n->op) {
    case ROVE_OP_ADD:
      lo = a0 + a1;
      hi = b0 + b1;
      break;
    case ROVE_OP_SUB:
      lo = a0 - b1;
      hi = b0 - a1;
      break;
    case ROVE_OP_MUL: {
      double q[4] = {a0 * a1, a0 * b1, b0 * a1, b0 * b1};
      lo = fmin(fmin(q[0], q[1]), fmin(q[2], q[3]));
      hi = fmax(fmax(q[0], q[1]), fmax(q[2], q[3]));
      break;
    }
    default: /* div */
      if (a1 <= 0 && b1 >= 0) {
        lo = -INFINITY;
        hi = INFINITY;
      } else {
        double q[4] = {a0 / a1, a0 / b1, b0 / a1, b0 / b1};
        lo = fmin(fmin(q[0], q[1]), fmin(q[2], q[3]));
        hi = fmax(fmax(q[0], q[1]), fmax(q[2], q[3]));
      }
      break;
    }
    /* The layer computes in float32: widen by its rounding. */
    c->lo[i][k] = isnan(lo) ? -INFINITY : cert__down(lo);
    c->hi[i][k] = isnan(hi) ? INFINITY : cert__up(hi);
  }
}

int cert__ibp_node(cert__ctx *c, int i) {
  const rove_node *n = &c->m->nodes[i];
  size_t no = (size_t)rove_shape_numel(&n->out);
  switch ((enum rove_op)n->op) {
  case ROVE_OP_CONV: ibp_conv(c, i); break;
  case ROVE_OP_LINEAR: ibp_linear(c, i); break;
  case ROVE_OP_BATCHNORM: ibp_batchnorm(c, i); break;
  case ROVE_OP_ADD:
  case ROVE_OP_SUB:
  case ROVE_OP_MUL:
  case ROVE_OP_DIV: ibp_binary(c, i); break;
  case ROVE_OP_QCONV:
  case ROVE_OP_CONVINT: ibp_qconv(c, i); break;
  case ROVE_OP_SOFTMAX:
    for (size_t j = 0; j < no; j++) {
      c->lo[i][j] = 0;
      c->hi[i][j] = 1;
    }
    break;
  /* Monotone non-decreasing in every input. */
  case ROVE_OP_RELU:
  case ROVE_OP_LEAKYRELU:
  case ROVE_OP_CLIP:
  case ROVE_OP_SIGMOID:
  case ROVE_OP_TANH:
  case ROVE_OP_MAXPOOL:
  case ROVE_OP_AVGPOOL:
  case ROVE_OP_GAP:
  case ROVE_OP_RESHAPE:
  case ROVE_OP_CONCAT:
  case ROVE_OP_FAKEQUANT:
  case ROVE_OP_ROUND:
  case ROVE_OP_FLOOR:
  case ROVE_OP_QUANTIZE:
  case ROVE_OP_DEQUANTIZE:
  case ROVE_OP_QADD:
  case ROVE_OP_QAVGPOOL: ROVE_TRY(mono(c, i)); break;
  case ROVE_OP_COUNT: return ROVE_ERR(ROVE_EINVAL, "certify: bad layer kind");
  }
  /* Widening by the layer's own float rounding for the affine ones (the
   * monotone ones were rounded above); keep every interval ordered. */
  int affine = n->op == ROVE_OP_CONV || n->op == ROVE_OP_LINEAR ||
               n->op == ROVE_OP_BATCHNORM;
  for (size_t j = 0; j < no; j++) {
    if (affine) {
      c->lo[i][j] = cert__down(c->lo[i][j]);
      c->hi[i][j] = cert__up(c->hi[i][j]);
    }
    if (!(c->lo[i][j] <= c->hi[i][j])) {
      c->lo[i][j] = -INFINITY;
      c->hi[i][j] = INFINITY;
    }
  }
  return 0;
}
