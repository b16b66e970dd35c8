/* clip.c - y = min(max(x, lo), hi) (ONNX Clip, torch.clamp). */
#include "common/err.h"
#include "common/layers/util.h"

/* The gradient passes where lo <= x <= hi, like torch.clamp's. */

static int clip_setup(rove_node *n) {
  ROVE_TRY(rove_layer__setup_unary(n));
  if (!(n->a.lo <= n->a.hi))
    return ROVE_ERR(ROVE_EINVAL,
                    "node '%s' (clip): lo %g is not <= hi %g (or is NaN)",
                    n->name, (double)n->a.lo, (double)n->a.hi);
  return 0;
}

static void clip_forward(const rove_node *n, const float *p, int B,
                         const float *const *x, float *y, float *ws) {
  size_t N = (size_t)B * (size_t)rove_shape_numel(&n->out);
  const float *xx = x[0];
  float lo = n->a.lo, hi = n->a.hi;
  (void)p;
  (void)ws;
  for (size_t i = 0; i < N; i++) {
    float v = xx[i] < lo ? lo : xx[i];
    y[i] = v > hi ? hi : v;
  }
}

static void clip_backward(const rove_node *n, const float *p, int B,
                          const float *const *x, const float *y,
                          const float *dy, float *const *dx, float *dp,
                          float *ws, rove_bwd bwd) {
  size_t N = (size_t)B * (size_t)rove_shape_numel(&n->out);
  const float *xx = x[0];
  float lo = n->a.lo, hi = n->a.hi, *d = dx[0];
  (void)p;
  (void)y;
  (void)dp;
  (void)ws;
  (void)bwd;
  if (!d)
    return;
  /* dy loaded unconditionally: a blend, not a branch (see relu.c). */
  for (size_t i = 0; i < N; i++) {
    float g = dy[i];
    d[i] += xx[i] >= lo && xx[i] <= hi ? g : 0.0f;
  }
}

/* Bounds sit between the grid points the generic gradient test draws
 * inputs from (magnitudes 0.5 + k * 0.002), so no input is near a kink. */
static int clip_example(int variant, rove_attrs *a, rove_shape *ins,
                        int *n_in) {
  int r = rove_layer__example_unary(variant, a, ins, n_in);
  a->lo = -0.801f;
  a->hi = variant == 2 ? 3.0e38f : 0.901f;
  return r;
}

const rove_layer_ops rove_layer_clip = {
    .name = "clip",
    .flags = 0,
    .setup = clip_setup,
    .forward = clip_forward,
    .backward = clip_backward,
    .example = clip_example,
};
