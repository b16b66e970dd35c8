/* crown.c - CROWN: lower bounds of linear functions of a node's output,
 * by propagating the coefficients backward through the graph to the input
 * (Zhang et al. 2018). Affine layers pass them on exactly; ReLU and
 * LeakyReLU use the triangle relaxation with the adaptive lower slope;
 * rounding layers (round, floor, fakequant and quantize when unsaturated)
 * the band |y - x| <= half a step; MaxPool is exact where one input
 * dominates its window; Clip is exact inside or outside its range;
 * Sigmoid and Tanh take chord and tangent on intervals that do not cross
 * 0; everything else is replaced by its interval
 * (the node's IBP bounds), which is sound for any layer. All in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/certify/internal.h"
#include "common/err.h"

typedef struct bw {
  cert__ctx *c;
  int R;
  double **acc; /* per node: R x numel coefficients, or NULL */
  double *ain;  /* the model input's */
  double *cst;  /* R constants */
  int oom;
} bw;

static double *acc_of(bw *b, int node) {
  const rove_model *m = b->c->m;
  size_t n = node == ROVE_INPUT ? (size_t)b->c->d
                                : (size_t)rove_shape_numel(&m->nodes[node].out);
  double **slot = node == ROVE_INPUT ? &b->ain : &b->acc[node];
  if (!*slot) {
    *slot = calloc((size_t)b->R * n + 1, sizeof(double));
    if (!*slot)
      b->oom = 1;
  }
  return *slot;
}

/* a * y >= a * (its interval's end): the node's own IBP bounds. */
static void box(bw *b, int i, const double *A, long no) {
  const double *lo = b->c->lo[i], *hi = b->c->hi[i];
  for (int r = 0; r < b->R; r++)
    for (long k = 0; k < no; k++) {
      double a = A[(size_t)r * no + k];
      if (a != 0)
        b->cst[r] += a > 0 ? a * lo[k] : a * hi[k];
    }
}

/* One element's box, for rules that fall back element by element. */
static void box1(bw *b, int i, int r, long k, double a) {
  if (a != 0)
    b->cst[r] += a > 0 ? a * b->c->lo[i][k] : a * b->c->hi[i][k];
}

static void back_linear(bw *b, const rove_node *n, const float *W,
                        const double *A) {
  int O = n->a.out;
  long I = rove_shape_numel(&n->ins[0]);
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  for (int r = 0; r < b->R; r++) {
    const double *ar = A + (size_t)r * O;
    double *dr = ai + (size_t)r * I;
    for (int o = 0; o < O; o++) {
      double a = ar[o];
      if (a == 0)
        continue;
      const float *w = W + (size_t)o * I;
      for (long j = 0; j < I; j++)
        dr[j] += a * (double)w[j];
      if (n->a.has_bias)
        b->cst[r] += a * (double)W[(size_t)O * I + o];
    }
  }
}

static void back_conv(bw *b, const rove_node *n, const float *W,
                      const double *A) {
  cert__conv g;
  cert__conv_geom(n, &g);
  long no = (long)g.K * g.OH * g.OW, ni = (long)g.C * g.H * g.W;
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  for (int r = 0; r < b->R; r++) {
    const double *ar = A + (size_t)r * no;
    double *dr = ai + (size_t)r * ni;
    for (int k = 0; k < g.K; k++) {
      int grp = k / g.Kg;
      for (int oh = 0; oh < g.OH; oh++)
        for (int ow = 0; ow < g.OW; ow++) {
          double a = ar[((size_t)k * g.OH + oh) * g.OW + ow];
          if (a == 0)
            continue;
          if (n->a.has_bias)
            b->cst[r] += a * (double)W[g.nw + (size_t)k];
          for (int ci = 0; ci < g.Cg; ci++)
            for (int i = 0; i < g.kh; i++) {
              int ih = oh * g.sh - g.pt + i * g.dh;
              if (ih < 0 || ih >= g.H)
                continue;
              for (int j = 0; j < g.kw; j++) {
                int iw = ow * g.sw - g.pl + j * g.dw;
                if (iw < 0 || iw >= g.W)
                  continue;
                dr[((size_t)(grp * g.Cg + ci) * g.H + ih) * g.W + iw] +=
                    a *
                    (double)W[(((size_t)k * g.Cg + ci) * g.kh + i) * g.kw + j];
              }
            }
        }
    }
  }
}

static void back_relu(bw *b, int i, const rove_node *n, const double *A,
                      long no) {
  double alpha = n->op == ROVE_OP_RELU ? 0.0 : (double)n->a.alpha;
  if (alpha < 0 || alpha > 1) {
    box(b, i, A, no);
    return;
  }
  const double *l = cert__lo(b->c, n->in[0]), *u = cert__hi(b->c, n->in[0]);
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  for (long k = 0; k < no; k++) {
    double lk = l[k], uk = u[k], sl, bl, su, bu;
    if (!isfinite(lk) || !isfinite(uk)) {
      for (int r = 0; r < b->R; r++)
        box1(b, i, r, k, A[(size_t)r * no + k]);
      continue;
    }
    if (lk >= 0) {
      sl = su = 1;
      bl = bu = 0;
    } else if (uk <= 0) {
      sl = su = alpha;
      bl = bu = 0;
    } else {
      su = (uk - alpha * lk) / (uk - lk);
      bu = uk - su * uk;
      sl = uk >= -lk ? 1.0 : alpha;
      bl = 0;
    }
    for (int r = 0; r < b->R; r++) {
      double a = A[(size_t)r * no + k];
      if (a == 0)
        continue;
      double s = a > 0 ? sl : su, c0 = a > 0 ? bl : bu;
      ai[(size_t)r * no + k] += a * s;
      b->cst[r] += a * c0;
    }
  }
}

/* y = s x + t + e with e in [-h, h] where the node does not saturate. */
static void back_band(bw *b, int i, const rove_node *n, const double *A,
                      long no) {
  const float *p = b->c->m->params + n->param_off;
  const double *l = cert__lo(b->c, n->in[0]), *u = cert__hi(b->c, n->in[0]);
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  long run = no;
  if (n->op == ROVE_OP_FAKEQUANT && n->a.per_channel)
    run = no / n->ins[0].d[0];
  for (long k = 0; k < no; k++) {
    double s = 1, t = 0, h, lo_k = l[k], hi_k = u[k];
    int ok = isfinite(lo_k) && isfinite(hi_k);
    if (n->op == ROVE_OP_ROUND) {
      h = 0.5;
    } else if (n->op == ROVE_OP_FLOOR) {
      t = -0.5;
      h = 0.5;
    } else {
      long ch = n->op == ROVE_OP_FAKEQUANT ? k / run : 0;
      long nc = n->op == ROVE_OP_FAKEQUANT ? (long)n->n_params / 2 : 1;
      double sc = p[ch], zp = rint(p[nc + ch]);
      double ql = rint(lo_k / sc) + zp, qh = rint(hi_k / sc) + zp;
      ok = ok && ql >= n->a.qmin && qh <= n->a.qmax;
      if (n->op == ROVE_OP_FAKEQUANT) {
        h = 0.5 * sc; /* (rint(x/s) + zp - zp) * s = s * rint(x/s) */
      } else {        /* quantize: rint(x/s) + zp */
        s = 1.0 / sc;
        t = zp;
        h = 0.5;
      }
    }
    /* The float32 forward: a relative 2^-20 more. */
    h = h * (1 + 1e-6) + 1e-6 * (fabs(lo_k) + fabs(hi_k)) * s;
    for (int r = 0; r < b->R; r++) {
      double a = A[(size_t)r * no + k];
      if (a == 0)
        continue;
      if (!ok) {
        box1(b, i, r, k, a);
        continue;
      }
      ai[(size_t)r * no + k] += a * s;
      b->cst[r] += a * t - fabs(a) * h;
    }
  }
}

static void back_maxpool(bw *b, int i, const rove_node *n, const double *A,
                         long no) {
  const rove_attrs *a = &n->a;
  int H = n->ins[0].d[1], W = n->ins[0].d[2];
  int OH = n->out.d[1], OW = n->out.d[2];
  const double *l = cert__lo(b->c, n->in[0]), *u = cert__hi(b->c, n->in[0]);
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  for (long k = 0; k < no; k++) {
    long ch = k / ((long)OH * OW), oh = (k / OW) % OH, ow = k % OW;
    long best = -1, cnt = 0;
    double bl = -INFINITY;
    for (int p = 0; p < a->kh; p++)
      for (int q = 0; q < a->kw; q++) {
        long ih = oh * a->sh - a->pt + p * a->dh,
             iw = ow * a->sw - a->pl + q * a->dw;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W)
          continue;
        long xi = (ch * H + ih) * W + iw;
        cnt++;
        if (l[xi] > bl) {
          bl = l[xi];
          best = xi;
        }
      }
    int dominant = best >= 0;
    for (int p = 0; dominant && p < a->kh; p++)
      for (int q = 0; dominant && q < a->kw; q++) {
        long ih = oh * a->sh - a->pt + p * a->dh,
             iw = ow * a->sw - a->pl + q * a->dw;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W)
          continue;
        long xi = (ch * H + ih) * W + iw;
        if (xi != best && u[xi] > bl)
          dominant = 0;
      }
    for (int r = 0; r < b->R; r++) {
      double av = A[(size_t)r * no + k];
      if (av == 0)
        continue;
      if (dominant)
        ai[(size_t)r * (size_t)(n->ins[0].d[0] * H * W) + best] += av;
      else
        box1(b, i, r, k, av);
    }
    (void)cnt;
  }
}

static void back_avgpool(bw *b, const rove_node *n, const double *A, long no) {
  const rove_attrs *a = &n->a;
  int H = n->ins[0].d[1], W = n->ins[0].d[2];
  int OH = n->out.d[1], OW = n->out.d[2];
  long ni = rove_shape_numel(&n->ins[0]);
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  for (long k = 0; k < no; k++) {
    long ch = k / ((long)OH * OW), oh = (k / OW) % OH, ow = k % OW;
    /* The window and divisor of avgpool.c (PyTorch's rule). */
    long hs = oh * a->sh - a->pt, ws = ow * a->sw - a->pl;
    long he = hs + a->kh, we = ws + a->kw;
    if (he > H + a->pb)
      he = H + a->pb;
    if (we > W + a->pr)
      we = W + a->pr;
    long padded = (he - hs) * (we - ws);
    long h0 = hs < 0 ? 0 : hs, w0 = ws < 0 ? 0 : ws;
    long h1 = he > H ? H : he, w1 = we > W ? W : we;
    long inside = (h1 - h0) * (w1 - w0);
    double inv = 1.0 / (double)(a->count_include_pad ? padded : inside);
    for (int r = 0; r < b->R; r++) {
      double av = A[(size_t)r * no + k];
      if (av == 0)
        continue;
      for (long ih = h0; ih < h1; ih++)
        for (long iw = w0; iw < w1; iw++)
          ai[(size_t)r * ni + (ch * H + ih) * W + iw] += av * inv;
    }
  }
}

/* Reshape and Concat move values: which input element each output is,
 * from their own forward on inputs holding their indices. */
static int back_move(bw *b, int i, const rove_node *n, const double *A,
                     long no) {
  long total = 0;
  for (int k = 0; k < n->n_in; k++)
    total += rove_shape_numel(&n->ins[k]);
  if (total >= (1L << 23) || n->n_in > 8) {
    box(b, i, A, no);
    return 0;
  }
  float *xs[ROVE_MAX_IN] = {0}, *y = malloc((size_t)no * sizeof *y);
  int rc = y ? 0 : ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
  for (int k = 0; rc == 0 && k < n->n_in; k++) {
    long ni = rove_shape_numel(&n->ins[k]);
    if (!(xs[k] = malloc((size_t)ni * sizeof(float))))
      rc = ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
    for (long j = 0; rc == 0 && j < ni; j++)
      xs[k][j] = (float)(((long)k << 20) + j);
  }
  if (rc == 0) {
    rove_layers[n->op]->forward(n, b->c->m->params + n->param_off, 1,
                                (const float *const *)xs, y, NULL);
    for (long o = 0; o < no; o++) {
      long v = (long)y[o], k = v >> 20, j = v & ((1L << 20) - 1);
      long ni = rove_shape_numel(&n->ins[k]);
      double *ai = acc_of(b, n->in[k]);
      if (!ai)
        break;
      for (int r = 0; r < b->R; r++)
        ai[(size_t)r * ni + j] += A[(size_t)r * no + o];
    }
  }
  for (int k = 0; k < n->n_in; k++)
    free(xs[k]);
  free(y);
  return rc;
}

static void back_binary(bw *b, int i, const rove_node *n, const double *A,
                        long no) {
  const float *p = b->c->m->params + n->param_off;
  int op = n->op;
  if (n->a.cmode == 0) {
    if (op != ROVE_OP_ADD && op != ROVE_OP_SUB) {
      box(b, i, A, no);
      return;
    }
    double *a0 = acc_of(b, n->in[0]), *a1 = acc_of(b, n->in[1]);
    if (!a0 || !a1)
      return;
    for (size_t k = 0; k < (size_t)b->R * no; k++) {
      a0[k] += A[k];
      a1[k] += op == ROVE_OP_ADD ? A[k] : -A[k];
    }
    return;
  }
  if (op == ROVE_OP_DIV && n->a.const_first) {
    box(b, i, A, no);
    return;
  }
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  for (long k = 0; k < no; k++) {
    double cv = cert__bin_const(n, p, k, no);
    for (int r = 0; r < b->R; r++) {
      double a = A[(size_t)r * no + k];
      if (a == 0)
        continue;
      size_t at = (size_t)r * no + k;
      switch (op) {
      case ROVE_OP_ADD:
        ai[at] += a;
        b->cst[r] += a * cv;
        break;
      case ROVE_OP_SUB:
        ai[at] += n->a.const_first ? -a : a;
        b->cst[r] += n->a.const_first ? a * cv : -a * cv;
        break;
      case ROVE_OP_MUL: ai[at] += a * cv; break;
      default: ai[at] += a / cv; break;
      }
    }
  }
}

static void back_batchnorm(bw *b, const rove_node *n, const double *A,
                           long no) {
  const float *p = b->c->m->params + n->param_off;
  int C = n->ins[0].d[0];
  long inner = no / C;
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  for (long k = 0; k < no; k++) {
    long ch = k / inner;
    double s = (double)p[ch] / sqrt((double)p[3 * C + ch] + (double)n->a.eps);
    double t = (double)p[C + ch] - (double)p[2 * C + ch] * s;
    for (int r = 0; r < b->R; r++) {
      double a = A[(size_t)r * no + k];
      ai[(size_t)r * no + k] += a * s;
      b->cst[r] += a * t;
    }
  }
}

static void back_gap(bw *b, const rove_node *n, const double *A, long no) {
  long HW = (long)n->ins[0].d[1] * n->ins[0].d[2];
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  for (long ch = 0; ch < no; ch++)
    for (int r = 0; r < b->R; r++) {
      double a = A[(size_t)r * no + ch] / (double)HW;
      for (long j = 0; j < HW; j++)
        ai[(size_t)r * no * HW + ch * HW + j] += a;
    }
}

static void back_dequantize(bw *b, const rove_node *n, const double *A,
                            long no) {
  const float *p = b->c->m->params + n->param_off;
  double s = p[0], zp = rint(p[1]);
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  for (size_t k = 0; k < (size_t)b->R * no; k++) {
    ai[k] += A[k] * s;
    b->cst[k / (size_t)no] -= A[k] * zp * s;
  }
}

/* Clip: identity inside [lo, hi], a constant outside; an interval across
 * a bound falls back to its box. */
static void back_clip(bw *b, int i, const rove_node *n, const double *A,
                      long no) {
  const double *l = cert__lo(b->c, n->in[0]), *u = cert__hi(b->c, n->in[0]);
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  double lo = n->a.lo, hi = n->a.hi;
  for (long k = 0; k < no; k++)
    for (int r = 0; r < b->R; r++) {
      double a = A[(size_t)r * no + k];
      if (a == 0)
        continue;
      if (l[k] >= lo && u[k] <= hi)
        ai[(size_t)r * no + k] += a;
      else if (u[k] <= lo)
        b->cst[r] += a * lo;
      else if (l[k] >= hi)
        b->cst[r] += a * hi;
      else
        box1(b, i, r, k, a);
    }
}

/* Sigmoid and Tanh are convex below 0 and concave above: on an interval
 * that does not cross 0 the chord bounds them on one side and the tangent
 * at the midpoint on the other. An interval across 0 falls back to its
 * box. Lines are loosened by 1e-6 for the float32 forward. */
static void back_sigmoid(bw *b, int i, const rove_node *n, const double *A,
                         long no) {
  const double *l = cert__lo(b->c, n->in[0]), *u = cert__hi(b->c, n->in[0]);
  double *ai = acc_of(b, n->in[0]);
  if (!ai)
    return;
  int sig = n->op == ROVE_OP_SIGMOID;
  for (long k = 0; k < no; k++) {
    double lk = l[k], uk = u[k];
    int ok = isfinite(lk) && isfinite(uk) && (lk >= 0 || uk <= 0) && uk > lk;
    double fl = 0, fu = 0, mid = 0, fm = 0, dm = 0, sc = 0;
    if (ok) {
      fl = sig ? 1 / (1 + exp(-lk)) : tanh(lk);
      fu = sig ? 1 / (1 + exp(-uk)) : tanh(uk);
      mid = 0.5 * (lk + uk);
      fm = sig ? 1 / (1 + exp(-mid)) : tanh(mid);
      dm = sig ? fm * (1 - fm) : 1 - fm * fm;
      sc = (fu - fl) / (uk - lk);
    }
    int concave = lk >= 0; /* else convex */
    for (int r = 0; r < b->R; r++) {
      double a = A[(size_t)r * no + k];
      if (a == 0)
        continue;
      if (!ok) {
        box1(b, i, r, k, a);
        continue;
      }
      /* A lower bound of a*y needs y's lower line when a > 0. */
      int want_lower = a > 0;
      int chord = concave ? want_lower : !want_lower;
      double s = chord ? sc : dm;
      double t = chord ? fl - sc * lk : fm - dm * mid;
      t += want_lower ? -1e-6 : 1e-6;
      ai[(size_t)r * no + k] += a * s;
      b->cst[r] += a * t;
    }
  }
}

static int back_node(bw *b, int i) {
  const rove_node *n = &b->c->m->nodes[i];
  const float *p = b->c->m->params + n->param_off;
  const double *A = b->acc[i];
  long no = rove_shape_numel(&n->out);
  switch ((enum rove_op)n->op) {
  case ROVE_OP_CONV: back_conv(b, n, p, A); break;
  case ROVE_OP_LINEAR: back_linear(b, n, p, A); break;
  case ROVE_OP_RELU:
  case ROVE_OP_LEAKYRELU: back_relu(b, i, n, A, no); break;
  case ROVE_OP_BATCHNORM: back_batchnorm(b, n, A, no); break;
  case ROVE_OP_ADD:
  case ROVE_OP_SUB:
  case ROVE_OP_MUL:
  case ROVE_OP_DIV: back_binary(b, i, n, A, no); break;
  case ROVE_OP_RESHAPE:
  case ROVE_OP_CONCAT: ROVE_TRY(back_move(b, i, n, A, no)); break;
  case ROVE_OP_AVGPOOL: back_avgpool(b, n, A, no); break;
  case ROVE_OP_GAP: back_gap(b, n, A, no); break;
  case ROVE_OP_MAXPOOL: back_maxpool(b, i, n, A, no); break;
  case ROVE_OP_ROUND:
  case ROVE_OP_FLOOR:
  case ROVE_OP_FAKEQUANT:
  case ROVE_OP_QUANTIZE: back_band(b, i, n, A, no); break;
  case ROVE_OP_DEQUANTIZE: back_dequantize(b, n, A, no); break;
  case ROVE_OP_CLIP: back_clip(b, i, n, A, no); break;
  case ROVE_OP_SIGMOID:
  case ROVE_OP_TANH: back_sigmoid(b, i, n, A, no); break;
  /* Bounded by their interval. */
  case ROVE_OP_SOFTMAX:
  case ROVE_OP_QCONV:
  case ROVE_OP_CONVINT:
  case ROVE_OP_QADD:
  case ROVE_OP_QAVGPOOL: box(b, i, A, no); break;
  case ROVE_OP_COUNT: return ROVE_ERR(ROVE_EINVAL, "certify: bad layer kind");
  }
  if (b->oom)
    return ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
  return 0;
}

int cert__crown(cert__ctx *c, int t, int R, const double *A, double *lb) {
  bw b;
  memset(&b, 0, sizeof b);
  b.c = c;
  b.R = R;
  b.acc = calloc((size_t)t + 1, sizeof *b.acc);
  b.cst = calloc((size_t)R, sizeof *b.cst);
  int rc = 0;
  if (!b.acc || !b.cst) {
    rc = ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
    goto out;
  }
  size_t nt = (size_t)rove_shape_numel(&c->m->nodes[t].out);
  double *at = acc_of(&b, t);
  if (!at) {
    rc = ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
    goto out;
  }
  memcpy(at, A, (size_t)R * nt * sizeof *at);
  for (int i = t; i >= 0 && rc == 0; i--) {
    if (!b.acc[i])
      continue;
    rc = back_node(&b, i);
    free(b.acc[i]);
    b.acc[i] = NULL;
  }
  if (rc < 0)
    goto out;
  /* Concretise over the input set: the box (the ball's, cut to [0, 1]),
   * and for L2 also the ball itself, a . x0 - eps |a|_2; the larger of
   * two sound bounds is sound. */
  for (int r = 0; r < R; r++) {
    double s = b.cst[r], s2 = b.cst[r], nrm = 0;
    const double *ar = b.ain ? b.ain + (size_t)r * c->d : NULL;
    for (long j = 0; ar && j < c->d; j++) {
      double a = ar[j];
      if (a == 0)
        continue;
      s += a > 0 ? a * c->in_lo[j] : a * c->in_hi[j];
      s2 += a * (double)c->x[j];
      nrm += a * a;
    }
    lb[r] = s;
    if (!c->o->norm_linf) {
      s2 -= c->eps * sqrt(nrm);
      if (s2 > s)
        lb[r] = s2;
    }
    if (isnan(lb[r]))
      lb[r] = -INFINITY;
  }
out:
  if (b.acc)
    for (int i = 0; i <= t; i++)
      free(b.acc[i]);
  free(b.acc);
  free(b.ain);
  free(b.cst);
  return rc;
}
