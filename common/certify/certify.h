/* certify.h - certified lower bounds on robust accuracy by bound
 * propagation: IBP (interval bounds, Gowal et al. 2018) and CROWN
 * (backward linear relaxation, Zhang et al. 2018) over rove's model graph,
 * for the L-inf and L2 balls intersected with [0, 1]. The attacks give an
 * upper bound on robust accuracy; these give a lower one.
 *
 * Numerics (common/certify/README.md): every bound is computed in double
 * from the model's float32 parameters; layers whose bounds come from the
 * float32 forward itself (monotone ones: pools, quantizers, sigmoid, ...)
 * have them rounded outward. A certificate is for the real-valued network
 * with those parameters; an example counts as certified only when every
 * margin's lower bound exceeds ROVE_CERT_TOL times (1 + the largest logit
 * magnitude), an allowance for the rounding of the float32 forward that
 * evaluates the model. */
#ifndef ROVE_COMMON_CERTIFY_CERTIFY_H
#define ROVE_COMMON_CERTIFY_CERTIFY_H

#include <stddef.h>

#include "common/model.h"

enum rove_cert_method {
  ROVE_CERT_IBP = 0,
  ROVE_CERT_CROWN = 1,
  ROVE_CERT_BEST = 2 /* both; each margin's larger lower bound */
};

#define ROVE_CERT_TOL 1e-5

/* Intermediate nodes with at most this many values get CROWN bounds of
 * their own (tighter than IBP) when they feed a ReLU. */
#define ROVE_CERT_CROWN_MAX 1024

typedef struct rove_cert_opts {
  int method;    /* enum rove_cert_method */
  int norm_linf; /* 1: L-inf, 0: L2 */
  int crown_max; /* intermediate CROWN size limit (0: ROVE_CERT_CROWN_MAX) */
} rove_cert_opts;

typedef struct rove_cert_result {
  int certified; /* every margin's lower bound > the tolerance */
  int clean_ok;  /* the clean point is classified y */
  double min_lb; /* the smallest margin lower bound (z_y - z_j) */
  double tol;    /* the tolerance it was compared with */
  double ms;     /* wall time, for the benchmarks */
} rove_cert_result;

/* Certifies example x (numel(m->in) floats in [0, 1]) with label y at
 * radius eps. margins (optional, m->n_classes doubles) receives each lower
 * bound of z_y - z_j (+inf at j = y). Errors (ROVE_EINVAL): eps < 0 or
 * beyond 1 (L-inf), label out of range, a graph node with no bound rule. */
int rove_certify(const rove_model *m, const float *x, int y, double eps,
                 const rove_cert_opts *o, rove_cert_result *r, double *margins);

/* Interval bounds of every node's output (IBP, or with CROWN-refined
 * intermediate bounds when o->method != IBP) over the ball around x. lo
 * and hi are arrays of m->output + 1 pointers, each filled with a
 * malloc'd numel(node) array; free with rove_cert_bounds_free. For the
 * soundness tests. */
int rove_cert_bounds(const rove_model *m, const float *x, double eps,
                     const rove_cert_opts *o, double **lo, double **hi);
void rove_cert_bounds_free(const rove_model *m, double **lo, double **hi);

/* Lower bounds of the linear functions spec (R rows of n_classes
 * coefficients) of the logits over the ball, by CROWN. For the tests. */
int rove_cert_crown_spec(const rove_model *m, const float *x, double eps,
                         const rove_cert_opts *o, int R, const double *spec,
                         double *lb);

const char *rove_cert_method_name(int method);
int rove_cert_method_find(const char *name);

#endif
