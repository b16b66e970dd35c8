/* certify.c - the certification driver: the input set, bounds of every
 * node in graph order (IBP, with CROWN refining the inputs of ReLUs that
 * are small enough), and the margin specification z_y - z_j bounded by
 * CROWN with the last layers folded in, or by IBP. */
#include "common/certify/certify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/certify/internal.h"
#include "common/err.h"

static const char *const method_names[] = {"ibp", "crown", "best"};
_Static_assert(sizeof method_names / sizeof method_names[0] ==
                   ROVE_CERT_BEST + 1,
               "one name per certification method");

const char *rove_cert_method_name(int method) {
  return method >= 0 && method <= ROVE_CERT_BEST ? method_names[method] : "?";
}

int rove_cert_method_find(const char *name) {
  for (int k = 0; k <= ROVE_CERT_BEST; k++)
    if (!strcmp(name, method_names[k]))
      return k;
  return -1;
}

static void ctx_free(cert__ctx *c) {
  for (int i = 0; c->lo && i <= c->m->output; i++) {
    free(c->lo[i]);
    free(c->hi[i]);
  }
  free(c->lo);
  free(c->hi);
  free(c->in_lo);
  free(c->in_hi);
}

/* Whether node i feeds a ReLU or LeakyReLU (whose relaxation its bounds
 * set). */
static int feeds_relu(const rove_model *m, int i) {
  for (int k = i + 1; k <= m->output; k++) {
    const rove_node *n = &m->nodes[k];
    if ((n->op == ROVE_OP_RELU || n->op == ROVE_OP_LEAKYRELU) && n->in[0] == i)
      return 1;
  }
  return 0;
}

/* CROWN bounds of node i's values, intersected with its IBP bounds, when
 * the backward pass fits the memory budget. */
static int refine(cert__ctx *c, int i) {
  const rove_model *m = c->m;
  long no = rove_shape_numel(&m->nodes[i].out);
  int lim = c->o->crown_max > 0 ? c->o->crown_max : ROVE_CERT_CROWN_MAX;
  if (no > lim)
    return 0;
  double widest = (double)c->d;
  for (int k = 0; k <= i; k++)
    widest = fmax(widest, (double)rove_shape_numel(&m->nodes[k].out));
  if (2.0 * (double)no * widest > 3e7)
    return 0;
  double *A = calloc((size_t)no * (size_t)no, sizeof *A);
  double *lb = malloc((size_t)no * sizeof *lb);
  int rc = A && lb ? 0 : ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
  for (int pass = 0; rc == 0 && pass < 2; pass++) {
    for (long k = 0; k < no; k++)
      A[(size_t)k * no + k] = pass ? -1.0 : 1.0;
    rc = cert__crown(c, i, (int)no, A, lb);
    for (long k = 0; rc == 0 && k < no; k++) {
      if (pass == 0 && lb[k] > c->lo[i][k])
        c->lo[i][k] = lb[k];
      if (pass == 1 && -lb[k] < c->hi[i][k])
        c->hi[i][k] = -lb[k];
    }
  }
  free(A);
  free(lb);
  return rc;
}

static int ctx_init(cert__ctx *c, const rove_model *m, const float *x,
                    double eps, const rove_cert_opts *o) {
  memset(c, 0, sizeof *c);
  c->m = m;
  c->o = o;
  c->x = x;
  c->eps = eps;
  c->d = rove_shape_numel(&m->in);
  if (!(eps >= 0) || (o->norm_linf && eps > 1) || !isfinite(eps))
    return ROVE_ERR(ROVE_EINVAL, "certify: eps %g (expected >= 0%s)", eps,
                    o->norm_linf ? " and <= 1" : "");
  c->in_lo = malloc((size_t)c->d * sizeof(double));
  c->in_hi = malloc((size_t)c->d * sizeof(double));
  c->lo = calloc((size_t)m->output + 1, sizeof *c->lo);
  c->hi = calloc((size_t)m->output + 1, sizeof *c->hi);
  if (!c->in_lo || !c->in_hi || !c->lo || !c->hi)
    return ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
  /* Both norms: the box around x of half-width eps (it contains the L2
   * ball), cut to [0, 1]. */
  for (long j = 0; j < c->d; j++) {
    double v = x[j];
    c->in_lo[j] = fmax(0.0, fmin(v, v - eps));
    c->in_hi[j] = fmin(1.0, fmax(v, v + eps));
  }
  for (int i = 0; i <= m->output; i++) {
    size_t no = (size_t)rove_shape_numel(&m->nodes[i].out);
    c->lo[i] = malloc(no * sizeof(double));
    c->hi[i] = malloc(no * sizeof(double));
    if (!c->lo[i] || !c->hi[i])
      return ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
    ROVE_TRY(cert__ibp_node(c, i));
    if (o->method != ROVE_CERT_IBP && feeds_relu(m, i))
      ROVE_TRY(refine(c, i));
  }
  return 0;
}

int rove_cert_bounds(const rove_model *m, const float *x, double eps,
                     const rove_cert_opts *o, double **lo, double **hi) {
  cert__ctx c;
  int rc = ctx_init(&c, m, x, eps, o);
  if (rc < 0) {
    ctx_free(&c);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  for (int i = 0; i <= m->output; i++) {
    lo[i] = c.lo[i];
    hi[i] = c.hi[i];
    c.lo[i] = c.hi[i] = NULL;
  }
  ctx_free(&c);
  return 0;
}

void rove_cert_bounds_free(const rove_model *m, double **lo, double **hi) {
  for (int i = 0; i <= m->output; i++) {
    free(lo[i]);
    free(hi[i]);
    lo[i] = hi[i] = NULL;
  }
}

int rove_cert_crown_spec(const rove_model *m, const float *x, double eps,
                         const rove_cert_opts *o, int R, const double *spec,
                         double *lb) {
  cert__ctx c;
  int rc = ctx_init(&c, m, x, eps, o);
  if (rc == 0)
    rc = cert__crown(&c, m->output, R, spec, lb);
  ctx_free(&c);
  ROVE_TRY(rc);
  return 0;
}

static int argmax_f(const float *z, int K) {
  int b = 0;
  for (int k = 1; k < K; k++)
    if (z[k] > z[b])
      b = k;
  return b;
}

int rove_certify(const rove_model *m, const float *x, int y, double eps,
                 const rove_cert_opts *o, rove_cert_result *r,
                 double *margins) {
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  memset(r, 0, sizeof *r);
  int K = m->n_classes;
  if (y < 0 || y >= K)
    return ROVE_ERR(ROVE_EINVAL, "certify: label %d outside the %d classes", y,
                    K);
  /* The clean point must be classified y by the float32 model. */
  rove_exec e;
  ROVE_TRY(rove_exec_init(&e, m, 1));
  rove_exec_forward(&e, 1, x);
  r->clean_ok = argmax_f(rove_exec_logits(&e), K) == y;
  rove_exec_deinit(&e);

  cert__ctx c;
  memset(&c, 0, sizeof c);
  double *spec = calloc((size_t)K * (size_t)K, sizeof *spec);
  double *lb = malloc((size_t)K * sizeof *lb);
  int rc = spec && lb ? ctx_init(&c, m, x, eps, o)
                      : ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
  if (rc < 0)
    goto out;
  const double *zl = c.lo[m->output], *zh = c.hi[m->output];
  double mag = 0;
  for (int k = 0; k < K; k++)
    mag = fmax(mag, fmax(fabs(zl[k]), fabs(zh[k])));
  /* Rows j: z_y - z_j (row y is zero and ignored). */
  for (int j = 0; j < K; j++)
    if (j != y) {
      spec[(size_t)j * K + y] = 1;
      spec[(size_t)j * K + j] = -1;
    }
  for (int j = 0; j < K; j++)
    lb[j] = zl[y] - zh[j];
  if (o->method != ROVE_CERT_IBP) {
    double *cl = malloc((size_t)K * sizeof *cl);
    rc = cl ? cert__crown(&c, m->output, K, spec, cl)
            : ROVE_ERR(ROVE_ENOMEM, "certify: out of memory");
    for (int j = 0; rc == 0 && j < K; j++)
      lb[j] = o->method == ROVE_CERT_CROWN ? cl[j] : fmax(lb[j], cl[j]);
    free(cl);
    if (rc < 0)
      goto out;
  }
  r->tol = ROVE_CERT_TOL * (1 + (isfinite(mag) ? mag : 0));
  r->min_lb = INFINITY;
  for (int j = 0; j < K; j++) {
    if (j == y)
      continue;
    if (isnan(lb[j]))
      lb[j] = -INFINITY;
    if (lb[j] < r->min_lb)
      r->min_lb = lb[j];
  }
  if (margins)
    for (int j = 0; j < K; j++)
      margins[j] = j == y ? INFINITY : lb[j];
  r->certified = r->clean_ok && isfinite(mag) && r->min_lb > r->tol;
out:
  ctx_free(&c);
  free(spec);
  free(lb);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  r->ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
          (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  ROVE_TRY(rc);
  return 0;
}
