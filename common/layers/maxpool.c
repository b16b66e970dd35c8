/* maxpool.c - 2-D max pooling (stride, dilation, 4-sided padding,
 * ceil_mode); smooth backward through log-sum-exp. */
#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/err.h"
#include "common/kernels/cpu.h"
#include "common/layers/util.h"

/* Input {C, H, W}, output {C, OH, OW}. Padding never wins the max (it is
 * -inf, as in ONNX and PyTorch). Backward modes: exact routes dy to the
 * first maximum of the window in row-major order; ROVE_BWD_SMOOTH spreads
 * it with the weights softmax(beta * window), the gradient of the
 * surrogate (1/beta) log sum exp(beta * window); the straight-through
 * modes are exact. */

static int maxpool_setup(rove_node *n) {
  const rove_attrs *a = &n->a;
  ROVE_TRY(rove_layer__want_inputs(n, 1));
  ROVE_TRY(rove_layer__check_window(n));
  int C = n->ins[0].d[0], H = n->ins[0].d[1], W = n->ins[0].d[2];
  int kh = (a->kh - 1) * a->dh + 1, kw = (a->kw - 1) * a->dw + 1;
  if (a->pt >= kh || a->pb >= kh || a->pl >= kw || a->pr >= kw)
    return ROVE_ERR(ROVE_EINVAL,
                    "node '%s' (maxpool): padding %d,%d,%d,%d must be smaller "
                    "than the %dx%d kernel",
                    n->name, a->pt, a->pl, a->pb, a->pr, kh, kw);
  int OH = rove_layer__pool_out(H, kh, a->sh, a->pt, a->pb, a->ceil_mode);
  int OW = rove_layer__pool_out(W, kw, a->sw, a->pl, a->pr, a->ceil_mode);
  if (OH < 1 || OW < 1)
    return ROVE_ERR(ROVE_ESHAPE,
                    "node '%s' (maxpool): %dx%d window does not fit the "
                    "padded %dx%d input",
                    n->name, kh, kw, H + a->pt + a->pb, W + a->pl + a->pr);
  rove_layer__shape3(&n->out, C, OH, OW);
  n->n_params = n->n_trainable = 0;
  return 0;
}

/* Index (into the H x W plane) of the first maximum of window (oh, ow);
 * every window holds at least one input element (padding < kernel). */
static int window_argmax(const rove_attrs *a, const float *xp, int H, int W,
                         int oh, int ow) {
  int best = -1;
  float bv = 0;
  int h0 = oh * a->sh - a->pt, w0 = ow * a->sw - a->pl;
  for (int i = 0; i < a->kh; i++) {
    int ih = h0 + i * a->dh;
    if (ih < 0 || ih >= H)
      continue;
    for (int j = 0; j < a->kw; j++) {
      int iw = w0 + j * a->dw;
      if (iw < 0 || iw >= W)
        continue;
      float v = xp[ih * W + iw];
      /* !(v <= bv) also lets a NaN win, so NaN propagates as in PyTorch. */
      if (best < 0 || !(v <= bv)) {
        best = ih * W + iw;
        bv = v;
      }
    }
  }
  return best;
}

/* window_argmax for the windows ow0 .. ow0 + n - 1 of output row oh
 * into idx (n <= ARGMAX_ROW). With AVX2, eight windows at a time, one per
 * lane: each tap is gathered for the eight, and the scan's rule (the
 * first tap inside the input is taken, later ones when !(v <= best), so a
 * NaN wins) is applied with compare masks and blends. The scalar scan's
 * compare-and-branch chain, one window after another, cost ~100 cycles a
 * window; here eight windows share one chain and nothing branches on the
 * data. Same taps, same order, same rule: the same winners. */
#define ARGMAX_ROW 64
#if defined(__x86_64__)
__attribute__((target("avx2"))) static int
row_argmax_avx2(const rove_attrs *a, const float *xp, int H, int W, int oh,
                int ow0, int n, int *idx) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i sw = _mm256_set1_epi32(a->sw), wv = _mm256_set1_epi32(W);
  int h0 = oh * a->sh - a->pt, ow = ow0;
  for (; ow + 8 <= ow0 + n; ow += 8) {
    /* Lane l: window ow + l, whose first column is (ow + l)*sw - pl. */
    __m256i c0 = _mm256_sub_epi32(
        _mm256_mullo_epi32(_mm256_add_epi32(_mm256_set1_epi32(ow), iota), sw),
        _mm256_set1_epi32(a->pl));
    __m256 bv = _mm256_setzero_ps();
    __m256i best = _mm256_setzero_si256(), started = _mm256_setzero_si256();
    for (int i = 0; i < a->kh; i++) {
      int ih = h0 + i * a->dh;
      if (ih < 0 || ih >= H) /* the same for every lane */
        continue;
      for (int j = 0; j < a->kw; j++) {
        __m256i col = _mm256_add_epi32(c0, _mm256_set1_epi32(j * a->dw));
        __m256i ok =
            _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_setzero_si256(), col),
                                _mm256_cmpgt_epi32(wv, col));
        __m256i at = _mm256_add_epi32(_mm256_set1_epi32(ih * W), col);
        /* Lanes outside the input read nothing (the mask) and get 0. */
        __m256 v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xp, at,
                                            _mm256_castsi256_ps(ok), 4);
        __m256i gt = _mm256_castps_si256(_mm256_cmp_ps(v, bv, _CMP_NLE_UQ));
        __m256i take = _mm256_and_si256(
            ok, _mm256_or_si256(
                    gt, _mm256_xor_si256(started, _mm256_set1_epi32(-1))));
        best = _mm256_blendv_epi8(best, at, take);
        bv = _mm256_blendv_ps(bv, v, _mm256_castsi256_ps(take));
        started = _mm256_or_si256(started, ok);
      }
    }
    _mm256_storeu_si256((__m256i *)(void *)(idx + (ow - ow0)), best);
  }
  return ow - ow0;
}
#endif

static void row_argmax(const rove_attrs *a, const float *xp, int H, int W,
                       int oh, int ow0, int n, int *idx) {
  int done = 0;
#if defined(__x86_64__)
  if (rove_cpu_simd())
    done = row_argmax_avx2(a, xp, H, W, oh, ow0, n, idx);
#endif
  for (int q = done; q < n; q++)
    idx[q] = window_argmax(a, xp, H, W, oh, ow0 + q);
}

/* The common 2x2 stride-2 unpadded case with every window inside the
 * input (not a ceil_mode window hanging over an odd edge), written so it
 * vectorises. */
static int is_2x2(const rove_node *n) {
  const rove_attrs *a = &n->a;
  return a->kh == 2 && a->kw == 2 && a->sh == 2 && a->sw == 2 && a->dh == 1 &&
         a->dw == 1 && a->pt == 0 && a->pl == 0 && a->pb == 0 && a->pr == 0 &&
         2 * n->out.d[1] <= n->ins[0].d[1] && 2 * n->out.d[2] <= n->ins[0].d[2];
}

static void maxpool_forward(const rove_node *n, const float *p, int B,
                            const float *const *x, float *y, float *ws) {
  const rove_attrs *a = &n->a;
  int H = n->ins[0].d[1], W = n->ins[0].d[2];
  int OH = n->out.d[1], OW = n->out.d[2];
  long planes = (long)B * n->out.d[0];
  (void)p;
  (void)ws;
  for (long c = 0; c < planes; c++) {
    const float *xp = x[0] + (size_t)c * H * W;
    float *yp = y + (size_t)c * OH * OW;
    if (is_2x2(n)) {
      for (int oh = 0; oh < OH; oh++) {
        const float *r0 = xp + (size_t)(2 * oh) * W, *r1 = r0 + W;
        float *yr = yp + (size_t)oh * OW;
        for (int ow = 0; ow < OW; ow++) {
          float m0 = r0[2 * ow + 1] > r0[2 * ow] ? r0[2 * ow + 1] : r0[2 * ow];
          float m1 = r1[2 * ow + 1] > r1[2 * ow] ? r1[2 * ow + 1] : r1[2 * ow];
          yr[ow] = m1 > m0 ? m1 : m0;
        }
      }
      continue;
    }
    for (int oh = 0; oh < OH; oh++)
      for (int ow0 = 0; ow0 < OW; ow0 += ARGMAX_ROW) {
        int idx[ARGMAX_ROW], nw = OW - ow0 < ARGMAX_ROW ? OW - ow0 : ARGMAX_ROW;
        row_argmax(a, xp, H, W, oh, ow0, nw, idx);
        for (int q = 0; q < nw; q++)
          yp[oh * OW + ow0 + q] = xp[idx[q]];
      }
  }
}

/* Adds dy to the first maximum, in the order (0,0), (0,1), (1,0), (1,1)
 * exactly as window_argmax scans, of window ow of one 2x2 row pair. */
static inline void backward_2x2_one(const float *r0, const float *r1, float g,
                                    float *d0, float *d1) {
  int best = 0;
  float bv = r0[0];
  if (!(r0[1] <= bv)) {
    best = 1;
    bv = r0[1];
  }
  if (!(r1[0] <= bv)) {
    best = 2;
    bv = r1[0];
  }
  if (!(r1[1] <= bv))
    best = 3;
  (best < 2 ? d0 : d1)[best & 1] += g;
}

#if defined(__x86_64__)
/* Four windows at a time. Which element wins is a coin toss on real
 * activations, so the scalar version's branches mispredicted about once
 * a window and made this 10x slower than the forward; here the choice is
 * a mask. Even lanes hold each window's left column, odd lanes its right
 * one; each of the four elements gets g or +0. */
__attribute__((target("avx2"))) static int
backward_2x2_avx2(const float *r0, const float *r1, const float *gr, float *d0,
                  float *d1, int OW) {
  const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
  const __m256 even =
      _mm256_castsi256_ps(_mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0));
  int ow = 0;
  for (; ow + 4 <= OW; ow += 4) {
    __m256 a = _mm256_loadu_ps(r0 + 2 * ow), c = _mm256_loadu_ps(r1 + 2 * ow);
    __m256 b = _mm256_permute_ps(a, 0xB1), d = _mm256_permute_ps(c, 0xB1);
    /* In the even lanes: w1 = !(v1 <= v0) and so on, as in the scan. */
    __m256 w1 = _mm256_cmp_ps(b, a, _CMP_NLE_UQ);
    __m256 m = _mm256_blendv_ps(a, b, w1);
    __m256 w2 = _mm256_cmp_ps(c, m, _CMP_NLE_UQ);
    m = _mm256_blendv_ps(m, c, w2);
    __m256 w3 = _mm256_cmp_ps(d, m, _CMP_NLE_UQ);
    __m256 e3 = w3, e2 = _mm256_andnot_ps(w3, w2);
    __m256 e1 = _mm256_andnot_ps(_mm256_or_ps(w2, w3), w1);
    __m256 e0 = _mm256_andnot_ps(_mm256_or_ps(w1, _mm256_or_ps(w2, w3)), even);
    /* Row 0 takes e0 in the even lanes and e1 moved to the odd ones;
     * row 1 likewise e2 and e3. The odd lanes of w1..w3 compare the
     * swapped pairs and are garbage: every mask is cut to the even lanes
     * before it moves. */
    __m256 k0 =
        _mm256_or_ps(e0, _mm256_permute_ps(_mm256_and_ps(e1, even), 0xB1));
    __m256 k1 = _mm256_or_ps(_mm256_and_ps(e2, even),
                             _mm256_permute_ps(_mm256_and_ps(e3, even), 0xB1));
    __m256 g = _mm256_permutevar8x32_ps(
        _mm256_castps128_ps256(_mm_loadu_ps(gr + ow)), dup);
    _mm256_storeu_ps(d0 + 2 * ow, _mm256_add_ps(_mm256_loadu_ps(d0 + 2 * ow),
                                                _mm256_and_ps(k0, g)));
    _mm256_storeu_ps(d1 + 2 * ow, _mm256_add_ps(_mm256_loadu_ps(d1 + 2 * ow),
                                                _mm256_and_ps(k1, g)));
  }
  return ow;
}
#endif

/* One output row of the 2x2 stride-2 backward: r0 and r1 the two input
 * rows (W wide), gr the OW gradients, d0 and d1 the input-gradient rows. */
static void backward_2x2_row(const float *r0, const float *gr, float *d0, int W,
                             int OW) {
  const float *r1 = r0 + W;
  float *d1 = d0 + W;
  int ow = 0;
#if defined(__x86_64__)
  if (rove_cpu_simd())
    ow = backward_2x2_avx2(r0, r1, gr, d0, d1, OW);
#endif
  for (; ow < OW; ow++)
    backward_2x2_one(r0 + 2 * ow, r1 + 2 * ow, gr[ow], d0 + 2 * ow,
                     d1 + 2 * ow);
}

static void maxpool_backward(const rove_node *n, const float *p, int B,
                             const float *const *x, const float *y,
                             const float *dy, float *const *dx, float *dp,
                             float *ws, rove_bwd bwd) {
  const rove_attrs *a = &n->a;
  int H = n->ins[0].d[1], W = n->ins[0].d[2];
  int OH = n->out.d[1], OW = n->out.d[2];
  long planes = (long)B * n->out.d[0];
  (void)p;
  (void)dp;
  (void)ws;
  if (!dx[0])
    return;
  for (long c = 0; c < planes; c++) {
    const float *xp = x[0] + (size_t)c * H * W;
    const float *yp = y + (size_t)c * OH * OW;
    const float *dyp = dy + (size_t)c * OH * OW;
    float *dxp = dx[0] + (size_t)c * H * W;
    if (bwd.mode != ROVE_BWD_SMOOTH && is_2x2(n)) {
      for (int oh = 0; oh < OH; oh++)
        backward_2x2_row(xp + (size_t)(2 * oh) * W, dyp + (size_t)oh * OW,
                         dxp + (size_t)(2 * oh) * W, W, OW);
      continue;
    }
    if (bwd.mode != ROVE_BWD_SMOOTH) {
      /* In window order, as the scalar scan added them: two windows can
       * share their winner. */
      for (int oh = 0; oh < OH; oh++)
        for (int ow0 = 0; ow0 < OW; ow0 += ARGMAX_ROW) {
          int idx[ARGMAX_ROW],
              nw = OW - ow0 < ARGMAX_ROW ? OW - ow0 : ARGMAX_ROW;
          row_argmax(a, xp, H, W, oh, ow0, nw, idx);
          for (int q = 0; q < nw; q++)
            dxp[idx[q]] += dyp[oh * OW + ow0 + q];
        }
      continue;
    }
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        float g = dyp[oh * OW + ow];
        /* softmax(beta * window), shifted by the window's max y. */
        float m = yp[oh * OW + ow], z = 0;
        int h0 = oh * a->sh - a->pt, w0 = ow * a->sw - a->pl;
        for (int pass = 0; pass < 2; pass++)
          for (int i = 0; i < a->kh; i++) {
            int ih = h0 + i * a->dh;
            if (ih < 0 || ih >= H)
              continue;
            for (int j = 0; j < a->kw; j++) {
              int iw = w0 + j * a->dw;
              if (iw < 0 || iw >= W)
                continue;
              float e = expf(bwd.beta * (xp[ih * W + iw] - m));
              if (pass == 0)
                z += e;
              else
                dxp[ih * W + iw] += g * e / z;
            }
          }
      }
  }
}

static int maxpool_example(int variant, rove_attrs *a, rove_shape *ins,
                           int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  a->kh = a->kw = 2;
  a->sh = a->sw = 2;
  switch (variant) {
  case 0: /* the 2x2 fast path */
    rove_layer__shape3(&ins[0], 2, 6, 8);
    return 1;
  case 1: /* 3x3 stride 2 with padding, ceil mode */
    rove_layer__shape3(&ins[0], 2, 7, 8);
    a->kh = a->kw = 3;
    a->pt = a->pl = 1;
    a->pb = 0;
    a->pr = 1;
    a->ceil_mode = 1;
    return 1;
  case 2: /* overlapping, rectangular, dilated */
    rove_layer__shape3(&ins[0], 3, 7, 6);
    a->kh = 2;
    a->kw = 3;
    a->sh = 1;
    a->sw = 2;
    a->dh = 2;
    return 1;
  case 3: /* ceil mode where a last window would start in the padding */
    rove_layer__shape3(&ins[0], 1, 5, 5);
    a->kh = a->kw = 2;
    a->ceil_mode = 1;
    a->pb = a->pr = 1;
    return 1;
  case 4: /* 2x2 ceil mode over odd sizes: the last windows are partial */
    rove_layer__shape3(&ins[0], 2, 5, 7);
    a->ceil_mode = 1;
    return 1;
  default: return 0;
  }
}

const rove_layer_ops rove_layer_maxpool = {
    .name = "maxpool",
    .flags = ROVE_OPF_SMOOTHABLE,
    .setup = maxpool_setup,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .example = maxpool_example,
};
