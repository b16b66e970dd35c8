/* dense.c - fully connected products with batch-independent rounding. */
#include "common/kernels/dense.h"

#include <math.h>

#include "common/kernels/cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* The eight partial sums of one element of x W^T, summed in the fixed
 * tree of dense.h. */
static float reduce8(const float p[8]) {
  float t0 = p[0] + p[4], t1 = p[1] + p[5], t2 = p[2] + p[6], t3 = p[3] + p[7];
  return (t0 + t2) + (t1 + t3);
}

/* One element of x W^T, the reference arithmetic. */
static float dot_portable(int D, const float *x, const float *w) {
  float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int Dp = (D + 7) / 8 * 8;
  for (int k = 0; k < Dp; k++) {
    float a = k < D ? x[k] : 0.0f, b = k < D ? w[k] : 0.0f;
    p[k % 8] = fmaf(a, b, p[k % 8]);
  }
  return reduce8(p);
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) static float hsum_avx2(__m256 v) {
  /* (p0 + p4, p1 + p5, p2 + p6, p3 + p7), then (t0 + t2, t1 + t3), then
   * their sum: reduce8's tree. */
  __m128 t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 u = _mm_add_ps(t, _mm_movehl_ps(t, t));
  return _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps(u, u, 1)));
}

/* Lanes below n set. */
__attribute__((target("avx2"))) static __m256i lanes_below(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Four rows of x against two rows of W (x rows D apart, y rows O apart):
 * per k-group four loads of x, two of W, eight FMAs, the accumulators
 * named so they stay in registers. */
__attribute__((target("avx2,fma"))) static void
xwt_4x2(int D, const float *x, const float *W, float *y, int O) {
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
  __m256 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  const float *r[6] = {x, x + D, x + 2L * D, x + 3L * D, W, W + D};
  /* A partial last group of k is copied, zero-padded, into tail so the
   * one loop body serves it too. */
  float tail[6][8];
  for (int k = 0; k < D; k += 8) {
    const float *p[6];
    long at = k;
    if (k + 8 <= D) {
      for (int t = 0; t < 6; t++)
        p[t] = r[t];
    } else {
      for (int t = 0; t < 6; t++) {
        for (int l = 0; l < 8; l++)
          tail[t][l] = k + l < D ? r[t][k + l] : 0.0f;
        p[t] = tail[t];
      }
      at = 0;
    }
    __m256 w0 = _mm256_loadu_ps(p[4] + at), w1 = _mm256_loadu_ps(p[5] + at), v;
    v = _mm256_loadu_ps(p[0] + at);
    a00 = _mm256_fmadd_ps(v, w0, a00);
    a01 = _mm256_fmadd_ps(v, w1, a01);
    v = _mm256_loadu_ps(p[1] + at);
    a10 = _mm256_fmadd_ps(v, w0, a10);
    a11 = _mm256_fmadd_ps(v, w1, a11);
    v = _mm256_loadu_ps(p[2] + at);
    a20 = _mm256_fmadd_ps(v, w0, a20);
    a21 = _mm256_fmadd_ps(v, w1, a21);
    v = _mm256_loadu_ps(p[3] + at);
    a30 = _mm256_fmadd_ps(v, w0, a30);
    a31 = _mm256_fmadd_ps(v, w1, a31);
  }
  y[0] = hsum_avx2(a00);
  y[1] = hsum_avx2(a01);
  y[O] = hsum_avx2(a10);
  y[O + 1] = hsum_avx2(a11);
  y[2L * O] = hsum_avx2(a20);
  y[2L * O + 1] = hsum_avx2(a21);
  y[3L * O] = hsum_avx2(a30);
  y[3L * O + 1] = hsum_avx2(a31);
}

/* One element, the same arithmetic as each of xwt_4x2's. */
__attribute__((target("avx2,fma"))) static float xwt_1x1(int D, const float *x,
                                                         const float *w) {
  __m256 a = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= D; k += 8)
    a = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), _mm256_loadu_ps(w + k), a);
  if (k < D) {
    __m256i m = lanes_below(D - k);
    a = _mm256_fmadd_ps(_mm256_maskload_ps(x + k, m),
                        _mm256_maskload_ps(w + k, m), a);
  }
  return hsum_avx2(a);
}

/* dx rows i < nr (D apart) += dy rows (O apart) times the packed panel wp
 * (O x 16, W's columns d0 .. d0 + 16, zeros past nd): one fma chain over o
 * per element, then one add. nr is 4 or 1; accumulators named. */
__attribute__((target("avx2,fma"))) static void
dyw_rows(int O, const float *dy, int nr, const float *wp, float *dx, int D,
         int nd) {
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00;
  __m256 a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  if (nr == 4) {
    const float *g0 = dy, *g1 = dy + O, *g2 = dy + 2L * O, *g3 = dy + 3L * O;
    for (int o = 0; o < O; o++) {
      __m256 w0 = _mm256_loadu_ps(wp + 16L * o);
      __m256 w1 = _mm256_loadu_ps(wp + 16L * o + 8), g;
      g = _mm256_broadcast_ss(g0 + o);
      a00 = _mm256_fmadd_ps(g, w0, a00);
      a01 = _mm256_fmadd_ps(g, w1, a01);
      g = _mm256_broadcast_ss(g1 + o);
      a10 = _mm256_fmadd_ps(g, w0, a10);
      a11 = _mm256_fmadd_ps(g, w1, a11);
      g = _mm256_broadcast_ss(g2 + o);
      a20 = _mm256_fmadd_ps(g, w0, a20);
      a21 = _mm256_fmadd_ps(g, w1, a21);
      g = _mm256_broadcast_ss(g3 + o);
      a30 = _mm256_fmadd_ps(g, w0, a30);
      a31 = _mm256_fmadd_ps(g, w1, a31);
    }
  } else {
    for (int o = 0; o < O; o++) {
      __m256 g = _mm256_broadcast_ss(dy + o);
      a00 = _mm256_fmadd_ps(g, _mm256_loadu_ps(wp + 16L * o), a00);
      a01 = _mm256_fmadd_ps(g, _mm256_loadu_ps(wp + 16L * o + 8), a01);
    }
  }
  __m256 acc[8] = {a00, a01, a10, a11, a20, a21, a30, a31};
  __m256i m0 = lanes_below(nd), m1 = lanes_below(nd - 8);
  for (int i = 0; i < nr; i++) {
    float *d = dx + (long)i * D;
    if (nd == 16) {
      _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), acc[2 * i]));
      _mm256_storeu_ps(d + 8,
                       _mm256_add_ps(_mm256_loadu_ps(d + 8), acc[2 * i + 1]));
    } else {
      _mm256_maskstore_ps(d, m0,
                          _mm256_add_ps(_mm256_maskload_ps(d, m0), acc[2 * i]));
      _mm256_maskstore_ps(
          d + 8, m1,
          _mm256_add_ps(_mm256_maskload_ps(d + 8, m1), acc[2 * i + 1]));
    }
  }
}
#endif

void rove_dense_xwt(int B, int O, int D, const float *x, const float *W,
                    float *y) {
#if defined(__x86_64__)
  if (rove_cpu_simd()) {
    /* Output features in pairs, the batch in fours within each, so a pair
     * of W rows stays in L1 while the examples stream past it. */
    for (int o0 = 0; o0 < O; o0 += 2)
      for (int b0 = 0; b0 < B; b0 += 4) {
        if (o0 + 2 <= O && b0 + 4 <= B) {
          xwt_4x2(D, x + (long)b0 * D, W + (long)o0 * D, y + (long)b0 * O + o0,
                  O);
          continue;
        }
        for (int b = b0; b < B && b < b0 + 4; b++)
          for (int o = o0; o < O && o < o0 + 2; o++)
            y[(long)b * O + o] = xwt_1x1(D, x + (long)b * D, W + (long)o * D);
      }
    return;
  }
#endif
  for (int b = 0; b < B; b++)
    for (int o = 0; o < O; o++)
      y[(long)b * O + o] = dot_portable(D, x + (long)b * D, W + (long)o * D);
}

void rove_dense_dyw_acc(int B, int O, int D, const float *dy, const float *W,
                        float *dx, float *ws) {
#if defined(__x86_64__)
  if (rove_cpu_simd()) {
    /* W's rows are D floats apart, often a multiple of 4 KB, where the
     * rows of a column block would all fall into one L1 set: the block is
     * copied into a contiguous O x 16 panel and reused by every example. */
    for (int d0 = 0; d0 < D; d0 += 16) {
      int nd = D - d0 < 16 ? D - d0 : 16;
      for (int o = 0; o < O; o++)
        for (int j = 0; j < 16; j++)
          ws[(long)o * 16 + j] = j < nd ? W[(long)o * D + d0 + j] : 0.0f;
      for (int b0 = 0; b0 < B; b0 += 4) {
        int nb = B - b0 < 4 ? B - b0 : 4;
        if (nb == 4)
          dyw_rows(O, dy + (long)b0 * O, 4, ws, dx + (long)b0 * D + d0, D, nd);
        else
          for (int i = 0; i < nb; i++)
            dyw_rows(O, dy + (long)(b0 + i) * O, 1, ws,
                     dx + (long)(b0 + i) * D + d0, D, nd);
      }
    }
    return;
  }
#endif
  (void)ws;
  for (int b = 0; b < B; b++)
    for (int d = 0; d < D; d++) {
      float s = 0.0f;
      for (int o = 0; o < O; o++)
        s = fmaf(dy[(long)b * O + o], W[(long)o * D + d], s);
      dx[(long)b * D + d] += s;
    }
}
