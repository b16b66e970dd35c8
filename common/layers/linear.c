/* linear.c - fully connected layer y = W x + b (torch nn.Linear, ONNX Gemm
 * with transB = 1); the input is flattened per example. */
#include <cblas.h>
#include <string.h>

#include "common/err.h"
#include "common/kernels/dense.h"
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

/* The products go through common/kernels/dense.c, whose every output
 * element has a fixed arithmetic, so per-example results are
 * bit-identical for any B (tests/unit/test_model.c checks B = 1, 7, 64,
 * 99 against 100). */

static size_t linear_workspace(const rove_node *n, int B) {
  (void)B;
  return ROVE_DENSE_DYW_WS(n->a.out);
}

/* x: B x D, y: B x O. */
static void linear_forward(const rove_node *n, const float *p, int B,
                           const float *const *x, float *y, float *ws) {
  int D = (int)rove_shape_numel(&n->ins[0]), O = n->a.out;
  const float *bias = n->a.has_bias ? p + (size_t)O * D : NULL;
  (void)ws;
  rove_dense_xwt(B, O, D, x[0], p, y);
  if (bias)
    for (int b = 0; b < B; b++) {
      float *yr = y + (size_t)b * O;
      for (int o = 0; o < O; o++)
        yr[o] += bias[o];
    }
}

static void linear_backward(const rove_node *n, const float *p, int B,
                            const float *const *x, const float *y,
                            const float *dy, float *const *dx, float *dp,
                            float *ws, rove_bwd bwd) {
  int D = (int)rove_shape_numel(&n->ins[0]), O = n->a.out;
  (void)y;
  (void)bwd;
  if (dx[0]) /* dx (B x D) += dy (B x O) . W (O x D) */
    rove_dense_dyw_acc(B, O, D, dy, p, dx[0], ws);
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
    .forward = linear_forward,
    .workspace = linear_workspace,
    .backward = linear_backward,
    .macs = linear_macs,
    .example = linear_example,
};
