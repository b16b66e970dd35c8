/* concat.c - concatenates any number of inputs along axis a.axis of the
 * per-example shape (0 = channels). */
#include <string.h>

#include "common/err.h"
#include "common/layers/util.h"

static int concat_setup(rove_node *n) {
  int ax = n->a.axis, r = n->ins[0].rank;
  if (n->n_in < 1)
    return ROVE_ERR(ROVE_EINVAL, "node '%s' (concat): no inputs", n->name);
  if (ax < 0 || ax >= r)
    return ROVE_ERR(ROVE_EINVAL,
                    "node '%s' (concat): axis %d of a rank-%d per-example "
                    "shape (expected 0 to %d)",
                    n->name, ax, r, r - 1);
  n->out = n->ins[0];
  for (int i = 1; i < n->n_in; i++) {
    const rove_shape *s = &n->ins[i];
    if (s->rank != r)
      return ROVE_ERR(ROVE_ESHAPE,
                      "node '%s' (concat): input %d has rank %d, input 0 "
                      "rank %d",
                      n->name, i, s->rank, r);
    for (int d = 0; d < r; d++)
      if (d != ax && s->d[d] != n->ins[0].d[d])
        return ROVE_ERR(ROVE_ESHAPE,
                        "node '%s' (concat): input %d has %d along axis %d, "
                        "input 0 has %d (only axis %d may differ)",
                        n->name, i, s->d[d], d, n->ins[0].d[d], ax);
    n->out.d[ax] += s->d[ax];
  }
  n->n_params = n->n_trainable = 0;
  return 0;
}

/* outer: product of the dims before the axis; chunk(i): input i's elements
 * per outer index. */
static long outer_of(const rove_node *n) {
  long o = 1;
  for (int d = 0; d < n->a.axis; d++)
    o *= n->out.d[d];
  return o;
}

static long chunk_of(const rove_shape *s, int ax) {
  long c = 1;
  for (int d = ax; d < s->rank; d++)
    c *= s->d[d];
  return c;
}

static void concat_forward(const rove_node *n, const float *p, int B,
                           const float *const *x, float *y, float *ws) {
  long outer = (long)B * outer_of(n), total = chunk_of(&n->out, n->a.axis);
  (void)p;
  (void)ws;
  long off = 0;
  for (int i = 0; i < n->n_in; i++) {
    long c = chunk_of(&n->ins[i], n->a.axis);
    for (long o = 0; o < outer; o++)
      memcpy(y + o * total + off, x[i] + o * c, sizeof(float) * (size_t)c);
    off += c;
  }
}

static void concat_backward(const rove_node *n, const float *p, int B,
                            const float *const *x, const float *y,
                            const float *dy, float *const *dx, float *dp,
                            float *ws, rove_bwd bwd) {
  long outer = (long)B * outer_of(n), total = chunk_of(&n->out, n->a.axis);
  (void)p;
  (void)x;
  (void)y;
  (void)dp;
  (void)ws;
  (void)bwd;
  long off = 0;
  for (int i = 0; i < n->n_in; i++) {
    long c = chunk_of(&n->ins[i], n->a.axis);
    if (dx[i])
      for (long o = 0; o < outer; o++) {
        const float *g = dy + o * total + off;
        float *d = dx[i] + o * c;
        for (long j = 0; j < c; j++)
          d[j] += g[j];
      }
    off += c;
  }
}

static int concat_example(int variant, rove_attrs *a, rove_shape *ins,
                          int *n_in) {
  rove_attrs_default(a);
  switch (variant) {
  case 0: /* channels, three inputs */
    *n_in = 3;
    rove_layer__shape3(&ins[0], 2, 3, 3);
    rove_layer__shape3(&ins[1], 1, 3, 3);
    rove_layer__shape3(&ins[2], 3, 3, 3);
    return 1;
  case 1: /* a spatial axis */
    *n_in = 2;
    a->axis = 2;
    rove_layer__shape3(&ins[0], 2, 3, 2);
    rove_layer__shape3(&ins[1], 2, 3, 4);
    return 1;
  case 2: /* vectors */
    *n_in = 2;
    rove_layer__shape1(&ins[0], 4);
    rove_layer__shape1(&ins[1], 3);
    return 1;
  default: return 0;
  }
}

const rove_layer_ops rove_layer_concat = {
    .name = "concat",
    .flags = 0,
    .setup = concat_setup,
    .forward = concat_forward,
    .backward = concat_backward,
    .example = concat_example,
};
