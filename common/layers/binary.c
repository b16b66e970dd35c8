/* binary.c - elementwise add, sub, mul and div of two inputs of the same
 * shape, or of one input and a constant (scalar, per channel, full). */
#include <string.h>

#include "common/err.h"
#include "common/layers/util.h"

/* a.cmode: 0 = two node inputs of identical shape; 1 = one input and a
 * scalar constant params[0]; 2 = a constant per channel d[0]; 3 = a
 * constant of the full per-example shape. a.const_first puts the constant
 * on the left (c - x, c / x). Constants are not trainable (n_trainable 0):
 * they come from ONNX initializers such as normalisation means and scales,
 * which the attacks treat as part of the fixed model. */

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

static int bin_kind(int op) {
  switch (op) {
  case ROVE_OP_ADD: return BIN_ADD;
  case ROVE_OP_SUB: return BIN_SUB;
  case ROVE_OP_MUL: return BIN_MUL;
  default: return BIN_DIV;
  }
}

static int binary_setup(rove_node *n) {
  const char *op = rove_layers[n->op]->name;
  switch (n->a.cmode) {
  case 0:
    ROVE_TRY(rove_layer__want_inputs(n, 2));
    if (n->ins[0].rank != n->ins[1].rank ||
        memcmp(n->ins[0].d, n->ins[1].d, sizeof(int) * (size_t)n->ins[0].rank))
      return ROVE_ERR(ROVE_ESHAPE,
                      "node '%s' (%s): input shapes differ (rank %d, %d x %d "
                      "x %d vs rank %d, %d x %d x %d); broadcasting between "
                      "two inputs is not supported",
                      n->name, op, n->ins[0].rank, n->ins[0].d[0],
                      n->ins[0].d[1], n->ins[0].d[2], n->ins[1].rank,
                      n->ins[1].d[0], n->ins[1].d[1], n->ins[1].d[2]);
    n->n_params = 0;
    break;
  case 1:
    ROVE_TRY(rove_layer__want_inputs(n, 1));
    n->n_params = 1;
    break;
  case 2:
    ROVE_TRY(rove_layer__want_inputs(n, 1));
    n->n_params = (size_t)n->ins[0].d[0];
    break;
  case 3:
    ROVE_TRY(rove_layer__want_inputs(n, 1));
    n->n_params = (size_t)rove_shape_numel(&n->ins[0]);
    break;
  default:
    return ROVE_ERR(ROVE_EINVAL,
                    "node '%s' (%s): constant mode %d (expected 0 to 3)",
                    n->name, op, n->a.cmode);
  }
  n->out = n->ins[0];
  n->n_trainable = 0;
  return 0;
}

/* Stride of the constant per element and the run of elements sharing one
 * constant value, for an example of N elements. */
static void const_index(const rove_node *n, long N, long *inner) {
  switch (n->a.cmode) {
  case 1: *inner = N; break;
  case 2: *inner = N / n->ins[0].d[0]; break;
  default: *inner = 1; break;
  }
}

static inline float bin_apply(int k, float l, float r) {
  switch (k) {
  case BIN_ADD: return l + r;
  case BIN_SUB: return l - r;
  case BIN_MUL: return l * r;
  default: return l / r;
  }
}

static void binary_forward(const rove_node *n, const float *p, int B,
                           const float *const *x, float *y, float *ws) {
  int k = bin_kind(n->op);
  long N = rove_shape_numel(&n->out);
  (void)ws;
  if (n->a.cmode == 0) {
    size_t T = (size_t)B * (size_t)N;
    const float *l = x[0], *r = x[1];
    switch (k) {
    case BIN_ADD:
      for (size_t i = 0; i < T; i++)
        y[i] = l[i] + r[i];
      break;
    case BIN_SUB:
      for (size_t i = 0; i < T; i++)
        y[i] = l[i] - r[i];
      break;
    case BIN_MUL:
      for (size_t i = 0; i < T; i++)
        y[i] = l[i] * r[i];
      break;
    default:
      for (size_t i = 0; i < T; i++)
        y[i] = l[i] / r[i];
      break;
    }
    return;
  }
  long inner;
  const_index(n, N, &inner);
  for (int b = 0; b < B; b++) {
    const float *xb = x[0] + (size_t)b * N;
    float *yb = y + (size_t)b * N;
    for (long i = 0; i < N; i++) {
      float c = p[i / inner];
      yb[i] =
          n->a.const_first ? bin_apply(k, c, xb[i]) : bin_apply(k, xb[i], c);
    }
  }
}

static void binary_backward(const rove_node *n, const float *p, int B,
                            const float *const *x, const float *y,
                            const float *dy, float *const *dx, float *dp,
                            float *ws, rove_bwd bwd) {
  int k = bin_kind(n->op);
  long N = rove_shape_numel(&n->out);
  (void)y;
  (void)dp;
  (void)ws;
  (void)bwd;
  if (n->a.cmode == 0) {
    size_t T = (size_t)B * (size_t)N;
    const float *l = x[0], *r = x[1];
    float *dl = dx[0], *dr = dx[1];
    for (size_t i = 0; i < T; i++) {
      float g = dy[i];
      switch (k) {
      case BIN_ADD:
        if (dl)
          dl[i] += g;
        if (dr)
          dr[i] += g;
        break;
      case BIN_SUB:
        if (dl)
          dl[i] += g;
        if (dr)
          dr[i] -= g;
        break;
      case BIN_MUL:
        if (dl)
          dl[i] += g * r[i];
        if (dr)
          dr[i] += g * l[i];
        break;
      default:
        if (dl)
          dl[i] += g / r[i];
        if (dr)
          dr[i] -= g * l[i] / (r[i] * r[i]);
        break;
      }
    }
    return;
  }
  if (!dx[0])
    return;
  long inner;
  const_index(n, N, &inner);
  for (int b = 0; b < B; b++) {
    const float *xb = x[0] + (size_t)b * N, *dyb = dy + (size_t)b * N;
    float *d = dx[0] + (size_t)b * N;
    for (long i = 0; i < N; i++) {
      float c = p[i / inner], g = dyb[i], v = xb[i];
      switch (k) {
      case BIN_ADD: d[i] += g; break;
      case BIN_SUB: d[i] += n->a.const_first ? -g : g; break;
      case BIN_MUL: d[i] += g * c; break;
      default: d[i] += n->a.const_first ? -g * c / (v * v) : g / c; break;
      }
    }
  }
}

static int binary_example(int variant, rove_attrs *a, rove_shape *ins,
                          int *n_in) {
  rove_attrs_default(a);
  if (variant > 4)
    return 0;
  rove_layer__shape3(&ins[0], 3, 2, 4);
  ins[1] = ins[0];
  *n_in = variant == 0 ? 2 : 1;
  switch (variant) {
  case 0: a->cmode = 0; break;
  case 1: a->cmode = 1; break;
  case 2: a->cmode = 2; break;
  case 3: a->cmode = 3; break;
  case 4:
    a->cmode = 2;
    a->const_first = 1;
    break;
  }
  return 1;
}

#define BINARY_OPS(sym)                                                        \
  const rove_layer_ops rove_layer_##sym = {                                    \
      .name = #sym,                                                            \
      .flags = 0,                                                              \
      .setup = binary_setup,                                                   \
      .forward = binary_forward,                                               \
      .backward = binary_backward,                                             \
      .example = binary_example,                                               \
  };

BINARY_OPS(add)
BINARY_OPS(sub)
BINARY_OPS(mul)
BINARY_OPS(div)
