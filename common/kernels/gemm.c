/* gemm.c - a small packed SGEMM whose result for an output element does not
 * depend on where that element sits in the matrix. */
#include "common/kernels/gemm.h"
#include "common/kernels/cpu.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define MR ROVE_GEMM_MR
#define NR ROVE_GEMM_NR

void rove_gemm_pack_a(int M, int K, const float *a, long rs, long cs,
                      float *ap) {
  for (int m0 = 0; m0 < M; m0 += MR) {
    int mr = M - m0 < MR ? M - m0 : MR;
    float *blk = ap + (size_t)m0 * K;
    for (int k = 0; k < K; k++) {
      float *d = blk + (size_t)k * MR;
      const float *s = a + (long)m0 * rs + (long)k * cs;
      int i = 0;
      for (; i < mr; i++)
        d[i] = s[(long)i * rs];
      for (; i < MR; i++)
        d[i] = 0.0f;
    }
  }
}

/* One MR x NR tile over the whole K: the portable reference. fmaf rounds
 * once, exactly like the FMA instruction, so both kernels agree bit for
 * bit (and on aarch64 GCC turns it into fmla). */
static void kernel_portable(int K, const float *a, const float *b, float *c,
                            long ldc, int load) {
  float acc[MR][NR] = {{0}};
  if (load)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++)
        acc[i][j] = c[(long)i * ldc + j];
  for (int k = 0; k < K; k++) {
    const float *ak = a + (size_t)k * MR, *bk = b + (size_t)k * NR;
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++)
        acc[i][j] = fmaf(ak[i], bk[j], acc[i][j]);
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++)
      c[(long)i * ldc + j] = acc[i][j];
}

/* rove_gemm_gather's tile: A's rows read through row pointers and tap
 * offsets. */
static void gather_portable(int K, const int *koff, const float *const *rows,
                            const float *b, float *c, long ldc) {
  float acc[MR][NR] = {{0}};
  for (int k = 0; k < K; k++) {
    const float *bk = b + (size_t)k * NR;
    for (int i = 0; i < MR; i++) {
      float a = rows[i][koff[k]];
      for (int j = 0; j < NR; j++)
        acc[i][j] = fmaf(a, bk[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++)
      c[(long)i * ldc + j] = acc[i][j];
}

#if defined(__x86_64__)
/* The same tile with 12 AVX2 accumulators: 6 rows x 2 vectors of 8
 * columns; per k two loads of B, six broadcasts of A, twelve FMAs. */
__attribute__((target("avx2,fma"))) static void
kernel_avx2(int K, const float *a, const float *b, float *c, long ldc,
            int load) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  if (load) {
    c00 = _mm256_loadu_ps(c), c01 = _mm256_loadu_ps(c + 8);
    c10 = _mm256_loadu_ps(c + ldc), c11 = _mm256_loadu_ps(c + ldc + 8);
    c20 = _mm256_loadu_ps(c + 2 * ldc), c21 = _mm256_loadu_ps(c + 2 * ldc + 8);
    c30 = _mm256_loadu_ps(c + 3 * ldc), c31 = _mm256_loadu_ps(c + 3 * ldc + 8);
    c40 = _mm256_loadu_ps(c + 4 * ldc), c41 = _mm256_loadu_ps(c + 4 * ldc + 8);
    c50 = _mm256_loadu_ps(c + 5 * ldc), c51 = _mm256_loadu_ps(c + 5 * ldc + 8);
  }
  for (int k = 0; k < K; k++) {
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), t;
    t = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(t, b0, c00);
    c01 = _mm256_fmadd_ps(t, b1, c01);
    t = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(t, b0, c10);
    c11 = _mm256_fmadd_ps(t, b1, c11);
    t = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(t, b0, c20);
    c21 = _mm256_fmadd_ps(t, b1, c21);
    t = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(t, b0, c30);
    c31 = _mm256_fmadd_ps(t, b1, c31);
    t = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(t, b0, c40);
    c41 = _mm256_fmadd_ps(t, b1, c41);
    t = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(t, b0, c50);
    c51 = _mm256_fmadd_ps(t, b1, c51);
    a += MR;
    b += NR;
  }
  _mm256_storeu_ps(c, c00);
  _mm256_storeu_ps(c + 8, c01);
  c += ldc;
  _mm256_storeu_ps(c, c10);
  _mm256_storeu_ps(c + 8, c11);
  c += ldc;
  _mm256_storeu_ps(c, c20);
  _mm256_storeu_ps(c + 8, c21);
  c += ldc;
  _mm256_storeu_ps(c, c30);
  _mm256_storeu_ps(c + 8, c31);
  c += ldc;
  _mm256_storeu_ps(c, c40);
  _mm256_storeu_ps(c + 8, c41);
  c += ldc;
  _mm256_storeu_ps(c, c50);
  _mm256_storeu_ps(c + 8, c51);
}
/* The gathering tile: the six broadcasts come from six row pointers at
 * the tap offset koff[k]; everything else as in kernel_avx2. */
__attribute__((target("avx2,fma"))) static void
gather_avx2(int K, const int *koff, const float *const *rows, const float *b,
            float *c, long ldc) {
  const float *p0 = rows[0], *p1 = rows[1], *p2 = rows[2], *p3 = rows[3],
              *p4 = rows[4], *p5 = rows[5];
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int k = 0; k < K; k++) {
    long o = koff[k];
    __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), t;
    t = _mm256_broadcast_ss(p0 + o);
    c00 = _mm256_fmadd_ps(t, b0, c00);
    c01 = _mm256_fmadd_ps(t, b1, c01);
    t = _mm256_broadcast_ss(p1 + o);
    c10 = _mm256_fmadd_ps(t, b0, c10);
    c11 = _mm256_fmadd_ps(t, b1, c11);
    t = _mm256_broadcast_ss(p2 + o);
    c20 = _mm256_fmadd_ps(t, b0, c20);
    c21 = _mm256_fmadd_ps(t, b1, c21);
    t = _mm256_broadcast_ss(p3 + o);
    c30 = _mm256_fmadd_ps(t, b0, c30);
    c31 = _mm256_fmadd_ps(t, b1, c31);
    t = _mm256_broadcast_ss(p4 + o);
    c40 = _mm256_fmadd_ps(t, b0, c40);
    c41 = _mm256_fmadd_ps(t, b1, c41);
    t = _mm256_broadcast_ss(p5 + o);
    c50 = _mm256_fmadd_ps(t, b0, c50);
    c51 = _mm256_fmadd_ps(t, b1, c51);
    b += NR;
  }
  _mm256_storeu_ps(c, c00);
  _mm256_storeu_ps(c + 8, c01);
  c += ldc;
  _mm256_storeu_ps(c, c10);
  _mm256_storeu_ps(c + 8, c11);
  c += ldc;
  _mm256_storeu_ps(c, c20);
  _mm256_storeu_ps(c + 8, c21);
  c += ldc;
  _mm256_storeu_ps(c, c30);
  _mm256_storeu_ps(c + 8, c31);
  c += ldc;
  _mm256_storeu_ps(c, c40);
  _mm256_storeu_ps(c + 8, c41);
  c += ldc;
  _mm256_storeu_ps(c, c50);
  _mm256_storeu_ps(c + 8, c51);
}

/* AVX-512: a row of the NR = 16 column tile is one zmm register. Two A
 * blocks (12 rows) share each B load, so 12 independent FMA chains are in
 * flight, enough to cover the FMA latency on two ports; per k one load of
 * B, twelve broadcasts of A, twelve FMAs of 16 lanes. Each element is
 * still its own fma chain in k order: the same bits as the others. */
#define A512_ROW(r, p, i)                                                      \
  c##r = _mm512_fmadd_ps(_mm512_set1_ps((p)[i]), bv, c##r)
#define A512_STORE(r) _mm512_storeu_ps(c + (long)(r)*ldc, c##r)
#define A512_LOAD(r) c##r = _mm512_loadu_ps(c + (long)(r)*ldc)

__attribute__((target("avx512f,avx2,fma"))) static void
kernel_avx512_12(int K, const float *a0, const float *a1, const float *b,
                 float *c, long ldc, int load) {
  __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps();
  __m512 c2 = _mm512_setzero_ps(), c3 = _mm512_setzero_ps();
  __m512 c4 = _mm512_setzero_ps(), c5 = _mm512_setzero_ps();
  __m512 c6 = _mm512_setzero_ps(), c7 = _mm512_setzero_ps();
  __m512 c8 = _mm512_setzero_ps(), c9 = _mm512_setzero_ps();
  __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
  if (load) {
    A512_LOAD(0);
    A512_LOAD(1);
    A512_LOAD(2);
    A512_LOAD(3);
    A512_LOAD(4);
    A512_LOAD(5);
    A512_LOAD(6);
    A512_LOAD(7);
    A512_LOAD(8);
    A512_LOAD(9);
    A512_LOAD(10);
    A512_LOAD(11);
  }
  for (int k = 0; k < K; k++) {
    __m512 bv = _mm512_loadu_ps(b);
    A512_ROW(0, a0, 0);
    A512_ROW(1, a0, 1);
    A512_ROW(2, a0, 2);
    A512_ROW(3, a0, 3);
    A512_ROW(4, a0, 4);
    A512_ROW(5, a0, 5);
    A512_ROW(6, a1, 0);
    A512_ROW(7, a1, 1);
    A512_ROW(8, a1, 2);
    A512_ROW(9, a1, 3);
    A512_ROW(10, a1, 4);
    A512_ROW(11, a1, 5);
    a0 += MR;
    a1 += MR;
    b += NR;
  }
  A512_STORE(0);
  A512_STORE(1);
  A512_STORE(2);
  A512_STORE(3);
  A512_STORE(4);
  A512_STORE(5);
  A512_STORE(6);
  A512_STORE(7);
  A512_STORE(8);
  A512_STORE(9);
  A512_STORE(10);
  A512_STORE(11);
}

/* Twelve rows by two panels (32 columns): 24 accumulators, per k two
 * loads of B and twelve broadcasts of A for 24 FMAs, where the 12 x 16
 * tile needs 13 loads for 12 (the loads, not the FMAs, bounded it). b1 is
 * the second panel's k-th row's start. Same fma chains, same bits. */
#define A512_ROW2(r, p, i)                                                     \
  do {                                                                         \
    __m512 av = _mm512_set1_ps((p)[i]);                                        \
    c##r = _mm512_fmadd_ps(av, bv, c##r);                                      \
    d##r = _mm512_fmadd_ps(av, bw, d##r);                                      \
  } while (0)
#define A512_STORE2(r)                                                         \
  do {                                                                         \
    _mm512_storeu_ps(c + (long)(r)*ldc, c##r);                                 \
    _mm512_storeu_ps(c + (long)(r)*ldc + NR, d##r);                            \
  } while (0)
#define A512_LOAD2(r)                                                          \
  do {                                                                         \
    c##r = _mm512_loadu_ps(c + (long)(r)*ldc);                                 \
    d##r = _mm512_loadu_ps(c + (long)(r)*ldc + NR);                            \
  } while (0)

__attribute__((target("avx512f,avx2,fma"))) static void
kernel_avx512_12x32(int K, const float *a0, const float *a1, const float *b,
                    const float *b1, float *c, long ldc, int load) {
  __m512 c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11;
  __m512 d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11;
  c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = c8 = c9 = c10 = c11 =
      _mm512_setzero_ps();
  d0 = d1 = d2 = d3 = d4 = d5 = d6 = d7 = d8 = d9 = d10 = d11 = c0;
  if (load) {
    A512_LOAD2(0);
    A512_LOAD2(1);
    A512_LOAD2(2);
    A512_LOAD2(3);
    A512_LOAD2(4);
    A512_LOAD2(5);
    A512_LOAD2(6);
    A512_LOAD2(7);
    A512_LOAD2(8);
    A512_LOAD2(9);
    A512_LOAD2(10);
    A512_LOAD2(11);
  }
  for (int k = 0; k < K; k++) {
    __m512 bv = _mm512_loadu_ps(b), bw = _mm512_loadu_ps(b1);
    A512_ROW2(0, a0, 0);
    A512_ROW2(1, a0, 1);
    A512_ROW2(2, a0, 2);
    A512_ROW2(3, a0, 3);
    A512_ROW2(4, a0, 4);
    A512_ROW2(5, a0, 5);
    A512_ROW2(6, a1, 0);
    A512_ROW2(7, a1, 1);
    A512_ROW2(8, a1, 2);
    A512_ROW2(9, a1, 3);
    A512_ROW2(10, a1, 4);
    A512_ROW2(11, a1, 5);
    a0 += MR;
    a1 += MR;
    b += NR;
    b1 += NR;
  }
  A512_STORE2(0);
  A512_STORE2(1);
  A512_STORE2(2);
  A512_STORE2(3);
  A512_STORE2(4);
  A512_STORE2(5);
  A512_STORE2(6);
  A512_STORE2(7);
  A512_STORE2(8);
  A512_STORE2(9);
  A512_STORE2(10);
  A512_STORE2(11);
}

/* One A block (the last when their number is odd). */
__attribute__((target("avx512f,avx2,fma"))) static void
kernel_avx512_6(int K, const float *a0, const float *b, float *c, long ldc,
                int load) {
  __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps();
  __m512 c2 = _mm512_setzero_ps(), c3 = _mm512_setzero_ps();
  __m512 c4 = _mm512_setzero_ps(), c5 = _mm512_setzero_ps();
  if (load) {
    A512_LOAD(0);
    A512_LOAD(1);
    A512_LOAD(2);
    A512_LOAD(3);
    A512_LOAD(4);
    A512_LOAD(5);
  }
  for (int k = 0; k < K; k++) {
    __m512 bv = _mm512_loadu_ps(b);
    A512_ROW(0, a0, 0);
    A512_ROW(1, a0, 1);
    A512_ROW(2, a0, 2);
    A512_ROW(3, a0, 3);
    A512_ROW(4, a0, 4);
    A512_ROW(5, a0, 5);
    a0 += MR;
    b += NR;
  }
  A512_STORE(0);
  A512_STORE(1);
  A512_STORE(2);
  A512_STORE(3);
  A512_STORE(4);
  A512_STORE(5);
}

/* The gathering tile with AVX-512: one zmm per row, the six broadcasts
 * from the row pointers at koff[k]. Six chains only (the caller hands six
 * rows), still twice the columns per FMA of gather_avx2. */
__attribute__((target("avx512f,avx2,fma"))) static void
gather_avx512(int K, const int *koff, const float *const *rows, const float *b,
              float *c, long ldc) {
  const float *p0 = rows[0], *p1 = rows[1], *p2 = rows[2], *p3 = rows[3],
              *p4 = rows[4], *p5 = rows[5];
  __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps();
  __m512 c2 = _mm512_setzero_ps(), c3 = _mm512_setzero_ps();
  __m512 c4 = _mm512_setzero_ps(), c5 = _mm512_setzero_ps();
  for (int k = 0; k < K; k++) {
    long o = koff[k];
    __m512 bv = _mm512_loadu_ps(b);
    c0 = _mm512_fmadd_ps(_mm512_set1_ps(p0[o]), bv, c0);
    c1 = _mm512_fmadd_ps(_mm512_set1_ps(p1[o]), bv, c1);
    c2 = _mm512_fmadd_ps(_mm512_set1_ps(p2[o]), bv, c2);
    c3 = _mm512_fmadd_ps(_mm512_set1_ps(p3[o]), bv, c3);
    c4 = _mm512_fmadd_ps(_mm512_set1_ps(p4[o]), bv, c4);
    c5 = _mm512_fmadd_ps(_mm512_set1_ps(p5[o]), bv, c5);
    b += NR;
  }
  A512_STORE(0);
  A512_STORE(1);
  A512_STORE(2);
  A512_STORE(3);
  A512_STORE(4);
  A512_STORE(5);
}
#endif

typedef void (*gemm_kernel)(int K, const float *a, const float *b, float *c,
                            long ldc, int load);

static gemm_kernel pick_kernel(void) {
#if defined(__x86_64__)
  if (rove_cpu_simd())
    return kernel_avx2;
#endif
  return kernel_portable;
}

/* Blocking. The k range is cut into KC-long blocks and the rows into
 * MC-row chunks, so that a chunk of A (MC x KC, 192 KB) stays in L2 while
 * the B panels (KC x NR, 16 KB) pass through L1: without it a layer with
 * a long k (ResNet's 512-channel 3x3: K = 4608, A = 9.4 MB) streamed all
 * of A from memory for every B panel. A block after the first continues
 * its elements' chains from the partial sums stored in C (the kernels'
 * `load`), so each element is still the one fma chain in k order, and the
 * blocking changes no bit. The packed layouts are k-major within a block
 * and a panel, so a k block is a contiguous slice of both. */
#define KC 256
#define MC (32 * MR)

static void gemm_packed(int Mp, int Np, int K, const float *ap, const float *bp,
                        float *c, long ldc, int cont) {
  gemm_kernel kern = pick_kernel();
#if defined(__x86_64__)
  int avx512 = rove_cpu_level() >= ROVE_CPU_AVX512;
#endif
  for (int k0 = 0; k0 < K || k0 == 0; k0 += KC) {
    int kc = K - k0 < KC ? K - k0 : KC, load = k0 > 0 || cont;
    for (int mc0 = 0; mc0 < Mp; mc0 += MC) {
      int mc1 = Mp - mc0 < MC ? Mp : mc0 + MC;
      for (int n0 = 0; n0 < Np; n0 += NR) {
        const float *bpan = bp + (size_t)n0 * K + (size_t)k0 * NR;
        int m0 = mc0;
#if defined(__x86_64__)
        if (avx512 && n0 + 2 * NR <= Np) {
          /* Two panels at a time; the next n0 skips the second. */
          const float *bpan2 = bpan + (size_t)NR * K;
          for (; m0 + 2 * MR <= mc1; m0 += 2 * MR)
            kernel_avx512_12x32(kc, ap + (size_t)m0 * K + (size_t)k0 * MR,
                                ap + (size_t)(m0 + MR) * K + (size_t)k0 * MR,
                                bpan, bpan2, c + (long)m0 * ldc + n0, ldc,
                                load);
          if (m0 < mc1) {
            kernel_avx512_6(kc, ap + (size_t)m0 * K + (size_t)k0 * MR, bpan,
                            c + (long)m0 * ldc + n0, ldc, load);
            kernel_avx512_6(kc, ap + (size_t)m0 * K + (size_t)k0 * MR, bpan2,
                            c + (long)m0 * ldc + n0 + NR, ldc, load);
          }
          n0 += NR;
          continue;
        }
        if (avx512) {
          for (; m0 + 2 * MR <= mc1; m0 += 2 * MR)
            kernel_avx512_12(kc, ap + (size_t)m0 * K + (size_t)k0 * MR,
                             ap + (size_t)(m0 + MR) * K + (size_t)k0 * MR, bpan,
                             c + (long)m0 * ldc + n0, ldc, load);
          if (m0 < mc1)
            kernel_avx512_6(kc, ap + (size_t)m0 * K + (size_t)k0 * MR, bpan,
                            c + (long)m0 * ldc + n0, ldc, load);
          continue;
        }
#endif
        for (; m0 < mc1; m0 += MR)
          kern(kc, ap + (size_t)m0 * K + (size_t)k0 * MR, bpan,
               c + (long)m0 * ldc + n0, ldc, load);
      }
    }
    if (K == 0)
      break;
  }
}

void rove_gemm_packed(int Mp, int Np, int K, const float *ap, const float *bp,
                      float *c, long ldc) {
  gemm_packed(Mp, Np, K, ap, bp, c, ldc, 0);
}

void rove_gemm_packed_acc(int Mp, int Np, int K, const float *ap,
                          const float *bp, float *c, long ldc) {
  gemm_packed(Mp, Np, K, ap, bp, c, ldc, 1);
}

void rove_gemm_gather(int K, const int *koff, const float *const rows[], int Np,
                      const float *bp, float *c, long ldc) {
  void (*kern)(int, const int *, const float *const *, const float *, float *,
               long) = gather_portable;
#if defined(__x86_64__)
  if (rove_cpu_level() >= ROVE_CPU_AVX512)
    kern = gather_avx512;
  else if (rove_cpu_simd())
    kern = gather_avx2;
#endif
  for (int n0 = 0; n0 < Np; n0 += NR)
    kern(K, koff, rows, bp + (size_t)n0 * K, c + n0, ldc);
}
