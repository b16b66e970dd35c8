/* onnx_import.c - loads ONNX models (protobuf-c) into rove's graph
 * builder: the driver (graph inputs, nodes in order through the operator
 * table, the model). The pieces are in common/onnx/ (import.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/onnx.h"
#include "common/onnx/import.h"

static int import_node(ox_ctx *c) {
  const Onnx__NodeProto *n = c->node;
  if (!n->op_type)
    return NERR(c, ROVE_EFORMAT, "node has no op type");
  int q_ok = 0;
  ox_op_fn fn = ox_find_op(n->domain, n->op_type, &q_ok);
  if (fn) {
    c->q_ok = q_ok;
    c->q_seen = 0;
    ROVE_TRY(fn(c));
    /* A shape operator that took integers gives integers. */
    for (size_t k = 0; c->q_seen && k < n->n_output; k++) {
      ox_value *v = n->output[k][0] ? ox_find_value(c, n->output[k]) : NULL;
      if (v && v->kind == OX_NODE) {
        v->kind = OX_QNODE;
        v->qelem = c->q_elem;
      }
    }
    return 0;
  }
  if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
    return NERR(c, ROVE_EUNSUPPORTED,
                "unsupported operator (custom domain '%s')", n->domain);
  return NERR(c, ROVE_EUNSUPPORTED, "unsupported operator");
}

/* Declares the model input from the one graph input that is not an
 * initializer. */
static int import_input(ox_ctx *c) {
  const Onnx__GraphProto *g = c->g;
  const Onnx__ValueInfoProto *in = NULL;
  for (size_t k = 0; k < g->n_input; k++) {
    const Onnx__ValueInfoProto *v = g->input[k];
    if (!v->name)
      return ROVE_ERR(ROVE_EFORMAT, "%s: graph input %zu has no name", c->what,
                      k);
    ox_value *known = ox_find_value(c, v->name);
    if (known && known->kind == OX_CONST)
      continue;
    if (in)
      return ROVE_ERR(ROVE_EUNSUPPORTED,
                      "%s: the graph has several inputs ('%s', '%s'); rove "
                      "models take one",
                      c->what, in->name, v->name);
    in = v;
  }
  if (!in)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: the graph has no input besides its initializers",
                    c->what);
  if (!in->type ||
      in->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
      !in->type->tensor_type->shape)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: graph input '%s' is not a tensor of known rank",
                    c->what, in->name);
  const Onnx__TypeProto__Tensor *tt = in->type->tensor_type;
  if (tt->has_elem_type &&
      tt->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: graph input '%s' has data type %d (expected float)",
                    c->what, in->name, tt->elem_type);
  const Onnx__TensorShapeProto *sp = tt->shape;
  if (sp->n_dim < 2 || sp->n_dim > ROVE_MAX_RANK + 1)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: graph input '%s' has rank %zu (expected (N, D) or "
                    "(N, C, H, W): 2 to %d including the batch)",
                    c->what, in->name, sp->n_dim, ROVE_MAX_RANK + 1);
  rove_shape s = {(int)sp->n_dim - 1, {0}};
  c->in_batch = 0;
  if (sp->dim[0]->value_case ==
          ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
      sp->dim[0]->dim_value > 0)
    c->in_batch = sp->dim[0]->dim_value;
  for (size_t k = 1; k < sp->n_dim; k++) {
    const Onnx__TensorShapeProto__Dimension *d = sp->dim[k];
    if (d->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
        d->dim_value <= 0 || d->dim_value > INT32_MAX)
      return ROVE_ERR(ROVE_EUNSUPPORTED,
                      "%s: graph input '%s' dimension %zu is not a fixed "
                      "positive size (only the batch may be dynamic)",
                      c->what, in->name, k);
    s.d[k - 1] = (int)d->dim_value;
  }
  ROVE_TRY(rove_model_init(c->m, &s));
  ox_value *v;
  ROVE_TRY(ox_new_value(c, in->name, &v));
  v->kind = OX_NODE;
  v->node = ROVE_INPUT;
  v->shape = s;
  return 0;
}

static int import_graph(ox_ctx *c) {
  const Onnx__GraphProto *g = c->g;
  for (size_t k = 0; k < g->n_initializer; k++) {
    const Onnx__TensorProto *p = g->initializer[k];
    char where[160];
    if (!p->name)
      return ROVE_ERR(ROVE_EFORMAT, "%s: initializer %zu has no name", c->what,
                      k);
    snprintf(where, sizeof where, "initializer '%s'", p->name);
    ox_value *v;
    ROVE_TRY(ox_new_value(c, p->name, &v));
    v->kind = OX_CONST;
    int rc = ox_tensor_from_proto(c->what, where, p, &v->t);
    if (rc < 0) {
      c->n_vals--;
      ROVE_TRY(rc);
    }
  }
  ROVE_TRY(import_input(c));
  c->fused_into = malloc((g->n_node + 1) * sizeof *c->fused_into);
  c->fused_sh = malloc((g->n_node + 1) * sizeof *c->fused_sh);
  if (!c->fused_into || !c->fused_sh)
    return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", c->what);
  for (size_t k = 0; k < g->n_node; k++)
    c->fused_into[k] = -1;
  for (size_t k = 0; k < g->n_node; k++) {
    c->node = g->node[k];
    c->node_idx = (int)k;
    ROVE_TRY(import_node(c));
  }
  c->node = NULL;
  if (g->n_output < 1 || !g->output[0]->name)
    return ROVE_ERR(ROVE_EFORMAT, "%s: the graph has no output", c->what);
  const char *oname = g->output[0]->name;
  ox_value *o = ox_find_value(c, oname);
  if (!o)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: graph output '%s' is not produced by any node",
                    c->what, oname);
  if (o->kind != OX_NODE || o->node == ROVE_INPUT)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: graph output '%s' does not depend on the model "
                    "input through any layer",
                    c->what, oname);
  int rc = rove_model_finalize(c->m, o->node);
  if (rc < 0) {
    return ROVE_WRAP(rc, "%s: graph output '%s'", c->what, oname);
  }
  return 0;
}

static int default_opset(ox_ctx *c, const Onnx__ModelProto *mp) {
  c->opset = -1;
  for (size_t k = 0; k < mp->n_opset_import; k++) {
    const Onnx__OperatorSetIdProto *o = mp->opset_import[k];
    if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0)
      c->opset = o->has_version ? (int)o->version : 1;
  }
  if (c->opset < 0)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: no opset_import for the default ONNX domain", c->what);
  if (c->opset < 7 || c->opset > 21)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: opset %d (rove imports opsets 11 to 17, and "
                    "reads 7 to 21 on a best-effort basis)",
                    c->what, c->opset);
  return 0;
}

int rove_onnx_load_mem(rove_model *m, const void *data, size_t len,
                       const char *what) {
  memset(m, 0, sizeof *m);
  if (!what)
    what = "<memory>";
  if (!data || len == 0)
    return ROVE_ERR(ROVE_EFORMAT, "%s: empty file (expected an ONNX model)",
                    what);
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, data);
  if (!mp)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: not a valid ONNX protobuf (truncated or corrupt)",
                    what);
  ox_ctx c;
  memset(&c, 0, sizeof c);
  c.what = what;
  c.m = m;
  c.g = mp->graph;
  int rc;
  if (!mp->graph || mp->graph->n_node == 0)
    rc = ROVE_ERR(ROVE_EFORMAT, "%s: the model has no graph or no nodes", what);
  else if ((rc = default_opset(&c, mp)) == 0)
    rc = import_graph(&c);
  for (int k = 0; k < c.n_vals; k++) {
    ox_tensor_free(&c.vals[k].t);
    ox_tensor_free(&c.vals[k].qs);
    ox_tensor_free(&c.vals[k].qz);
  }
  free(c.vals);
  free(c.fused_into);
  free(c.fused_sh);
  onnx__model_proto__free_unpacked(mp, NULL);
  /* Exporters that keep Conv -> BatchNormalization (torch.onnx folds
   * them in eval mode, others do not): one layer instead of two. */
  if (rc == 0)
    rc = rove_model_fold_batchnorm(m, NULL);
  if (rc < 0) {
    rove_model_deinit(m);
    ROVE_TRY(rc);
  }
  return 0;
}

int rove_onnx_load(rove_model *m, const char *path) {
  memset(m, 0, sizeof *m);
  unsigned char *buf;
  size_t len;
  ROVE_TRY(rove_file_read(path, NULL, &buf, &len));
  int rc = rove_onnx_load_mem(m, buf, len, path);
  free(buf);
  ROVE_TRY(rc);
  return 0;
}
