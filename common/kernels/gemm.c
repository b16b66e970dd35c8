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
                            long ldc) {
  float acc[MR][NR] = {{0}};
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
kernel_avx2(int K, const float *a, const float *b, float *c, long ldc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
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
#endif

typedef void (*gemm_kernel)(int K, const float *a, const float *b, float *c,
                            long ldc);

static gemm_kernel pick_kernel(void) {
#if defined(__x86_64__)
  if (rove_cpu_simd())
    return kernel_avx2;
#endif
  return kernel_portable;
}

void rove_gemm_packed(int Mp, int Np, int K, const float *ap, const float *bp,
                      float *c, long ldc) {
  gemm_kernel kern = pick_kernel();
  /* A B panel (K x NR) stays in L1 while every A block streams past it
   * from L2. */
  for (int n0 = 0; n0 < Np; n0 += NR) {
    const float *bpan = bp + (size_t)n0 * K;
    for (int m0 = 0; m0 < Mp; m0 += MR)
      kern(K, ap + (size_t)m0 * K, bpan, c + (long)m0 * ldc + n0, ldc);
  }
}

void rove_gemm_gather(int K, const int *koff, const float *const rows[], int Np,
                      const float *bp, float *c, long ldc) {
  void (*kern)(int, const int *, const float *const *, const float *, float *,
               long) = gather_portable;
#if defined(__x86_64__)
  if (rove_cpu_simd())
    kern = gather_avx2;
#endif
  for (int n0 = 0; n0 < Np; n0 += NR)
    kern(K, koff, rows, bp + (size_t)n0 * K, c + n0, ldc);
}
