/* relu.c - y = max(x, 0); smooth backward: the derivative of softplus. */
#include <math.h>

#include "common/layers/util.h"

/* Backward modes: exact dy * (x > 0); ROVE_BWD_SMOOTH dy * sigmoid(beta x),
 * the derivative of softplus_beta(x) = log(1 + exp(beta x)) / beta (the
 * BPDA surrogate of the kink); the straight-through modes are exact, since
 * ReLU is not a quantizer. */

static void relu_forward(const rove_node *n, const float *p, int B,
                         const float *const *x, float *y, float *ws) {
  size_t N = (size_t)B * (size_t)rove_shape_numel(&n->out);
  const float *xx = x[0];
  (void)p;
  (void)ws;
  for (size_t i = 0; i < N; i++)
    y[i] = xx[i] > 0.0f ? xx[i] : 0.0f;
}

static void relu_backward(const rove_node *n, const float *p, int B,
                          const float *const *x, const float *y,
                          const float *dy, float *const *dx, float *dp,
                          float *ws, rove_bwd bwd) {
  size_t N = (size_t)B * (size_t)rove_shape_numel(&n->out);
  float *d = dx[0];
  const float *xx = x[0];
  (void)p;
  (void)y;
  (void)dp;
  (void)ws;
  if (!d)
    return;
  if (bwd.mode == ROVE_BWD_SMOOTH) {
    float beta = bwd.beta;
    for (size_t i = 0; i < N; i++)
      d[i] += dy[i] / (1.0f + expf(-beta * xx[i]));
  } else {
    /* dy is loaded unconditionally so the select is a blend, not a
     * branch: the signs of x are close to random, and a mispredicted
     * branch per element made this loop 10x slower than the forward. */
    for (size_t i = 0; i < N; i++) {
      float g = dy[i];
      d[i] += xx[i] > 0.0f ? g : 0.0f;
    }
  }
}

const rove_layer_ops rove_layer_relu = {
    .name = "relu",
    .flags = ROVE_OPF_SMOOTHABLE,
    .setup = rove_layer__setup_unary,
    .forward = relu_forward,
    .backward = relu_backward,
    .example = rove_layer__example_unary,
};
