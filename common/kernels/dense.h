/* dense.h - the two products of a fully connected layer, each output
 * element computed the same way wherever it sits in the batch.
 *
 * OpenBLAS rounds a row of a product differently depending on where the
 * row falls in its tiles and on the number of rows, so an example's
 * result could depend on the batch it ran in. These kernels fix the
 * arithmetic of every element by construction, on every CPU: the AVX2+FMA
 * and the portable versions give the same bits (see cpu.h). */
#ifndef ROVE_COMMON_KERNELS_DENSE_H
#define ROVE_COMMON_KERNELS_DENSE_H

#include <stddef.h>

/* y[b][o] = sum over k < D of x[b][k] * W[o][k], for b < B, o < O (x is
 * B x D, W is O x D, y is B x O; y is written, not accumulated). Each
 * element is eight fma chains, chain l over k = l, l + 8, l + 16, ... in
 * order (a partial last group counts as zeros), then summed as
 * ((p0 + p4) + (p2 + p6)) + ((p1 + p5) + (p3 + p7)). */
void rove_dense_xwt(int B, int O, int D, const float *x, const float *W,
                    float *y);

/* dx[b][d] += sum over o < O of dy[b][o] * W[o][d], for b < B, d < D (dy
 * is B x O, W is O x D, dx is B x D). Each element is one fma chain over
 * o in order, starting from 0, then added to dx[b][d]. ws: scratch of
 * ROVE_DENSE_DYW_WS(O) floats. */
#define ROVE_DENSE_DYW_WS(O) ((size_t)(O)*16)
void rove_dense_dyw_acc(int B, int O, int D, const float *dy, const float *W,
                        float *dx, float *ws);

#endif
