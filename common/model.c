/* model.c - model graph builder, content hash and the forward/backward exec. */
#include "common/model.h"

#include <assert.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int rove_model_init(rove_model *m, const rove_shape *in) {
  memset(m, 0, sizeof *m);
  if (in->rank < 1 || in->rank > ROVE_MAX_RANK)
    return ROVE_ERR(ROVE_ESHAPE, "model input rank %d (expected 1 to %d)",
                    in->rank, ROVE_MAX_RANK);
  for (int i = 0; i < in->rank; i++)
    if (in->d[i] <= 0)
      return ROVE_ERR(ROVE_ESHAPE, "model input dimension %d is %d", i,
                      in->d[i]);
  m->in = *in;
  m->output = -1;
  return 0;
}

void rove_model_deinit(rove_model *m) {
  free(m->nodes);
  free(m->params);
  memset(m, 0, sizeof *m);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap)
    return 0;
  size_t n = *cap ? *cap : 16;
  while (n < need)
    n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory growing a model");
  *p = q;
  *cap = n;
  return 0;
}

int rove_model_add(rove_model *m, int op, const char *name, const int *in,
                   int n_in, const rove_attrs *a, int *id) {
  if (op < 0 || op >= ROVE_OP_COUNT)
    return ROVE_ERR(ROVE_EINVAL, "unknown layer kind %d", op);
  if (n_in < 1 || n_in > ROVE_MAX_IN)
    return ROVE_ERR(ROVE_EINVAL, "node '%s': %d inputs (expected 1 to %d)",
                    name ? name : "?", n_in, ROVE_MAX_IN);
  size_t capn = (size_t)m->cap_nodes;
  ROVE_TRY(grow((void **)&m->nodes, &capn, (size_t)m->n_nodes + 1,
                sizeof *m->nodes));
  m->cap_nodes = (int)capn;
  rove_node *n = &m->nodes[m->n_nodes];
  memset(n, 0, sizeof *n);
  n->op = op;
  if (name && name[0])
    snprintf(n->name, sizeof n->name, "%s", name);
  else
    snprintf(n->name, sizeof n->name, "%s_%d", rove_layers[op]->name,
             m->n_nodes);
  n->n_in = n_in;
  for (int i = 0; i < n_in; i++) {
    if (in[i] != ROVE_INPUT && (in[i] < 0 || in[i] >= m->n_nodes))
      return ROVE_ERR(ROVE_EINVAL,
                      "node '%s': input %d refers to node %d, which does "
                      "not precede it",
                      n->name, i, in[i]);
    n->in[i] = in[i];
    n->ins[i] = in[i] == ROVE_INPUT ? m->in : m->nodes[in[i]].out;
  }
  if (a)
    n->a = *a;
  else
    rove_attrs_default(&n->a);
  ROVE_TRY(rove_layers[op]->setup(n));
  assert(n->n_trainable <= n->n_params);
  if (rove_shape_numel(&n->out) <= 0)
    return ROVE_ERR(ROVE_ESHAPE, "node '%s' (%s): empty output shape", n->name,
                    rove_layers[op]->name);
  n->param_off = m->n_params;
  ROVE_TRY(grow((void **)&m->params, &m->cap_params, m->n_params + n->n_params,
                sizeof(float)));
  if (n->n_params) /* params is still NULL while no node has any */
    memset(m->params + m->n_params, 0, n->n_params * sizeof(float));
  m->n_params += n->n_params;
  if (id)
    *id = m->n_nodes;
  m->n_nodes++;
  m->finalized = 0;
  return 0;
}

float *rove_model_node_params(rove_model *m, int id) {
  return m->params + m->nodes[id].param_off;
}

static void hash_u32(crypto_generichash_state *st, uint32_t v) {
  unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8),
                        (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
  crypto_generichash_update(st, b, 4);
}

static void hash_shape(crypto_generichash_state *st, const rove_shape *s) {
  hash_u32(st, (uint32_t)s->rank);
  for (int i = 0; i < ROVE_MAX_RANK; i++)
    hash_u32(st, (uint32_t)(i < s->rank ? s->d[i] : 0));
}

/* The identity of a model is its mathematics: graph structure, attributes
 * and parameter values, in a fixed little-endian encoding. Node names and
 * the file it came from do not count. */
void rove_model_rehash(rove_model *m) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, sizeof m->hash);
  crypto_generichash_update(&st, (const unsigned char *)"rove-model-v1", 13);
  hash_shape(&st, &m->in);
  hash_u32(&st, (uint32_t)m->n_nodes);
  hash_u32(&st, (uint32_t)m->output);
  for (int i = 0; i < m->n_nodes; i++) {
    const rove_node *n = &m->nodes[i];
    unsigned int w[ROVE_ATTRS_WORDS];
    hash_u32(&st, (uint32_t)n->op);
    hash_u32(&st, (uint32_t)n->n_in);
    for (int j = 0; j < n->n_in; j++)
      hash_u32(&st, (uint32_t)n->in[j]);
    rove_attrs_to_words(&n->a, w);
    for (int j = 0; j < ROVE_ATTRS_WORDS; j++)
      hash_u32(&st, w[j]);
    hash_u32(&st, (uint32_t)n->n_params);
  }
  for (size_t i = 0; i < m->n_params; i++) {
    uint32_t v;
    memcpy(&v, &m->params[i], 4);
    hash_u32(&st, v);
  }
  crypto_generichash_final(&st, m->hash, sizeof m->hash);
}

int rove_model_finalize(rove_model *m, int output) {
  if (sodium_init() < 0)
    return ROVE_ERR(ROVE_EINVAL, "libsodium failed to initialise");
  if (m->n_nodes == 0)
    return ROVE_ERR(ROVE_EINVAL, "model has no layers");
  if (output < 0)
    output = m->n_nodes - 1;
  if (output >= m->n_nodes)
    return ROVE_ERR(ROVE_EINVAL, "output node %d does not exist", output);
  m->softmax_stripped = 0;
  while (m->nodes[output].op == ROVE_OP_SOFTMAX &&
         m->nodes[output].in[0] != ROVE_INPUT) {
    output = m->nodes[output].in[0];
    m->softmax_stripped = 1;
  }
  const rove_node *o = &m->nodes[output];
  if (o->out.rank != 1)
    return ROVE_ERR(ROVE_ESHAPE,
                    "output node '%s' has a rank-%d shape; rove expects a "
                    "vector of class logits",
                    o->name, o->out.rank);
  m->output = output;
  m->n_classes = o->out.d[0];
  rove_model_rehash(m);
  m->finalized = 1;
  return 0;
}

void rove_model_hash_hex(const rove_model *m, char out[65]) {
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", m->hash[i]);
}

/* Marks the nodes the output depends on. */
static void mark_live(const rove_model *m, unsigned char *live) {
  memset(live, 0, (size_t)m->n_nodes);
  if (m->output < 0)
    return;
  live[m->output] = 1;
  for (int i = m->output; i >= 0; i--)
    if (live[i])
      for (int j = 0; j < m->nodes[i].n_in; j++)
        if (m->nodes[i].in[j] != ROVE_INPUT)
          live[m->nodes[i].in[j]] = 1;
}

double rove_model_macs(const rove_model *m) {
  unsigned char *live = malloc((size_t)m->n_nodes + 1);
  double s = 0;
  if (!live)
    return 0;
  mark_live(m, live);
  for (int i = 0; i < m->n_nodes; i++)
    if (live[i] && rove_layers[m->nodes[i].op]->macs)
      s += rove_layers[m->nodes[i].op]->macs(&m->nodes[i]);
  free(live);
  return s;
}

int rove_model_count_nondiff(const rove_model *m) {
  int c = 0;
  for (int i = 0; i < m->n_nodes; i++)
    if (rove_layers[m->nodes[i].op]->flags & ROVE_OPF_NONDIFF)
      c++;
  return c;
}

int rove_model_clone(rove_model *dst, const rove_model *src) {
  *dst = *src;
  dst->nodes = NULL;
  dst->params = NULL;
  dst->cap_nodes = src->n_nodes;
  dst->cap_params = src->n_params;
  dst->nodes = malloc(sizeof *dst->nodes * (size_t)(src->n_nodes + 1));
  dst->params = malloc(sizeof(float) * (src->n_params + 1));
  if (!dst->nodes || !dst->params) {
    free(dst->nodes);
    free(dst->params);
    memset(dst, 0, sizeof *dst);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory copying a model");
  }
  memcpy(dst->nodes, src->nodes, sizeof *dst->nodes * (size_t)src->n_nodes);
  memcpy(dst->params, src->params, sizeof(float) * src->n_params);
  return 0;
}

/* ---- exec ---------------------------------------------------------- */

int rove_exec_init(rove_exec *e, const rove_model *m, int bmax) {
  memset(e, 0, sizeof *e);
  if (!m->finalized)
    return ROVE_ERR(ROVE_ESTATE, "model was not finalized");
  if (bmax < 1)
    return ROVE_ERR(ROVE_EINVAL, "batch size %d (expected >= 1)", bmax);
  e->m = m;
  e->bmax = bmax;
  size_t nn = (size_t)m->n_nodes;
  size_t ws = 0, need = 0;
  for (size_t i = 0; i < nn; i++) {
    const rove_node *n = &m->nodes[i];
    size_t w = rove_layers[n->op]->workspace
                   ? rove_layers[n->op]->workspace(n, bmax)
                   : 0;
    if (w > ws)
      ws = w;
    need +=
        2 * rove_arena_need((size_t)bmax * (size_t)rove_shape_numel(&n->out) *
                            sizeof(float));
  }
  need += rove_arena_need(ws * sizeof(float));
  need += 2 * rove_arena_need(nn * sizeof(float *));
  need += rove_arena_need(nn * sizeof(rove_bwd));
  need += rove_arena_need(nn * sizeof(int));
  ROVE_TRY(rove_arena_init(&e->arena, need));
  e->act = rove_arena_alloc(&e->arena, nn * sizeof(float *));
  e->grad = rove_arena_alloc(&e->arena, nn * sizeof(float *));
  e->bwd = rove_arena_calloc(&e->arena, nn * sizeof(rove_bwd));
  e->ws = rove_arena_alloc(&e->arena, ws * sizeof(float));
  /* zero_at[i]: the last consumer in topological order (the first to run
   * backward), or -1 for a node no executed node consumes. */
  e->zero_at = rove_arena_alloc(&e->arena, nn * sizeof(int));
  for (size_t i = 0; i < nn; i++)
    e->zero_at[i] = -1;
  for (int i = 0; i <= m->output; i++)
    for (int j = 0; j < m->nodes[i].n_in; j++)
      if (m->nodes[i].in[j] != ROVE_INPUT)
        e->zero_at[m->nodes[i].in[j]] = i;
  for (size_t i = 0; i < nn; i++) {
    size_t sz = (size_t)bmax * (size_t)rove_shape_numel(&m->nodes[i].out) *
                sizeof(float);
    e->act[i] = rove_arena_calloc(&e->arena, sz);
    e->grad[i] = rove_arena_calloc(&e->arena, sz);
    assert(e->act[i] && e->grad[i]);
  }
  rove_exec_reset_bwd(e);
  return 0;
}

static void free_prep(rove_exec *e) {
  if (e->prep)
    for (int i = 0; i < e->m->n_nodes; i++)
      free(e->prep[i]);
  free(e->prep);
  free(e->prep_ok);
  e->prep = NULL;
  e->prep_ok = NULL;
}

void rove_exec_deinit(rove_exec *e) {
  if (e->m)
    free_prep(e);
  rove_arena_deinit(&e->arena);
  memset(e, 0, sizeof *e);
}

int rove_exec_freeze_params(rove_exec *e, size_t *bytes) {
  const rove_model *m = e->m;
  size_t total = 0;
  if (bytes)
    *bytes = 0;
  if (e->prep)
    free_prep(e);
  e->prep = calloc((size_t)m->n_nodes, sizeof *e->prep);
  e->prep_ok = calloc((size_t)m->n_nodes, 1);
  if (!e->prep || !e->prep_ok)
    goto oom;
  for (int i = 0; i < m->n_nodes; i++) {
    const rove_layer_ops *ops = rove_layers[m->nodes[i].op];
    size_t n = ops->prep_size ? ops->prep_size(&m->nodes[i]) : 0;
    if (!n)
      continue;
    if (!(e->prep[i] = malloc(n * sizeof(float))))
      goto oom;
    total += n * sizeof(float);
  }
  if (bytes)
    *bytes = total;
  return 0;
oom:
  free_prep(e);
  return ROVE_ERR(ROVE_ENOMEM,
                  "out of memory keeping the model's prepared kernels "
                  "(%zu bytes so far)",
                  total);
}

void rove_exec_params_changed(rove_exec *e) {
  if (e->prep_ok)
    memset(e->prep_ok, 0, (size_t)e->m->n_nodes);
}

const float *rove_exec_node_prep(rove_exec *e, int i) {
  if (!e->prep || !e->prep[i])
    return NULL;
  if (!e->prep_ok[i]) {
    const rove_node *n = &e->m->nodes[i];
    rove_layers[n->op]->prepare(n, e->m->params + n->param_off, e->prep[i]);
    e->prep_ok[i] = 1;
  }
  return e->prep[i];
}

void rove_exec_set_bwd(rove_exec *e, int node, rove_bwd b) {
  assert(node >= 0 && node < e->m->n_nodes);
  e->bwd[node] = b;
}

void rove_exec_reset_bwd(rove_exec *e) {
  for (int i = 0; i < e->m->n_nodes; i++) {
    e->bwd[i].mode = ROVE_BWD_EXACT;
    e->bwd[i].beta = 10.0f;
  }
}

void rove_exec_forward(rove_exec *e, int B, const float *x) {
  const rove_model *m = e->m;
  assert(B >= 1 && B <= e->bmax);
  for (int i = 0; i <= m->output; i++) {
    const rove_node *n = &m->nodes[i];
    const float *xs[ROVE_MAX_IN];
    for (int j = 0; j < n->n_in; j++)
      xs[j] = n->in[j] == ROVE_INPUT ? x : e->act[n->in[j]];
    const rove_layer_ops *ops = rove_layers[n->op];
    const float *prep = rove_exec_node_prep(e, i);
    if (e->surrogate && ops->surrogate)
      ops->surrogate(n, m->params + n->param_off, B, xs, e->act[i], NULL);
    else if (prep)
      ops->forward_prep(n, m->params + n->param_off, prep, B, xs, e->act[i],
                        e->ws);
    else
      ops->forward(n, m->params + n->param_off, B, xs, e->act[i], e->ws);
  }
}

const float *rove_exec_logits(const rove_exec *e) {
  return e->act[e->m->output];
}

void rove_exec_backward(rove_exec *e, int B, const float *x,
                        const float *dlogits, float *dx, float *dparams) {
  const rove_model *m = e->m;
  assert(B >= 1 && B <= e->bmax);
  size_t in_numel = (size_t)B * (size_t)rove_shape_numel(&m->in);
  /* A gradient buffer is zeroed just before the first backward that
   * accumulates into it rather than all at the start: the same zeros, but
   * the buffer is still in cache when it is written. */
  for (int i = 0; i < m->output; i++)
    if (e->zero_at[i] < 0)
      memset(e->grad[i], 0,
             (size_t)B * (size_t)rove_shape_numel(&m->nodes[i].out) *
                 sizeof(float));
  memcpy(e->grad[m->output], dlogits,
         (size_t)B * (size_t)m->n_classes * sizeof(float));
  if (dx)
    memset(dx, 0, in_numel * sizeof(float));
  for (int i = m->output; i >= 0; i--) {
    const rove_node *n = &m->nodes[i];
    const float *xs[ROVE_MAX_IN];
    float *dxs[ROVE_MAX_IN];
    int any = 0;
    for (int j = 0; j < n->n_in; j++) {
      if (n->in[j] == ROVE_INPUT) {
        xs[j] = x;
        dxs[j] = dx;
      } else {
        xs[j] = e->act[n->in[j]];
        dxs[j] = e->grad[n->in[j]];
      }
      any |= dxs[j] != NULL;
      if (n->in[j] != ROVE_INPUT && e->zero_at[n->in[j]] == i)
        memset(e->grad[n->in[j]], 0,
               (size_t)B * (size_t)rove_shape_numel(&m->nodes[n->in[j]].out) *
                   sizeof(float));
    }
    float *dp = dparams && n->n_trainable ? dparams + n->param_off : NULL;
    if (!any && !dp)
      continue;
    const rove_layer_ops *ops = rove_layers[n->op];
    const float *prep = rove_exec_node_prep(e, i);
    if (prep)
      ops->backward_prep(n, m->params + n->param_off, prep, B, xs, e->act[i],
                         e->grad[i], dxs, dp, e->ws, e->bwd[i]);
    else
      ops->backward(n, m->params + n->param_off, B, xs, e->act[i], e->grad[i],
                    dxs, dp, e->ws, e->bwd[i]);
  }
}
