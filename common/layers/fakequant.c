/* fakequant.c - quantize-dequantize (ONNX QuantizeLinear followed by
 * DequantizeLinear): q = clamp(rint(x / s) + zp, qmin, qmax),
 * y = (q - zp) * s. */
#include <math.h>

#include "common/err.h"
#include "common/layers/util.h"

/* Params: scale[nc] then zero_point[nc] (floats holding integers), with
 * nc = 1, or nc = d[0] when per_channel. Neither is trainable. x / s is a
 * true division, not a multiplication by 1/s, and rint rounds half to
 * even: exactly QuantizeLinear. Backward modes: exact 0; STE dy; clipped
 * STE dy where rint(x / s) + zp lies in [qmin, qmax] (not saturated), 0
 * elsewhere. Smooth is treated as exact. */

static int fakequant_setup(rove_node *n) {
  ROVE_TRY(rove_layer__setup_unary(n));
  if (n->a.qmin >= n->a.qmax)
    return ROVE_ERR(ROVE_EINVAL,
                    "node '%s' (fakequant): qmin %d is not below qmax %d",
                    n->name, n->a.qmin, n->a.qmax);
  size_t nc = n->a.per_channel ? (size_t)n->ins[0].d[0] : 1;
  n->n_params = 2 * nc;
  n->n_trainable = 0;
  return 0;
}

static long run_of(const rove_node *n) {
  long N = rove_shape_numel(&n->out);
  return n->a.per_channel ? N / n->ins[0].d[0] : N;
}

static void fakequant_forward(const rove_node *n, const float *p, int B,
                              const float *const *x, float *y, float *ws) {
  long N = rove_shape_numel(&n->out), run = run_of(n);
  long nc = N / run;
  float qmin = (float)n->a.qmin, qmax = (float)n->a.qmax;
  (void)ws;
  for (int b = 0; b < B; b++)
    for (long c = 0; c < nc; c++) {
      float s = p[c], zp = p[nc + c];
      const float *xv = x[0] + (size_t)b * N + c * run;
      float *yv = y + (size_t)b * N + c * run;
      for (long i = 0; i < run; i++) {
        float q = rintf(xv[i] / s) + zp;
        q = q < qmin ? qmin : q;
        q = q > qmax ? qmax : q;
        yv[i] = (q - zp) * s;
      }
    }
}

static void fakequant_backward(const rove_node *n, const float *p, int B,
                               const float *const *x, const float *y,
                               const float *dy, float *const *dx, float *dp,
                               float *ws, rove_bwd bwd) {
  long N = rove_shape_numel(&n->out), run = run_of(n);
  long nc = N / run;
  float qmin = (float)n->a.qmin, qmax = (float)n->a.qmax;
  (void)y;
  (void)dp;
  (void)ws;
  if (!dx[0])
    return;
  if (bwd.mode == ROVE_BWD_STE) {
    size_t T = (size_t)B * (size_t)N;
    for (size_t i = 0; i < T; i++)
      dx[0][i] += dy[i];
    return;
  }
  if (bwd.mode != ROVE_BWD_CLIPPED_STE)
    return;
  for (int b = 0; b < B; b++)
    for (long c = 0; c < nc; c++) {
      float s = p[c], zp = p[nc + c];
      size_t off = (size_t)b * N + (size_t)(c * run);
      for (long i = 0; i < run; i++) {
        float q = rintf(x[0][off + i] / s) + zp, g = dy[off + i];
        dx[0][off + i] += q >= qmin && q <= qmax ? g : 0.0f;
      }
    }
}

static int fakequant_example(int variant, rove_attrs *a, rove_shape *ins,
                             int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  switch (variant) {
  case 0: /* uint8, per tensor */ rove_layer__shape1(&ins[0], 9); return 1;
  case 1: /* int8, per channel */
    rove_layer__shape3(&ins[0], 3, 2, 4);
    a->qmin = -128;
    a->qmax = 127;
    a->per_channel = 1;
    return 1;
  case 2: /* a 4-level quantizer: most inputs saturate */
    rove_layer__shape3(&ins[0], 2, 3, 3);
    a->qmin = 0;
    a->qmax = 3;
    return 1;
  default: return 0;
  }
}

const rove_layer_ops rove_layer_fakequant = {
    .name = "fakequant",
    .flags = ROVE_OPF_NONDIFF,
    .setup = fakequant_setup,
    .forward = fakequant_forward,
    .backward = fakequant_backward,
    .example = fakequant_example,
};
