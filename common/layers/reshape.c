/* reshape.c - reinterprets each example as the shape a.shape (same
 * row-major element order, same number of elements). */
#include <string.h>

#include "common/err.h"
#include "common/layers/util.h"

static int reshape_setup(rove_node *n) {
  const rove_shape *s = &n->a.shape;
  ROVE_TRY(rove_layer__want_inputs(n, 1));
  if (s->rank < 1 || s->rank > ROVE_MAX_RANK)
    return ROVE_ERR(ROVE_ESHAPE,
                    "node '%s' (reshape): target rank %d (expected 1 to %d)",
                    n->name, s->rank, ROVE_MAX_RANK);
  for (int i = 0; i < s->rank; i++)
    if (s->d[i] < 1)
      return ROVE_ERR(ROVE_ESHAPE,
                      "node '%s' (reshape): target dimension %d is %d "
                      "(expected >= 1; -1 and 0 must be resolved first)",
                      n->name, i, s->d[i]);
  if (rove_shape_numel(s) != rove_shape_numel(&n->ins[0]))
    return ROVE_ERR(ROVE_ESHAPE,
                    "node '%s' (reshape): target has %ld elements per "
                    "example, the input %ld",
                    n->name, rove_shape_numel(s), rove_shape_numel(&n->ins[0]));
  n->out = *s;
  for (int i = s->rank; i < ROVE_MAX_RANK; i++)
    n->out.d[i] = 0;
  n->n_params = n->n_trainable = 0;
  return 0;
}

static void reshape_forward(const rove_node *n, const float *p, int B,
                            const float *const *x, float *y, float *ws) {
  (void)p;
  (void)ws;
  memcpy(y, x[0], sizeof(float) * (size_t)B * rove_shape_numel(&n->out));
}

static void reshape_backward(const rove_node *n, const float *p, int B,
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
  (void)bwd;
  if (!d)
    return;
  for (size_t i = 0; i < N; i++)
    d[i] += dy[i];
}

static int reshape_example(int variant, rove_attrs *a, rove_shape *ins,
                           int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  switch (variant) {
  case 0: /* flatten */
    rove_layer__shape3(&ins[0], 2, 3, 4);
    rove_layer__shape1(&a->shape, 24);
    return 1;
  case 1: /* unflatten */
    rove_layer__shape1(&ins[0], 12);
    rove_layer__shape3(&a->shape, 3, 2, 2);
    return 1;
  default: return 0;
  }
}

const rove_layer_ops rove_layer_reshape = {
    .name = "reshape",
    .flags = 0,
    .setup = reshape_setup,
    .forward = reshape_forward,
    .backward = reshape_backward,
    .example = reshape_example,
};
