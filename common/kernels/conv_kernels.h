/* conv_kernels.h - the convolution's data-movement kernels with AVX2 and
 * portable forms that give the same bits: the col2im scatter of the
 * backward to the input and the 8x8 register transpose of the gathering
 * forward's output. The GEMMs are in gemm.h. */
#ifndef ROVE_COMMON_KERNELS_CONV_KERNELS_H
#define ROVE_COMMON_KERNELS_CONV_KERNELS_H

#include <stddef.h>

/* The SIMD col2im handles kernels up to this wide and this many taps. */
#define ROVE_CONV_MAX_KW 16
#define ROVE_CONV_MAX_TAPS 64

/* A convolution's geometry: input {C, H, W}, output {K, OH, OW}, G
 * groups of Cg input and Kg output channels, R = Cg*kh*kw rows of the
 * im2col matrix; stride, 4-sided padding (top and left kept), dilation. */
typedef struct rove_conv_geom {
  int C, H, W, K, OH, OW, G, Cg, Kg, R; /* R = Cg*kh*kw rows of col */
  int kh, kw, sh, sw, pt, pl, dh, dw;
  int direct; /* 1x1, stride 1, no padding: col is the input itself */
} rove_conv_geom;

/* dx += scatter(dcol) for one chunk of output rows [gr0, gr0 + nrows)
 * (rows of all examples, consecutive), input channels [c0, c1): dcol is
 * R x (nrows*OW) at row stride ldc, its row 0 channel c0's first tap. dx
 * is the group's first channel of example 0, examples bstride apart;
 * dx_end the end of the whole buffer. Terms reach each dx element in the
 * order (global row, r) whatever the chunking and whichever form runs. */
void rove_col2im_rows(const rove_conv_geom *g, const float *dcol, long ldc,
                      int gr0, int nrows, float *dx, size_t bstride, int c0,
                      int c1, const float *dx_end);

/* y[k][q] = C[q][k] (+ bias[k]; with acc y += instead) for q < len and k
 * below the returned multiple of 8 (at most Kg), in 8 x 8 blocks
 * transposed in registers; C has row stride kp, y row stride P. Returns 0
 * without SIMD: the caller does the channels from the returned one on. */
int rove_conv_transpose_out(const float *c, int kp, int len, int Kg, float *y,
                            long P, const float *bias, int acc);

/* B panels of im2col^T for a weight gradient: element (t, r), pixel t's
 * tap r, is base[pix[t] + toff[r]], packed as rove_gemm's B (K = np
 * pixels, N = R taps): at bp[((r / 16) * np + t) * 16 + r % 16], taps past
 * R zero. */
void rove_conv_pack_taps(const float *base, const int *pix, int np,
                         const int *toff, int R, float *bp);

#endif
