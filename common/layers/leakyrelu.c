/* leakyrelu.c - y = x for x > 0, alpha * x otherwise (ONNX LeakyRelu). */
#include "common/layers/util.h"

static void leakyrelu_forward(const rove_node *n, const float *p, int B,
                              const float *const *x, float *y, float *ws) {
  size_t N = (size_t)B * (size_t)rove_shape_numel(&n->out);
  const float *xx = x[0];
  float al = n->a.alpha;
  (void)p;
  (void)ws;
  for (size_t i = 0; i < N; i++)
    y[i] = xx[i] > 0.0f ? xx[i] : al * xx[i];
}

static void leakyrelu_backward(const rove_node *n, const float *p, int B,
                               const float *const *x, const float *y,
                               const float *dy, float *const *dx, float *dp,
                               float *ws, rove_bwd bwd) {
  size_t N = (size_t)B * (size_t)rove_shape_numel(&n->out);
  const float *xx = x[0];
  float al = n->a.alpha, *d = dx[0];
  (void)p;
  (void)y;
  (void)dp;
  (void)ws;
  (void)bwd;
  if (!d)
    return;
  /* dy loaded unconditionally: a blend, not a branch (see relu.c). */
  for (size_t i = 0; i < N; i++) {
    float g = dy[i], ga = al * g;
    d[i] += xx[i] > 0.0f ? g : ga;
  }
}

static int leakyrelu_example(int variant, rove_attrs *a, rove_shape *ins,
                             int *n_in) {
  int r = rove_layer__example_unary(variant, a, ins, n_in);
  a->alpha = variant == 1 ? 0.2f : 0.01f;
  return r;
}

const rove_layer_ops rove_layer_leakyrelu = {
    .name = "leakyrelu",
    .flags = 0,
    .setup = rove_layer__setup_unary,
    .forward = leakyrelu_forward,
    .backward = leakyrelu_backward,
    .example = leakyrelu_example,
};
