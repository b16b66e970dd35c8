/* normalize.c - folds input normalization into a model (normalize.h). */
#include "common/normalize.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int rove_norm_parse(const char *text, float *v, int *n, const char *what) {
  *n = 0;
  const char *p = text;
  for (;;) {
    char *end;
    errno = 0;
    double x = strtod(p, &end);
    if (end == p || errno || !isfinite(x))
      return ROVE_ERR(ROVE_EINVAL,
                      "%s '%s': expected comma-separated numbers such as "
                      "0.4914,0.4822,0.4465",
                      what, text);
    if (*n == ROVE_NORM_MAX)
      return ROVE_ERR(ROVE_EINVAL, "%s '%s': more than %d values", what, text,
                      ROVE_NORM_MAX);
    v[(*n)++] = (float)x;
    while (*end == ' ')
      end++;
    if (*end == '\0')
      return 0;
    if (*end != ',')
      return ROVE_ERR(ROVE_EINVAL,
                      "%s '%s': expected comma-separated numbers such as "
                      "0.4914,0.4822,0.4465",
                      what, text);
    p = end + 1;
  }
}

/* Expands a list of 0, 1 or C values to C values (fill when empty). */
static int expand(const float *v, int n, int C, float fill, float *out,
                  const char *what) {
  if (n != 0 && n != 1 && n != C)
    return ROVE_ERR(ROVE_ESHAPE,
                    "%s has %d values, but the model's input has %d "
                    "channel%s (give one value, or one per channel)",
                    what, n, C, C == 1 ? "" : "s");
  for (int c = 0; c < C; c++)
    out[c] = n == 0 ? fill : n == 1 ? v[0] : v[c];
  return 0;
}

int rove_model_normalize(rove_model *m, const rove_norm *z) {
  if (!rove_norm_given(z))
    return 0;
  if (m->in.rank != 3)
    return ROVE_ERR(ROVE_ESHAPE,
                    "normalization needs a {C, H, W} image input; the model's "
                    "input has rank %d",
                    m->in.rank);
  int C = m->in.d[0];
  if (C > ROVE_NORM_MAX)
    return ROVE_ERR(ROVE_ESHAPE, "normalization of %d channels (at most %d)", C,
                    ROVE_NORM_MAX);
  float mean[ROVE_NORM_MAX], sd[ROVE_NORM_MAX];
  ROVE_TRY(expand(z->mean, z->n_mean, C, 0.0f, mean, "the mean"));
  ROVE_TRY(expand(z->std, z->n_std, C, 1.0f, sd, "the std"));
  for (int c = 0; c < C; c++)
    if (!(sd[c] > 0) || !isfinite(sd[c]))
      return ROVE_ERR(ROVE_EINVAL,
                      "std of channel %d is %g (expected a finite value > 0)",
                      c, (double)sd[c]);

  rove_model nm;
  ROVE_TRY(rove_model_init(&nm, &m->in));
  rove_attrs a;
  rove_attrs_default(&a);
  a.cmode = 2;
  int in = ROVE_INPUT, sub, div, rc;
  if ((rc = rove_model_add(&nm, ROVE_OP_SUB, "normalize_sub", &in, 1, &a,
                           &sub)) < 0 ||
      (rc = rove_model_add(&nm, ROVE_OP_DIV, "normalize_div", &sub, 1, &a,
                           &div)) < 0)
    goto fail;
  memcpy(rove_model_node_params(&nm, sub), mean, sizeof(float) * (size_t)C);
  memcpy(rove_model_node_params(&nm, div), sd, sizeof(float) * (size_t)C);
  for (int i = 0; i < m->n_nodes; i++) {
    const rove_node *n = &m->nodes[i];
    int ins[ROVE_MAX_IN];
    for (int k = 0; k < n->n_in; k++)
      ins[k] = n->in[k] == ROVE_INPUT ? div : n->in[k] + 2;
    int id;
    if ((rc = rove_model_add(&nm, n->op, n->name, ins, n->n_in, &n->a, &id)) <
        0)
      goto fail;
    memcpy(rove_model_node_params(&nm, id), m->params + n->param_off,
           sizeof(float) * n->n_params);
  }
  /* The old output (a stripped Softmax's input) is kept; the stripped
   * Softmax node itself, if it is still in the list, stays unused. */
  int stripped = m->softmax_stripped;
  if ((rc = rove_model_finalize(&nm, m->output + 2)) < 0)
    goto fail;
  nm.softmax_stripped = stripped;
  rove_model_deinit(m);
  *m = nm;
  return 0;
fail:
  rove_model_deinit(&nm);
  return rove_error_trace(rc, __FILE__, __LINE__, __func__);
}

int rove_model_load_norm(rove_model *m, const char *path, const rove_norm *z) {
  ROVE_TRY(rove_model_load(m, path));
  if (!z)
    return 0;
  int rc = rove_model_normalize(m, z);
  if (rc < 0) {
    rove_model_deinit(m);
    return ROVE_WRAP(rc, "model '%s'", path);
  }
  return 0;
}

void rove_norm_text(const float *v, int n, char *out, size_t cap) {
  size_t k = 0;
  out[0] = '\0';
  for (int i = 0; i < n && k < cap; i++)
    k += (size_t)snprintf(out + k, cap - k, "%s%.9g", i ? "," : "",
                          (double)v[i]);
}
