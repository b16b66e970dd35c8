/* util.h - helpers shared by the layer kernels in common/layers/. */
#ifndef ROVE_COMMON_LAYERS_UTIL_H
#define ROVE_COMMON_LAYERS_UTIL_H

#include "common/layer.h"

/* Checks that n has exactly `want` inputs; otherwise records an error
 * naming the node and returns ROVE_EINVAL. */
int rove_layer__want_inputs(const rove_node *n, int want);

/* Setup of a parameter-free elementwise op with one input: the output has
 * the input's shape. */
int rove_layer__setup_unary(rove_node *n);

/* Output length of a pooling window sweep along one axis (PyTorch/ONNX
 * rule): `in` input length, `keff` effective (dilated) kernel, stride s,
 * paddings p0/p1, ceil_mode rounding up but never starting a window past
 * the input plus the leading padding. Returns <= 0 when no window fits. */
int rove_layer__pool_out(int in, int keff, int s, int p0, int p1,
                         int ceil_mode);

/* Checks window attributes shared by conv and the pools (kernel, stride,
 * dilation >= 1, padding >= 0) and that the input is rank 3 {C, H, W}. */
int rove_layer__check_window(const rove_node *n);

/* A convolution's geometry read off its node (conv, qconv, convint): input
 * {C, H, W}, output {K, OH, OW}, G groups of Cg inputs and Kg outputs,
 * kernel, stride, top/left padding, dilation, and the weight count. A
 * rank-1 input {D} is a 1x1 convolution of a D x 1 x 1 map. */
typedef struct rove_cgeom {
  int C, H, W, K, OH, OW, G, Cg, Kg, kh, kw, sh, sw, pt, pl, dh, dw;
  size_t nw;
} rove_cgeom;
void rove_layer__cgeom(const rove_node *n, rove_cgeom *g);

/* Fills `ins[0]` with a rank-3 shape. For the examples. */
void rove_layer__shape3(rove_shape *s, int c, int h, int w);
void rove_layer__shape1(rove_shape *s, int d);

/* Elementwise op example variants shared by the unary ops: rank 1, rank 3
 * and rank 2 inputs. */
int rove_layer__example_unary(int variant, rove_attrs *a, rove_shape *ins,
                              int *n_in);

/* Backward of an elementwise rounding op (round, floor) whose exact
 * derivative is 0 almost everywhere: exact mode adds nothing; both
 * straight-through modes add dy unchanged (there is no range to clip to).
 * Has the signature of rove_layer_ops.backward. */
void rove_layer__backward_rounding(const rove_node *n, const float *p, int B,
                                   const float *const *x, const float *y,
                                   const float *dy, float *const *dx, float *dp,
                                   float *ws, rove_bwd bwd);

#endif
