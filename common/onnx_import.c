/* onnx_import.c - loads ONNX models (protobuf-c) into rove's graph builder. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/onnx.h"
#include "gen/onnx.pb-c.h"

/* How the importer works. ONNX nodes are visited in file order (ONNX
 * requires topological order). Every tensor name maps to a value: a
 * constant host tensor (initializers, Constant nodes and everything
 * computed only from constants, which is how torch's shape subgraphs
 * Shape/Gather/Unsqueeze/Concat get folded into a static Reshape target),
 * a rove node (the activations, per-example shapes with the batch
 * dimension dropped), or a pending QuantizeLinear on an activation that
 * the following DequantizeLinear turns into one fakequant node. */

#define OX_MAX_DIMS 8
/* Stands for the batch size in the output of Shape on an activation: rove
 * models are batch-size agnostic, so the batch may be moved around
 * (Gather, Concat, Unsqueeze) but not computed with. */
#define OX_BATCH (-INT64_C(0x424154434831))

enum { OX_CONST = 1, OX_NODE = 2, OX_QPEND = 3 };

typedef struct ox_tensor {
  int is_int; /* 1: values in i; 0: values in f */
  int elem;   /* the ONNX data type it came from (zero points need it) */
  int rank;
  int64_t dims[OX_MAX_DIMS];
  int64_t n;
  float *f;
  int64_t *i;
} ox_tensor;

typedef struct ox_value {
  const char *name; /* borrowed from the protobuf */
  int kind;
  ox_tensor t;      /* OX_CONST */
  int node;         /* OX_NODE/OX_QPEND: rove node index or ROVE_INPUT */
  rove_shape shape; /* OX_NODE/OX_QPEND: per-example shape */
  ox_tensor qs, qz; /* OX_QPEND: scale and zero point */
  /* OX_NODE: zero padding (top, left, bottom, right) from a Pad node that
   * the consuming Conv or AveragePool absorbs. */
  int padded, pad[4];
  int qaxis; /* OX_QPEND: normalised quantization axis */
} ox_value;

typedef struct ox_ctx {
  const char *what;
  int opset;
  rove_model *m;
  const Onnx__GraphProto *g;
  ox_value *vals;
  int n_vals, cap_vals;
  const Onnx__NodeProto *node; /* the node being imported */
  int node_idx;
  int64_t in_batch;     /* static batch of the graph input, 0 if dynamic */
  int *fused_into;      /* per ONNX node: rove node it was fused into, or -1 */
  rove_shape *fused_sh; /* shape of that node */
} ox_ctx;

/* ---- errors ---------------------------------------------------------- */

static const char *node_name(const Onnx__NodeProto *n) {
  if (n->name && n->name[0])
    return n->name;
  if (n->n_output > 0 && n->output[0] && n->output[0][0])
    return n->output[0];
  return "?";
}

static int ox__node_err(ox_ctx *c, int code, const char *file, int line,
                        const char *func, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Records an error that names the file, the node, its op type and the
 * opset, then the specific complaint. */
static int ox__node_err(ox_ctx *c, int code, const char *file, int line,
                        const char *func, const char *fmt, ...) {
  char msg[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  const Onnx__NodeProto *n = c->node;
  return rove_error_set(
      code, file, line, func, "%s: node '%s' (op '%s', opset %d): %s", c->what,
      node_name(n), n->op_type ? n->op_type : "?", c->opset, msg);
}

#define NERR(c, code, ...)                                                     \
  ox__node_err((c), (code), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* ---- constant tensors ------------------------------------------------ */

static void tensor_free(ox_tensor *t) {
  free(t->f);
  free(t->i);
  t->f = NULL;
  t->i = NULL;
}

static int64_t dims_numel(int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int k = 0; k < rank; k++)
    n *= dims[k];
  return n;
}

/* Allocates t's values (uninitialised) for the given type and shape. The
 * dims must already be validated (non-negative, product < 2^31). */
static int tensor_alloc(ox_tensor *t, int is_int, int elem, int rank,
                        const int64_t *dims) {
  memset(t, 0, sizeof *t);
  t->is_int = is_int;
  t->elem = elem;
  t->rank = rank;
  for (int k = 0; k < rank; k++)
    t->dims[k] = dims[k];
  t->n = dims_numel(rank, dims);
  size_t cnt = (size_t)(t->n > 0 ? t->n : 1);
  if (is_int)
    t->i = malloc(cnt * sizeof *t->i);
  else
    t->f = malloc(cnt * sizeof *t->f);
  if (!t->i && !t->f)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory for a %lld-element tensor",
                    (long long)t->n);
  return 0;
}

static int tensor_copy(ox_tensor *dst, const ox_tensor *src) {
  ROVE_TRY(tensor_alloc(dst, src->is_int, src->elem, src->rank, src->dims));
  size_t cnt = (size_t)(src->n > 0 ? src->n : 1);
  if (src->is_int)
    memcpy(dst->i, src->i, cnt * sizeof *dst->i);
  else
    memcpy(dst->f, src->f, cnt * sizeof *dst->f);
  return 0;
}

static double tval(const ox_tensor *t, int64_t k) {
  return t->is_int ? (double)t->i[k] : (double)t->f[k];
}

static int is_int_elem(int elem) {
  switch (elem) {
  case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
  case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
  case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:
  case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
  case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return 1;
  default: return 0;
  }
}

static int elem_size(int elem) {
  switch (elem) {
  case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
  case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: return 4;
  case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
  case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return 8;
  case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
  case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return 1;
  case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16:
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return 2;
  default: return 0;
  }
}

/* Little-endian raw element k of type elem, as int64 or double. */
static int64_t raw_int(const uint8_t *p, int elem) {
  int sz = elem_size(elem);
  uint64_t u = 0;
  for (int k = sz - 1; k >= 0; k--)
    u = u << 8 | p[k];
  switch (elem) {
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return (int8_t)(uint8_t)u;
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return (int16_t)(uint16_t)u;
  case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return (int32_t)(uint32_t)u;
  default: return (int64_t)u;
  }
}

static double raw_float(const uint8_t *p, int elem) {
  if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
    uint32_t w = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &w, 4);
    return f;
  }
  uint64_t u = 0;
  for (int k = 7; k >= 0; k--)
    u = u << 8 | p[k];
  double d;
  memcpy(&d, &u, 8);
  return d;
}

/* Decodes a TensorProto into a host tensor. `where` names it in errors
 * (e.g. "initializer 'fc.weight'"). */
static int tensor_from_proto(const char *what, const char *where,
                             const Onnx__TensorProto *p, ox_tensor *t) {
  memset(t, 0, sizeof *t);
  int elem = p->has_data_type ? p->data_type : 0;
  if (p->has_data_location &&
      p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: %s is stored as external data, which rove does not "
                    "read (save the model with its weights inside)",
                    what, where);
  int sz = elem_size(elem);
  if (sz == 0)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: %s has ONNX data type %d (expected float, double or "
                    "an integer type)",
                    what, where, elem);
  if (p->n_dims > OX_MAX_DIMS)
    return ROVE_ERR(ROVE_EUNSUPPORTED, "%s: %s has rank %zu (at most %d)", what,
                    where, p->n_dims, OX_MAX_DIMS);
  int64_t n = 1;
  for (size_t k = 0; k < p->n_dims; k++) {
    if (p->dims[k] < 0 || p->dims[k] > INT32_MAX)
      return ROVE_ERR(ROVE_EFORMAT, "%s: %s has dimension %zu = %lld", what,
                      where, k, (long long)p->dims[k]);
    n *= p->dims[k];
    if (n > INT32_MAX)
      return ROVE_ERR(ROVE_EFORMAT, "%s: %s is too large", what, where);
  }
  int isint = is_int_elem(elem);
  ROVE_TRY(tensor_alloc(t, isint, elem, (int)p->n_dims, p->dims));
  int64_t have;
  if (p->has_raw_data && p->raw_data.len > 0) {
    have = (int64_t)(p->raw_data.len / (size_t)sz);
    if (p->raw_data.len % (size_t)sz)
      have = -1;
  } else if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
    have = (int64_t)p->n_float_data;
  } else if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
    have = (int64_t)p->n_double_data;
  } else if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
    have = (int64_t)p->n_int64_data;
  } else if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__UINT32 ||
             elem == ONNX__TENSOR_PROTO__DATA_TYPE__UINT64) {
    have = (int64_t)p->n_uint64_data;
  } else {
    have = (int64_t)p->n_int32_data;
  }
  if (have != n) {
    tensor_free(t);
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: %s holds %lld values but its dims need %lld", what,
                    where, (long long)have, (long long)n);
  }
  for (int64_t k = 0; k < n; k++) {
    if (p->has_raw_data && p->raw_data.len > 0) {
      const uint8_t *q = p->raw_data.data + (size_t)k * (size_t)sz;
      if (isint)
        t->i[k] = raw_int(q, elem);
      else
        t->f[k] = (float)raw_float(q, elem);
    } else if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
      t->f[k] = p->float_data[k];
    } else if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE) {
      t->f[k] = (float)p->double_data[k];
    } else if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__INT64) {
      t->i[k] = p->int64_data[k];
    } else if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__UINT32 ||
               elem == ONNX__TENSOR_PROTO__DATA_TYPE__UINT64) {
      t->i[k] = (int64_t)p->uint64_data[k];
    } else {
      t->i[k] = p->int32_data[k];
    }
  }
  return 0;
}

/* Converts an integer tensor to float in place (weights and constants
 * given as integers). Fails on the batch marker. */
static int tensor_to_float(ox_ctx *c, ox_tensor *t) {
  if (!t->is_int)
    return 0;
  float *f = malloc((size_t)(t->n > 0 ? t->n : 1) * sizeof *f);
  if (!f)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  for (int64_t k = 0; k < t->n; k++) {
    if (t->i[k] == OX_BATCH) {
      free(f);
      return NERR(c, ROVE_EUNSUPPORTED,
                  "computes with the batch size, which rove models do not "
                  "depend on");
    }
    f[k] = (float)t->i[k];
  }
  free(t->i);
  t->i = NULL;
  t->f = f;
  t->is_int = 0;
  t->elem = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  return 0;
}

/* ---- values ----------------------------------------------------------- */

static ox_value *find_value(ox_ctx *c, const char *name) {
  for (int k = c->n_vals - 1; k >= 0; k--)
    if (strcmp(c->vals[k].name, name) == 0)
      return &c->vals[k];
  return NULL;
}

static int new_value(ox_ctx *c, const char *name, ox_value **out) {
  if (find_value(c, name)) {
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
static int def_const(ox_ctx *c, int k, ox_tensor *t) {
  ox_value *v;
  if ((size_t)k >= c->node->n_output || !c->node->output[k][0]) {
    tensor_free(t);
    return 0;
  }
  int rc = new_value(c, c->node->output[k], &v);
  if (rc < 0) {
    tensor_free(t);
    ROVE_TRY(rc);
  }
  v->kind = OX_CONST;
  v->t = *t;
  memset(t, 0, sizeof *t);
  return 0;
}

static int def_node(ox_ctx *c, int k, int node, const rove_shape *shape) {
  ox_value *v;
  if ((size_t)k >= c->node->n_output || !c->node->output[k][0])
    return 0;
  ROVE_TRY(new_value(c, c->node->output[k], &v));
  v->kind = OX_NODE;
  v->node = node;
  v->shape = *shape;
  return 0;
}

static int n_inputs(const ox_ctx *c) {
  return (int)c->node->n_input;
}

static int has_input(const ox_ctx *c, int k) {
  return k < n_inputs(c) && c->node->input[k] && c->node->input[k][0];
}

/* Input k of the current node. *out is NULL for an absent optional input
 * (beyond the list or an empty name); a name nothing produced is an
 * error. */
static int in_val(ox_ctx *c, int k, ox_value **out) {
  *out = NULL;
  if (!has_input(c, k))
    return 0;
  ox_value *v = find_value(c, c->node->input[k]);
  if (!v)
    return NERR(c, ROVE_EFORMAT,
                "input '%s' is not produced by any earlier node, initializer "
                "or graph input",
                c->node->input[k]);
  *out = v;
  return 0;
}

static int in_required(ox_ctx *c, int k, ox_value **out) {
  ROVE_TRY(in_val(c, k, out));
  if (!*out)
    return NERR(c, ROVE_EFORMAT, "input %d is missing", k);
  return 0;
}

/* Input k must be a constant (a weight, a shape, a scale...). NULL if
 * absent and optional. */
static int in_const(ox_ctx *c, int k, int required, ox_tensor **t) {
  ox_value *v;
  *t = NULL;
  ROVE_TRY(required ? in_required(c, k, &v) : in_val(c, k, &v));
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
static int in_node_pad(ox_ctx *c, int k, ox_value **out, int pad_ok) {
  ROVE_TRY(in_required(c, k, out));
  if ((*out)->padded && !pad_ok)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input '%s' comes from a Pad; rove supports zero padding "
                "only in front of Conv and AveragePool",
                (*out)->name);
  if ((*out)->kind == OX_QPEND)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input '%s' is the integer output of a QuantizeLinear; rove "
                "supports it only as the input of a DequantizeLinear",
                (*out)->name);
  if ((*out)->kind != OX_NODE)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input %d ('%s') is a constant where rove expects an "
                "activation",
                k, (*out)->name);
  return 0;
}

static int in_node(ox_ctx *c, int k, ox_value **out) {
  return in_node_pad(c, k, out, 0);
}

/* ---- attributes ------------------------------------------------------- */

static const Onnx__AttributeProto *attr(const ox_ctx *c, const char *name) {
  for (size_t k = 0; k < c->node->n_attribute; k++)
    if (c->node->attribute[k]->name &&
        strcmp(c->node->attribute[k]->name, name) == 0)
      return c->node->attribute[k];
  return NULL;
}

static int attr_int(ox_ctx *c, const char *name, int64_t def, int64_t *out) {
  const Onnx__AttributeProto *a = attr(c, name);
  *out = def;
  if (!a)
    return 0;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT)
    return NERR(c, ROVE_EFORMAT, "attribute '%s' is not an integer", name);
  *out = a->i;
  return 0;
}

static int attr_float(ox_ctx *c, const char *name, float def, float *out) {
  const Onnx__AttributeProto *a = attr(c, name);
  *out = def;
  if (!a)
    return 0;
  if (a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT)
    return NERR(c, ROVE_EFORMAT, "attribute '%s' is not a float", name);
  *out = a->f;
  return 0;
}

/* Reads an INTS attribute into out[0..max); *cnt = -1 when absent. */
static int attr_ints(ox_ctx *c, const char *name, int64_t *out, int max,
                     int *cnt) {
  const Onnx__AttributeProto *a = attr(c, name);
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

static void attr_string(const ox_ctx *c, const char *name, const char *def,
                        char *out, size_t cap) {
  const Onnx__AttributeProto *a = attr(c, name);
  if (!a || !a->has_s) {
    snprintf(out, cap, "%s", def);
    return;
  }
  size_t n = a->s.len < cap - 1 ? a->s.len : cap - 1;
  memcpy(out, a->s.data, n);
  out[n] = '\0';
}

/* Normalises an axis against a rank (negative counts from the end). */
static int norm_axis(ox_ctx *c, int64_t axis, int rank, int *out) {
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
static int emit(ox_ctx *c, int op, const int *in, int n_in, const rove_attrs *a,
                int *id) {
  *id = 0;
  int rc = rove_model_add(c->m, op, node_name(c->node), in, n_in, a, id);
  if (rc < 0) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", rove_error_message());
    return NERR(c, rc, "%s", msg);
  }
  return 0;
}

/* Emits and defines output 0; returns the rove node in *id if non-NULL. */
static int emit_out(ox_ctx *c, int op, const int *in, int n_in,
                    const rove_attrs *a, int *id) {
  int k;
  ROVE_TRY(emit(c, op, in, n_in, a, &k));
  ROVE_TRY(def_node(c, 0, k, &c->m->nodes[k].out));
  if (id)
    *id = k;
  return 0;
}

static int emit_unary(ox_ctx *c, int op, const rove_attrs *a) {
  ox_value *x;
  ROVE_TRY(in_node(c, 0, &x));
  rove_attrs d;
  if (!a) {
    rove_attrs_default(&d);
    a = &d;
  }
  return emit_out(c, op, &x->node, 1, a, NULL);
}

static int emit_reshape(ox_ctx *c, ox_value *x, const rove_shape *s) {
  if (s->rank == x->shape.rank &&
      memcmp(s->d, x->shape.d, sizeof(int) * (size_t)s->rank) == 0)
    return def_node(c, 0, x->node, &x->shape);
  rove_attrs a;
  rove_attrs_default(&a);
  a.shape = *s;
  return emit_out(c, ROVE_OP_RESHAPE, &x->node, 1, &a, NULL);
}

/* ONNX shape of an activation: batch (as OX_BATCH) + per-example dims. */
static int onnx_dims(const rove_shape *s, int64_t *dims) {
  dims[0] = OX_BATCH;
  for (int k = 0; k < s->rank; k++)
    dims[k + 1] = s->d[k];
  return s->rank + 1;
}

/* Back from ONNX dims to a per-example shape; dims[0] must be the batch. */
static int per_example(ox_ctx *c, int rank, const int64_t *dims,
                       rove_shape *s) {
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

/* ---- constant evaluation ---------------------------------------------- */

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV };

/* numpy-style broadcasting of a and b into out's dims. */
static int bcast_dims(ox_ctx *c, const ox_tensor *a, const ox_tensor *b,
                      int *rank, int64_t *dims) {
  int r = a->rank > b->rank ? a->rank : b->rank;
  *rank = 0;
  for (int k = 0; k < r; k++) {
    int ka = k - (r - a->rank), kb = k - (r - b->rank);
    int64_t da = ka >= 0 ? a->dims[ka] : 1, db = kb >= 0 ? b->dims[kb] : 1;
    if (da != db && da != 1 && db != 1)
      return NERR(c, ROVE_ESHAPE,
                  "constant operands do not broadcast (dimension %d: %lld vs "
                  "%lld)",
                  k, (long long)da, (long long)db);
    dims[k] = da == 1 ? db : da;
  }
  *rank = r;
  return 0;
}

/* Offset into t (right-aligned, broadcast) of the element at out index idx
 * of rank r. */
static int64_t bcast_off(const ox_tensor *t, int r, const int64_t *idx) {
  int64_t off = 0;
  for (int k = 0; k < t->rank; k++) {
    int64_t i = idx[k + (r - t->rank)];
    off = off * t->dims[k] + (t->dims[k] == 1 ? 0 : i);
  }
  return off;
}

static void idx_next(int r, const int64_t *dims, int64_t *idx) {
  for (int k = r - 1; k >= 0; k--) {
    if (++idx[k] < dims[k])
      return;
    idx[k] = 0;
  }
}

static int const_binary(ox_ctx *c, int op, const ox_tensor *a,
                        const ox_tensor *b, ox_tensor *out) {
  int r;
  int64_t dims[OX_MAX_DIMS], idx[OX_MAX_DIMS] = {0};
  ROVE_TRY(bcast_dims(c, a, b, &r, dims));
  int isint = a->is_int && b->is_int;
  ROVE_TRY(tensor_alloc(out, isint,
                        isint ? a->elem : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
                        r, dims));
  for (int64_t k = 0; k < out->n; k++, idx_next(r, dims, idx)) {
    int64_t oa = bcast_off(a, r, idx), ob = bcast_off(b, r, idx);
    if (isint) {
      int64_t x = a->i[oa], y = b->i[ob];
      if (x == OX_BATCH || y == OX_BATCH) {
        tensor_free(out);
        return NERR(c, ROVE_EUNSUPPORTED,
                    "computes with the batch size, which rove models do not "
                    "depend on");
      }
      if (op == BIN_DIV && y == 0) {
        tensor_free(out);
        return NERR(c, ROVE_EINVAL, "integer division by zero");
      }
      out->i[k] = op == BIN_ADD   ? x + y
                  : op == BIN_SUB ? x - y
                  : op == BIN_MUL ? x * y
                                  : x / y;
    } else {
      float x = (float)tval(a, oa), y = (float)tval(b, ob);
      out->f[k] = op == BIN_ADD   ? x + y
                  : op == BIN_SUB ? x - y
                  : op == BIN_MUL ? x * y
                                  : x / y;
    }
  }
  return 0;
}

/* ---- operators --------------------------------------------------------- */

/* Elementwise binary op between (node, node), (node, const), (const,
 * node) or (const, const). */
static int op_binary(ox_ctx *c, int bin, int rove_op) {
  ox_value *va, *vb;
  ROVE_TRY(in_required(c, 0, &va));
  ROVE_TRY(in_required(c, 1, &vb));
  if (va->kind == OX_CONST && vb->kind == OX_CONST) {
    ox_tensor t;
    ROVE_TRY(const_binary(c, bin, &va->t, &vb->t, &t));
    return def_const(c, 0, &t);
  }
  if (va->kind == OX_NODE && vb->kind == OX_NODE) {
    rove_attrs a;
    rove_attrs_default(&a);
    int in[2] = {va->node, vb->node};
    return emit_out(c, rove_op, in, 2, &a, NULL);
  }
  int const_first = va->kind == OX_CONST;
  ox_value *x;
  ROVE_TRY(in_node(c, const_first ? 1 : 0, &x));
  const ox_tensor *t = const_first ? &va->t : &vb->t;
  const rove_shape *s = &x->shape;
  /* Right-align the constant against the activation's ONNX shape; its
   * batch dimension (if present) must be 1. */
  int r = s->rank + 1;
  if (t->rank > r)
    return NERR(c, ROVE_ESHAPE,
                "constant operand has rank %d, more than the activation's %d",
                t->rank, r);
  int64_t e[ROVE_MAX_RANK];
  for (int k = 0; k < s->rank; k++) {
    int kt = k + 1 - (r - t->rank);
    e[k] = kt >= 0 ? t->dims[kt] : 1;
    if (e[k] != 1 && e[k] != s->d[k])
      return NERR(c, ROVE_ESHAPE,
                  "constant operand dimension %lld does not broadcast against "
                  "activation dimension %d (per-example dimension %d)",
                  (long long)e[k], s->d[k], k);
  }
  if (t->rank == r && t->dims[0] != 1)
    return NERR(c, ROVE_ESHAPE,
                "constant operand has batch dimension %lld (expected 1)",
                (long long)t->dims[0]);
  int all1 = 1, chan = e[0] == s->d[0];
  for (int k = 0; k < s->rank; k++) {
    all1 &= e[k] == 1;
    if (k > 0)
      chan &= e[k] == 1;
  }
  rove_attrs a;
  rove_attrs_default(&a);
  a.const_first = const_first && (bin == BIN_SUB || bin == BIN_DIV);
  long nvals;
  if (all1) {
    a.cmode = 1;
    nvals = 1;
  } else if (chan) {
    a.cmode = 2;
    nvals = s->d[0];
  } else {
    a.cmode = 3;
    nvals = rove_shape_numel(s);
  }
  int id;
  ROVE_TRY(emit(c, rove_op, &x->node, 1, &a, &id));
  if ((long)c->m->nodes[id].n_params != nvals)
    return NERR(c, ROVE_ESTATE,
                "layer '%s' holds %zu constants, the importer has %ld",
                rove_layers[rove_op]->name, c->m->nodes[id].n_params, nvals);
  float *p = rove_model_node_params(c->m, id);
  if (a.cmode != 3) {
    /* A scalar, or one value per channel: the constant's own values in
     * order (every other dimension of it is 1). */
    for (long k = 0; k < nvals; k++)
      p[k] = (float)tval(t, k);
  } else {
    /* Expand the constant to the full per-example shape. */
    int64_t idx[ROVE_MAX_RANK] = {0}, dims[ROVE_MAX_RANK];
    for (int k = 0; k < s->rank; k++)
      dims[k] = s->d[k];
    for (long k = 0; k < nvals; k++, idx_next(s->rank, dims, idx)) {
      int64_t off = 0;
      for (int j = 0; j < s->rank; j++) {
        int kt = j + 1 - (r - t->rank);
        if (kt >= 0)
          off = off * t->dims[kt] + (t->dims[kt] == 1 ? 0 : idx[j]);
      }
      p[k] = (float)tval(t, off);
    }
  }
  for (long k = 0; t->is_int && k < t->n; k++)
    if (t->i[k] == OX_BATCH)
      return NERR(c, ROVE_EUNSUPPORTED, "computes with the batch size");
  return def_node(c, 0, id, &c->m->nodes[id].out);
}

static int op_add(ox_ctx *c) {
  if (c->fused_into[c->node_idx] >= 0)
    return def_node(c, 0, c->fused_into[c->node_idx],
                    &c->fused_sh[c->node_idx]);
  return op_binary(c, BIN_ADD, ROVE_OP_ADD);
}
static int op_sub(ox_ctx *c) {
  return op_binary(c, BIN_SUB, ROVE_OP_SUB);
}
static int op_mul(ox_ctx *c) {
  return op_binary(c, BIN_MUL, ROVE_OP_MUL);
}
static int op_div(ox_ctx *c) {
  return op_binary(c, BIN_DIV, ROVE_OP_DIV);
}

/* Unary elementwise ops, evaluated on constants or emitted as a layer. */
enum { UN_RELU, UN_ROUND, UN_FLOOR, UN_SIGMOID, UN_TANH, UN_NEG, UN_RECIP };

static int op_unary_kind(ox_ctx *c, int kind, int rove_op) {
  ox_value *x;
  ROVE_TRY(in_required(c, 0, &x));
  if (x->kind == OX_CONST) {
    ox_tensor t;
    ROVE_TRY(tensor_copy(&t, &x->t));
    if (tensor_to_float(c, &t) < 0) {
      tensor_free(&t);
      return NERR(c, ROVE_EUNSUPPORTED, "computes with the batch size");
    }
    for (int64_t k = 0; k < t.n; k++) {
      float v = t.f[k];
      t.f[k] = kind == UN_RELU      ? (v > 0 ? v : 0)
               : kind == UN_ROUND   ? rintf(v)
               : kind == UN_FLOOR   ? floorf(v)
               : kind == UN_SIGMOID ? 1 / (1 + expf(-v))
               : kind == UN_TANH    ? tanhf(v)
               : kind == UN_RECIP   ? 1 / v
                                    : -v;
    }
    return def_const(c, 0, &t);
  }
  if (rove_op < 0)
    return NERR(c, ROVE_EUNSUPPORTED,
                "supported on constants only, not on activations");
  return emit_unary(c, rove_op, NULL);
}

static int op_relu(ox_ctx *c) {
  return op_unary_kind(c, UN_RELU, ROVE_OP_RELU);
}
static int op_round(ox_ctx *c) {
  return op_unary_kind(c, UN_ROUND, ROVE_OP_ROUND);
}
static int op_floor(ox_ctx *c) {
  return op_unary_kind(c, UN_FLOOR, ROVE_OP_FLOOR);
}
static int op_sigmoid(ox_ctx *c) {
  return op_unary_kind(c, UN_SIGMOID, ROVE_OP_SIGMOID);
}
static int op_tanh(ox_ctx *c) {
  return op_unary_kind(c, UN_TANH, ROVE_OP_TANH);
}
static int op_neg(ox_ctx *c) {
  return op_unary_kind(c, UN_NEG, -1);
}

/* Reciprocal (torch writes c / x as Reciprocal then Mul): a div layer
 * computing 1 / x. */
static int op_reciprocal(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(in_required(c, 0, &x));
  if (x->kind == OX_CONST)
    return op_unary_kind(c, UN_RECIP, -1);
  ROVE_TRY(in_node(c, 0, &x));
  rove_attrs a;
  rove_attrs_default(&a);
  a.cmode = 1;
  a.const_first = 1;
  int id;
  ROVE_TRY(emit(c, ROVE_OP_DIV, &x->node, 1, &a, &id));
  if (c->m->nodes[id].n_params != 1)
    return NERR(c, ROVE_ESTATE, "div layer holds %zu constants, expected 1",
                c->m->nodes[id].n_params);
  rove_model_node_params(c->m, id)[0] = 1.0f;
  return def_node(c, 0, id, &c->m->nodes[id].out);
}

/* Pad with zeros on the spatial axes of an activation: recorded on the
 * value and absorbed by the consuming Conv or AveragePool (torch writes
 * avg_pool2d with count_include_pad as Pad + AveragePool). */
static int op_pad(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(in_node(c, 0, &x));
  char mode[32];
  attr_string(c, "mode", "constant", mode, sizeof mode);
  if (strcmp(mode, "constant") != 0)
    return NERR(c, ROVE_EUNSUPPORTED, "mode '%s' (only constant)", mode);
  int64_t pads[2 * OX_MAX_DIMS];
  int n, r = x->shape.rank + 1;
  float value = 0;
  if (c->opset < 11) {
    ROVE_TRY(attr_ints(c, "pads", pads, 2 * OX_MAX_DIMS, &n));
    ROVE_TRY(attr_float(c, "value", 0.0f, &value));
  } else {
    ox_tensor *pt, *vt;
    ROVE_TRY(in_const(c, 1, 1, &pt));
    ROVE_TRY(in_const(c, 2, 0, &vt));
    if (has_input(c, 3))
      return NERR(c, ROVE_EUNSUPPORTED, "the axes input is not supported");
    if (!pt->is_int || pt->n > 2 * OX_MAX_DIMS)
      return NERR(c, ROVE_EFORMAT, "pads must be integers");
    n = (int)pt->n;
    for (int k = 0; k < n; k++)
      pads[k] = pt->i[k];
    if (vt && vt->n != 1)
      return NERR(c, ROVE_EFORMAT, "constant_value must be a scalar");
    value = vt ? (float)tval(vt, 0) : 0.0f;
  }
  if (n != 2 * r)
    return NERR(c, ROVE_EFORMAT, "%d pads for an input of rank %d", n, r);
  if (value != 0.0f)
    return NERR(c, ROVE_EUNSUPPORTED, "padding value %g (only 0)", value);
  for (int k = 0; k < r; k++)
    if (pads[k] < 0 || pads[r + k] < 0 ||
        (k < r - 2 && (pads[k] != 0 || pads[r + k] != 0)))
      return NERR(c, ROVE_EUNSUPPORTED,
                  "pads %lld/%lld on axis %d (rove pads the two spatial axes "
                  "of N x C x H x W by non-negative amounts)",
                  (long long)pads[k], (long long)pads[r + k], k);
  int zero = 1;
  for (int k = 0; k < 2 * r; k++)
    zero &= pads[k] == 0;
  int node = x->node, old[4] = {0};
  rove_shape sh = x->shape;
  if (x->padded)
    memcpy(old, x->pad, sizeof old);
  ROVE_TRY(def_node(c, 0, node, &sh));
  if (zero && !old[0] && !old[1] && !old[2] && !old[3])
    return 0;
  if (r != 4)
    return NERR(c, ROVE_EUNSUPPORTED, "padding of a rank-%d activation", r);
  ox_value *v = find_value(c, c->node->output[0]);
  v->padded = 1;
  v->pad[0] = old[0] + (int)pads[2];
  v->pad[1] = old[1] + (int)pads[3];
  v->pad[2] = old[2] + (int)pads[r + 2];
  v->pad[3] = old[3] + (int)pads[r + 3];
  return 0;
}

/* Adds a pending Pad's zeros to a Conv/AveragePool's own padding. */
static void absorb_pad(const ox_value *x, rove_attrs *a) {
  if (!x->padded)
    return;
  a->pt += x->pad[0];
  a->pl += x->pad[1];
  a->pb += x->pad[2];
  a->pr += x->pad[3];
}

static int op_leakyrelu(ox_ctx *c) {
  rove_attrs a;
  rove_attrs_default(&a);
  ROVE_TRY(attr_float(c, "alpha", 0.01f, &a.alpha));
  return emit_unary(c, ROVE_OP_LEAKYRELU, &a);
}

/* A scalar bound of Clip given as an input (opset 11+). */
static int clip_bound(ox_ctx *c, int k, float *v) {
  ox_tensor *t;
  ROVE_TRY(in_const(c, k, 0, &t));
  if (!t)
    return 0;
  if (t->n != 1)
    return NERR(c, ROVE_EUNSUPPORTED,
                "bound input %d has %lld values "
                "(expected a scalar)",
                k, (long long)t->n);
  *v = (float)tval(t, 0);
  return 0;
}

static int op_clip(ox_ctx *c) {
  rove_attrs a;
  rove_attrs_default(&a);
  if (c->opset < 11) {
    ROVE_TRY(attr_float(c, "min", a.lo, &a.lo));
    ROVE_TRY(attr_float(c, "max", a.hi, &a.hi));
  } else {
    ROVE_TRY(clip_bound(c, 1, &a.lo));
    ROVE_TRY(clip_bound(c, 2, &a.hi));
  }
  ox_value *x;
  ROVE_TRY(in_required(c, 0, &x));
  if (x->kind == OX_CONST) {
    ox_tensor t;
    ROVE_TRY(tensor_copy(&t, &x->t));
    for (int64_t k = 0; k < t.n; k++) {
      if (t.is_int)
        t.i[k] = t.i[k] < a.lo   ? (int64_t)a.lo
                 : t.i[k] > a.hi ? (int64_t)a.hi
                                 : t.i[k];
      else
        t.f[k] = t.f[k] < a.lo ? a.lo : t.f[k] > a.hi ? a.hi : t.f[k];
    }
    return def_const(c, 0, &t);
  }
  return emit_unary(c, ROVE_OP_CLIP, &a);
}

/* Reads spatial conv/pool attributes: kernel (already known for conv),
 * strides, dilations, pads and auto_pad, for input spatial size h x w. */
static int spatial_attrs(ox_ctx *c, rove_attrs *a, int h, int w,
                         int allow_dilation) {
  int64_t v[4];
  int n;
  ROVE_TRY(attr_ints(c, "strides", v, 2, &n));
  if (n == 2) {
    a->sh = (int)v[0];
    a->sw = (int)v[1];
  } else if (n != -1) {
    return NERR(c, ROVE_EUNSUPPORTED, "'strides' must have 2 values");
  }
  ROVE_TRY(attr_ints(c, "dilations", v, 2, &n));
  if (n == 2) {
    a->dh = (int)v[0];
    a->dw = (int)v[1];
  } else if (n != -1) {
    return NERR(c, ROVE_EUNSUPPORTED, "'dilations' must have 2 values");
  }
  if (!allow_dilation && (a->dh != 1 || a->dw != 1))
    return NERR(c, ROVE_EUNSUPPORTED, "dilated pooling is not supported");
  if (a->sh < 1 || a->sw < 1 || a->dh < 1 || a->dw < 1)
    return NERR(c, ROVE_EINVAL, "strides and dilations must be >= 1");
  ROVE_TRY(attr_ints(c, "pads", v, 4, &n));
  if (n == 4) {
    a->pt = (int)v[0];
    a->pl = (int)v[1];
    a->pb = (int)v[2];
    a->pr = (int)v[3];
  } else if (n != -1) {
    return NERR(c, ROVE_EUNSUPPORTED, "'pads' must have 4 values");
  }
  char ap[32];
  attr_string(c, "auto_pad", "NOTSET", ap, sizeof ap);
  if (strcmp(ap, "NOTSET") == 0)
    return 0;
  a->pt = a->pl = a->pb = a->pr = 0;
  if (strcmp(ap, "VALID") == 0)
    return 0;
  int upper = strcmp(ap, "SAME_UPPER") == 0;
  if (!upper && strcmp(ap, "SAME_LOWER") != 0)
    return NERR(c, ROVE_EINVAL,
                "auto_pad '%s' (expected NOTSET, VALID, "
                "SAME_UPPER or SAME_LOWER)",
                ap);
  /* SAME: output size ceil(in / stride); the odd pixel of padding goes at
   * the end (UPPER) or the beginning (LOWER). */
  int ins[2] = {h, w}, ks[2] = {a->kh, a->kw}, ss[2] = {a->sh, a->sw},
      ds[2] = {a->dh, a->dw}, lo[2], hi[2];
  for (int k = 0; k < 2; k++) {
    int o = (ins[k] + ss[k] - 1) / ss[k];
    int tot = (o - 1) * ss[k] + (ks[k] - 1) * ds[k] + 1 - ins[k];
    if (tot < 0)
      tot = 0;
    lo[k] = upper ? tot / 2 : tot - tot / 2;
    hi[k] = tot - lo[k];
  }
  a->pt = lo[0];
  a->pl = lo[1];
  a->pb = hi[0];
  a->pr = hi[1];
  return 0;
}

static int op_conv(ox_ctx *c) {
  ox_value *x;
  ox_tensor *w, *b;
  ROVE_TRY(in_node_pad(c, 0, &x, 1));
  ROVE_TRY(in_const(c, 1, 1, &w));
  ROVE_TRY(in_const(c, 2, 0, &b));
  if (x->shape.rank != 3 || w->rank != 4)
    return NERR(c, ROVE_EUNSUPPORTED,
                "only 2-D convolution is supported (input of per-example "
                "rank %d, weight of rank %d)",
                x->shape.rank, w->rank);
  rove_attrs a;
  rove_attrs_default(&a);
  int64_t g;
  ROVE_TRY(attr_int(c, "group", 1, &g));
  a.groups = (int)g;
  a.out = (int)w->dims[0];
  a.kh = (int)w->dims[2];
  a.kw = (int)w->dims[3];
  int64_t ks[2];
  int n;
  ROVE_TRY(attr_ints(c, "kernel_shape", ks, 2, &n));
  if (n == 2 && (ks[0] != a.kh || ks[1] != a.kw))
    return NERR(c, ROVE_ESHAPE,
                "kernel_shape %lldx%lld does not match the weight's %dx%d",
                (long long)ks[0], (long long)ks[1], a.kh, a.kw);
  ROVE_TRY(spatial_attrs(c, &a, x->shape.d[1], x->shape.d[2], 1));
  absorb_pad(x, &a);
  if (b && b->n != a.out)
    return NERR(c, ROVE_ESHAPE, "bias has %lld values, expected %d",
                (long long)b->n, a.out);
  a.has_bias = b != NULL;
  int id;
  ROVE_TRY(emit(c, ROVE_OP_CONV, &x->node, 1, &a, &id));
  size_t need = (size_t)w->n + (b ? (size_t)b->n : 0);
  if (c->m->nodes[id].n_params != need)
    return NERR(c, ROVE_ESHAPE,
                "weight has %lld values; the layer expects %zu (weight "
                "dimension 1 must be input channels / group)",
                (long long)w->n, c->m->nodes[id].n_params - (b ? b->n : 0));
  float *p = rove_model_node_params(c->m, id);
  for (int64_t k = 0; k < w->n; k++)
    p[k] = (float)tval(w, k);
  for (int64_t k = 0; b && k < b->n; k++)
    p[w->n + k] = (float)tval(b, k);
  return def_node(c, 0, id, &c->m->nodes[id].out);
}

/* Emits linear with W[out][in] = scale * B^T or B (transposed) and bias. */
static int emit_linear(ox_ctx *c, ox_value *x, const ox_tensor *wt, int trans,
                       float alpha, const ox_tensor *bias, float beta,
                       int *out_id) {
  *out_id = 0;
  if (wt->rank != 2)
    return NERR(c, ROVE_EUNSUPPORTED, "weight has rank %d (expected 2)",
                wt->rank);
  int fin = (int)(trans ? wt->dims[1] : wt->dims[0]);
  int fout = (int)(trans ? wt->dims[0] : wt->dims[1]);
  if (x->shape.rank != 1)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input '%s' has per-example rank %d; rove applies matrix "
                "products to feature vectors only",
                x->name, x->shape.rank);
  if (x->shape.d[0] != fin)
    return NERR(c, ROVE_ESHAPE,
                "input '%s' has %d features, the weight expects %d", x->name,
                x->shape.d[0], fin);
  if (bias && bias->n != 1 && bias->n != fout)
    return NERR(c, ROVE_ESHAPE, "bias has %lld values, expected %d or 1",
                (long long)bias->n, fout);
  rove_attrs a;
  rove_attrs_default(&a);
  a.out = fout;
  a.has_bias = bias != NULL;
  int id;
  ROVE_TRY(emit(c, ROVE_OP_LINEAR, &x->node, 1, &a, &id));
  float *p = rove_model_node_params(c->m, id);
  for (int o = 0; o < fout; o++)
    for (int i = 0; i < fin; i++) {
      float v =
          (float)tval(wt, trans ? (int64_t)o * fin + i : (int64_t)i * fout + o);
      p[(size_t)o * (size_t)fin + (size_t)i] = alpha == 1.0f ? v : alpha * v;
    }
  for (int o = 0; bias && o < fout; o++) {
    float v = (float)tval(bias, bias->n == 1 ? 0 : o);
    p[(size_t)fout * (size_t)fin + (size_t)o] = beta == 1.0f ? v : beta * v;
  }
  *out_id = id;
  return def_node(c, 0, id, &c->m->nodes[id].out);
}

static int op_gemm(ox_ctx *c) {
  ox_value *x;
  ox_tensor *bt, *ct;
  ROVE_TRY(in_node(c, 0, &x));
  ROVE_TRY(in_const(c, 1, 1, &bt));
  ROVE_TRY(in_const(c, 2, 0, &ct));
  float alpha, beta;
  int64_t ta, tb;
  ROVE_TRY(attr_float(c, "alpha", 1.0f, &alpha));
  ROVE_TRY(attr_float(c, "beta", 1.0f, &beta));
  ROVE_TRY(attr_int(c, "transA", 0, &ta));
  ROVE_TRY(attr_int(c, "transB", 0, &tb));
  if (ta)
    return NERR(c, ROVE_EUNSUPPORTED,
                "transA = 1 would mix the batch into the features");
  if (beta == 0.0f)
    ct = NULL;
  int id;
  return emit_linear(c, x, bt, (int)tb, alpha, ct, beta, &id);
}

/* The index of the only node consuming `name`, or -1 (none, several, or
 * a graph output). */
static int sole_consumer(const ox_ctx *c, const char *name) {
  int who = -1, cnt = 0;
  for (size_t k = 0; k < c->g->n_node; k++)
    for (size_t j = 0; j < c->g->node[k]->n_input; j++)
      if (strcmp(c->g->node[k]->input[j], name) == 0) {
        who = (int)k;
        cnt++;
      }
  for (size_t k = 0; k < c->g->n_output; k++)
    if (c->g->output[k]->name && strcmp(c->g->output[k]->name, name) == 0)
      cnt++;
  return cnt == 1 ? who : -1;
}

static int op_matmul(ox_ctx *c) {
  ox_value *x;
  ox_tensor *wt;
  ROVE_TRY(in_node(c, 0, &x));
  ROVE_TRY(in_const(c, 1, 1, &wt));
  /* x @ W + b, as torch writes a linear layer on tensors that are not
   * 2-D: fuse the Add into the linear's bias when it is the MatMul's only
   * consumer and its other operand is a constant vector. */
  const ox_tensor *bias = NULL;
  int add = c->node->n_output ? sole_consumer(c, c->node->output[0]) : -1;
  if (add >= 0 && c->g->node[add]->op_type &&
      strcmp(c->g->node[add]->op_type, "Add") == 0 &&
      c->g->node[add]->n_input == 2 && wt->rank == 2) {
    const Onnx__NodeProto *an = c->g->node[add];
    const char *other = strcmp(an->input[0], c->node->output[0]) == 0
                            ? an->input[1]
                            : an->input[0];
    ox_value *bv = find_value(c, other);
    if (bv && bv->kind == OX_CONST && bv->t.n == wt->dims[1] &&
        (bv->t.rank == 1 || (bv->t.rank == 2 && bv->t.dims[0] == 1)))
      bias = &bv->t;
  }
  int id;
  ROVE_TRY(emit_linear(c, x, wt, 0, 1.0f, bias, 1.0f, &id));
  if (bias) {
    c->fused_into[add] = id;
    c->fused_sh[add] = c->m->nodes[id].out;
  }
  return 0;
}

static int op_pool(ox_ctx *c, int op) {
  ox_value *x;
  ROVE_TRY(in_node_pad(c, 0, &x, op == ROVE_OP_AVGPOOL));
  if (x->shape.rank != 3)
    return NERR(c, ROVE_EUNSUPPORTED,
                "only 2-D pooling is supported (input of per-example rank "
                "%d)",
                x->shape.rank);
  if (c->node->n_output > 1 && c->node->output[1][0])
    return NERR(c, ROVE_EUNSUPPORTED, "the Indices output is not supported");
  rove_attrs a;
  rove_attrs_default(&a);
  int64_t ks[2], v;
  int n;
  ROVE_TRY(attr_ints(c, "kernel_shape", ks, 2, &n));
  if (n != 2)
    return NERR(c, ROVE_EFORMAT, "'kernel_shape' must have 2 values");
  a.kh = (int)ks[0];
  a.kw = (int)ks[1];
  ROVE_TRY(spatial_attrs(c, &a, x->shape.d[1], x->shape.d[2], 0));
  ROVE_TRY(attr_int(c, "ceil_mode", 0, &v));
  a.ceil_mode = (int)v;
  if (op == ROVE_OP_AVGPOOL) {
    ROVE_TRY(attr_int(c, "count_include_pad", 0, &v));
    a.count_include_pad = (int)v;
    if (x->padded) {
      /* The explicit zeros are ordinary input to AveragePool: they count
       * in the mean, which mixes with the pool's own padding only when
       * that padding counts too. */
      if ((a.pt || a.pl || a.pb || a.pr) && !a.count_include_pad)
        return NERR(c, ROVE_EUNSUPPORTED,
                    "a Pad in front of a padded AveragePool with "
                    "count_include_pad = 0");
      absorb_pad(x, &a);
      a.count_include_pad = 1;
    }
  }
  return emit_out(c, op, &x->node, 1, &a, NULL);
}

static int op_maxpool(ox_ctx *c) {
  return op_pool(c, ROVE_OP_MAXPOOL);
}
static int op_avgpool(ox_ctx *c) {
  return op_pool(c, ROVE_OP_AVGPOOL);
}

static int op_gap(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(in_node(c, 0, &x));
  if (x->shape.rank != 3)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input has per-example rank %d (expected C x H x W)",
                x->shape.rank);
  return emit_unary(c, ROVE_OP_GAP, NULL);
}

static int op_batchnorm(ox_ctx *c) {
  ox_value *x;
  ox_tensor *t[4];
  ROVE_TRY(in_node(c, 0, &x));
  for (int k = 0; k < 4; k++)
    ROVE_TRY(in_const(c, k + 1, 1, &t[k]));
  int64_t training;
  ROVE_TRY(attr_int(c, "training_mode", 0, &training));
  if (training)
    return NERR(c, ROVE_EUNSUPPORTED,
                "training_mode = 1 (rove imports inference graphs; export "
                "the model in eval mode)");
  for (size_t k = 1; k < c->node->n_output; k++)
    if (c->node->output[k][0] && sole_consumer(c, c->node->output[k]) != -1)
      return NERR(c, ROVE_EUNSUPPORTED,
                  "uses the running statistics outputs (training)");
  int ch = x->shape.d[0];
  for (int k = 0; k < 4; k++)
    if (t[k]->n != ch)
      return NERR(c, ROVE_ESHAPE,
                  "input %d has %lld values, expected one per channel (%d)",
                  k + 1, (long long)t[k]->n, ch);
  rove_attrs a;
  rove_attrs_default(&a);
  ROVE_TRY(attr_float(c, "epsilon", 1e-5f, &a.eps));
  int id;
  ROVE_TRY(emit(c, ROVE_OP_BATCHNORM, &x->node, 1, &a, &id));
  if (c->m->nodes[id].n_params != (size_t)(4 * ch))
    return NERR(c, ROVE_ESTATE,
                "batchnorm layer holds %zu parameters, "
                "expected 4 per channel",
                c->m->nodes[id].n_params);
  float *p = rove_model_node_params(c->m, id);
  for (int k = 0; k < 4; k++)
    for (int j = 0; j < ch; j++)
      p[k * ch + j] = (float)tval(t[k], j);
  return def_node(c, 0, id, &c->m->nodes[id].out);
}

static int op_softmax(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(in_node(c, 0, &x));
  int r = x->shape.rank + 1, ax;
  int64_t axis;
  ROVE_TRY(attr_int(c, "axis", c->opset >= 13 ? -1 : 1, &axis));
  ROVE_TRY(norm_axis(c, axis, r, &ax));
  if (ax == 0)
    return NERR(c, ROVE_EUNSUPPORTED, "softmax over the batch axis");
  /* Before opset 13 Softmax normalises over all dimensions from axis on;
   * that is one axis only when axis is the last. */
  if (c->opset < 13 && ax != r - 1)
    return NERR(c, ROVE_EUNSUPPORTED,
                "axis %d is not the last axis (opset < 13 flattens the "
                "trailing dimensions)",
                ax);
  rove_attrs a;
  rove_attrs_default(&a);
  a.axis = ax - 1;
  return emit_out(c, ROVE_OP_SOFTMAX, &x->node, 1, &a, NULL);
}

static int op_identity(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(in_required(c, 0, &x));
  if (x->kind == OX_CONST) {
    ox_tensor t;
    ROVE_TRY(tensor_copy(&t, &x->t));
    return def_const(c, 0, &t);
  }
  if (x->kind == OX_QPEND)
    return NERR(c, ROVE_EUNSUPPORTED,
                "passes on a QuantizeLinear output; rove expects it to feed "
                "a DequantizeLinear directly");
  for (size_t k = 1; k < c->node->n_output; k++)
    if (c->node->output[k][0] && sole_consumer(c, c->node->output[k]) != -1)
      return NERR(c, ROVE_EUNSUPPORTED, "the dropout mask output is used");
  return def_node(c, 0, x->node, &x->shape);
}

/* Reshapes a constant to dims (numel must match). */
static int const_reshape(ox_ctx *c, const ox_tensor *src, int rank,
                         const int64_t *dims) {
  ox_tensor t;
  if (dims_numel(rank, dims) != src->n)
    return NERR(c, ROVE_ESHAPE,
                "cannot reshape a constant of %lld elements to %lld",
                (long long)src->n, (long long)dims_numel(rank, dims));
  ROVE_TRY(tensor_copy(&t, src));
  t.rank = rank;
  for (int k = 0; k < rank; k++)
    t.dims[k] = dims[k];
  return def_const(c, 0, &t);
}

/* Resolves a Reshape target against the input dims (0: copy, -1: infer).
 * in_dims[0] may be OX_BATCH for activations. */
static int resolve_target(ox_ctx *c, int in_rank, const int64_t *in_dims,
                          int64_t in_numel, const ox_tensor *t, int allowzero,
                          int64_t *out, int *out_rank, int is_node) {
  if (!t->is_int || t->rank != 1 || t->n > OX_MAX_DIMS)
    return NERR(c, ROVE_EUNSUPPORTED,
                "the target shape must be a 1-D integer tensor of at most "
                "%d values",
                OX_MAX_DIMS);
  int infer = -1;
  int64_t known = 1;
  for (int64_t k = 0; k < t->n; k++) {
    int64_t v = t->i[k];
    if (v == 0 && !allowzero) {
      if (k >= in_rank)
        return NERR(c, ROVE_ESHAPE,
                    "target dimension %lld copies a "
                    "dimension the input does not have",
                    (long long)k);
      v = in_dims[k];
    }
    if (is_node && k == 0 &&
        (v == OX_BATCH || (c->in_batch > 0 && v == c->in_batch))) {
      out[k] = OX_BATCH;
      continue;
    }
    if (v == -1) {
      if (infer >= 0)
        return NERR(c, ROVE_ESHAPE, "the target shape has two -1 entries");
      infer = (int)k;
      continue;
    }
    if (v < 0 || v == OX_BATCH)
      return NERR(c, ROVE_ESHAPE,
                  "target dimension %lld is %s (only the first dimension may "
                  "be the batch)",
                  (long long)k, v == OX_BATCH ? "the batch size" : "negative");
    out[k] = v;
    known *= v;
  }
  *out_rank = (int)t->n;
  if (infer >= 0) {
    if (is_node && infer == 0) {
      /* [-1, D...]: the batch is inferred, so the per-example size must
       * be unchanged. */
      if (known != in_numel)
        return NERR(c, ROVE_ESHAPE,
                    "target shape moves features into the batch dimension "
                    "(%lld per example in, %lld out)",
                    (long long)in_numel, (long long)known);
      out[0] = OX_BATCH;
    } else {
      if (known == 0 || in_numel % known)
        return NERR(c, ROVE_ESHAPE,
                    "cannot infer the -1 dimension (%lld elements, %lld "
                    "known)",
                    (long long)in_numel, (long long)known);
      out[infer] = in_numel / known;
    }
  }
  if (is_node && out[0] != OX_BATCH)
    return NERR(c, ROVE_EUNSUPPORTED,
                "the target shape's first dimension is not the batch");
  return 0;
}

static int op_reshape(ox_ctx *c) {
  ox_value *x;
  ox_tensor *t;
  ROVE_TRY(in_required(c, 0, &x));
  ROVE_TRY(in_const(c, 1, 1, &t));
  int64_t allowzero;
  ROVE_TRY(attr_int(c, "allowzero", 0, &allowzero));
  int64_t dims[OX_MAX_DIMS], out[OX_MAX_DIMS];
  int r;
  if (x->kind == OX_CONST) {
    ROVE_TRY(resolve_target(c, x->t.rank, x->t.dims, x->t.n, t, (int)allowzero,
                            out, &r, 0));
    return const_reshape(c, &x->t, r, out);
  }
  ROVE_TRY(in_node(c, 0, &x));
  int ir = onnx_dims(&x->shape, dims);
  ROVE_TRY(resolve_target(c, ir, dims, rove_shape_numel(&x->shape), t,
                          (int)allowzero, out, &r, 1));
  rove_shape s;
  ROVE_TRY(per_example(c, r, out, &s));
  if (rove_shape_numel(&s) != rove_shape_numel(&x->shape))
    return NERR(c, ROVE_ESHAPE,
                "target shape has %ld elements per example, the input %ld",
                rove_shape_numel(&s), rove_shape_numel(&x->shape));
  return emit_reshape(c, x, &s);
}

static int op_flatten(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(in_required(c, 0, &x));
  int64_t axis;
  ROVE_TRY(attr_int(c, "axis", 1, &axis));
  int ax;
  if (x->kind == OX_CONST) {
    ROVE_TRY(norm_axis(c, axis, x->t.rank + 1, &ax));
    int64_t d[2] = {dims_numel(ax, x->t.dims),
                    dims_numel(x->t.rank - ax, x->t.dims + ax)};
    return const_reshape(c, &x->t, 2, d);
  }
  ROVE_TRY(in_node(c, 0, &x));
  ROVE_TRY(norm_axis(c, axis, x->shape.rank + 2, &ax));
  if (ax != 1)
    return NERR(c, ROVE_EUNSUPPORTED,
                "axis %d would mix the batch with other dimensions "
                "(only axis 1 is supported)",
                ax);
  rove_shape s = {1, {(int)rove_shape_numel(&x->shape)}};
  return emit_reshape(c, x, &s);
}

/* Axes of Squeeze/Unsqueeze: an attribute before opset 13, an input
 * after. */
static int squeeze_axes(ox_ctx *c, int64_t *axes, int *n) {
  if (c->opset < 13) {
    ROVE_TRY(attr_ints(c, "axes", axes, OX_MAX_DIMS, n));
    return 0;
  }
  ox_tensor *t;
  ROVE_TRY(in_const(c, 1, 0, &t));
  *n = -1;
  if (!t)
    return 0;
  if (!t->is_int || t->n > OX_MAX_DIMS)
    return NERR(c, ROVE_EUNSUPPORTED, "axes must be at most %d integers",
                OX_MAX_DIMS);
  for (int64_t k = 0; k < t->n; k++)
    axes[k] = t->i[k];
  *n = (int)t->n;
  return 0;
}

static int op_squeeze_like(ox_ctx *c, int unsq) {
  ox_value *x;
  ROVE_TRY(in_required(c, 0, &x));
  int64_t axes[OX_MAX_DIMS], in[OX_MAX_DIMS], out[OX_MAX_DIMS];
  int na, ir, or = 0;
  ROVE_TRY(squeeze_axes(c, axes, &na));
  if (x->kind == OX_QPEND)
    return in_node(c, 0, &x);
  if (x->kind == OX_CONST) {
    ir = x->t.rank;
    memcpy(in, x->t.dims, sizeof(int64_t) * (size_t)ir);
  } else {
    ir = onnx_dims(&x->shape, in);
  }
  unsigned char mark[OX_MAX_DIMS * 2] = {0};
  if (unsq) {
    if (na < 0)
      return NERR(c, ROVE_EFORMAT, "axes are missing");
    int r = ir + na;
    if (r > OX_MAX_DIMS)
      return NERR(c, ROVE_EUNSUPPORTED, "result rank %d is too large", r);
    for (int k = 0; k < na; k++) {
      int ax;
      ROVE_TRY(norm_axis(c, axes[k], r, &ax));
      mark[ax] = 1;
    }
    for (int k = 0, j = 0; k < r; k++)
      out[or ++] = mark[k] ? 1 : in[j++];
  } else {
    for (int k = 0; k < na; k++) {
      int ax;
      ROVE_TRY(norm_axis(c, axes[k], ir, &ax));
      if (in[ax] != 1)
        return NERR(c, ROVE_ESHAPE, "cannot squeeze axis %d of size %lld", ax,
                    (long long)in[ax]);
      mark[ax] = 1;
    }
    for (int k = 0; k < ir; k++)
      if (!(na < 0 ? in[k] == 1 : mark[k]))
        out[or ++] = in[k];
  }
  if (x->kind == OX_CONST)
    return const_reshape(c, &x->t, or, out);
  if (or < 1 || out[0] != OX_BATCH)
    return NERR(c, ROVE_EUNSUPPORTED, "moves the batch dimension");
  rove_shape s;
  ROVE_TRY(per_example(c, or, out, &s));
  return emit_reshape(c, x, &s);
}

static int op_squeeze(ox_ctx *c) {
  return op_squeeze_like(c, 0);
}
static int op_unsqueeze(ox_ctx *c) {
  return op_squeeze_like(c, 1);
}

static int op_shape(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(in_required(c, 0, &x));
  int64_t d[OX_MAX_DIMS];
  int r;
  if (x->kind == OX_CONST) {
    r = x->t.rank;
    memcpy(d, x->t.dims, sizeof(int64_t) * (size_t)r);
  } else {
    r = onnx_dims(&x->shape, d);
  }
  int64_t start, end;
  ROVE_TRY(attr_int(c, "start", 0, &start));
  ROVE_TRY(attr_int(c, "end", r, &end));
  start = start < 0 ? start + r : start;
  end = end < 0 ? end + r : end;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < 0 ? 0 : end > r ? r : end;
  int64_t n = end > start ? end - start : 0;
  ox_tensor t;
  ROVE_TRY(tensor_alloc(&t, 1, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, &n));
  for (int64_t k = 0; k < n; k++)
    t.i[k] = d[start + k];
  return def_const(c, 0, &t);
}

static int op_gather(ox_ctx *c) {
  ox_tensor *data, *ind;
  ox_value *x;
  ROVE_TRY(in_required(c, 0, &x));
  if (x->kind != OX_CONST)
    return NERR(c, ROVE_EUNSUPPORTED,
                "Gather on an activation is not supported (only on "
                "constants such as shapes)");
  data = &x->t;
  ROVE_TRY(in_const(c, 1, 1, &ind));
  if (!ind->is_int)
    return NERR(c, ROVE_EFORMAT, "indices must be integers");
  int64_t axis;
  int ax;
  ROVE_TRY(attr_int(c, "axis", 0, &axis));
  ROVE_TRY(norm_axis(c, axis, data->rank, &ax));
  int r = data->rank - 1 + ind->rank;
  if (r > OX_MAX_DIMS)
    return NERR(c, ROVE_EUNSUPPORTED, "result rank %d is too large", r);
  int64_t dims[OX_MAX_DIMS];
  int k = 0;
  for (int j = 0; j < ax; j++)
    dims[k++] = data->dims[j];
  for (int j = 0; j < ind->rank; j++)
    dims[k++] = ind->dims[j];
  for (int j = ax + 1; j < data->rank; j++)
    dims[k++] = data->dims[j];
  int64_t outer = dims_numel(ax, data->dims), len = data->dims[ax];
  int64_t inner = dims_numel(data->rank - ax - 1, data->dims + ax + 1);
  ox_tensor t;
  ROVE_TRY(tensor_alloc(&t, data->is_int, data->elem, r, dims));
  int64_t o = 0;
  for (int64_t a = 0; a < outer; a++)
    for (int64_t q = 0; q < ind->n; q++) {
      int64_t ix = ind->i[q] < 0 ? ind->i[q] + len : ind->i[q];
      if (ix < 0 || ix >= len) {
        tensor_free(&t);
        return NERR(c, ROVE_ERANGE, "index %lld is out of range [0, %lld)",
                    (long long)ind->i[q], (long long)len);
      }
      for (int64_t b = 0; b < inner; b++, o++) {
        int64_t src = (a * len + ix) * inner + b;
        if (t.is_int)
          t.i[o] = data->i[src];
        else
          t.f[o] = data->f[src];
      }
    }
  return def_const(c, 0, &t);
}

static int op_concat(ox_ctx *c) {
  int n = n_inputs(c), nconst = 0;
  ox_value *v[64] = {0};
  if (n < 1 || n > 64)
    return NERR(c, ROVE_EUNSUPPORTED, "%d inputs (1 to 64 supported)", n);
  for (int k = 0; k < n; k++) {
    ROVE_TRY(in_required(c, k, &v[k]));
    nconst += v[k]->kind == OX_CONST;
  }
  int64_t axis;
  ROVE_TRY(attr_int(c, "axis", 0, &axis));
  if (nconst == n) {
    int r = v[0]->t.rank, ax, isint = 1;
    ROVE_TRY(norm_axis(c, axis, r, &ax));
    int64_t dims[OX_MAX_DIMS];
    memcpy(dims, v[0]->t.dims, sizeof(int64_t) * (size_t)r);
    dims[ax] = 0;
    for (int k = 0; k < n; k++) {
      const ox_tensor *t = &v[k]->t;
      isint &= t->is_int;
      if (t->rank != r)
        return NERR(c, ROVE_ESHAPE, "inputs have different ranks");
      for (int j = 0; j < r; j++)
        if (j != ax && t->dims[j] != v[0]->t.dims[j])
          return NERR(c, ROVE_ESHAPE,
                      "input %d dimension %d is %lld, input 0 has %lld", k, j,
                      (long long)t->dims[j], (long long)v[0]->t.dims[j]);
      dims[ax] += t->dims[ax];
    }
    ox_tensor t;
    ROVE_TRY(tensor_alloc(
        &t, isint, isint ? v[0]->t.elem : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
        r, dims));
    int64_t outer = dims_numel(ax, dims), o = 0;
    for (int64_t a = 0; a < outer; a++)
      for (int k = 0; k < n; k++) {
        const ox_tensor *s = &v[k]->t;
        int64_t blk = dims_numel(r - ax, s->dims + ax);
        for (int64_t b = 0; b < blk; b++, o++) {
          if (isint)
            t.i[o] = s->i[a * blk + b];
          else
            t.f[o] = (float)tval(s, a * blk + b);
        }
      }
    return def_const(c, 0, &t);
  }
  if (nconst > 0)
    return NERR(c, ROVE_EUNSUPPORTED,
                "concatenates activations with constants");
  if (n > ROVE_MAX_IN)
    return NERR(c, ROVE_EUNSUPPORTED, "%d inputs (rove layers take up to %d)",
                n, ROVE_MAX_IN);
  int in[ROVE_MAX_IN], ax;
  for (int k = 0; k < n; k++) {
    ROVE_TRY(in_node(c, k, &v[k]));
    in[k] = v[k]->node;
  }
  ROVE_TRY(norm_axis(c, axis, v[0]->shape.rank + 1, &ax));
  if (ax == 0)
    return NERR(c, ROVE_EUNSUPPORTED, "concatenation along the batch axis");
  rove_attrs a;
  rove_attrs_default(&a);
  a.axis = ax - 1;
  return emit_out(c, ROVE_OP_CONCAT, in, n, &a, NULL);
}

static int op_constant(ox_ctx *c) {
  const Onnx__AttributeProto *a =
      c->node->n_attribute == 1 ? c->node->attribute[0] : NULL;
  ox_tensor t;
  if (!a || !a->name)
    return NERR(c, ROVE_EFORMAT, "expected exactly one named attribute");
  if (strcmp(a->name, "value") == 0 && a->t) {
    char where[160];
    snprintf(where, sizeof where, "node '%s' attribute 'value'",
             node_name(c->node));
    ROVE_TRY(tensor_from_proto(c->what, where, a->t, &t));
  } else if (strcmp(a->name, "value_float") == 0) {
    ROVE_TRY(
        tensor_alloc(&t, 0, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL));
    t.f[0] = a->f;
  } else if (strcmp(a->name, "value_int") == 0) {
    ROVE_TRY(
        tensor_alloc(&t, 1, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, NULL));
    t.i[0] = a->i;
  } else if (strcmp(a->name, "value_floats") == 0) {
    int64_t n = (int64_t)a->n_floats;
    ROVE_TRY(tensor_alloc(&t, 0, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, &n));
    for (int64_t k = 0; k < n; k++)
      t.f[k] = a->floats[k];
  } else if (strcmp(a->name, "value_ints") == 0) {
    int64_t n = (int64_t)a->n_ints;
    ROVE_TRY(tensor_alloc(&t, 1, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, &n));
    for (int64_t k = 0; k < n; k++)
      t.i[k] = a->ints[k];
  } else {
    return NERR(c, ROVE_EUNSUPPORTED, "attribute '%s' is not supported",
                a->name);
  }
  return def_const(c, 0, &t);
}

static int op_constant_of_shape(ox_ctx *c) {
  ox_tensor *s, val;
  ROVE_TRY(in_const(c, 0, 1, &s));
  if (!s->is_int || s->rank != 1 || s->n > OX_MAX_DIMS)
    return NERR(c, ROVE_EUNSUPPORTED, "the shape must be at most %d integers",
                OX_MAX_DIMS);
  int64_t n = 1;
  for (int64_t k = 0; k < s->n; k++) {
    if (s->i[k] < 0 || s->i[k] > INT32_MAX || s->i[k] == OX_BATCH)
      return NERR(c, ROVE_EUNSUPPORTED, "shape dimension %lld is %s",
                  (long long)k,
                  s->i[k] == OX_BATCH ? "the batch size" : "out of range");
    n *= s->i[k];
    if (n > INT32_MAX)
      return NERR(c, ROVE_ERANGE, "the shape is too large");
  }
  const Onnx__AttributeProto *a = attr(c, "value");
  if (a && a->t) {
    ROVE_TRY(tensor_from_proto(c->what, "ConstantOfShape value", a->t, &val));
    if (val.n != 1) {
      tensor_free(&val);
      return NERR(c, ROVE_EFORMAT, "'value' must hold one element");
    }
  } else {
    ROVE_TRY(
        tensor_alloc(&val, 0, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL));
    val.f[0] = 0;
  }
  ox_tensor t;
  int rc = tensor_alloc(&t, val.is_int, val.elem, (int)s->n, s->i);
  if (rc == 0)
    for (int64_t k = 0; k < t.n; k++) {
      if (t.is_int)
        t.i[k] = val.i[0];
      else
        t.f[k] = val.f[0];
    }
  tensor_free(&val);
  ROVE_TRY(rc);
  return def_const(c, 0, &t);
}

static int op_cast(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(in_required(c, 0, &x));
  int64_t to;
  ROVE_TRY(attr_int(c, "to", 0, &to));
  int to_float = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
                 to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
  if (x->kind != OX_CONST) {
    if (!to_float)
      return NERR(c, ROVE_EUNSUPPORTED,
                  "casts an activation to data type %lld (only float is "
                  "supported)",
                  (long long)to);
    return op_identity(c);
  }
  if (!to_float && !is_int_elem((int)to))
    return NERR(c, ROVE_EUNSUPPORTED, "cast to data type %lld", (long long)to);
  ox_tensor t;
  ROVE_TRY(tensor_copy(&t, &x->t));
  if (to_float) {
    int rc = tensor_to_float(c, &t);
    if (rc < 0) {
      tensor_free(&t);
      return rc;
    }
  } else if (!t.is_int) {
    ox_tensor u;
    int rc = tensor_alloc(&u, 1, (int)to, t.rank, t.dims);
    if (rc < 0) {
      tensor_free(&t);
      return rc;
    }
    for (int64_t k = 0; k < t.n; k++)
      u.i[k] = (int64_t)t.f[k]; /* ONNX Cast truncates toward zero */
    tensor_free(&t);
    t = u;
  }
  t.elem = (int)to;
  return def_const(c, 0, &t);
}

/* Slice on constants (shape subgraphs). */
static int op_slice(ox_ctx *c) {
  ox_value *x;
  ox_tensor *st, *en, *ax, *sp;
  ROVE_TRY(in_required(c, 0, &x));
  if (x->kind != OX_CONST)
    return NERR(c, ROVE_EUNSUPPORTED,
                "Slice on an activation is not supported (only on "
                "constants)");
  if (c->opset < 10)
    return NERR(c, ROVE_EUNSUPPORTED, "Slice before opset 10");
  ROVE_TRY(in_const(c, 1, 1, &st));
  ROVE_TRY(in_const(c, 2, 1, &en));
  ROVE_TRY(in_const(c, 3, 0, &ax));
  ROVE_TRY(in_const(c, 4, 0, &sp));
  const ox_tensor *d = &x->t;
  int64_t lo[OX_MAX_DIMS], step[OX_MAX_DIMS], cnt[OX_MAX_DIMS];
  for (int k = 0; k < d->rank; k++) {
    lo[k] = 0;
    step[k] = 1;
    cnt[k] = d->dims[k];
  }
  if (!st->is_int || !en->is_int || st->n != en->n ||
      (ax && (!ax->is_int || ax->n != st->n)) ||
      (sp && (!sp->is_int || sp->n != st->n)))
    return NERR(c, ROVE_EFORMAT,
                "starts, ends, axes and steps must be integer lists of the "
                "same length");
  for (int64_t k = 0; k < st->n; k++) {
    int a;
    ROVE_TRY(norm_axis(c, ax ? ax->i[k] : k, d->rank, &a));
    int64_t dim = d->dims[a], s = st->i[k], e = en->i[k], p = sp ? sp->i[k] : 1;
    if (p == 0)
      return NERR(c, ROVE_EINVAL, "step 0");
    if (s < 0)
      s += dim;
    if (e < 0)
      e += dim;
    if (p > 0) {
      s = s < 0 ? 0 : s > dim ? dim : s;
      e = e < 0 ? 0 : e > dim ? dim : e;
      cnt[a] = e > s ? (e - s + p - 1) / p : 0;
    } else {
      s = s < 0 ? -1 : s > dim - 1 ? dim - 1 : s;
      e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
      cnt[a] = s > e ? (s - e - p - 1) / -p : 0;
    }
    lo[a] = s;
    step[a] = p;
  }
  ox_tensor t;
  int64_t idx[OX_MAX_DIMS] = {0};
  ROVE_TRY(tensor_alloc(&t, d->is_int, d->elem, d->rank, cnt));
  for (int64_t o = 0; o < t.n; o++, idx_next(d->rank, cnt, idx)) {
    int64_t off = 0;
    for (int k = 0; k < d->rank; k++)
      off = off * d->dims[k] + lo[k] + idx[k] * step[k];
    if (t.is_int)
      t.i[o] = d->i[off];
    else
      t.f[o] = d->f[off];
  }
  return def_const(c, 0, &t);
}

static int op_transpose(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(in_required(c, 0, &x));
  if (x->kind != OX_CONST)
    return NERR(c, ROVE_EUNSUPPORTED,
                "Transpose on an activation is not supported (only on "
                "constants such as weights)");
  const ox_tensor *d = &x->t;
  int64_t perm[OX_MAX_DIMS], dims[OX_MAX_DIMS], idx[OX_MAX_DIMS] = {0};
  int n;
  ROVE_TRY(attr_ints(c, "perm", perm, OX_MAX_DIMS, &n));
  if (n == -1)
    for (int k = 0; k < d->rank; k++)
      perm[k] = d->rank - 1 - k;
  else if (n != d->rank)
    return NERR(c, ROVE_EFORMAT, "perm has %d entries for rank %d", n, d->rank);
  unsigned seen = 0;
  for (int k = 0; k < d->rank; k++) {
    if (perm[k] < 0 || perm[k] >= d->rank || (seen >> perm[k] & 1))
      return NERR(c, ROVE_EFORMAT, "perm is not a permutation");
    seen |= 1u << perm[k];
    dims[k] = d->dims[perm[k]];
  }
  int64_t stride[OX_MAX_DIMS];
  for (int k = d->rank - 1, s = 1; k >= 0; k--) {
    stride[k] = s;
    s *= (int)d->dims[k];
  }
  ox_tensor t;
  ROVE_TRY(tensor_alloc(&t, d->is_int, d->elem, d->rank, dims));
  for (int64_t o = 0; o < t.n; o++, idx_next(d->rank, dims, idx)) {
    int64_t off = 0;
    for (int k = 0; k < d->rank; k++)
      off += idx[k] * stride[perm[k]];
    if (t.is_int)
      t.i[o] = d->i[off];
    else
      t.f[o] = d->f[off];
  }
  return def_const(c, 0, &t);
}

/* Range of the integer type of a zero point. */
static int qrange(ox_ctx *c, int elem, int *qmin, int *qmax) {
  *qmin = 0;
  *qmax = 255;
  if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__UINT8) {
    *qmin = 0;
    *qmax = 255;
  } else if (elem == ONNX__TENSOR_PROTO__DATA_TYPE__INT8) {
    *qmin = -128;
    *qmax = 127;
  } else {
    return NERR(c, ROVE_EUNSUPPORTED,
                "zero point of ONNX data type %d (expected uint8 or int8)",
                elem);
  }
  return 0;
}

/* Scale/zero point of Q or DQ. Per-axis when the scale has more than one
 * value; the zero point defaults to uint8 0. */
static int q_params(ox_ctx *c, int rank, ox_tensor **s, ox_tensor **z,
                    int *axis) {
  ROVE_TRY(in_const(c, 1, 1, s));
  ROVE_TRY(in_const(c, 2, 0, z));
  if ((*s)->n < 1 || (*s)->rank > 1)
    return NERR(c, ROVE_EUNSUPPORTED,
                "scale must be a scalar or a 1-D tensor (has rank %d)",
                (*s)->rank);
  if (*z && (*z)->n != (*s)->n)
    return NERR(c, ROVE_ESHAPE, "zero point has %lld values, scale %lld",
                (long long)(*z)->n, (long long)(*s)->n);
  if (*z && !(*z)->is_int)
    return NERR(c, ROVE_EFORMAT, "zero point is not an integer tensor");
  for (int64_t k = 0; k < (*s)->n; k++)
    if (!(tval(*s, k) > 0))
      return NERR(c, ROVE_EINVAL, "scale %lld is %g (expected > 0)",
                  (long long)k, tval(*s, k));
  int64_t ax;
  ROVE_TRY(attr_int(c, "axis", 1, &ax));
  *axis = -1;
  if ((*s)->n > 1 || (*s)->rank == 1) {
    ROVE_TRY(norm_axis(c, ax, rank, axis));
  }
  return 0;
}

/* Channel of flat element k of tensor t for quantization axis ax. */
static int64_t q_chan(const ox_tensor *t, int ax, int64_t k) {
  if (ax < 0)
    return 0;
  int64_t inner = dims_numel(t->rank - ax - 1, t->dims + ax + 1);
  return (k / inner) % t->dims[ax];
}

static int op_quantize(ox_ctx *c) {
  ox_value *x;
  ox_tensor *s, *z;
  ROVE_TRY(in_required(c, 0, &x));
  int rank = x->kind == OX_CONST ? x->t.rank : x->shape.rank + 1;
  int ax, qmin, qmax;
  ROVE_TRY(q_params(c, rank, &s, &z, &ax));
  int elem = z ? z->elem : ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
  ROVE_TRY(qrange(c, elem, &qmin, &qmax));
  if (ax >= 0 &&
      (x->kind == OX_CONST ? x->t.dims[ax]
                           : (ax == 0 ? -1 : x->shape.d[ax - 1])) != s->n)
    return NERR(c, ROVE_ESHAPE,
                "per-axis scale has %lld values, axis %d has a different "
                "size",
                (long long)s->n, ax);
  if (x->kind == OX_CONST) {
    /* A quantized constant (weights): evaluate it exactly as ONNX does,
     * saturate(rint(x / scale) + zero_point), in float32. */
    ox_tensor t;
    ROVE_TRY(tensor_alloc(&t, 1, elem, x->t.rank, x->t.dims));
    for (int64_t k = 0; k < t.n; k++) {
      int64_t ch = q_chan(&x->t, ax, k);
      float q = rintf((float)tval(&x->t, k) / (float)tval(s, ch));
      double v = (double)q + (z ? (double)z->i[ch] : 0.0);
      t.i[k] = v < qmin ? qmin : v > qmax ? qmax : (int64_t)v;
    }
    return def_const(c, 0, &t);
  }
  ROVE_TRY(in_node(c, 0, &x));
  ox_value *v;
  int node = x->node;
  rove_shape sh = x->shape;
  if (c->node->n_output < 1 || !c->node->output[0][0])
    return 0;
  /* new_value may move the value array, and x, s and z point into it:
   * copy the scale and zero point first, use none of them after it. */
  ox_tensor qs, qz;
  int64_t n1 = 1;
  ROVE_TRY(tensor_copy(&qs, s));
  int rc = z ? tensor_copy(&qz, z)
             : tensor_alloc(&qz, 1, ONNX__TENSOR_PROTO__DATA_TYPE__UINT8,
                            s->rank, s->rank ? &n1 : NULL);
  if (rc == 0 && !z)
    qz.i[0] = 0;
  if (rc == 0)
    rc = new_value(c, c->node->output[0], &v);
  if (rc < 0) {
    tensor_free(&qs);
    tensor_free(&qz);
    ROVE_TRY(rc);
  }
  v->kind = OX_QPEND;
  v->node = node;
  v->shape = sh;
  v->qaxis = ax;
  v->qs = qs;
  v->qz = qz;
  return 0;
}

static int op_dequantize(ox_ctx *c) {
  ox_value *x;
  ox_tensor *s, *z;
  ROVE_TRY(in_required(c, 0, &x));
  int rank = x->kind == OX_CONST ? x->t.rank : x->shape.rank + 1;
  int ax;
  ROVE_TRY(q_params(c, rank, &s, &z, &ax));
  if (x->kind == OX_CONST) {
    if (!x->t.is_int)
      return NERR(c, ROVE_EFORMAT, "input is not an integer tensor");
    if (ax >= 0 && x->t.dims[ax] != s->n)
      return NERR(c, ROVE_ESHAPE,
                  "per-axis scale has %lld values, axis %d has %lld",
                  (long long)s->n, ax, (long long)x->t.dims[ax]);
    ox_tensor t;
    ROVE_TRY(tensor_alloc(&t, 0, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
                          x->t.rank, x->t.dims));
    for (int64_t k = 0; k < t.n; k++) {
      int64_t ch = q_chan(&x->t, ax, k);
      t.f[k] = (float)(x->t.i[k] - (z ? z->i[ch] : 0)) * (float)tval(s, ch);
    }
    return def_const(c, 0, &t);
  }
  if (x->kind != OX_QPEND)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input '%s' is not the output of a QuantizeLinear", x->name);
  /* Q -> DQ on an activation: one fakequant node. The pair must use the
   * same scale and zero point, which is what fake quantization exports. */
  if (x->qs.n != s->n || x->qaxis != ax)
    return NERR(c, ROVE_EUNSUPPORTED,
                "scale or axis differ from the QuantizeLinear's");
  for (int64_t k = 0; k < s->n; k++)
    if ((float)tval(s, k) != (float)tval(&x->qs, k) ||
        (z ? z->i[k] : 0) != x->qz.i[x->qz.n > 1 ? k : 0])
      return NERR(c, ROVE_EUNSUPPORTED,
                  "scale or zero point differ from the QuantizeLinear's");
  rove_attrs a;
  rove_attrs_default(&a);
  ROVE_TRY(qrange(c, x->qz.elem, &a.qmin, &a.qmax));
  if (ax >= 0 && s->n > 1) {
    if (ax != 1)
      return NERR(c, ROVE_EUNSUPPORTED,
                  "per-axis quantization along axis %d (rove supports the "
                  "channel axis 1)",
                  ax);
    a.per_channel = 1;
  }
  int id;
  ROVE_TRY(emit(c, ROVE_OP_FAKEQUANT, &x->node, 1, &a, &id));
  int nc = a.per_channel ? x->shape.d[0] : 1;
  if (c->m->nodes[id].n_params != (size_t)(2 * nc))
    return NERR(c, ROVE_ESTATE,
                "fakequant layer holds %zu parameters, "
                "expected %d",
                c->m->nodes[id].n_params, 2 * nc);
  float *p = rove_model_node_params(c->m, id);
  for (int k = 0; k < nc; k++) {
    p[k] = (float)tval(s, k);
    p[nc + k] = (float)x->qz.i[x->qz.n > 1 ? k : 0];
  }
  return def_node(c, 0, id, &c->m->nodes[id].out);
}

/* ---- the graph -------------------------------------------------------- */

typedef struct ox_op {
  const char *name;
  int (*fn)(ox_ctx *c);
} ox_op;

static const ox_op ox_ops[] = {
    {"Add", op_add},
    {"AveragePool", op_avgpool},
    {"BatchNormalization", op_batchnorm},
    {"Cast", op_cast},
    {"Clip", op_clip},
    {"Concat", op_concat},
    {"Constant", op_constant},
    {"ConstantOfShape", op_constant_of_shape},
    {"Conv", op_conv},
    {"DequantizeLinear", op_dequantize},
    {"Div", op_div},
    {"Dropout", op_identity},
    {"Flatten", op_flatten},
    {"Floor", op_floor},
    {"Gather", op_gather},
    {"Gemm", op_gemm},
    {"GlobalAveragePool", op_gap},
    {"Identity", op_identity},
    {"LeakyRelu", op_leakyrelu},
    {"MatMul", op_matmul},
    {"MaxPool", op_maxpool},
    {"Mul", op_mul},
    {"Neg", op_neg},
    {"Pad", op_pad},
    {"QuantizeLinear", op_quantize},
    {"Reciprocal", op_reciprocal},
    {"Relu", op_relu},
    {"Reshape", op_reshape},
    {"Round", op_round},
    {"Shape", op_shape},
    {"Sigmoid", op_sigmoid},
    {"Slice", op_slice},
    {"Softmax", op_softmax},
    {"Squeeze", op_squeeze},
    {"Sub", op_sub},
    {"Tanh", op_tanh},
    {"Transpose", op_transpose},
    {"Unsqueeze", op_unsqueeze},
};

static int import_node(ox_ctx *c) {
  const Onnx__NodeProto *n = c->node;
  if (!n->op_type)
    return NERR(c, ROVE_EFORMAT, "node has no op type");
  if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0)
    return NERR(c, ROVE_EUNSUPPORTED,
                "unsupported operator (custom domain '%s')", n->domain);
  for (size_t k = 0; k < sizeof ox_ops / sizeof ox_ops[0]; k++)
    if (strcmp(ox_ops[k].name, n->op_type) == 0)
      return ox_ops[k].fn(c);
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
    ox_value *known = find_value(c, v->name);
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
  ROVE_TRY(new_value(c, in->name, &v));
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
    ROVE_TRY(new_value(c, p->name, &v));
    v->kind = OX_CONST;
    int rc = tensor_from_proto(c->what, where, p, &v->t);
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
  ox_value *o = find_value(c, oname);
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
    char msg[512];
    snprintf(msg, sizeof msg, "%s", rove_error_message());
    return ROVE_ERR(rc, "%s: graph output '%s': %s", c->what, oname, msg);
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
    tensor_free(&c.vals[k].t);
    tensor_free(&c.vals[k].qs);
    tensor_free(&c.vals[k].qz);
  }
  free(c.vals);
  free(c.fused_into);
  free(c.fused_sh);
  onnx__model_proto__free_unpacked(mp, NULL);
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
