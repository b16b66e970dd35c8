/* util.c - helpers shared by the layer kernels in common/layers/. */
#include "common/layers/util.h"

#include "common/err.h"

int rove_layer__want_inputs(const rove_node *n, int want) {
  if (n->n_in != want)
    return ROVE_ERR(ROVE_EINVAL, "node '%s' (%s): %d inputs (expected %d)",
                    n->name, rove_layers[n->op]->name, n->n_in, want);
  return 0;
}

int rove_layer__setup_unary(rove_node *n) {
  ROVE_TRY(rove_layer__want_inputs(n, 1));
  n->out = n->ins[0];
  n->n_params = 0;
  n->n_trainable = 0;
  return 0;
}

int rove_layer__pool_out(int in, int keff, int s, int p0, int p1,
                         int ceil_mode) {
  int span = in + p0 + p1 - keff;
  if (span < 0)
    return 0;
  int o = ceil_mode ? (span + s - 1) / s + 1 : span / s + 1;
  /* The last window must start inside the input or the leading padding. */
  if (ceil_mode && (o - 1) * s >= in + p0)
    o--;
  return o;
}

int rove_layer__check_window(const rove_node *n) {
  const rove_attrs *a = &n->a;
  const char *op = rove_layers[n->op]->name;
  if (n->ins[0].rank != 3)
    return ROVE_ERR(ROVE_ESHAPE,
                    "node '%s' (%s): input has rank %d (expected 3: C, H, W)",
                    n->name, op, n->ins[0].rank);
  if (a->kh < 1 || a->kw < 1)
    return ROVE_ERR(ROVE_EINVAL, "node '%s' (%s): kernel %dx%d (expected >= 1)",
                    n->name, op, a->kh, a->kw);
  if (a->sh < 1 || a->sw < 1)
    return ROVE_ERR(ROVE_EINVAL, "node '%s' (%s): stride %dx%d (expected >= 1)",
                    n->name, op, a->sh, a->sw);
  if (a->dh < 1 || a->dw < 1)
    return ROVE_ERR(ROVE_EINVAL,
                    "node '%s' (%s): dilation %dx%d (expected >= 1)", n->name,
                    op, a->dh, a->dw);
  if (a->pt < 0 || a->pl < 0 || a->pb < 0 || a->pr < 0)
    return ROVE_ERR(ROVE_EINVAL,
                    "node '%s' (%s): negative padding %d,%d,%d,%d (top, left, "
                    "bottom, right)",
                    n->name, op, a->pt, a->pl, a->pb, a->pr);
  return 0;
}

void rove_layer__shape3(rove_shape *s, int c, int h, int w) {
  s->rank = 3;
  s->d[0] = c;
  s->d[1] = h;
  s->d[2] = w;
  s->d[3] = 0;
}

void rove_layer__shape1(rove_shape *s, int d) {
  s->rank = 1;
  s->d[0] = d;
  s->d[1] = s->d[2] = s->d[3] = 0;
}

int rove_layer__example_unary(int variant, rove_attrs *a, rove_shape *ins,
                              int *n_in) {
  rove_attrs_default(a);
  *n_in = 1;
  switch (variant) {
  case 0: rove_layer__shape1(&ins[0], 7); return 1;
  case 1: rove_layer__shape3(&ins[0], 2, 3, 4); return 1;
  case 2:
    ins[0].rank = 2;
    ins[0].d[0] = 3;
    ins[0].d[1] = 5;
    ins[0].d[2] = ins[0].d[3] = 0;
    return 1;
  default: return 0;
  }
}

void rove_layer__backward_rounding(const rove_node *n, const float *p, int B,
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

void rove_layer__cgeom(const rove_node *n, rove_cgeom *g) {
  const rove_attrs *a = &n->a;
  int vec = n->ins[0].rank == 1;
  g->C = n->ins[0].d[0];
  g->H = vec ? 1 : n->ins[0].d[1];
  g->W = vec ? 1 : n->ins[0].d[2];
  g->K = a->out;
  g->OH = vec ? 1 : n->out.d[1];
  g->OW = vec ? 1 : n->out.d[2];
  g->G = a->groups < 1 ? 1 : a->groups;
  g->Cg = g->C / g->G;
  g->Kg = g->K / g->G;
  g->kh = a->kh;
  g->kw = a->kw;
  g->sh = a->sh;
  g->sw = a->sw;
  g->pt = a->pt;
  g->pl = a->pl;
  g->dh = a->dh;
  g->dw = a->dw;
  g->nw = (size_t)g->K * (size_t)g->Cg * (size_t)g->kh * (size_t)g->kw;
}
