/* round.c - y = rint(x), rounding half to even (ONNX Round; never roundf). */
#include <math.h>

#include "common/layers/util.h"

/* Backward: rove_layer__backward_rounding (exact 0; straight-through dy). */

static void round_forward(const rove_node *n, const float *p, int B,
                          const float *const *x, float *y, float *ws) {
  size_t N = (size_t)B * (size_t)rove_shape_numel(&n->out);
  const float *xx = x[0];
  (void)p;
  (void)ws;
  for (size_t i = 0; i < N; i++)
    y[i] = rintf(xx[i]);
}

const rove_layer_ops rove_layer_round = {
    .name = "round",
    .flags = ROVE_OPF_NONDIFF,
    .setup = rove_layer__setup_unary,
    .forward = round_forward,
    .backward = rove_layer__backward_rounding,
    .example = rove_layer__example_unary,
};
