/* depthwise.h - direct depthwise convolution (groups = input channels =
 * output channels, no dilation): each output channel is one input plane
 * correlated with its own kh x kw kernel. im2col would make each channel
 * a GEMM with one row, at a few percent of the machine's peak; these
 * kernels read a zero-padded copy of one plane and sum the taps straight
 * into registers, 16 (AVX-512) or 8 (AVX2+FMA) outputs of a row at a
 * time.
 *
 * Every output is one fmaf chain over the taps in row-major order,
 * starting from +0, then the bias added; padding taps multiply a zero.
 * The AVX-512, AVX2 and portable forms evaluate exactly that chain per
 * element, so they give the same bits, and examples are independent, so
 * per-example results do not depend on the batch size. */
#ifndef ROVE_COMMON_KERNELS_DEPTHWISE_H
#define ROVE_COMMON_KERNELS_DEPTHWISE_H

#include <stddef.h>

#include "common/kernels/conv_kernels.h"

/* 1 when g is a depthwise convolution these kernels take. */
int rove_dw_ok(const rove_conv_geom *g);
/* 1 when the convolution layer is to use them for g: rove_dw_ok and not
 * turned off with rove_dw_enable(0). */
int rove_dw_use(const rove_conv_geom *g);

/* Workspace in floats: one padded plane (input or dy). */
size_t rove_dw_workspace(const rove_conv_geom *g);

/* y[b][c] = w[c] (*) x[b][c] + bias[c] (bias may be NULL). */
void rove_dw_forward(const rove_conv_geom *g, const float *w, const float *bias,
                     int B, const float *x, float *y, float *ws);

/* dx[b][c] += the gradient of y[b][c] = w[c] (*) x[b][c] with respect to
 * x, given dy. Each dx element gets one chain over the kernel's taps
 * (stride 1: a correlation of padded dy with the flipped kernel; larger
 * strides: the terms in (oh, ow, i, j) order), then is added to dx. */
void rove_dw_backward_x(const rove_conv_geom *g, const float *w, int B,
                        const float *dy, float *dx, float *ws);

/* dw[c][i][j] += sum over b, oh, ow of dy * x (in that order, per
 * example an fmaf chain over the pixels, added to dw per example). */
void rove_dw_backward_w(const rove_conv_geom *g, int B, const float *x,
                        const float *dy, float *dw, float *ws);

/* Turns these kernels off (0: the convolution layer takes its im2col
 * path, as before they existed) or on (1, the default); for tests
 * comparing the two. Which form runs (portable, AVX2, AVX-512) is
 * rove_cpu_level() (common/kernels/cpu.h). Not while another thread runs
 * a convolution. */
void rove_dw_enable(int on);

#endif
