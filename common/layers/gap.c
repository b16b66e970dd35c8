/* gap.c - global average pooling {C, H, W} -> {C, 1, 1} (ONNX
 * GlobalAveragePool keeps the unit spatial axes, so a Flatten or reshape
 * after it works unchanged). */
#include "common/err.h"
#include "common/layers/util.h"

static int gap_setup(rove_node *n) {
  ROVE_TRY(rove_layer__want_inputs(n, 1));
  if (n->ins[0].rank != 3)
    return ROVE_ERR(ROVE_ESHAPE,
                    "node '%s' (gap): input has rank %d (expected 3: C, H, W)",
                    n->name, n->ins[0].rank);
  rove_layer__shape3(&n->out, n->ins[0].d[0], 1, 1);
  n->n_params = n->n_trainable = 0;
  return 0;
}

/* The mean is summed in double: the plane can be large, and the result is
 * then independent of the summation's rounding to well under 1e-7. */
static void gap_forward(const rove_node *n, const float *p, int B,
                        const float *const *x, float *y, float *ws) {
  long HW = (long)n->ins[0].d[1] * n->ins[0].d[2];
  long planes = (long)B * n->ins[0].d[0];
  (void)p;
  (void)ws;
  for (long c = 0; c < planes; c++) {
    const float *xp = x[0] + c * HW;
    double s = 0;
    for (long i = 0; i < HW; i++)
      s += xp[i];
    y[c] = (float)(s / (double)HW);
  }
}

static void gap_backward(const rove_node *n, const float *p, int B,
                         const float *const *x, const float *y, const float *dy,
                         float *const *dx, float *dp, float *ws, rove_bwd bwd) {
  long HW = (long)n->ins[0].d[1] * n->ins[0].d[2];
  long planes = (long)B * n->ins[0].d[0];
  (void)p;
  (void)x;
  (void)y;
  (void)dp;
  (void)ws;
  (void)bwd;
  if (!dx[0])
    return;
  for (long c = 0; c < planes; c++) {
    float g = dy[c] / (float)HW, *dxp = dx[0] + c * HW;
    for (long i = 0; i < HW; i++)
      dxp[i] += g;
  }
}

static int gap_example(int variant, rove_attrs *a, rove_shape *ins, int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  switch (variant) {
  case 0: rove_layer__shape3(&ins[0], 3, 4, 5); return 1;
  case 1: rove_layer__shape3(&ins[0], 2, 1, 7); return 1;
  default: return 0;
  }
}

const rove_layer_ops rove_layer_gap = {
    .name = "gap",
    .flags = 0,
    .setup = gap_setup,
    .forward = gap_forward,
    .backward = gap_backward,
    .example = gap_example,
};
