/* arch_zoo.c - the small residual CNN and the fake-quant rewrite of a model
 * used by quantization-aware training. */
#include "common/arch_zoo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arch.h"
#include "common/err.h"

static int conv3(rove_model *m, const char *name, int in, int out, int *id) {
  rove_attrs a;
  rove_attrs_default(&a);
  a.kh = a.kw = 3;
  a.pt = a.pl = a.pb = a.pr = 1;
  a.out = out;
  a.has_bias = 1;
  return rove_model_add(m, ROVE_OP_CONV, name, &in, 1, &a, id);
}

static int unary(rove_model *m, int op, const char *name, int in, int *id) {
  rove_attrs a;
  rove_attrs_default(&a);
  if (op == ROVE_OP_MAXPOOL) {
    a.kh = a.kw = 2;
    a.sh = a.sw = 2;
  }
  return rove_model_add(m, op, name, &in, 1, &a, id);
}

/* conv, ReLU, conv, Add(input), ReLU. */
static int block(rove_model *m, const char *tag, int in, int c, int *id) {
  char n[32];
  int x;
  snprintf(n, sizeof n, "%s_conv1", tag);
  ROVE_TRY(conv3(m, n, in, c, &x));
  snprintf(n, sizeof n, "%s_relu1", tag);
  ROVE_TRY(unary(m, ROVE_OP_RELU, n, x, &x));
  snprintf(n, sizeof n, "%s_conv2", tag);
  ROVE_TRY(conv3(m, n, x, c, &x));
  rove_attrs a;
  rove_attrs_default(&a);
  int ins[2] = {x, in};
  snprintf(n, sizeof n, "%s_add", tag);
  ROVE_TRY(rove_model_add(m, ROVE_OP_ADD, n, ins, 2, &a, &x));
  snprintf(n, sizeof n, "%s_relu2", tag);
  return unary(m, ROVE_OP_RELU, n, x, id);
}

static int build_rescnn(rove_model *m, float w, int n_classes) {
  int c = (int)lrintf(16.0f * w), id;
  if (c < 1)
    c = 1;
  ROVE_TRY(conv3(m, "stem", ROVE_INPUT, c, &id));
  ROVE_TRY(unary(m, ROVE_OP_RELU, "stem_relu", id, &id));
  ROVE_TRY(block(m, "block1", id, c, &id));
  ROVE_TRY(unary(m, ROVE_OP_MAXPOOL, "pool1", id, &id));
  ROVE_TRY(conv3(m, "widen", id, 2 * c, &id));
  ROVE_TRY(unary(m, ROVE_OP_RELU, "widen_relu", id, &id));
  ROVE_TRY(block(m, "block2", id, 2 * c, &id));
  ROVE_TRY(unary(m, ROVE_OP_MAXPOOL, "pool2", id, &id));
  rove_attrs a;
  rove_attrs_default(&a);
  a.out = n_classes;
  a.has_bias = 1;
  return rove_model_add(m, ROVE_OP_LINEAR, "fc", &id, 1, &a, &id);
}

int rove_arch_rescnn(rove_model *m, float width_mult, int n_classes,
                     uint64_t seed) {
  rove_shape in = {3, {1, 28, 28, 0}};
  int rc;
  memset(m, 0, sizeof *m);
  if (!(width_mult > 0) || width_mult > 64)
    return ROVE_ERR(ROVE_EINVAL,
                    "residual CNN width multiplier %g (expected > 0)",
                    (double)width_mult);
  if (n_classes < 2)
    return ROVE_ERR(ROVE_EINVAL, "residual CNN with %d classes (expected >= 2)",
                    n_classes);
  if ((rc = rove_model_init(m, &in)) < 0 ||
      (rc = build_rescnn(m, width_mult, n_classes)) < 0)
    goto fail;
  for (int i = 0; i < m->n_nodes; i++)
    rove_arch_init_he(m, i, seed);
  if ((rc = rove_model_finalize(m, -1)) < 0)
    goto fail;
  return 0;
fail:
  rove_model_deinit(m);
  return rove_error_trace(rc, __FILE__, __LINE__, __func__);
}

static int add_fq(rove_model *m, const char *name, int in, int bits, float s,
                  int *id) {
  rove_attrs a;
  rove_attrs_default(&a);
  a.qmin = 0;
  a.qmax = (1 << bits) - 1;
  ROVE_TRY(rove_model_add(m, ROVE_OP_FAKEQUANT, name, &in, 1, &a, id));
  float *p = rove_model_node_params(m, *id);
  p[0] = s;
  p[1] = 0.0f;
  return 0;
}

static int build_quantized(rove_model *dst, const rove_model *src, int in_bits,
                           int act_bits, const float *act_scale, int *map) {
  int in_id = ROVE_INPUT;
  if (in_bits > 0)
    ROVE_TRY(add_fq(dst, "input_q", ROVE_INPUT, in_bits,
                    1.0f / (float)((1 << in_bits) - 1), &in_id));
  for (int i = 0; i < src->n_nodes; i++) {
    const rove_node *n = &src->nodes[i];
    int ins[ROVE_MAX_IN], id;
    for (int j = 0; j < n->n_in; j++)
      ins[j] = n->in[j] == ROVE_INPUT ? in_id : map[n->in[j]];
    ROVE_TRY(rove_model_add(dst, n->op, n->name, ins, n->n_in, &n->a, &id));
    if (dst->nodes[id].n_params != n->n_params)
      return ROVE_ERR(ROVE_ESTATE, "node '%s' changed its parameter count",
                      n->name);
    memcpy(rove_model_node_params(dst, id), src->params + n->param_off,
           n->n_params * sizeof(float));
    map[i] = id;
    if (n->op == ROVE_OP_RELU && act_scale && act_scale[i] > 0 &&
        act_bits > 0) {
      char name[80];
      snprintf(name, sizeof name, "%.60s_q", n->name);
      ROVE_TRY(add_fq(dst, name, id, act_bits, act_scale[i], &map[i]));
    }
  }
  return 0;
}

int rove_arch_quantized(rove_model *dst, const rove_model *src, int in_bits,
                        int act_bits, const float *act_scale) {
  int rc, *map;
  memset(dst, 0, sizeof *dst);
  if (in_bits < 0 || in_bits > 16 || act_bits < 0 || act_bits > 16)
    return ROVE_ERR(ROVE_EINVAL, "quantizer bits %d/%d (expected 0 to 16)",
                    in_bits, act_bits);
  if (!src->finalized)
    return ROVE_ERR(ROVE_ESTATE, "model was not finalized");
  map = malloc(sizeof *map * (size_t)(src->n_nodes + 1));
  if (!map)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  if ((rc = rove_model_init(dst, &src->in)) == 0 &&
      (rc = build_quantized(dst, src, in_bits, act_bits, act_scale, map)) == 0)
    rc = rove_model_finalize(dst, map[src->output]);
  free(map);
  if (rc < 0) {
    rove_model_deinit(dst);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}
