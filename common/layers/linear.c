/* linear.c - fully connected layer y = W x + b (torch nn.Linear, ONNX Gemm
 * with transB = 1); the input is flattened per example. */
#include <cblas.h>
#include <string.h>

#include "common/err.h"
#include "common/layers/util.h"

/* Params: W[out][in] then bias[out] when has_bias. Input any shape with D
 * elements per example, output {out}. */

static int linear_setup(rove_node *n) {
  ROVE_TRY(rove_layer__want_inputs(n, 1));
  if (n->a.out < 1)
    return ROVE_ERR(ROVE_EINVAL, "node '%s' (linear): %d output features",
                    n->name, n->a.out);
  long D = rove_shape_numel(&n->ins[0]);
  rove_layer__shape1(&n->out, n->a.out);
  n->n_params =
      (size_t)n->a.out * (size_t)D + (n->a.has_bias ? (size_t)n->a.out : 0);
  n->n_trainable = n->n_params;
  return 0;
}

/* OpenBLAS's sgemm rounds a row of the result differently depending on
 * its position inside the kernel's tile and on the number of rows M, so a
 * plain M = B call would make an example's logits depend on the batch it
 * ran in. Every GEMM here therefore has exactly LIN_ROWS rows (a partial
 * last block is padded with zero rows in the workspace), and the results
 * are written with beta = 0 and added afterwards: with a fixed M (measured
 * on the Haswell and Zen kernels) each row is computed the same way
 * whatever the other rows hold, so per-example results are bit-identical
 * for any B. tests/unit/test_model.c checks this at B = 1, 7, 64, 99, 100. */
#define LIN_ROWS 8

static size_t linear_workspace(const rove_node *n, int B) {
  size_t D = (size_t)rove_shape_numel(&n->ins[0]), O = (size_t)n->a.out;
  (void)B;
  return LIN_ROWS * (D + O) + LIN_ROWS * (D > O ? D : O);
}

/* C (LIN_ROWS x cols) = A (rows of `in`, padded to LIN_ROWS) . op(W), for
 * block rows [b0, b0 + nb). */
static const float *block_gemm(const float *in, int in_cols, int b0, int nb,
                               const float *W, int cols, int transW, float *pad,
                               float *C) {
  const float *A = in + (size_t)b0 * in_cols;
  if (nb < LIN_ROWS) {
    memcpy(pad, A, sizeof(float) * (size_t)nb * in_cols);
    memset(pad + (size_t)nb * in_cols, 0,
           sizeof(float) * (size_t)(LIN_ROWS - nb) * in_cols);
    A = pad;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, transW ? CblasTrans : CblasNoTrans,
              LIN_ROWS, cols, in_cols, 1.0f, A, in_cols, W,
              transW ? in_cols : cols, 0.0f, C, cols);
  return C;
}

/* x: B x D, y: B x O. */
static void linear_forward(const rove_node *n, const float *p, int B,
                           const float *const *x, float *y, float *ws) {
  int D = (int)rove_shape_numel(&n->ins[0]), O = n->a.out;
  const float *bias = n->a.has_bias ? p + (size_t)O * D : NULL;
  float *pad = ws, *C = ws + (size_t)LIN_ROWS * (D + O);
  for (int b0 = 0; b0 < B; b0 += LIN_ROWS) {
    int nb = B - b0 < LIN_ROWS ? B - b0 : LIN_ROWS;
    block_gemm(x[0], D, b0, nb, p, O, 1, pad, C);
    for (int i = 0; i < nb; i++) {
      float *yr = y + (size_t)(b0 + i) * O;
      const float *cr = C + (size_t)i * O;
      for (int o = 0; o < O; o++)
        yr[o] = bias ? cr[o] + bias[o] : cr[o];
    }
  }
}

static void linear_backward(const rove_node *n, const float *p, int B,
                            const float *const *x, const float *y,
                            const float *dy, float *const *dx, float *dp,
                            float *ws, rove_bwd bwd) {
  int D = (int)rove_shape_numel(&n->ins[0]), O = n->a.out;
  float *pad = ws, *C = ws + (size_t)LIN_ROWS * (D + O);
  (void)y;
  (void)bwd;
  if (dx[0]) /* dx (B x D) += dy (B x O) . W (O x D) */
    for (int b0 = 0; b0 < B; b0 += LIN_ROWS) {
      int nb = B - b0 < LIN_ROWS ? B - b0 : LIN_ROWS;
      block_gemm(dy, O, b0, nb, p, D, 0, pad, C);
      float *d = dx[0] + (size_t)b0 * D;
      size_t T = (size_t)nb * D;
      for (size_t i = 0; i < T; i++)
        d[i] += C[i];
    }
  if (dp) {
    /* dW (O x D) += dy^T (O x B) . x (B x D): a sum over the batch, which
     * depends on the batch by nature. */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, D, B, 1.0f, dy, O,
                x[0], D, 1.0f, dp, D);
    if (n->a.has_bias)
      for (int b = 0; b < B; b++)
        for (int o = 0; o < O; o++)
          dp[(size_t)O * D + o] += dy[(size_t)b * O + o];
  }
}

static double linear_macs(const rove_node *n) {
  return (double)n->a.out * (double)rove_shape_numel(&n->ins[0]);
}

static int linear_example(int variant, rove_attrs *a, rove_shape *ins,
                          int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  switch (variant) {
  case 0:
    rove_layer__shape1(&ins[0], 6);
    a->out = 4;
    a->has_bias = 1;
    return 1;
  case 1: /* a feature map, flattened; no bias */
    rove_layer__shape3(&ins[0], 2, 3, 3);
    a->out = 5;
    return 1;
  default: return 0;
  }
}

const rove_layer_ops rove_layer_linear = {
    .name = "linear",
    .flags = 0,
    .setup = linear_setup,
    .workspace = linear_workspace,
    .forward = linear_forward,
    .backward = linear_backward,
    .macs = linear_macs,
    .example = linear_example,
};
