/* softmax.c - softmax along axis a.axis of the per-example shape. */
#include <math.h>

#include "common/err.h"
#include "common/layers/util.h"

static int softmax_setup(rove_node *n) {
  ROVE_TRY(rove_layer__setup_unary(n));
  if (n->a.axis < 0 || n->a.axis >= n->ins[0].rank)
    return ROVE_ERR(ROVE_EINVAL,
                    "node '%s' (softmax): axis %d of a rank-%d per-example "
                    "shape (expected 0 to %d)",
                    n->name, n->a.axis, n->ins[0].rank, n->ins[0].rank - 1);
  return 0;
}

/* The per-example tensor seen as outer x L x inner, softmax over L. */
static void dims(const rove_node *n, int B, long *outer, long *L, long *inner) {
  *outer = B;
  *inner = 1;
  for (int d = 0; d < n->a.axis; d++)
    *outer *= n->out.d[d];
  *L = n->out.d[n->a.axis];
  for (int d = n->a.axis + 1; d < n->out.rank; d++)
    *inner *= n->out.d[d];
}

static void softmax_forward(const rove_node *n, const float *p, int B,
                            const float *const *x, float *y, float *ws) {
  long outer, L, inner;
  (void)p;
  (void)ws;
  dims(n, B, &outer, &L, &inner);
  for (long o = 0; o < outer; o++)
    for (long i = 0; i < inner; i++) {
      const float *xv = x[0] + o * L * inner + i;
      float *yv = y + o * L * inner + i;
      float m = xv[0];
      for (long l = 1; l < L; l++)
        if (xv[l * inner] > m)
          m = xv[l * inner];
      float s = 0;
      for (long l = 0; l < L; l++) {
        yv[l * inner] = expf(xv[l * inner] - m);
        s += yv[l * inner];
      }
      for (long l = 0; l < L; l++)
        yv[l * inner] /= s;
    }
}

static void softmax_backward(const rove_node *n, const float *p, int B,
                             const float *const *x, const float *y,
                             const float *dy, float *const *dx, float *dp,
                             float *ws, rove_bwd bwd) {
  long outer, L, inner;
  (void)p;
  (void)x;
  (void)dp;
  (void)ws;
  (void)bwd;
  if (!dx[0])
    return;
  dims(n, B, &outer, &L, &inner);
  for (long o = 0; o < outer; o++)
    for (long i = 0; i < inner; i++) {
      const float *yv = y + o * L * inner + i, *g = dy + o * L * inner + i;
      float *d = dx[0] + o * L * inner + i;
      float s = 0;
      for (long l = 0; l < L; l++)
        s += g[l * inner] * yv[l * inner];
      for (long l = 0; l < L; l++)
        d[l * inner] += yv[l * inner] * (g[l * inner] - s);
    }
}

static int softmax_example(int variant, rove_attrs *a, rove_shape *ins,
                           int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  switch (variant) {
  case 0: rove_layer__shape1(&ins[0], 7); return 1;
  case 1: /* across channels of a feature map */
    rove_layer__shape3(&ins[0], 4, 2, 3);
    return 1;
  case 2: /* the last axis */
    rove_layer__shape3(&ins[0], 2, 3, 5);
    a->axis = 2;
    return 1;
  default: return 0;
  }
}

const rove_layer_ops rove_layer_softmax = {
    .name = "softmax",
    .flags = 0,
    .setup = softmax_setup,
    .forward = softmax_forward,
    .backward = softmax_backward,
    .example = softmax_example,
};
