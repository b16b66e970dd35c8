/* internal.h - what the files of common/certify/ share (not public). */
#ifndef ROVE_COMMON_CERTIFY_INTERNAL_H
#define ROVE_COMMON_CERTIFY_INTERNAL_H

#include <stddef.h>

#include "common/certify/certify.h"
#include "common/layers/util.h"
#include "common/model.h"

/* Bounds of one example: per node (and the model input) lower and upper
 * bounds of every output value. */
typedef struct cert__ctx {
  const rove_model *m;
  const rove_cert_opts *o;
  const float *x; /* the clean example */
  double eps;
  long d;                /* numel of the input */
  double *in_lo, *in_hi; /* the input box: ball's box intersected with [0,1] */
  double **lo, **hi;     /* per node, m->output + 1 of them */
} cert__ctx;

static inline const double *cert__lo(const cert__ctx *c, int node) {
  return node == ROVE_INPUT ? c->in_lo : c->lo[node];
}
static inline const double *cert__hi(const cert__ctx *c, int node) {
  return node == ROVE_INPUT ? c->in_hi : c->hi[node];
}

/* The convolution geometry of common/layers/util.h. */
typedef rove_cgeom cert__conv;
#define cert__conv_geom rove_layer__cgeom
double cert__down(double v);
double cert__up(double v);
double cert__bin_const(const rove_node *n, const float *p, long k, long N);

/* IBP bounds of node i from its inputs' bounds. */
int cert__ibp_node(cert__ctx *c, int i);

/* CROWN: lower bounds lb[R] of sum_j A[r][j] * node_t[j] + 0 over the
 * input set, A (R x numel(node t)) given; uses the bounds in c for the
 * relaxations (of nodes before t). */
int cert__crown(cert__ctx *c, int t, int R, const double *A, double *lb);

#endif
