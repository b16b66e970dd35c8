/* sigmoid.c - y = 1 / (1 + exp(-x)); the gradient is taken from y. */
#include <math.h>

#include "common/layers/util.h"

static void sigmoid_forward(const rove_node *n, const float *p, int B,
                            const float *const *x, float *y, float *ws) {
  size_t N = (size_t)B * (size_t)rove_shape_numel(&n->out);
  const float *xx = x[0];
  (void)p;
  (void)ws;
  /* exp(-x) overflowing to inf for x < -88 gives exactly 0, as wanted. */
  for (size_t i = 0; i < N; i++)
    y[i] = 1.0f / (1.0f + expf(-xx[i]));
}

static void sigmoid_backward(const rove_node *n, const float *p, int B,
                             const float *const *x, const float *y,
                             const float *dy, float *const *dx, float *dp,
                             float *ws, rove_bwd bwd) {
  size_t N = (size_t)B * (size_t)rove_shape_numel(&n->out);
  float *d = dx[0];
  (void)p;
  (void)x;
  (void)dp;
  (void)ws;
  (void)bwd;
  if (!d)
    return;
  for (size_t i = 0; i < N; i++)
    d[i] += dy[i] * y[i] * (1.0f - y[i]);
}

const rove_layer_ops rove_layer_sigmoid = {
    .name = "sigmoid",
    .flags = 0,
    .setup = rove_layer__setup_unary,
    .forward = sigmoid_forward,
    .backward = sigmoid_backward,
    .example = rove_layer__example_unary,
};
