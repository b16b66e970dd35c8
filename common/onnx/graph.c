/* graph.c - the ONNX importer's errors (naming file, node, op and opset),
 * value table, attribute readers and the emitting of rove nodes. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/onnx/import.h"

/* ---- errors ---------------------------------------------------------- */

const char *ox_node_name(const Onnx__NodeProto *n) {
  if (n->name && n->name[0])
    return n->name;
  if (n->n_output > 0 && n->output[0] && n->output[0][0])
    return n->output[0];
  return "?";
}

/* Records an error that names the file, the node, its op type and the
 * opset, then the specific complaint. */
int ox__node_err(ox_ctx *c, int code, const char *file, int line,
                 const char *func, const char *fmt, ...) {
  char msg[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const Onnx__NodeProto *n = c->node;
  return rove_error_set(
      code, file, line, func, "%s: node '%s' (op '%s', opset %d): %s", c->what,
      ox_node_name(n), n->op_type ? n->op_type : "?", c->opset, msg);
}

/* ---- values ----------------------------------------------------------- */

ox_value *ox_find_value(ox_ctx *c, const char *name) {
  for (int k = c->n_vals - 1; k >= 0; k--)
    if (strcmp(c->vals[k].name, name) == 0)
      return &c->vals[k];
  return NULL;
}

int ox_new_value(ox_ctx *c, const char *name, ox_value **out) {
  if (ox_find_value(c, name)) {
    if (c->node)
      return NERR(c, ROVE_EFORMAT,
                  "output '%s' is already produced by an earlier node", name);
    return ROVE_ERR(ROVE_EFORMAT, "%s: tensor '%s' is defined twice", c->what,
                    name);
  }
  if (c->n_vals == c->cap_vals) {
    int nc = c->cap_vals ? 2 * c->cap_vals : 64;
    ox_value *q = realloc(c->vals, (size_t)nc * sizeof *q);
    if (!q)
      return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", c->what);
    c->vals = q;
    c->cap_vals = nc;
  }
  ox_value *v = &c->vals[c->n_vals++];
  memset(v, 0, sizeof *v);
  v->name = name;
  *out = v;
  return 0;
}

/* Defines output k of the current node as a constant; takes t's values
 * (t is emptied, also on error). */
int ox_def_const(ox_ctx *c, int k, ox_tensor *t) {
  ox_value *v;
  if ((size_t)k >= c->node->n_output || !c->node->output[k][0]) {
    ox_tensor_free(t);
    return 0;
  }
  int rc = ox_new_value(c, c->node->output[k], &v);
  if (rc < 0) {
    ox_tensor_free(t);
    ROVE_TRY(rc);
  }
  v->kind = OX_CONST;
  v->t = *t;
  memset(t, 0, sizeof *t);
  return 0;
}

int ox_def_node(ox_ctx *c, int k, int node, const rove_shape *shape) {
  ox_value *v;
  if ((size_t)k >= c->node->n_output || !c->node->output[k][0])
    return 0;
  ROVE_TRY(ox_new_value(c, c->node->output[k], &v));
  v->kind = OX_NODE;
  v->node = node;
  v->shape = *shape;
  return 0;
}

int ox_n_inputs(const ox_ctx *c) {
  return (int)c->node->n_input;
}

int ox_has_input(const ox_ctx *c, int k) {
  return k < ox_n_inputs(c) && c->node->input[k] && c->node->input[k][0];
}

/* Input k of the current node. *out is NULL for an absent optional input
 * (beyond the list or an empty name); a name nothing produced is an
 * error. */
int ox_in_val(ox_ctx *c, int k, ox_value **out) {
  *out = NULL;
  if (!ox_has_input(c, k))
    return 0;
  ox_value *v = ox_find_value(c, c->node->input[k]);
  if (!v)
    return NERR(c, ROVE_EFORMAT,
                "input '%s' is not produced by any earlier node, initializer "
                "or graph input",
                c->node->input[k]);
  *out = v;
  return 0;
}

int ox_in_required(ox_ctx *c, int k, ox_value **out) {
  ROVE_TRY(ox_in_val(c, k, out));
  if (!*out)
    return NERR(c, ROVE_EFORMAT, "input %d is missing", k);
  return 0;
}

/* Input k must be a constant (a weight, a shape, a scale...). NULL if
 * absent and optional. */
int ox_in_const(ox_ctx *c, int k, int required, ox_tensor **t) {
  ox_value *v;
  *t = NULL;
  ROVE_TRY(required ? ox_in_required(c, k, &v) : ox_in_val(c, k, &v));
  if (!v)
    return 0;
  if (v->kind != OX_CONST)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input %d ('%s') must be a constant (an initializer or "
                "computed from constants), but it depends on the model input",
                k, v->name);
  *t = &v->t;
  return 0;
}

/* Input k must be an activation; pad_ok: it may carry a pending Pad. */
int ox_in_node_pad(ox_ctx *c, int k, ox_value **out, int pad_ok) {
  ROVE_TRY(ox_in_required(c, k, out));
  if ((*out)->padded && !pad_ok)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input '%s' comes from a Pad; rove supports zero padding "
                "only in front of Conv and AveragePool",
                (*out)->name);
  if ((*out)->kind == OX_QPEND)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input '%s' is the integer output of a QuantizeLinear; rove "
                "supports it only as the input of a DequantizeLinear or of "
                "an integer operator (QLinearConv, ...)",
                (*out)->name);
  if ((*out)->kind == OX_QNODE) {
    if (!c->q_ok)
      return NERR(c, ROVE_EUNSUPPORTED,
                  "input '%s' holds quantized integers; this operator takes "
                  "real values (insert a DequantizeLinear)",
                  (*out)->name);
    c->q_seen = 1;
    c->q_elem = (*out)->qelem;
    return 0;
  }
  if ((*out)->kind != OX_NODE)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input %d ('%s') is a constant where rove expects an "
                "activation",
                k, (*out)->name);
  return 0;
}

int ox_in_node(ox_ctx *c, int k, ox_value **out) {
  return ox_in_node_pad(c, k, out, 0);
}

/* ---- attributes ------------------------------------------------------- */

const Onnx__AttributeProto *ox_attr(const ox_ctx *c, const char *name) {
  for (size_t k = 0; k < c->node->n_attribute; k++)
    if (c->node->attribute[k]->name &&
        strcmp(c->node->attribute[k]->name, name) == 0)
      return c->node->attribute[k];
  return NULL;
}

int ox_attr_int(ox_ctx *c, const char *name, int64_t def, int64_t *out) {
  const Onnx__AttributeProto *a = ox_attr(c, name);
  *out = def;
  if (!a)
    return 0;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
    return NERR(c, ROVE_EFORMAT, "attribute '%s' is not an integer", name);
  *out = a->i;
  return 0;
}

int ox_attr_float(ox_ctx *c, const char *name, float def, float *out) {
  const Onnx__AttributeProto *a = ox_attr(c, name);
  *out = def;
  if (!a)
    return 0;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
    return NERR(c, ROVE_EFORMAT, "attribute '%s' is not a float", name);
  *out = a->f;
  return 0;
}

/* Reads an INTS attribute into out[0..max); *cnt = -1 when absent. */
int ox_attr_ints(ox_ctx *c, const char *name, int64_t *out, int max, int *cnt) {
  const Onnx__AttributeProto *a = ox_attr(c, name);
  *cnt = -1;
  if (!a)
    return 0;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS)
    return NERR(c, ROVE_EFORMAT, "attribute '%s' is not a list of integers",
                name);
  if (a->n_ints > (size_t)max)
    return NERR(c, ROVE_EUNSUPPORTED,
                "attribute '%s' has %zu values (at most %d)", name, a->n_ints,
                max);
  for (size_t k = 0; k < a->n_ints; k++)
    out[k] = a->ints[k];
  *cnt = (int)a->n_ints;
  return 0;
}

void ox_attr_string(const ox_ctx *c, const char *name, const char *def,
                    char *out, size_t cap) {
  const Onnx__AttributeProto *a = ox_attr(c, name);
  if (!a || !a->has_s) {
    snprintf(out, cap, "%s", def);
    return;
  }
  size_t n = a->s.len < cap - 1 ? a->s.len : cap - 1;
  memcpy(out, a->s.data, n);
  out[n] = '\0';
}

/* Normalises an axis against a rank (negative counts from the end). */
int ox_norm_axis(ox_ctx *c, int64_t axis, int rank, int *out) {
  *out = 0;
  if (axis < -rank || axis >= rank)
    return NERR(c, ROVE_EINVAL, "axis %lld is out of range for rank %d",
                (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return 0;
}

/* ---- emitting rove nodes ---------------------------------------------- */

/* Appends a rove node named after the current ONNX node; shape errors
 * from the layer's setup are reported with the ONNX context. */
int ox_emit(ox_ctx *c, int op, const int *in, int n_in, const rove_attrs *a,
            int *id) {
  *id = 0;
  int rc = rove_model_add(c->m, op, ox_node_name(c->node), in, n_in, a, id);
  if (rc < 0) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", rove_error_message());
    return NERR(c, rc, "%s", msg);
  }
  return 0;
}

/* Emits and defines output 0; returns the rove node in *id if non-NULL. */
int ox_emit_out(ox_ctx *c, int op, const int *in, int n_in, const rove_attrs *a,
                int *id) {
  int k;
  ROVE_TRY(ox_emit(c, op, in, n_in, a, &k));
  ROVE_TRY(ox_def_node(c, 0, k, &c->m->nodes[k].out));
  if (id)
    *id = k;
  return 0;
}

int ox_emit_unary(ox_ctx *c, int op, const rove_attrs *a) {
  ox_value *x;
  ROVE_TRY(ox_in_node(c, 0, &x));
  rove_attrs d;
  if (!a) {
    rove_attrs_default(&d);
    a = &d;
  }
  return ox_emit_out(c, op, &x->node, 1, a, NULL);
}

int ox_emit_reshape(ox_ctx *c, ox_value *x, const rove_shape *s) {
  if (s->rank == x->shape.rank &&
      memcmp(s->d, x->shape.d, sizeof(int) * (size_t)s->rank) == 0)
    return ox_def_node(c, 0, x->node, &x->shape);
  rove_attrs a;
  rove_attrs_default(&a);
  a.shape = *s;
  return ox_emit_out(c, ROVE_OP_RESHAPE, &x->node, 1, &a, NULL);
}

/* ONNX shape of an activation: batch (as OX_BATCH) + per-example dims. */
int ox_onnx_dims(const rove_shape *s, int64_t *dims) {
  dims[0] = OX_BATCH;
  for (int k = 0; k < s->rank; k++)
    dims[k + 1] = s->d[k];
  return s->rank + 1;
}

/* Back from ONNX dims to a per-example shape; dims[0] must be the batch. */
int ox_per_example(ox_ctx *c, int rank, const int64_t *dims, rove_shape *s) {
  if (rank < 2 || rank - 1 > ROVE_MAX_RANK)
    return NERR(c, ROVE_EUNSUPPORTED,
                "result has rank %d; rove supports activations of rank 2 to "
                "%d including the batch",
                rank, ROVE_MAX_RANK + 1);
  s->rank = rank - 1;
  for (int k = 1; k < rank; k++) {
    if (dims[k] <= 0 || dims[k] > INT32_MAX)
      return NERR(c, ROVE_ESHAPE, "result dimension %d is %lld", k,
                  (long long)dims[k]);
    s->d[k - 1] = (int)dims[k];
  }
  return 0;
}
