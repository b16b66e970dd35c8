/* gemm.h - a small packed SGEMM whose result for an output element does not
 * depend on where that element sits in the matrix. */
#ifndef ROVE_COMMON_KERNELS_GEMM_H
#define ROVE_COMMON_KERNELS_GEMM_H

#include <stddef.h>

/* Every element C[m][n] is computed as one fused multiply-add chain,
 *   c = 0; for k = 0 .. K-1: c = fmaf(A[m][k], B[k][n], c),
 * in that order, whatever the tile, the panel or the matrix sizes around
 * it (edges are padded with zeros, never computed another way). So a
 * caller may put the columns of several examples side by side in one
 * call and still get per-example results that are bit-identical for any
 * batch size and any position in the batch. The AVX-512 and AVX2+FMA
 * micro-kernels (chosen at run time, common/kernels/cpu.h) and the
 * portable one give the same bits, since all round once per multiply-add.
 *
 * Layouts. A is packed in blocks of ROVE_GEMM_MR rows, k-major: element
 * (m, k) at ap[((m / MR) * K + k) * MR + m % MR]. B is packed in panels
 * of ROVE_GEMM_NR columns, k-major: element (k, n) at
 * bp[((n / NR) * K + k) * NR + n % NR]. Rows and columns past the real
 * sizes hold zeros (rove_gemm_pack_a pads A; B's packers must pad B). */
#define ROVE_GEMM_MR 6
#define ROVE_GEMM_NR 16

/* n rounded up to a multiple of `to`. */
static inline int rove_gemm_up(int n, int to) {
  return (n + to - 1) / to * to;
}

/* Packs A (M x K, element (m, k) at a[m * rs + k * cs]) into ap, which
 * holds rove_gemm_up(M, MR) * K floats. Borrows a; writes ap. */
void rove_gemm_pack_a(int M, int K, const float *a, long rs, long cs,
                      float *ap);

/* C (Mp x Np) = A (Mp x K) . B (K x Np) for Mp a multiple of MR and Np a
 * multiple of NR, written (not accumulated) into c with row stride ldc,
 * padding rows and columns included. Borrows ap and bp; writes c. */
void rove_gemm_packed(int Mp, int Np, int K, const float *ap, const float *bp,
                      float *c, long ldc);

/* The same, continuing C's chains: every element goes on from C's value,
 * c = fmaf(A[m][k], B[k][n], c) for k = 0 .. K-1, so a product over a
 * long inner dimension can be taken a slice at a time with the bits of
 * one call. */
void rove_gemm_packed_acc(int Mp, int Np, int K, const float *ap,
                          const float *bp, float *c, long ldc);

/* One strip of C = A . B where A's rows are gathered in place instead of
 * packed: A[m][k] = rows[m][koff[k]] for m < MR (an implicit im2col: a
 * row is an output pixel's receptive field, koff the offsets of the
 * kernel taps). Writes C rows 0 .. MR-1, Np columns (a multiple of NR),
 * at row stride ldc; each element is the same fma chain as in
 * rove_gemm_packed. Borrows rows, koff and bp; writes c. */
void rove_gemm_gather(int K, const int *koff, const float *const rows[], int Np,
                      const float *bp, float *c, long ldc);

#endif
