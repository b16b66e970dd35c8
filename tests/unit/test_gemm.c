/* test_gemm.c - the packed SGEMM computes every element as one fused
 * multiply-add chain in k order, whatever its position and the sizes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/kernels/cpu.h"
#include "common/kernels/gemm.h"
#include "common/rng.h"

static float *falloc(size_t n) {
  float *p = calloc(n ? n : 1, sizeof(float));
  cr_assert(p != NULL);
  return p;
}

/* Packs B (K x N, row-major) into NR-column panels, zero past N. */
static void pack_b(int K, int N, const float *b, float *bp) {
  int np = rove_gemm_up(N, ROVE_GEMM_NR);
  for (int n = 0; n < np; n++)
    for (int k = 0; k < K; k++)
      bp[((size_t)(n / ROVE_GEMM_NR) * K + k) * ROVE_GEMM_NR +
         n % ROVE_GEMM_NR] = n < N ? b[(size_t)k * N + n] : 0.0f;
}

/* C = A B through the packed kernel; A is read transposed when trans. */
static void run(int M, int N, int K, const float *a, int trans, const float *b,
                float *c, int *ldc) {
  int mp = rove_gemm_up(M, ROVE_GEMM_MR), np = rove_gemm_up(N, ROVE_GEMM_NR);
  float *ap = falloc((size_t)mp * K), *bp = falloc((size_t)K * np);
  if (trans)
    rove_gemm_pack_a(M, K, a, 1, M, ap);
  else
    rove_gemm_pack_a(M, K, a, K, 1, ap);
  pack_b(K, N, b, bp);
  rove_gemm_packed(mp, np, K, ap, bp, c, np);
  *ldc = np;
  free(ap);
  free(bp);
}

static void fill(float *v, size_t n, uint64_t key) {
  uint64_t id[2] = {0x67656d6dull, key};
  rove_rng g;
  rove_rng_init(&g, id, 2);
  for (size_t i = 0; i < n; i++)
    v[i] = 2.0f * rove_rng_uniform(&g) - 1.0f;
}

/* The documented contract, element by element, against fmaf chains, for
 * every kernel level the CPU has (portable, AVX2, AVX-512: a level it
 * lacks runs the best it has, which is then checked twice). Shapes cover
 * one A block, an odd number of blocks (the AVX-512 kernel's pairs plus
 * one) and an even one, k past one k block (the chains continued from C)
 * and rows past one row chunk. */
Test(gemm, every_element_is_an_fma_chain) {
  const int shapes[][3] = {{1, 1, 1},      {6, 16, 5},  {7, 17, 33},
                           {32, 100, 288}, {13, 40, 3}, {288, 48, 32},
                           {200, 40, 600}, {7, 17, 257}};
  for (int level = ROVE_CPU_PORTABLE; level <= ROVE_CPU_AVX512; level++)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      rove_cpu_set_level(level);
      int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ldc;
      float *a = falloc((size_t)M * K), *b = falloc((size_t)K * N);
      float *c = falloc((size_t)rove_gemm_up(M, ROVE_GEMM_MR) *
                        rove_gemm_up(N, ROVE_GEMM_NR));
      fill(a, (size_t)M * K, 2 * s);
      fill(b, (size_t)K * N, 2 * s + 1);
      run(M, N, K, a, 0, b, c, &ldc);
      int bad = 0;
      double maxerr = 0;
      for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
          float want = 0.0f;
          double ref = 0;
          for (int k = 0; k < K; k++) {
            want = fmaf(a[(size_t)m * K + k], b[(size_t)k * N + n], want);
            ref += (double)a[(size_t)m * K + k] * b[(size_t)k * N + n];
          }
          float got = c[(size_t)m * ldc + n];
          bad += memcmp(&got, &want, sizeof got) != 0;
          maxerr = fmax(maxerr, fabs(got - ref));
        }
      cr_expect_eq(bad, 0,
                   "%dx%dx%d (%s): %d elements differ from the fma chain", M, N,
                   K, rove_cpu_level_name(rove_cpu_level()), bad);
      cr_expect(maxerr < 1e-5 * K, "%dx%dx%d: error %g against double", M, N, K,
                maxerr);
      free(a);
      free(b);
      free(c);
    }
}

/* Rows and columns moved to another position give the same bits, and the
 * transposed packing reads the same matrix. */
Test(gemm, position_and_transpose_do_not_matter) {
  int M = 20, N = 50, K = 70, ldc, ldc2;
  float *a = falloc((size_t)M * K), *at = falloc((size_t)M * K);
  float *b = falloc((size_t)K * N), *bs = falloc((size_t)K * N);
  float *c = falloc(24 * 64), *c2 = falloc(24 * 64);
  fill(a, (size_t)M * K, 100);
  fill(b, (size_t)K * N, 101);
  for (int m = 0; m < M; m++)
    for (int k = 0; k < K; k++)
      at[(size_t)k * M + m] = a[(size_t)m * K + k];
  /* Rotate B's columns by 9: column n moves to (n + 9) % N. */
  for (int k = 0; k < K; k++)
    for (int n = 0; n < N; n++)
      bs[(size_t)k * N + (n + 9) % N] = b[(size_t)k * N + n];
  run(M, N, K, a, 0, b, c, &ldc);
  run(M, N, K, at, 1, bs, c2, &ldc2);
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++)
      cr_assert(memcmp(&c[(size_t)m * ldc + n],
                       &c2[(size_t)m * ldc2 + (n + 9) % N], sizeof(float)) == 0,
                "element (%d, %d) changed with its position", m, n);
  free(a);
  free(at);
  free(b);
  free(bs);
  free(c);
  free(c2);
}

/* The gathering strip reads A's rows in place through row pointers and
 * tap offsets, and still gives each element the fma chain. */
Test(gemm, gather_is_the_same_chain) {
  enum { K = 27, N = 40, MRR = ROVE_GEMM_MR };
  int np = rove_gemm_up(N, ROVE_GEMM_NR), koff[K];
  float src[4096], b[K * N], c[MRR * 48];
  float *bp = falloc((size_t)K * np);
  fill(src, 4096, 200);
  fill(b, (size_t)K * N, 201);
  pack_b(K, N, b, bp);
  for (int k = 0; k < K; k++)
    koff[k] = (k / 9) * 300 + ((k / 3) % 3) * 20 + k % 3;
  const float *rows[MRR];
  for (int m = 0; m < MRR; m++)
    rows[m] = src + 7 * m + (m == 3 ? 1000 : 0);
  for (int level = ROVE_CPU_PORTABLE; level <= ROVE_CPU_AVX512; level++) {
    rove_cpu_set_level(level);
    rove_gemm_gather(K, koff, rows, np, bp, c, np);
    for (int m = 0; m < MRR; m++)
      for (int n = 0; n < N; n++) {
        float want = 0.0f;
        for (int k = 0; k < K; k++)
          want = fmaf(rows[m][koff[k]], b[k * N + n], want);
        cr_assert(memcmp(&c[m * np + n], &want, sizeof want) == 0,
                  "element (%d, %d) (%s): %g, expected %g", m, n,
                  rove_cpu_level_name(rove_cpu_level()), c[m * np + n], want);
      }
  }
  rove_cpu_set_level(-1);
  free(bp);
}
