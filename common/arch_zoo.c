/* arch_zoo.c - the fake-quant rewrite of a model used by
 * quantization-aware training. */
#include "common/arch_zoo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arch.h"
#include "common/err.h"

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
