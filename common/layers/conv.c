/* conv.c - 2-D convolution (groups, stride, dilation, 4-sided padding) by
 * im2col packed straight into a position-independent GEMM. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/kernels/conv_kernels.h"
#include "common/kernels/cpu.h"
#include "common/kernels/depthwise.h"
#include "common/kernels/gemm.h"
#include "common/kernels/winograd.h"
#include "common/layers/util.h"

/* Params: W[K][C/groups][kh][kw], then bias[K] when has_bias (the ONNX and
 * PyTorch layout). Input {C, H, W}, output {K, OH, OW}.
 * Per-example results are bit-identical for any B (the exec's contract):
 * see the note above the forward. */

typedef rove_conv_geom conv_geom;

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

/* The forward and the backward to the input run on rove_gemm (see
 * common/kernels/gemm.h), whose output elements are each one fused
 * multiply-add chain in a fixed order, so the columns of many examples can
 * share one GEMM: the work is cut into chunks of whole output rows taken
 * across the batch (global row gr = b*OH + oh), and the chunk size does
 * not change any result.
 *
 * Forward, per group and chunk: pack A = W_g (Kg x R) once, pack the
 * chunk's im2col columns straight into B's panels (R x cols), C = A B,
 * then copy C's rows into y adding the bias.
 *
 * Backward to the input, per group and chunk: A = W_g^T (R x Kg), B = the
 * chunk's dy columns (Kg x cols), dcol = A B (R x cols), then dcol is
 * scattered into dx (col2im). dx[c][h][w] receives its terms in the order
 * (global row, r), which chunking cannot change, so dx too is
 * bit-identical for any batch size. This costs exactly the forward's
 * multiply-adds plus the scatter, where a correlation with the flipped
 * kernel over a padded dy (conv_backward_corr) also multiplies the
 * padding (+17% on a 26x26 map, +56% on 10x10) but needs no scatter: the
 * backward takes the correlation where the padding adds at most 25%. */
#define NR ROVE_GEMM_NR
#define MR ROVE_GEMM_MR
/* Kernels up to these sizes take col2im's register-summing path. */

/* Output rows per chunk for a GEMM whose larger packed matrix has `depth`
 * rows: about 48K floats of packed B or C, small enough for L2. Depends
 * on the geometry only, never on B, so the workspace is fixed. */
static int chunk_rows(int OW, int depth) {
  int cols = 49152 / (depth > 0 ? depth : 1);
  if (cols < 2 * NR)
    cols = 2 * NR;
  if (cols > 2048)
    cols = 2048;
  int rows = cols / OW;
  return rows > 0 ? rows : 1;
}

/* Chunk sizes of the forward and of the backward GEMMs. */
typedef struct conv_plan {
  int rows_f, ncp_f; /* forward: output rows per chunk, padded columns */
  int rows_b, ncp_b; /* backward to the input */
  int kgp, rp;       /* Kg and R rounded up to MR */
  int cblk;          /* input channels per block of the backward's dcol */
} conv_plan;

static void conv_plan_of(const conv_geom *g, conv_plan *pl) {
  pl->kgp = rove_gemm_up(g->Kg, MR);
  pl->rp = rove_gemm_up(g->R, MR);
  pl->rows_f = chunk_rows(g->OW, g->R > pl->kgp ? g->R : pl->kgp);
  pl->ncp_f = rove_gemm_up(pl->rows_f * g->OW, NR);
  pl->rows_b = chunk_rows(g->OW, pl->rp > g->Kg ? pl->rp : g->Kg);
  pl->ncp_b = rove_gemm_up(pl->rows_b * g->OW, NR);
  /* Channels per block: a multiple of the smallest count whose taps fill
   * whole MR-row blocks of A, about 6K floats of dcol (24 KB, L1). */
  int taps = g->kh * g->kw, unit = 1;
  while (unit * taps % MR)
    unit++;
  int fit = 6144 / pl->ncp_b / taps / unit * unit;
  pl->cblk = fit > unit ? fit : unit;
}

/* Without padding every receptive field lies inside the input, so the
 * forward reads im2col's rows in place (rove_gemm_gather) instead of
 * packing them: output pixels take the role of A's rows, and B is W_g^T
 * in panels of NR output channels. Each output is the same fma chain over
 * the taps (c, i, j) in order as with packing; only the copying goes. */
static int gather_ok(const rove_node *n) {
  const rove_attrs *a = &n->a;
  return a->pt == 0 && a->pl == 0 && a->pb == 0 && a->pr == 0;
}

/* Output pixels per chunk of the gathering forward: about 12K floats of
 * C, a multiple of MR. */
static int gather_chunk(int kp) {
  int pc = 12288 / kp;
  return rove_gemm_up(pc > MR ? pc : MR, MR);
}

/* Workspace layout (floats): ap | bp | c for either GEMM; the weight
 * gradient's buffers (conv_dw_packed's, or else an im2col of one example,
 * R x OH*OW) reuse the same space. */
static int corr_ok(const conv_geom *g);
static size_t corr_workspace(const conv_geom *g);
static int packed_dw_ok(const rove_node *n, const conv_geom *g);
static size_t packed_dw_workspace(const rove_node *n, const conv_geom *g);

static size_t conv_workspace(const rove_node *n, int B) {
  conv_geom g;
  conv_plan pl;
  (void)B;
  conv_geom_of(n, &g);
  if (rove_dw_use(&g))
    return rove_dw_workspace(&g);
  conv_plan_of(&g, &pl);
  size_t fwd =
      (size_t)pl.kgp * g.R + (size_t)g.R * pl.ncp_f + (size_t)pl.kgp * pl.ncp_f;
  size_t bwd =
      (size_t)pl.rp * g.Kg + (size_t)g.Kg * pl.ncp_b + (size_t)pl.rp * pl.ncp_b;
  size_t dw = (size_t)g.R * (size_t)g.OH * (size_t)g.OW;
  if (gather_ok(n)) {
    int kp = rove_gemm_up(g.Kg, NR);
    fwd = (size_t)kp * g.R + (size_t)g.R + (size_t)gather_chunk(kp) * kp;
  }
  if (packed_dw_ok(n, &g))
    dw = packed_dw_workspace(n, &g);
  if (corr_ok(&g))
    bwd = corr_workspace(&g);
  size_t w = fwd > bwd ? fwd : bwd;
  w = w > dw ? w : dw;
  /* Winograd's whenever the geometry allows it, so that a change of mode
   * (rove_wino_set_mode) after the exec was planned stays in bounds. */
  if (rove_wino_prep_size(&g) > 0 && rove_wino_workspace(&g) > w)
    w = rove_wino_workspace(&g);
  return w;
}

/* Copies len input pixels starting at column iw0 with stride sw from the
 * input row `src` (W wide, NULL: a padding row) to d, zero outside. */
static void copy_run(float *d, const float *src, int iw0, int len, int sw,
                     int W) {
  if (!src) {
    for (int v = 0; v < len; v++)
      d[v] = 0.0f;
  } else if (iw0 >= 0 && iw0 + (len - 1) * sw < W) {
    const float *s = src + iw0;
    /* Fixed sizes become a few vector moves: runs are panel-sized (NR)
     * or half of it for most maps. */
    if (sw == 1 && len == NR)
      memcpy(d, s, sizeof(float) * NR);
    else if (sw == 1 && len == NR / 2)
      memcpy(d, s, sizeof(float) * (NR / 2));
    else if (sw == 1)
      for (int v = 0; v < len; v++)
        d[v] = s[v];
    else
      for (int v = 0; v < len; v++)
        d[v] = s[v * sw];
  } else {
    for (int v = 0; v < len; v++) {
      int iw = iw0 + v * sw;
      d[v] = iw >= 0 && iw < W ? src[iw] : 0.0f;
    }
  }
}

/* col[(c*kh + i)*kw + j][oh*OW + ow] = x[c][oh*sh - pt + i*dh][ow*sw - pl +
 * j*dw], zero in the padding. x: Cg x H x W, col: R x (OH*OW). Only the
 * weight gradient uses this plain layout. Each output row is one run of
 * copy_run, so an unpadded stride-1 row is a straight copy rather than a
 * bounds test per pixel (which made this the costliest part of a
 * training step). */
static void im2col(const conv_geom *g, const float *x, float *col) {
  for (int c = 0; c < g->Cg; c++)
    for (int i = 0; i < g->kh; i++)
      for (int j = 0; j < g->kw; j++) {
        float *row =
            col + (size_t)((c * g->kh + i) * g->kw + j) * g->OH * g->OW;
        int woff = j * g->dw - g->pl;
        for (int oh = 0; oh < g->OH; oh++) {
          int ih = oh * g->sh - g->pt + i * g->dh;
          const float *src =
              ih >= 0 && ih < g->H ? x + ((size_t)c * g->H + ih) * g->W : NULL;
          copy_run(row + (size_t)oh * g->OW, src, woff, g->OW, g->sw, g->W);
        }
      }
}

/* Packs the im2col columns of global output rows [gr0, gr0 + nrows) into
 * GEMM panels (see gemm.h): column (t*OW + ow), row r = (c*kh + i)*kw + j.
 * x: the group's first channel of example 0; examples are bstride apart.
 * Columns past nrows*OW up to the panel edge are zero. */
static void pack_cols(const conv_geom *g, const float *x, size_t bstride,
                      int gr0, int nrows, float *bp) {
  int R = g->R, cols = nrows * g->OW, ncp = rove_gemm_up(cols, NR);
  for (int t = 0; t < nrows; t++) {
    int b = (gr0 + t) / g->OH, oh = (gr0 + t) % g->OH;
    const float *xb = x + (size_t)b * bstride;
    for (int ow = 0; ow < g->OW;) {
      int j = t * g->OW + ow, off = j % NR;
      int len = g->OW - ow < NR - off ? g->OW - ow : NR - off;
      float *dst = bp + (size_t)(j / NR) * R * NR + off;
      for (int c = 0, r = 0; c < g->Cg; c++)
        for (int i = 0; i < g->kh; i++) {
          int ih = oh * g->sh - g->pt + i * g->dh;
          const float *src =
              ih >= 0 && ih < g->H ? xb + ((size_t)c * g->H + ih) * g->W : NULL;
          for (int jj = 0; jj < g->kw; jj++, r++)
            copy_run(dst + (size_t)r * NR, src, ow * g->sw - g->pl + jj * g->dw,
                     len, g->sw, g->W);
        }
      ow += len;
    }
  }
  for (int j = cols; j < ncp; j++) {
    float *dst = bp + (size_t)(j / NR) * R * NR + j % NR;
    for (int r = 0; r < R; r++)
      dst[(size_t)r * NR] = 0.0f;
  }
}

/* Packs the chunk's dy columns (global output rows [gr0, gr0 + nrows),
 * which are consecutive pixels of consecutive examples) into B's panels:
 * element (k, j) = dy[b][k][q] for column j's pixel (b, q); zero past the
 * last column. dy: the group's first channel of example 0, examples
 * bstride apart, Kg channels of P pixels. A run of a panel that stays in
 * one example is a block copy per channel. */
static void pack_dy(const conv_geom *g, const float *dy, size_t bstride,
                    int gr0, int nrows, float *bp) {
  int Kg = g->Kg, P = g->OH * g->OW, cols = nrows * g->OW;
  int ncp = rove_gemm_up(cols, NR);
  long gp0 = (long)gr0 * g->OW;
  for (int j = 0; j < ncp;) {
    int off = j % NR, len = NR - off;
    float *dst = bp + (size_t)(j / NR) * Kg * NR + off;
    if (j >= cols) {
      for (int k = 0; k < Kg; k++)
        for (int v = 0; v < len; v++)
          dst[(size_t)k * NR + v] = 0.0f;
      j += len;
      continue;
    }
    long gp = gp0 + j, b = gp / P;
    int q = (int)(gp % P);
    if (len > P - q)
      len = P - q;
    if (len > cols - j)
      len = cols - j;
    const float *src = dy + (size_t)b * bstride + q;
    if (len == NR)
      for (int k = 0; k < Kg; k++)
        memcpy(dst + (size_t)k * NR, src + (size_t)k * P, sizeof(float) * NR);
    else
      for (int k = 0; k < Kg; k++)
        for (int v = 0; v < len; v++)
          dst[(size_t)k * NR + v] = src[(size_t)k * P + v];
    j += len;
  }
}

/* conv_forward without padding: see gather_ok. Workspace: W_g^T panels
 * (R x kp), the tap offsets (R ints), C (chunk pixels x kp). With acc,
 * y += the convolution (no bias) instead of y = it: the backward's
 * transposed form (conv_backward_corr). */
static size_t gather_workspace(const conv_geom *g) {
  int kp = rove_gemm_up(g->Kg, NR);
  return (size_t)kp * g->R + (size_t)g->R + (size_t)gather_chunk(kp) * kp;
}

static void conv_forward_gather(const conv_geom *g, const float *p,
                                const float *bias, int B, const float *x,
                                float *y, float *ws, int acc) {
  int P = g->OH * g->OW, kp = rove_gemm_up(g->Kg, NR), pc = gather_chunk(kp);
  long total = (long)B * P;
  size_t xb = (size_t)g->C * g->H * g->W;
  float *bp = ws;
  /* The workspace is plain allocated memory: storing ints in it makes
   * them its effective type until the next layer stores floats. */
  int *koff = (int *)(bp + (size_t)kp * g->R);
  float *cb = bp + (size_t)kp * g->R + g->R;
  for (int c = 0, r = 0; c < g->Cg; c++)
    for (int i = 0; i < g->kh; i++)
      for (int j = 0; j < g->kw; j++, r++)
        koff[r] = (c * g->H + i * g->dh) * g->W + j * g->dw;
  for (int gi = 0; gi < g->G; gi++) {
    const float *Wg = p + (size_t)gi * g->Kg * g->R;
    /* B (R x kp) = W_g^T in NR-column panels, zero past Kg. */
    for (int k = 0; k < kp; k++) {
      float *d = bp + (size_t)(k / NR) * g->R * NR + k % NR;
      for (int r = 0; r < g->R; r++)
        d[(size_t)r * NR] = k < g->Kg ? Wg[(size_t)k * g->R + r] : 0.0f;
    }
    const float *xg = x + (size_t)gi * g->Cg * g->H * g->W;
    for (long j0 = 0; j0 < total; j0 += pc) {
      int n = total - j0 < pc ? (int)(total - j0) : pc;
      for (int m0 = 0; m0 < n; m0 += MR) {
        const float *rows[MR];
        for (int m = 0; m < MR; m++) {
          /* A short last block repeats its last pixel; those rows of C
           * are never read. */
          long j = j0 + (m0 + m < n ? m0 + m : n - 1);
          long b = j / P;
          int q = (int)(j % P), oh = q / g->OW, ow = q % g->OW;
          rows[m] = xg + (size_t)b * xb + (size_t)oh * g->sh * g->W +
                    (size_t)ow * g->sw;
        }
        rove_gemm_gather(g->R, koff, rows, kp, bp, cb + (size_t)m0 * kp, kp);
      }
      /* y[b][k][q] = C[j][k] + bias, example by example. */
      for (int m0 = 0; m0 < n;) {
        long j = j0 + m0, b = j / P;
        int q0 = (int)(j % P), len = P - q0 < n - m0 ? P - q0 : n - m0;
        int k = rove_conv_transpose_out(
            cb + (size_t)m0 * kp, kp, len, g->Kg,
            y + ((size_t)b * g->K + gi * g->Kg) * P + q0, P,
            bias ? bias + gi * g->Kg : NULL, acc);
        for (; k < g->Kg; k++) {
          int kk = gi * g->Kg + k;
          float *yr = y + ((size_t)b * g->K + kk) * P + q0;
          const float *s = cb + (size_t)m0 * kp + k;
          if (acc)
            for (int q = 0; q < len; q++)
              yr[q] += s[(size_t)q * kp];
          else if (bias)
            for (int q = 0; q < len; q++)
              yr[q] = s[(size_t)q * kp] + bias[kk];
          else
            for (int q = 0; q < len; q++)
              yr[q] = s[(size_t)q * kp];
        }
        m0 += len;
      }
    }
  }
}

/* The backward to the input as a forward convolution: for stride 1,
 * dx[c][h][w] = sum over k, i, j of W[k][c][kh-1-i][kw-1-j] *
 * dyp[k][h + i*dh][w + j*dw], where dyp is dy with (kh-1)*dh - pt rows of
 * zeros on top, (kh-1)*dh - pb below, and likewise on the sides. That is
 * the gathering forward (no padding, so no im2col and no col2im) over
 * dyp with the transposed, flipped kernel, at the price of multiplying
 * the zeros: H*W / (OH*OW) times the forward's multiply-adds. Taken where
 * that ratio is small (corr_ok), where it beats the GEMM-then-scatter
 * path. Each dx element is one fma chain over (k, i, j) added to dx, so
 * the result does not depend on the batch. */
static int corr_geom(const conv_geom *g, conv_geom *t) {
  int PT = (g->kh - 1) * g->dh - g->pt, PL = (g->kw - 1) * g->dw - g->pl;
  *t = *g;
  t->C = g->K;
  t->Cg = g->Kg;
  t->H = g->H + (g->kh - 1) * g->dh;
  t->W = g->W + (g->kw - 1) * g->dw;
  t->K = g->C;
  t->Kg = g->Cg;
  t->OH = g->H;
  t->OW = g->W;
  t->sh = t->sw = 1;
  t->pt = t->pl = 0;
  t->R = g->Kg * g->kh * g->kw;
  t->direct = 0;
  /* dyp's padding on all four sides must be >= 0. */
  return PT >= 0 && PL >= 0 && PT + g->OH <= t->H && PL + g->OW <= t->W;
}

/* Whether conv_backward_corr runs: stride 1, the padding of dy fits, at
 * least 8 input channels per group (they are the GEMM's NR-wide side),
 * and the zeros cost at most a quarter more multiply-adds. */
static int corr_ok(const conv_geom *g) {
  conv_geom t;
  if (g->sh != 1 || g->sw != 1 || g->Cg < 8 || !corr_geom(g, &t))
    return 0;
  /* A 1x1 convolution's input gradient is the plain GEMM W^T dy, which
   * the packed path runs across the batch; the correlation runs one
   * example at a time, which measured slower on maps of 8x8 or less (the
   * 960-channel 2x2 layers of MobileNetV2: 3.2 -> 0.4 ms at batch 32) and
   * where the convolution widens (K > C; 1.1-1.5x), a little faster
   * otherwise (bench/README.md). */
  if (g->direct && (g->OH * g->OW <= 64 || g->Kg > g->Cg))
    return 0;
  return (long)g->H * g->W * 4 <= (long)g->OH * g->OW * 5;
}

/* Workspace: the flipped kernel, one example's dyp, the gather's. */
static size_t corr_workspace(const conv_geom *g) {
  conv_geom t;
  corr_geom(g, &t);
  return (size_t)g->K * g->R + (size_t)t.C * t.H * t.W + gather_workspace(&t);
}

static void conv_backward_corr(const conv_geom *g, const float *p, int B,
                               const float *dy, float *dx, float *ws) {
  conv_geom t;
  corr_geom(g, &t);
  int PT = (g->kh - 1) * g->dh - g->pt, PL = (g->kw - 1) * g->dw - g->pl;
  int khw = g->kh * g->kw, P = g->OH * g->OW;
  float *wf = ws, *dyp = wf + (size_t)g->K * g->R;
  float *gws = dyp + (size_t)t.C * t.H * t.W;
  /* wf[gi][c][k][i'][j'] = W[gi*Kg + k][c][kh-1-i'][kw-1-j']. */
  for (int gi = 0; gi < g->G; gi++)
    for (int c = 0; c < g->Cg; c++)
      for (int k = 0; k < g->Kg; k++)
        for (int f = 0; f < khw; f++)
          wf[(((size_t)gi * g->Cg + c) * g->Kg + k) * khw + f] =
              p[(((size_t)gi * g->Kg + k) * g->Cg + c) * khw + khw - 1 - f];
  memset(dyp, 0, sizeof(float) * (size_t)t.C * t.H * t.W);
  for (int b = 0; b < B; b++) {
    for (int k = 0; k < g->K; k++)
      for (int oh = 0; oh < g->OH; oh++)
        memcpy(dyp + ((size_t)k * t.H + PT + oh) * t.W + PL,
               dy + ((size_t)b * g->K + k) * P + (size_t)oh * g->OW,
               sizeof(float) * (size_t)g->OW);
    conv_forward_gather(&t, wf, NULL, 1, dyp,
                        dx + (size_t)b * g->C * g->H * g->W, gws, 1);
  }
}

/* x: B x C x H x W, y: B x K x OH x OW. */
static void conv_forward_prep(const rove_node *n, const float *p,
                              const float *prep, int B, const float *const *x,
                              float *y, float *ws) {
  conv_geom g;
  conv_plan pl;
  conv_geom_of(n, &g);
  conv_plan_of(&g, &pl);
  int P = g.OH * g.OW, rows = B * g.OH;
  const float *bias = n->a.has_bias ? p + (size_t)g.K * g.R : NULL;
  if (rove_dw_use(&g)) {
    rove_dw_forward(&g, p, bias, B, x[0], y, ws);
    return;
  }
  if (rove_wino_use(&g, 0)) {
    rove_wino_forward(&g, p, prep, bias, B, x[0], y, 0, ws);
    return;
  }
  if (gather_ok(n)) {
    conv_forward_gather(&g, p, bias, B, x[0], y, ws, 0);
    return;
  }
  float *ap = ws, *bp = ap + (size_t)pl.kgp * g.R;
  float *cb = bp + (size_t)g.R * pl.ncp_f;
  for (int gi = 0; gi < g.G; gi++) {
    rove_gemm_pack_a(g.Kg, g.R, p + (size_t)gi * g.Kg * g.R, g.R, 1, ap);
    for (int gr0 = 0; gr0 < rows; gr0 += pl.rows_f) {
      int nr = rows - gr0 < pl.rows_f ? rows - gr0 : pl.rows_f;
      int ncp = rove_gemm_up(nr * g.OW, NR);
      pack_cols(&g, x[0] + (size_t)gi * g.Cg * g.H * g.W,
                (size_t)g.C * g.H * g.W, gr0, nr, bp);
      rove_gemm_packed(pl.kgp, ncp, g.R, ap, bp, cb, ncp);
      for (int t = 0; t < nr; t++) {
        int b = (gr0 + t) / g.OH, oh = (gr0 + t) % g.OH;
        for (int k = 0; k < g.Kg; k++) {
          int kk = gi * g.Kg + k;
          float *yr = y + ((size_t)b * g.K + kk) * P + (size_t)oh * g.OW;
          const float *s = cb + (size_t)k * ncp + (size_t)t * g.OW;
          if (bias)
            for (int ow = 0; ow < g.OW; ow++)
              yr[ow] = s[ow] + bias[kk];
          else
            for (int ow = 0; ow < g.OW; ow++)
              yr[ow] = s[ow];
        }
      }
    }
  }
}

/* The weight gradient as one packed GEMM per group over all the batch's
 * pixels: dW_g (Kg x R) = dY_g (Kg x B*P) . COL^T (B*P x R), the inner
 * dimension taken DWK pixels at a time with C's chains continued
 * (rove_gemm_packed_acc), so that every element is one fma chain over the
 * pixels in the order (b, q) whatever the chunking, then added to dw. A is
 * the chunk of dY_g packed in MR-row blocks, B the chunk of COL^T gathered
 * in NR-tap panels (rove_conv_pack_taps) from the input, or, when the
 * convolution pads, from a copy of a few examples with their padding made
 * real (zeros). The examples per copy depend on the geometry only. */
#define DWK 256

static void padded_geom(const rove_node *n, const conv_geom *g, conv_geom *gp) {
  *gp = *g;
  gp->H = g->H + n->a.pt + n->a.pb;
  gp->W = g->W + n->a.pl + n->a.pr;
  gp->pt = gp->pl = 0;
}

static int copy_examples(const conv_geom *gp) {
  long one = (long)gp->Cg * gp->H * gp->W;
  long nb = (1L << 20) / (one > 0 ? one : 1);
  return nb < 1 ? 1 : nb > 64 ? 64 : (int)nb;
}

static int pads(const rove_node *n) {
  return n->a.pt || n->a.pl || n->a.pb || n->a.pr;
}

/* The path needs non-negative padding and offsets that fit an int. */
static int packed_dw_ok(const rove_node *n, const conv_geom *g) {
  conv_geom gp;
  padded_geom(n, g, &gp);
  long span = pads(n)
                  ? (long)copy_examples(&gp) * gp.Cg * gp.H * gp.W
                  : ((long)DWK / (g->OH * g->OW > 0 ? g->OH * g->OW : 1) + 2) *
                        g->C * g->H * g->W;
  return n->a.pt >= 0 && n->a.pl >= 0 && n->a.pb >= 0 && n->a.pr >= 0 &&
         span < 0x3fffffffL;
}

static size_t packed_dw_workspace(const rove_node *n, const conv_geom *g) {
  conv_geom gp;
  padded_geom(n, g, &gp);
  size_t kgp = (size_t)rove_gemm_up(g->Kg, MR), rp = rove_gemm_up(g->R, NR);
  size_t copy = pads(n) ? (size_t)copy_examples(&gp) * gp.Cg * gp.H * gp.W : 0;
  return kgp * rp + kgp * DWK + (size_t)DWK * rp + DWK + (size_t)g->R + copy;
}

static void conv_dw_packed(const rove_node *n, const conv_geom *g, int B,
                           const float *x, const float *dy, float *dw,
                           float *ws) {
  conv_geom gp;
  padded_geom(n, g, &gp);
  int P = g->OH * g->OW, kgp = rove_gemm_up(g->Kg, MR);
  int rp = rove_gemm_up(g->R, NR), padded = pads(n);
  int nb = padded ? copy_examples(&gp) : B;
  size_t xs = (size_t)g->C * g->H * g->W;                /* one input */
  size_t cs = padded ? (size_t)gp.Cg * gp.H * gp.W : xs; /* one copy */
  float *cb = ws, *ap = cb + (size_t)kgp * rp, *bp = ap + (size_t)kgp * DWK;
  /* Plain allocated memory: storing ints makes them its effective type
   * until the next layer stores floats. */
  int *pix = (int *)(bp + (size_t)DWK * rp), *toff = pix + DWK;
  float *xp = (float *)(toff + g->R);
  for (int r = 0; r < g->R; r++) {
    int c = r / (g->kh * g->kw), i = r / g->kw % g->kh, jj = r % g->kw;
    toff[r] = (c * gp.H + i * g->dh) * gp.W + jj * g->dw;
  }
  for (int gi = 0; gi < g->G; gi++) {
    int first = 1;
    for (int b0 = 0; b0 < B; b0 += nb) {
      int cnt = B - b0 < nb ? B - b0 : nb;
      const float *base;
      if (padded) {
        memset(xp, 0, sizeof(float) * cs * (size_t)cnt);
        for (int b = 0; b < cnt; b++)
          for (int c = 0; c < g->Cg; c++)
            for (int h = 0; h < g->H; h++)
              memcpy(xp + (size_t)b * cs +
                         ((size_t)c * gp.H + h + n->a.pt) * gp.W + n->a.pl,
                     x + (size_t)(b0 + b) * xs +
                         (((size_t)gi * g->Cg + c) * g->H + h) * g->W,
                     sizeof(float) * (size_t)g->W);
        base = xp;
      } else {
        base = x + (size_t)b0 * xs + (size_t)gi * g->Cg * g->H * g->W;
      }
      long total = (long)cnt * P;
      for (long j0 = 0; j0 < total; j0 += DWK) {
        int kc = total - j0 < DWK ? (int)(total - j0) : DWK;
        long bfirst = j0 / P;
        for (int t = 0; t < kc; t++) {
          long j = j0 + t;
          int q = (int)(j % P);
          pix[t] = (int)((size_t)(j / P - bfirst) * cs +
                         (size_t)(q / g->OW) * g->sh * gp.W +
                         (size_t)(q % g->OW) * g->sw);
        }
        /* A: dY_g's rows over the chunk's pixels, zero past Kg. */
        for (int k = 0; k < kgp; k++) {
          float *d = ap + (size_t)(k / MR) * kc * MR + k % MR;
          if (k >= g->Kg) {
            for (int t = 0; t < kc; t++)
              d[(size_t)t * MR] = 0.0f;
            continue;
          }
          for (int t = 0; t < kc;) {
            long j = j0 + t, b = b0 + j / P;
            int q0 = (int)(j % P), len = P - q0 < kc - t ? P - q0 : kc - t;
            const float *sr = dy + ((size_t)b * g->K + gi * g->Kg + k) * P + q0;
            float *dt = d + (size_t)t * MR;
            for (int q = 0; q < len; q++)
              dt[(size_t)q * MR] = sr[q];
            t += len;
          }
        }
        rove_conv_pack_taps(base + (size_t)bfirst * cs, pix, kc, toff, g->R,
                            bp);
        if (first)
          rove_gemm_packed(kgp, rp, kc, ap, bp, cb, rp);
        else
          rove_gemm_packed_acc(kgp, rp, kc, ap, bp, cb, rp);
        first = 0;
      }
    }
    float *dwg = dw + (size_t)gi * g->Kg * g->R;
    for (int k = 0; k < g->Kg; k++)
      for (int r = 0; r < g->R; r++)
        dwg[(size_t)k * g->R + r] += cb[(size_t)k * rp + r];
  }
}

/* dbias[k] += sum over the batch and pixels of dy[b][k][q], with eight
 * running partial sums per row (a fixed order, so the same batch gives the
 * same bits) instead of one serial chain of adds. */
static void conv_dbias(int B, int K, int P, const float *dy, float *dbias) {
  for (int b = 0; b < B; b++)
    for (int k = 0; k < K; k++) {
      const float *s = dy + ((size_t)b * K + k) * P;
      float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int q = 0;
      for (; q + 8 <= P; q += 8)
        for (int u = 0; u < 8; u++)
          a[u] += s[q + u];
      for (; q < P; q++)
        a[0] += s[q];
      dbias[k] +=
          ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
}

static void conv_forward(const rove_node *n, const float *p, int B,
                         const float *const *x, float *y, float *ws) {
  conv_forward_prep(n, p, NULL, B, x, y, ws);
}

static void conv_backward_prep(const rove_node *n, const float *p,
                               const float *prep, int B, const float *const *x,
                               const float *y, const float *dy,
                               float *const *dx, float *dp, float *ws,
                               rove_bwd bwd) {
  conv_geom g;
  conv_plan pl;
  (void)y;
  (void)bwd;
  conv_geom_of(n, &g);
  conv_plan_of(&g, &pl);
  int P = g.OH * g.OW;
  if (dp) {
    float *dbias = n->a.has_bias ? dp + (size_t)g.K * g.R : NULL;
    if (dbias)
      conv_dbias(B, g.K, P, dy, dbias);
    if (rove_dw_use(&g)) {
      rove_dw_backward_w(&g, B, x[0], dy, dp, ws);
    } else if (packed_dw_ok(n, &g)) {
      conv_dw_packed(n, &g, B, x[0], dy, dp, ws);
    } else {
      /* Negative padding, or offsets past an int: an im2col and one
       * OpenBLAS GEMM per example and group. */
      for (int b = 0; b < B; b++) {
        const float *xb = x[0] + (size_t)b * g.C * g.H * g.W;
        const float *dyb = dy + (size_t)b * g.K * P;
        for (int gi = 0; gi < g.G; gi++) {
          const float *col = xb + (size_t)gi * g.Cg * g.H * g.W;
          if (!g.direct) {
            im2col(&g, col, ws);
            col = ws;
          }
          /* dW_g (Kg x R) += dy_g (Kg x P) . col^T (P x R) */
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g.Kg, g.R, P,
                      1.0f, dyb + (size_t)gi * g.Kg * P, P, col, P, 1.0f,
                      dp + (size_t)gi * g.Kg * g.R, g.R);
        }
      }
    }
  }
  if (!dx[0])
    return;
  if (rove_dw_use(&g)) {
    rove_dw_backward_x(&g, p, B, dy, dx[0], ws);
    return;
  }
  if (rove_wino_use(&g, 1)) {
    rove_wino_backward_x(&g, p, prep, B, dy, dx[0], ws);
    return;
  }
  if (corr_ok(&g)) {
    conv_backward_corr(&g, p, B, dy, dx[0], ws);
    return;
  }
  int rows = B * g.OH;
  float *ap = ws, *bp = ap + (size_t)pl.rp * g.Kg;
  float *cb = bp + (size_t)g.Kg * pl.ncp_b;
  for (int gi = 0; gi < g.G; gi++) {
    /* A = W_g^T: element (r, k) of W_g^T is W_g[k][r]. */
    rove_gemm_pack_a(g.R, g.Kg, p + (size_t)gi * g.Kg * g.R, 1, g.R, ap);
    for (int gr0 = 0; gr0 < rows; gr0 += pl.rows_b) {
      int nr = rows - gr0 < pl.rows_b ? rows - gr0 : pl.rows_b;
      int ncp = rove_gemm_up(nr * g.OW, NR);
      pack_dy(&g, dy + (size_t)gi * g.Kg * P, (size_t)g.K * P, gr0, nr, bp);
      /* Input channels a block at a time, so the block's rows of dcol are
       * still in L1 when col2im reads them. A dx element's terms all come
       * from its own channel's taps, so the blocking changes no order. */
      for (int c0 = 0; c0 < g.Cg; c0 += pl.cblk) {
        int c1 = g.Cg - c0 < pl.cblk ? g.Cg : c0 + pl.cblk;
        int r0 = c0 * g.kh * g.kw, r1 = rove_gemm_up(c1 * g.kh * g.kw, MR);
        rove_gemm_packed(r1 - r0, ncp, g.Kg, ap + (size_t)r0 * g.Kg, bp, cb,
                         ncp);
        rove_col2im_rows(&g, cb, ncp, gr0, nr,
                         dx[0] + (size_t)gi * g.Cg * g.H * g.W,
                         (size_t)g.C * g.H * g.W, c0, c1,
                         dx[0] + (size_t)B * g.C * g.H * g.W);
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
  case 8: /* depthwise 3x3, stride 1, padding 1, width past 16 (the direct
           * kernel's vector and scalar columns) */
    rove_layer__shape3(&ins[0], 3, 5, 19);
    a->out = 3;
    a->groups = 3;
    a->pt = a->pl = a->pb = a->pr = 1;
    return 1;
  case 9: /* depthwise 5x5, asymmetric padding, no bias */
    rove_layer__shape3(&ins[0], 2, 7, 10);
    a->out = 2;
    a->groups = 2;
    a->kh = a->kw = 5;
    a->pt = 2;
    a->pl = 1;
    a->pb = 1;
    a->pr = 3;
    a->has_bias = 0;
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
  case 10: /* depthwise with 10 channels, stride 2 (channels as lanes: one
            * block of 16 with 6 empty lanes) */
    rove_layer__shape3(&ins[0], 10, 5, 6);
    a->out = 10;
    a->groups = 10;
    a->sh = a->sw = 2;
    a->pt = a->pl = a->pb = a->pr = 1;
    return 1;
  case 11: /* 3x3 stride 1, padding 1, odd map (Winograd when
            * ROVE_WINOGRAD=all: a cropped last tile) */
    rove_layer__shape3(&ins[0], 9, 5, 7);
    a->out = 7;
    a->pt = a->pl = a->pb = a->pr = 1;
    return 1;
  case 12: /* 1x1 with 9 input channels on a 3x3 map (the input gradient
            * as the packed W^T dy GEMM) */
    rove_layer__shape3(&ins[0], 9, 3, 3);
    a->out = 11;
    a->kh = a->kw = 1;
    return 1;
  default: return 0;
  }
}

static void conv_backward(const rove_node *n, const float *p, int B,
                          const float *const *x, const float *y,
                          const float *dy, float *const *dx, float *dp,
                          float *ws, rove_bwd bwd) {
  conv_backward_prep(n, p, NULL, B, x, y, dy, dx, dp, ws, bwd);
}

/* The prepared data: Winograd's transformed kernels where eligible. */
static size_t conv_prep_size(const rove_node *n) {
  conv_geom g;
  conv_geom_of(n, &g);
  return rove_wino_prep_size(&g);
}

static void conv_prepare(const rove_node *n, const float *p, float *prep) {
  conv_geom g;
  conv_geom_of(n, &g);
  rove_wino_prepare(&g, p, prep);
}

const rove_layer_ops rove_layer_conv = {
    .name = "conv",
    .flags = 0,
    .setup = conv_setup,
    .workspace = conv_workspace,
    .forward = conv_forward,
    .backward = conv_backward,
    .prep_size = conv_prep_size,
    .prepare = conv_prepare,
    .forward_prep = conv_forward_prep,
    .backward_prep = conv_backward_prep,
    .macs = conv_macs,
    .example = conv_example,
};
