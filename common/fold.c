/* fold.c - BatchNorm folded into the convolution before it (model.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/model.h"

/* conv_of[i]: the convolution BatchNorm node i folds into, or -1. A pair
 * folds when the BatchNorm reads a convolution whose output nothing else
 * reads and which is not itself the logits. */
static int find_pairs(const rove_model *m, int *conv_of, int *folds) {
  int *users = calloc((size_t)m->n_nodes, sizeof *users);
  if (!users)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory folding BatchNorm");
  for (int i = 0; i < m->n_nodes; i++)
    for (int j = 0; j < m->nodes[i].n_in; j++)
      if (m->nodes[i].in[j] != ROVE_INPUT)
        users[m->nodes[i].in[j]]++;
  *folds = 0;
  for (int i = 0; i < m->n_nodes; i++) {
    const rove_node *n = &m->nodes[i];
    conv_of[i] = -1;
    if (n->op != ROVE_OP_BATCHNORM || n->n_in != 1 || n->in[0] == ROVE_INPUT)
      continue;
    int c = n->in[0];
    if (m->nodes[c].op == ROVE_OP_CONV && users[c] == 1 && c != m->output &&
        n->out.rank == 3 && n->out.d[0] == m->nodes[c].a.out) {
      conv_of[i] = c;
      (*folds)++;
    }
  }
  free(users);
  return 0;
}

/* Copies the graph into dst with each folded pair as one convolution:
 * with a = gamma / sqrt(var + eps) per output channel (as the BatchNorm
 * layer computes it), W'[k] = W[k] * a[k] and b'[k] = (b[k] - mean[k]) *
 * a[k] + beta[k]. */
static int build(rove_model *dst, const rove_model *m, const int *conv_of,
                 int *map) {
  int *bn_of = malloc(sizeof *bn_of * (size_t)m->n_nodes);
  if (!bn_of)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory folding BatchNorm");
  for (int i = 0; i < m->n_nodes; i++)
    bn_of[i] = -1;
  for (int i = 0; i < m->n_nodes; i++)
    if (conv_of[i] >= 0)
      bn_of[conv_of[i]] = i;
  int rc = 0;
  for (int i = 0; i < m->n_nodes && rc == 0; i++) {
    const rove_node *n = &m->nodes[i];
    if (conv_of[i] >= 0) {
      map[i] = map[conv_of[i]];
      continue;
    }
    int in[ROVE_MAX_IN];
    for (int j = 0; j < n->n_in; j++)
      in[j] = n->in[j] == ROVE_INPUT ? ROVE_INPUT : map[n->in[j]];
    rove_attrs a = n->a;
    int bn = bn_of[i];
    if (bn >= 0)
      a.has_bias = 1;
    int id;
    if ((rc = rove_model_add(dst, n->op, n->name, in, n->n_in, &a, &id)) < 0)
      break;
    map[i] = id;
    float *p = rove_model_node_params(dst, id);
    const float *s = m->params + n->param_off;
    if (bn < 0) {
      memcpy(p, s, sizeof(float) * n->n_params);
      continue;
    }
    const rove_node *b = &m->nodes[bn];
    const float *q = m->params + b->param_off;
    int K = n->a.out;
    size_t per = (n->n_params - (n->a.has_bias ? (size_t)K : 0)) / (size_t)K;
    const float *gamma = q, *beta = q + K, *mean = q + 2 * K, *var = q + 3 * K;
    for (int k = 0; k < K; k++) {
      float sc = gamma[k] / sqrtf(var[k] + b->a.eps);
      for (size_t r = 0; r < per; r++)
        p[(size_t)k * per + r] = s[(size_t)k * per + r] * sc;
      float bias = n->a.has_bias ? s[(size_t)K * per + k] : 0.0f;
      p[(size_t)K * per + k] = (bias - mean[k]) * sc + beta[k];
    }
  }
  free(bn_of);
  return rc;
}

int rove_model_fold_batchnorm(rove_model *m, int *folded) {
  int folds = 0, rc;
  if (folded)
    *folded = 0;
  int *conv_of = malloc(sizeof *conv_of * (size_t)(2 * m->n_nodes + 1));
  if (!conv_of)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory folding BatchNorm");
  int *map = conv_of + m->n_nodes;
  if ((rc = find_pairs(m, conv_of, &folds)) < 0 || folds == 0) {
    free(conv_of);
    return rc;
  }
  rove_model f;
  if ((rc = rove_model_init(&f, &m->in)) == 0) {
    if ((rc = build(&f, m, conv_of, map)) == 0)
      rc = rove_model_finalize(&f, map[m->output]);
    if (rc < 0)
      rove_model_deinit(&f);
  }
  free(conv_of);
  if (rc < 0)
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  /* The identity stays the loaded model's. */
  memcpy(f.hash, m->hash, sizeof f.hash);
  f.softmax_stripped = m->softmax_stripped;
  rove_model_deinit(m);
  *m = f;
  if (folded)
    *folded = folds;
  return 0;
}
