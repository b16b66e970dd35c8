/* winograd.h - 3x3 stride-1 convolution by Winograd's minimal filtering
 * F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks", CVPR 2016): each 2x2 block of outputs (a tile) from its 4x4
 * input patch with 16 multiplies per channel pair instead of 36, the
 * multiplies being 16 GEMMs (one per point of the transformed tile) of the
 * transformed kernel (K x C) by the transformed input patches (C x
 * tiles). 2.25x fewer multiply-adds; the transforms are additions, and
 * halvings for the kernel.
 *
 * Results differ from a direct convolution by rounding only (the
 * transforms are exact up to a few ulps of the terms' magnitudes): well
 * inside the ONNX fixture tolerances. Each output is a fixed expression
 * (the transforms in a fixed order around rove_gemm's per-element fma
 * chains over the channels), so per-example results are bit-identical for
 * any batch size and position, and the portable and SIMD kernels give the
 * same bits. */
#ifndef ROVE_COMMON_KERNELS_WINOGRAD_H
#define ROVE_COMMON_KERNELS_WINOGRAD_H

#include <stddef.h>

#include "common/kernels/conv_kernels.h"

/* Modes: off (the direct GEMM paths always), auto (where it measured
 * faster: at least ROVE_WINO_MIN_CHANNELS input and output channels and
 * at least 16/9 times fewer multiplies; the default), all (every eligible
 * geometry: for tests). ROVE_WINOGRAD=0 or =all in the environment sets
 * off or all. */
#define ROVE_WINO_OFF 0
#define ROVE_WINO_AUTO 1
#define ROVE_WINO_ALL 2
/* Auto: both channel counts at least this, and at least 16/9 times
 * fewer multiplies than the direct convolution. */
#define ROVE_WINO_MIN_CHANNELS 64
void rove_wino_set_mode(int mode);

/* 1 when the convolution layer runs g's forward (backward = 0) or input
 * gradient (backward = 1) by Winograd: 3x3, stride 1, no dilation, one
 * group, and the mode says so. */
int rove_wino_use(const rove_conv_geom *g, int backward);

/* Workspace in floats. */
size_t rove_wino_workspace(const rove_conv_geom *g);

/* The kernels transformed once for both directions (U of the forward,
 * then U of the input gradient's convolution), which forward and
 * backward_x can take instead of transforming w on every call: floats
 * needed (0 for an ineligible geometry), and filling them from w. */
size_t rove_wino_prep_size(const rove_conv_geom *g);
void rove_wino_prepare(const rove_conv_geom *g, const float *w, float *prep);

/* y[b] = conv(x[b], w) + bias (bias may be NULL), or with acc y[b] +=
 * conv(x[b], w) (bias ignored). w: K x C x 3 x 3; prep: rove_wino_prepare
 * of w, or NULL to transform w here. Any padding (also negative or larger
 * than the kernel): taps outside x read zero, and the output has g->OH x
 * g->OW pixels. */
void rove_wino_forward(const rove_conv_geom *g, const float *w,
                       const float *prep, const float *bias, int B,
                       const float *x, float *y, int acc, float *ws);

/* dx[b] += the gradient of y = conv(x, w) with respect to x given dy: the
 * stride-1 convolution of dy with the transposed, flipped kernel. prep as
 * for the forward. Workspace: rove_wino_workspace(g). */
void rove_wino_backward_x(const rove_conv_geom *g, const float *w,
                          const float *prep, int B, const float *dy, float *dx,
                          float *ws);

#endif
