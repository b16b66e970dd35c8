/* floor.c - y = floor(x) (ONNX Floor). */
#include <math.h>

#include "common/layers/util.h"

/* Backward: exact is 0 (the true derivative almost everywhere); both
 * straight-through modes pass dy unchanged, since floor has no range to clip
 * to. */

static void floor_forward(const rove_node *n, const float *p, int B,
                          const float *const *x, float *y, float *ws) {
  size_t N = (size_t)B * (size_t)rove_shape_numel(&n->out);
  const float *xx = x[0];
  (void)p;
  (void)ws;
  for (size_t i = 0; i < N; i++)
    y[i] = floorf(xx[i]);
}

static void floor_backward(const rove_node *n, const float *p, int B,
                           const float *const *x, const float *y,
                           const float *dy, float *const *dx, float *dp,
                           float *ws, rove_bwd bwd) {
  size_t N = (size_t)B * (size_t)rove_shape_numel(&n->out);
  float *d = dx[0];
  (void)p;
  (void)x;
  (void)y;
  (void)dp;
  (void)ws;
  if (!d || (bwd.mode != ROVE_BWD_STE && bwd.mode != ROVE_BWD_CLIPPED_STE))
    return;
  for (size_t i = 0; i < N; i++)
    d[i] += dy[i];
}

const rove_layer_ops rove_layer_floor = {
    .name = "floor",
    .flags = ROVE_OPF_NONDIFF,
    .setup = rove_layer__setup_unary,
    .forward = floor_forward,
    .backward = floor_backward,
    .example = rove_layer__example_unary,
};
