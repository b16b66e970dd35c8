/* conv_kernels.c - col2im scatter and output transpose of the convolution
 * (conv_kernels.h), AVX2 where the CPU has it, portable C otherwise. */
#include "common/kernels/conv_kernels.h"

#include <stdint.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/kernels/cpu.h"

#if defined(__x86_64__)
/* col2im_rows for stride 1 along the width, with AVX2. The chunk is taken
 * input row by input row: the terms an input row (b, c, ih) gets from the
 * chunk's output rows, in ascending row and then kernel-column order,
 * are summed in registers and the row is loaded and stored once per
 * chunk, where kw read-modify-write passes of xr[woff + ow] += s[ow]
 * would each load vectors the previous pass had just partly stored
 * (store-forwarding stalls, which made col2im cost a third of the
 * backward's GEMM). Each element gets its terms in the order the scalar
 * scatter gives them, so the same bits.
 *
 * Each row is cut into 8-column blocks at 0, 8, 16, ...; the last may
 * reach past the row (its extra lanes are stored back unchanged, and a
 * block that would pass dx_end is done in scalar code). A block every tap
 * covers is plain loads; an edge block loads through per-tap masks (a
 * masked-out lane adds +0, which differs from skipping the term only in
 * the sign of a zero, and dx never holds -0), built once per chunk for
 * the first C2I_BLOCKS blocks. Rows are visited channel-inner, so the
 * next row of a plane, whose first lanes the last block just stored back,
 * comes several rows later rather than at once. */
#define C2I_BLOCKS 8
__attribute__((target("avx2"))) static void c2i_masks(int base, int W, int OW,
                                                      int kw, const int *woff,
                                                      __m256i *act,
                                                      __m256i *ok) {
  __m256i col = _mm256_add_epi32(_mm256_set1_epi32(base),
                                 _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  *act = _mm256_cmpgt_epi32(_mm256_set1_epi32(W), col);
  for (int jj = 0; jj < kw; jj++) {
    __m256i ow = _mm256_sub_epi32(col, _mm256_set1_epi32(woff[jj]));
    ok[jj] = _mm256_and_si256(
        *act, _mm256_and_si256(_mm256_cmpgt_epi32(ow, _mm256_set1_epi32(-1)),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32(OW), ow)));
  }
}

__attribute__((target("avx2"))) static void
col2im_rows_avx2(const rove_conv_geom *g, const float *dcol, long ldc, int gr0,
                 int nrows, float *dx, size_t bstride, int c0, int c1,
                 const float *dx_end) {
  int W = g->W, OW = g->OW, kw = g->kw, khw = g->kh * g->kw;
  int nblk = (W + 7) / 8, woff[ROVE_CONV_MAX_KW], lo = 0, hi = W;
  for (int jj = 0; jj < kw; jj++) {
    woff[jj] = jj * g->dw - g->pl;
    lo = woff[jj] > lo ? woff[jj] : lo;
    hi = woff[jj] + OW < hi ? woff[jj] + OW : hi;
  }
  /* Masks of the first blocks' edge blocks, built once. */
  __m256i act[C2I_BLOCKS], ok[C2I_BLOCKS][ROVE_CONV_MAX_KW];
  for (int k = 0; k < nblk && k < C2I_BLOCKS; k++)
    c2i_masks(8 * k, W, OW, kw, woff, &act[k], ok[k]);
  long off[ROVE_CONV_MAX_TAPS];
  int tj[ROVE_CONV_MAX_TAPS];
  int gr1 = gr0 + nrows;
  for (int b = gr0 / g->OH; b <= (gr1 - 1) / g->OH; b++) {
    /* This example's output rows in the chunk, and the input rows they
     * read. */
    int oh0 = b * g->OH < gr0 ? gr0 - b * g->OH : 0;
    int oh1 = (b + 1) * g->OH <= gr1 ? g->OH : gr1 - b * g->OH;
    int ih0 = oh0 * g->sh - g->pt,
        ih1 = (oh1 - 1) * g->sh - g->pt + (g->kh - 1) * g->dh + 1;
    if (ih0 < 0)
      ih0 = 0;
    if (ih1 > g->H)
      ih1 = g->H;
    float *dxb = dx + (size_t)b * bstride;
    for (int ih = ih0; ih < ih1; ih++) {
      /* The taps for channel c0, kernel rows from the last down (ascending
       * output rows); channel c's are (c - c0) * khw rows of dcol on. */
      int nt = 0;
      for (int i = g->kh - 1; i >= 0; i--) {
        int num = ih + g->pt - i * g->dh;
        if (num < 0 || num % g->sh)
          continue;
        int oh = num / g->sh;
        if (oh < oh0 || oh >= oh1)
          continue;
        long t = (long)b * g->OH + oh - gr0;
        for (int jj = 0; jj < kw; jj++) {
          off[nt] = (long)(i * kw + jj) * ldc + t * OW - woff[jj];
          tj[nt++] = jj;
        }
      }
      if (!nt)
        continue;
      for (int c = c0; c < c1; c++) {
        float *xr = dxb + ((size_t)c * g->H + ih) * W;
        /* As an integer: a block's first lanes may lie before the row of
         * dcol they are masked out of. */
        uintptr_t sc = (uintptr_t)dcol + (uintptr_t)((long)(c - c0) * khw *
                                                     ldc * (long)sizeof(float));
#define C2I_AT(q, w)                                                           \
  ((const float *)(sc + (uintptr_t)((off[q] + (w)) * (long)sizeof(float))))
        for (int k = 0; k < nblk; k++) {
          int base = 8 * k;
          if (xr + base + 8 > dx_end) {
            for (int w = base; w < W && w < base + 8; w++) {
              float v = xr[w];
              for (int q = 0; q < nt; q++) {
                int ow = w - woff[tj[q]];
                if (ow >= 0 && ow < OW)
                  v += *C2I_AT(q, w);
              }
              xr[w] = v;
            }
            continue;
          }
          __m256 x0 = _mm256_loadu_ps(xr + base), v = x0;
          if (base >= lo && base + 8 <= hi) { /* every tap covers it */
            for (int q = 0; q < nt; q++)
              v = _mm256_add_ps(v, _mm256_loadu_ps(C2I_AT(q, base)));
            _mm256_storeu_ps(xr + base, v);
            continue;
          }
          __m256i a1, o1[ROVE_CONV_MAX_KW];
          const __m256i *a = &act[k < C2I_BLOCKS ? k : 0];
          const __m256i *o = ok[k < C2I_BLOCKS ? k : 0];
          if (k >= C2I_BLOCKS) {
            c2i_masks(base, W, OW, kw, woff, &a1, o1);
            a = &a1;
            o = o1;
          }
          for (int q = 0; q < nt; q++)
            v = _mm256_add_ps(v, _mm256_maskload_ps(C2I_AT(q, base), o[tj[q]]));
          _mm256_storeu_ps(xr + base,
                           _mm256_blendv_ps(x0, v, _mm256_castsi256_ps(*a)));
        }
#undef C2I_AT
      }
    }
  }
}
#endif

/* The adjoint of pack_cols for one chunk: dx += scatter(dcol), with dcol
 * R x (nrows*OW) at row stride ldc (its row 0 is channel c0's first
 * tap), for input channels [c0, c1). Terms reach each dx element in the
 * order (global row, r) whatever the chunking. dx: the group's first
 * channel of example 0; examples are bstride apart; dx_end: the end of
 * the whole buffer. */
void rove_col2im_rows(const rove_conv_geom *g, const float *dcol, long ldc,
                      int gr0, int nrows, float *dx, size_t bstride, int c0,
                      int c1, const float *dx_end) {
#if defined(__x86_64__)
  if (g->sw == 1 && g->kw <= ROVE_CONV_MAX_KW &&
      g->kh * g->kw <= ROVE_CONV_MAX_TAPS && rove_cpu_simd()) {
    col2im_rows_avx2(g, dcol, ldc, gr0, nrows, dx, bstride, c0, c1, dx_end);
    return;
  }
#endif
  (void)dx_end;
  for (int t = 0; t < nrows; t++) {
    int b = (gr0 + t) / g->OH, oh = (gr0 + t) % g->OH;
    float *dxb = dx + (size_t)b * bstride;
    for (int c = c0, r = 0; c < c1; c++)
      for (int i = 0; i < g->kh; i++) {
        int ih = oh * g->sh - g->pt + i * g->dh;
        if (ih < 0 || ih >= g->H) {
          r += g->kw;
          continue;
        }
        float *xr = dxb + ((size_t)c * g->H + ih) * g->W;
        for (int jj = 0; jj < g->kw; jj++, r++) {
          const float *sr = dcol + (long)r * ldc + (long)t * g->OW;
          int wo = jj * g->dw - g->pl;
          /* Output columns whose input column lies inside [0, W). */
          int ow0 = wo >= 0 ? 0 : (-wo + g->sw - 1) / g->sw;
          int ow1 = (g->W - wo + g->sw - 1) / g->sw;
          if (ow1 > g->OW)
            ow1 = g->OW;
          for (int ow = ow0; ow < ow1; ow++)
            xr[wo + ow * g->sw] += sr[ow];
        }
      }
  }
}

#if defined(__x86_64__)
/* y[k][q] = C[q][k] (+ bias[k]) for q < len and k below the returned
 * multiple of 8 (at most Kg), in 8 x 8 blocks transposed in registers:
 * the strided reads of a plain loop cost a tenth of the forward. C has
 * row stride kp, y row stride P. The same single add per element as the
 * scalar loop, so the same bits. */
__attribute__((target("avx2"))) static int
transpose_out_avx2(const float *c, int kp, int len, int Kg, float *y, long P,
                   const float *bias, int acc) {
  int k0 = 0;
  for (; k0 + 8 <= Kg; k0 += 8) {
    int q = 0;
    for (; q + 8 <= len; q += 8) {
      const float *s = c + (size_t)q * kp + k0;
      __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + kp);
      __m256 r2 = _mm256_loadu_ps(s + 2 * kp), r3 = _mm256_loadu_ps(s + 3 * kp);
      __m256 r4 = _mm256_loadu_ps(s + 4 * kp), r5 = _mm256_loadu_ps(s + 5 * kp);
      __m256 r6 = _mm256_loadu_ps(s + 6 * kp), r7 = _mm256_loadu_ps(s + 7 * kp);
      __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
      __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
      __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
      __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44);
      __m256 u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44);
      __m256 u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44);
      __m256 u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44);
      __m256 u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      __m256 o[8] = {
          _mm256_permute2f128_ps(u0, u4, 0x20),
          _mm256_permute2f128_ps(u1, u5, 0x20),
          _mm256_permute2f128_ps(u2, u6, 0x20),
          _mm256_permute2f128_ps(u3, u7, 0x20),
          _mm256_permute2f128_ps(u0, u4, 0x31),
          _mm256_permute2f128_ps(u1, u5, 0x31),
          _mm256_permute2f128_ps(u2, u6, 0x31),
          _mm256_permute2f128_ps(u3, u7, 0x31),
      };
      for (int i = 0; i < 8; i++) {
        __m256 v = o[i];
        float *yr = y + (size_t)(k0 + i) * P + q;
        if (bias)
          v = _mm256_add_ps(v, _mm256_set1_ps(bias[k0 + i]));
        if (acc)
          v = _mm256_add_ps(_mm256_loadu_ps(yr), v);
        _mm256_storeu_ps(yr, v);
      }
    }
    for (; q < len; q++)
      for (int i = 0; i < 8; i++) {
        float v = c[(size_t)q * kp + k0 + i],
              *yq = y + (size_t)(k0 + i) * P + q;
        v = bias ? v + bias[k0 + i] : v;
        *yq = acc ? *yq + v : v;
      }
  }
  return k0;
}
#endif

int rove_conv_transpose_out(const float *c, int kp, int len, int Kg, float *y,
                            long P, const float *bias, int acc) {
#if defined(__x86_64__)
  if (rove_cpu_simd())
    return transpose_out_avx2(c, kp, len, Kg, y, P, bias, acc);
#endif
  (void)c, (void)kp, (void)len, (void)Kg, (void)y, (void)P, (void)bias;
  (void)acc;
  return 0;
}

/* rove_conv_pack_taps: plain copies, so every form gives the same bits.
 * The AVX-512 form takes a panel's 16 taps of one pixel with one masked
 * gather; the portable one copies element by element. */
#if defined(__x86_64__)
__attribute__((target("avx512f"))) static void
pack_taps_avx512(const float *base, const int *pix, int np, const int *toff,
                 int R, float *bp) {
  for (int r0 = 0; r0 < R; r0 += 16) {
    int n = R - r0 < 16 ? R - r0 : 16;
    __mmask16 m = (__mmask16)((1u << n) - 1u);
    __m512i idx = _mm512_maskz_loadu_epi32(m, toff + r0);
    float *d = bp + (size_t)r0 * np;
    for (int t = 0; t < np; t++)
      _mm512_storeu_ps(d + (size_t)t * 16,
                       _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx,
                                                base + pix[t], 4));
  }
}
#endif

void rove_conv_pack_taps(const float *base, const int *pix, int np,
                         const int *toff, int R, float *bp) {
#if defined(__x86_64__)
  if (rove_cpu_level() >= ROVE_CPU_AVX512) {
    pack_taps_avx512(base, pix, np, toff, R, bp);
    return;
  }
#endif
  for (int r0 = 0; r0 < R; r0 += 16) {
    int n = R - r0 < 16 ? R - r0 : 16;
    float *d = bp + (size_t)r0 * np;
    for (int t = 0; t < np; t++) {
      const float *s = base + pix[t];
      float *dt = d + (size_t)t * 16;
      int l = 0;
      for (; l < n; l++)
        dt[l] = s[toff[r0 + l]];
      for (; l < 16; l++)
        dt[l] = 0.0f;
    }
  }
}
