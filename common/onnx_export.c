/* onnx_export.c - writes rove models as ONNX (protobuf-c) that the importer
 * reads back to bit-identical logits. */
#include "common/onnx_export.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "gen/onnx.pb-c.h"

#define OPSET 13
#define FLOAT_T ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define INT8_T ONNX__TENSOR_PROTO__DATA_TYPE__INT8
#define UINT8_T ONNX__TENSOR_PROTO__DATA_TYPE__UINT8
#define INT64_T ONNX__TENSOR_PROTO__DATA_TYPE__INT64
#define INT32_T ONNX__TENSOR_PROTO__DATA_TYPE__INT32

/* Every allocation of one export is recorded here and freed at the end,
 * so the protobuf tree needs no per-message ownership rules. */
typedef struct xp {
  void **ptrs;
  size_t n, cap;
  int oom;
  Onnx__GraphProto *g;
  size_t cap_node, cap_init;
  int ms; /* a com.microsoft operator was emitted */
} xp;

static void *xp_alloc(xp *x, size_t size) {
  if (x->oom)
    return NULL;
  if (x->n == x->cap) {
    size_t nc = x->cap ? 2 * x->cap : 256;
    void **q = realloc(x->ptrs, nc * sizeof *q);
    if (!q) {
      x->oom = 1;
      return NULL;
    }
    x->ptrs = q;
    x->cap = nc;
  }
  void *p = calloc(1, size ? size : 1);
  if (!p) {
    x->oom = 1;
    return NULL;
  }
  x->ptrs[x->n++] = p;
  return p;
}

static char *xp_str(xp *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *xp_str(xp *x, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  char *s = xp_alloc(x, strlen(tmp) + 1);
  if (s)
    memcpy(s, tmp, strlen(tmp) + 1);
  return s;
}

static void xp_free(xp *x) {
  for (size_t i = 0; i < x->n; i++)
    free(x->ptrs[i]);
  free(x->ptrs);
  memset(x, 0, sizeof *x);
}

/* Appends p to a growing pointer array (*arr, *n, *cap). */
static void push(xp *x, void ***arr, size_t *n, size_t *cap, void *p) {
  if (!p || x->oom)
    return;
  if (*n == *cap) {
    size_t nc = *cap ? 2 * *cap : 32;
    void **q = xp_alloc(x, nc * sizeof *q);
    if (!q)
      return;
    if (*n)
      memcpy(q, *arr, *n * sizeof *q);
    *arr = q;
    *cap = nc;
  }
  (*arr)[(*n)++] = p;
}

/* ---- initializers ---------------------------------------------------- */

static Onnx__TensorProto *tensor(xp *x, const char *name, int type,
                                 const int64_t *dims, int rank, size_t bytes) {
  Onnx__TensorProto *t = xp_alloc(x, sizeof *t);
  if (!t)
    return NULL;
  onnx__tensor_proto__init(t);
  t->name = xp_str(x, "%s", name);
  t->has_data_type = 1;
  t->data_type = type;
  t->n_dims = (size_t)rank;
  t->dims = xp_alloc(x, sizeof(int64_t) * (size_t)(rank + 1));
  if (t->dims)
    for (int k = 0; k < rank; k++)
      t->dims[k] = dims[k];
  t->has_raw_data = 1;
  t->raw_data.len = bytes;
  t->raw_data.data = xp_alloc(x, bytes);
  push(x, (void ***)&x->g->initializer, &x->g->n_initializer, &x->cap_init, t);
  return t->raw_data.data ? t : NULL;
}

/* Float32 values, little-endian raw data. */
static void init_f(xp *x, const char *name, const int64_t *dims, int rank,
                   const float *v, size_t n) {
  Onnx__TensorProto *t = tensor(x, name, FLOAT_T, dims, rank, 4 * n);
  if (!t)
    return;
  for (size_t i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &v[i], 4);
    for (int b = 0; b < 4; b++)
      t->raw_data.data[4 * i + (size_t)b] = (uint8_t)(u >> (8 * b));
  }
}

static void init_i64(xp *x, const char *name, const int64_t *dims, int rank,
                     const int64_t *v, size_t n) {
  Onnx__TensorProto *t = tensor(x, name, INT64_T, dims, rank, 8 * n);
  if (!t)
    return;
  for (size_t i = 0; i < n; i++)
    for (int b = 0; b < 8; b++)
      t->raw_data.data[8 * i + (size_t)b] =
          (uint8_t)((uint64_t)v[i] >> (8 * b));
}

/* int8 or uint8 values (given as ints already in range). */
static void init_8(xp *x, const char *name, int type, const int64_t *dims,
                   int rank, const int *v, size_t n) {
  Onnx__TensorProto *t = tensor(x, name, type, dims, rank, n);
  if (!t)
    return;
  for (size_t i = 0; i < n; i++)
    t->raw_data.data[i] = (uint8_t)(v[i] & 0xff);
}

static void init_i32(xp *x, const char *name, const int64_t *dims, int rank,
                     const int64_t *v, size_t n) {
  Onnx__TensorProto *t = tensor(x, name, INT32_T, dims, rank, 4 * n);
  if (!t)
    return;
  for (size_t i = 0; i < n; i++)
    for (int b = 0; b < 4; b++)
      t->raw_data.data[4 * i + (size_t)b] =
          (uint8_t)((uint32_t)v[i] >> (8 * b));
}

/* ---- nodes ------------------------------------------------------------ */

static Onnx__NodeProto *node(xp *x, const char *op, const char *name,
                             const char *const *in, int n_in, const char *out) {
  Onnx__NodeProto *n = xp_alloc(x, sizeof *n);
  if (!n)
    return NULL;
  onnx__node_proto__init(n);
  n->op_type = xp_str(x, "%s", op);
  n->name = xp_str(x, "%s", name);
  n->n_input = (size_t)n_in;
  n->input = xp_alloc(x, sizeof(char *) * (size_t)(n_in + 1));
  for (int k = 0; n->input && k < n_in; k++)
    n->input[k] = xp_str(x, "%s", in[k]);
  n->n_output = 1;
  n->output = xp_alloc(x, sizeof(char *));
  if (n->output)
    n->output[0] = xp_str(x, "%s", out);
  size_t cap = x->cap_node;
  push(x, (void ***)&x->g->node, &x->g->n_node, &cap, n);
  x->cap_node = cap;
  return n;
}

static Onnx__AttributeProto *attr(xp *x, Onnx__NodeProto *n, const char *name,
                                  int type) {
  if (!n)
    return NULL;
  Onnx__AttributeProto *a = xp_alloc(x, sizeof *a);
  if (!a)
    return NULL;
  onnx__attribute_proto__init(a);
  a->name = xp_str(x, "%s", name);
  a->has_type = 1;
  a->type = type;
  Onnx__AttributeProto **arr = xp_alloc(x, sizeof *arr * (n->n_attribute + 1));
  if (!arr)
    return NULL;
  if (n->n_attribute)
    memcpy(arr, n->attribute, sizeof *arr * n->n_attribute);
  arr[n->n_attribute++] = a;
  n->attribute = arr;
  return a;
}

static void attr_i(xp *x, Onnx__NodeProto *n, const char *name, int64_t v) {
  Onnx__AttributeProto *a =
      attr(x, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
  if (a) {
    a->has_i = 1;
    a->i = v;
  }
}

static void attr_f(xp *x, Onnx__NodeProto *n, const char *name, float v) {
  Onnx__AttributeProto *a =
      attr(x, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  if (a) {
    a->has_f = 1;
    a->f = v;
  }
}

static void attr_is(xp *x, Onnx__NodeProto *n, const char *name,
                    const int64_t *v, int cnt) {
  Onnx__AttributeProto *a =
      attr(x, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
  if (!a)
    return;
  a->ints = xp_alloc(x, sizeof *a->ints * (size_t)cnt);
  if (!a->ints)
    return;
  a->n_ints = (size_t)cnt;
  memcpy(a->ints, v, sizeof *v * (size_t)cnt);
}

static Onnx__ValueInfoProto *value_info(xp *x, const char *name,
                                        const rove_shape *s) {
  Onnx__ValueInfoProto *v = xp_alloc(x, sizeof *v);
  Onnx__TypeProto *tp = xp_alloc(x, sizeof *tp);
  Onnx__TypeProto__Tensor *tt = xp_alloc(x, sizeof *tt);
  Onnx__TensorShapeProto *sp = xp_alloc(x, sizeof *sp);
  Onnx__TensorShapeProto__Dimension **dims =
      xp_alloc(x, sizeof *dims * (size_t)(s->rank + 1));
  if (!v || !tp || !tt || !sp || !dims)
    return NULL;
  onnx__value_info_proto__init(v);
  onnx__type_proto__init(tp);
  onnx__type_proto__tensor__init(tt);
  onnx__tensor_shape_proto__init(sp);
  for (int k = 0; k <= s->rank; k++) {
    dims[k] = xp_alloc(x, sizeof **dims);
    if (!dims[k])
      return NULL;
    onnx__tensor_shape_proto__dimension__init(dims[k]);
    if (k == 0) {
      dims[k]->value_case =
          ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      dims[k]->dim_param = xp_str(x, "N");
    } else {
      dims[k]->value_case =
          ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dims[k]->dim_value = s->d[k - 1];
    }
  }
  sp->n_dim = (size_t)s->rank + 1;
  sp->dim = dims;
  tt->has_elem_type = 1;
  tt->elem_type = FLOAT_T;
  tt->shape = sp;
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  v->name = xp_str(x, "%s", name);
  v->type = tp;
  return v;
}

/* ---- weights ---------------------------------------------------------- */

/* Looks for one scale per output channel such that every weight of the
 * channel is exactly (float)q * s with an integer |q| <= Q; fills s[] and
 * q[] and returns 1, or returns 0. The search starts from max|w| / Q (the
 * scale QAT uses) and its float neighbours; the check is exact, so a
 * found scale always reproduces the weights bit for bit. */
static int find_qweights(const float *w, size_t K, size_t per, int Q, float *s,
                         int *q) {
  for (size_t k = 0; k < K; k++) {
    const float *wk = w + k * per;
    float a = 0;
    for (size_t j = 0; j < per; j++)
      a = fabsf(wk[j]) > a ? fabsf(wk[j]) : a;
    if (!(a > 0) || !isfinite(a))
      return 0;
    float c = a / (float)Q, lo = c, hi = c;
    int found = 0;
    for (int tries = 0; tries < 5 && !found; tries++) {
      float cand[2] = {lo, hi};
      for (int ci = 0; ci < (tries ? 2 : 1) && !found; ci++) {
        float sc = cand[ci];
        int ok = sc > 0;
        for (size_t j = 0; ok && j < per; j++) {
          float r = rintf(wk[j] / sc);
          ok = fabsf(r) <= (float)Q && r * sc == wk[j] &&
               signbit(r * sc) == signbit(wk[j]);
          q[k * per + j] = (int)r;
        }
        if (ok) {
          s[k] = sc;
          found = 1;
        }
      }
      lo = nextafterf(lo, 0.0f);
      hi = nextafterf(hi, INFINITY);
    }
    if (!found)
      return 0;
  }
  return 1;
}

/* Emits the weight tensor `wname` of a conv/linear node: int8 + DQ when
 * the weights are exactly per-channel quantized, float32 otherwise. */
static void emit_weight(xp *x, const char *wname, const float *w,
                        const int64_t *dims, int rank) {
  size_t K = (size_t)dims[0], n = 1;
  for (int k = 0; k < rank; k++)
    n *= (size_t)dims[k];
  size_t per = n / K;
  float *s = malloc(sizeof *s * K);
  int *q = malloc(sizeof *q * n);
  static const int levels[3] = {1, 7, 127};
  int found = 0;
  for (int li = 0; s && q && li < 3 && !found; li++)
    found = find_qweights(w, K, per, levels[li], s, q);
  if (!found) {
    init_f(x, wname, dims, rank, w, n);
  } else {
    char qn[200], sn[200], dn[200];
    snprintf(qn, sizeof qn, "%s_quantized", wname);
    snprintf(sn, sizeof sn, "%s_scale", wname);
    snprintf(dn, sizeof dn, "%s_dequantize", wname);
    int64_t kd = (int64_t)K;
    init_8(x, qn, INT8_T, dims, rank, q, n);
    init_f(x, sn, &kd, 1, s, K);
    const char *in[2] = {qn, sn};
    Onnx__NodeProto *d = node(x, "DequantizeLinear", dn, in, 2, wname);
    attr_i(x, d, "axis", 0);
  }
  free(s);
  free(q);
}

/* ---- layers ----------------------------------------------------------- */

static void spatial(xp *x, Onnx__NodeProto *n, const rove_attrs *a) {
  int64_t k[2] = {a->kh, a->kw}, s[2] = {a->sh, a->sw};
  int64_t p[4] = {a->pt, a->pl, a->pb, a->pr};
  attr_is(x, n, "kernel_shape", k, 2);
  attr_is(x, n, "strides", s, 2);
  attr_is(x, n, "pads", p, 4);
}

/* Shape of a per-channel constant against an activation of per-example
 * rank r: {C, 1, ...}. */
static int chan_dims(const rove_shape *s, int64_t *d) {
  d[0] = s->d[0];
  for (int k = 1; k < s->rank; k++)
    d[k] = 1;
  return s->rank;
}

static int int_in(float v, int lo, int hi) {
  return v == floorf(v) && v >= (float)lo && v <= (float)hi;
}

/* fakequant: see the header for the three forms. */
static int emit_fakequant(xp *x, const rove_node *n, const float *p,
                          const char *in, const char *out) {
  const rove_attrs *a = &n->a;
  int nc = a->per_channel ? n->ins[0].d[0] : 1;
  int u8 = 1, i8 = 1;
  for (int c = 0; c < nc; c++) {
    u8 &= int_in(p[nc + c], 0, 255);
    i8 &= int_in(p[nc + c], -128, 127);
  }
  int full = (u8 && a->qmin == 0 && a->qmax == 255) ||
             (i8 && a->qmin == -128 && a->qmax == 127);
  u8 &= a->qmin >= 0 && a->qmax <= 255;
  i8 &= a->qmin >= -128 && a->qmax <= 127;
  int type = u8 ? UINT8_T : INT8_T;
  char t1[200], t2[200], t3[200], t4[200], sn[200], zn[200];
  snprintf(sn, sizeof sn, "%s_scale", n->name);
  snprintf(zn, sizeof zn, "%s_zero_point", n->name);
  if (full || (!a->per_channel && (u8 || i8))) {
    const char *qin = in;
    if (!full) {
      /* Clip to the representable range first: (qmin - zp) * s and
       * (qmax - zp) * s divide back to exactly qmin - zp and qmax - zp
       * (the error is far below one half), so Q/DQ then gives exactly the
       * narrow quantizer's numbers. */
      float s = p[0], zp = p[1];
      float lo = ((float)a->qmin - zp) * s, hi = ((float)a->qmax - zp) * s;
      char ln[200], hn[200];
      snprintf(ln, sizeof ln, "%s_clip_min", n->name);
      snprintf(hn, sizeof hn, "%s_clip_max", n->name);
      init_f(x, ln, NULL, 0, &lo, 1);
      init_f(x, hn, NULL, 0, &hi, 1);
      snprintf(t1, sizeof t1, "%s_clipped", n->name);
      snprintf(t2, sizeof t2, "%s_clip", n->name);
      const char *ci[3] = {in, ln, hn};
      node(x, "Clip", t2, ci, 3, t1);
      qin = t1;
    }
    int64_t d = nc;
    int *zp = malloc(sizeof *zp * (size_t)nc);
    if (!zp)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
    for (int c = 0; c < nc; c++)
      zp[c] = (int)p[nc + c];
    init_f(x, sn, &d, a->per_channel ? 1 : 0, p, (size_t)nc);
    init_8(x, zn, type, &d, a->per_channel ? 1 : 0, zp, (size_t)nc);
    free(zp);
    snprintf(t3, sizeof t3, "%s_quantized", n->name);
    snprintf(t4, sizeof t4, "%s_quantize", n->name);
    const char *qi[3] = {qin, sn, zn};
    Onnx__NodeProto *qn = node(x, "QuantizeLinear", t4, qi, 3, t3);
    const char *di[3] = {t3, sn, zn};
    Onnx__NodeProto *dn = node(x, "DequantizeLinear", n->name, di, 3, out);
    if (a->per_channel) {
      attr_i(x, qn, "axis", 1);
      attr_i(x, dn, "axis", 1);
    }
    return 0;
  }
  /* The general form, operation for operation what the layer computes:
   * (clamp(rint(x / s) + zp, qmin, qmax) - zp) * s. */
  int64_t cd[ROVE_MAX_RANK] = {0};
  int cr = a->per_channel ? chan_dims(&n->ins[0], cd) : 0;
  float qlo = (float)a->qmin, qhi = (float)a->qmax;
  char ln[200], hn[200];
  snprintf(ln, sizeof ln, "%s_qmin", n->name);
  snprintf(hn, sizeof hn, "%s_qmax", n->name);
  init_f(x, sn, cd, cr, p, (size_t)nc);
  init_f(x, zn, cd, cr, p + nc, (size_t)nc);
  init_f(x, ln, NULL, 0, &qlo, 1);
  init_f(x, hn, NULL, 0, &qhi, 1);
  const char *steps[6] = {"Div", "Round", "Add", "Clip", "Sub", "Mul"};
  char names[6][200], outs[6][200];
  for (int k = 0; k < 6; k++) {
    snprintf(names[k], sizeof names[k], "%s_%s", n->name, steps[k]);
    snprintf(outs[k], sizeof outs[k], "%s_step%d", n->name, k);
  }
  snprintf(outs[5], sizeof outs[5], "%s", out);
  const char *i0[2] = {in, sn}, *i1[1] = {outs[0]}, *i2[2] = {outs[1], zn},
             *i3[3] = {outs[2], ln, hn}, *i4[2] = {outs[3], zn},
             *i5[2] = {outs[4], sn};
  node(x, "Div", names[0], i0, 2, outs[0]);
  node(x, "Round", names[1], i1, 1, outs[1]);
  node(x, "Add", names[2], i2, 2, outs[2]);
  node(x, "Clip", names[3], i3, 3, outs[3]);
  node(x, "Sub", names[4], i4, 2, outs[4]);
  node(x, "Mul", names[5], i5, 2, outs[5]);
  return 0;
}

static int emit_binary(xp *x, const rove_node *n, const float *p,
                       char *const *ins, const char *out) {
  static const char *ops[4] = {"Add", "Sub", "Mul", "Div"};
  const char *op = ops[n->op - ROVE_OP_ADD];
  if (n->a.cmode == 0) {
    const char *in[2] = {ins[0], ins[1]};
    node(x, op, n->name, in, 2, out);
    return 0;
  }
  char cn[200];
  snprintf(cn, sizeof cn, "%s_constant", n->name);
  int64_t d[ROVE_MAX_RANK] = {0};
  int r = 0;
  size_t cnt = 1;
  if (n->a.cmode == 2) {
    r = chan_dims(&n->ins[0], d);
    cnt = (size_t)n->ins[0].d[0];
  } else if (n->a.cmode == 3) {
    r = n->ins[0].rank;
    for (int k = 0; k < r; k++)
      d[k] = n->ins[0].d[k];
    cnt = (size_t)rove_shape_numel(&n->ins[0]);
  }
  init_f(x, cn, d, r, p, cnt);
  const char *in[2] = {ins[0], cn};
  if (n->a.const_first) {
    in[0] = cn;
    in[1] = ins[0];
  }
  node(x, op, n->name, in, 2, out);
  return 0;
}

/* ---- the integer operators (common/layers/qlinear.c) ----------------- */

/* ONNX type of a q-domain tensor of range [lo, hi]: the range must be the
 * whole of uint8 or int8 (what the runtime saturates to). */
static int qtype(const rove_node *n, int lo, int hi, int *type) {
  *type = UINT8_T;
  if (lo == 0 && hi == 255)
    *type = UINT8_T;
  else if (lo == -128 && hi == 127)
    *type = INT8_T;
  else
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "node '%s': integer range [%d, %d] is neither uint8 nor "
                    "int8, which ONNX's integer operators need",
                    n->name, lo, hi);
  return 0;
}

/* The ONNX type of the integers node `id` produces (through the shape
 * operators that pass them on). */
static int qtype_of(const rove_model *m, int id, int *type) {
  *type = UINT8_T;
  while (id >= 0) {
    const rove_node *n = &m->nodes[id];
    switch (n->op) {
    case ROVE_OP_QUANTIZE:
    case ROVE_OP_QCONV:
    case ROVE_OP_QADD:
    case ROVE_OP_QAVGPOOL: return qtype(n, n->a.qmin, n->a.qmax, type);
    case ROVE_OP_MAXPOOL:
    case ROVE_OP_RESHAPE: id = n->in[0]; continue;
    default: break;
    }
    break;
  }
  return ROVE_ERR(ROVE_EUNSUPPORTED,
                  "an integer operator's input is not produced by an integer "
                  "operator or a quantize node");
}

/* A scalar scale and a scalar zero point of the given type (which it must
 * fit). */
static int q_pair(xp *x, const char *base, const char *what, float s, int zp,
                  int type, char *sn, char *zn) {
  if (type == UINT8_T ? zp < 0 || zp > 255 : zp < -128 || zp > 127)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "node '%s': %s zero point %d does not fit the tensor's "
                    "%s type, so it has no ONNX export",
                    base, what, zp, type == UINT8_T ? "uint8" : "int8");
  snprintf(sn, 200, "%s_%s_scale", base, what);
  snprintf(zn, 200, "%s_%s_zero_point", base, what);
  init_f(x, sn, NULL, 0, &s, 1);
  init_8(x, zn, type, NULL, 0, &zp, 1);
  return 0;
}

static int emit_quantize(xp *x, const rove_model *m, const rove_node *n,
                         const float *p, const char *in, const char *out) {
  int type;
  char sn[200], zn[200];
  if (n->op == ROVE_OP_QUANTIZE) {
    ROVE_TRY(qtype(n, n->a.qmin, n->a.qmax, &type));
  } else {
    ROVE_TRY(qtype_of(m, n->in[0], &type));
  }
  ROVE_TRY(q_pair(x, n->name, "q", p[0], (int)lrintf(p[1]), type, sn, zn));
  const char *qi[3] = {in, sn, zn};
  node(x, n->op == ROVE_OP_QUANTIZE ? "QuantizeLinear" : "DequantizeLinear",
       n->name, qi, 3, out);
  return 0;
}

/* qconv as QLinearConv / QLinearMatMul, convint as ConvInteger /
 * MatMulInteger followed by a Cast to float. */
static int emit_qconv(xp *x, const rove_model *m, const rove_node *n,
                      const float *p, const char *in, const char *out) {
  const rove_attrs *a = &n->a;
  int vec = n->ins[0].rank == 1, K = a->out, nc = a->per_channel ? K : 1;
  int Cg = n->ins[0].d[0] / a->groups;
  size_t nw = (size_t)K * (size_t)Cg * (size_t)a->kh * (size_t)a->kw;
  int xtype, ytype = 0, requant = n->op == ROVE_OP_QCONV;
  ROVE_TRY(qtype_of(m, n->in[0], &xtype));
  if (requant)
    ROVE_TRY(qtype(n, a->qmin, a->qmax, &ytype));
  if (vec && a->has_bias)
    return ROVE_ERR(
        ROVE_EUNSUPPORTED,
        "node '%s': a matrix product with an int32 bias has no ONNX "
        "export (QLinearMatMul takes no bias)",
        n->name);
  /* The weight and its zero points as int8 when they fit, else uint8. */
  int fits8 = 1;
  for (size_t k = 0; k < nw + (size_t)nc; k++) {
    float v = p[4 + k];
    fits8 &= v >= -128 && v <= 127;
  }
  int wtype = fits8 ? INT8_T : UINT8_T;
  int *wv = malloc(sizeof *wv * (nw + (size_t)nc + 1));
  int64_t *bv = malloc(sizeof *bv * ((size_t)K + 1));
  if (!wv || !bv) {
    free(wv);
    free(bv);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  size_t fin = nw / (size_t)K;
  for (size_t k = 0; k < nw; k++) {
    /* MatMul weights are [in][out]. */
    size_t src = vec ? (k % (size_t)K) * fin + k / (size_t)K : k;
    wv[k] = (int)lrintf(p[4 + src]);
  }
  for (int k = 0; k < nc; k++)
    wv[nw + (size_t)k] = (int)lrintf(p[4 + nw + (size_t)k]);
  char wn[200], wzn[200], wsn[200], xs[200], xz[200], ys[200], yz[200], bn[200];
  snprintf(wn, sizeof wn, "%s_weight", n->name);
  snprintf(wzn, sizeof wzn, "%s_weight_zero_point", n->name);
  snprintf(wsn, sizeof wsn, "%s_weight_scale", n->name);
  int64_t wd[4] = {K, Cg, a->kh, a->kw}, vd[2] = {(int64_t)fin, K}, cd = nc;
  init_8(x, wn, wtype, vec ? vd : wd, vec ? 2 : 4, wv, nw);
  init_8(x, wzn, wtype, &cd, nc > 1 ? 1 : 0, wv + nw, (size_t)nc);
  int rc = q_pair(x, n->name, "x", p[0], (int)lrintf(p[1]), xtype, xs, xz);
  if (rc == 0 && requant)
    rc = q_pair(x, n->name, "y", p[2], (int)lrintf(p[3]), ytype, ys, yz);
  if (rc < 0) {
    free(wv);
    free(bv);
    return rc;
  }
  Onnx__NodeProto *o;
  if (requant) {
    init_f(x, wsn, &cd, nc > 1 ? 1 : 0, p + 4 + nw + nc, (size_t)nc);
    if (a->has_bias) {
      const float *bh = p + 4 + nw + 2 * (size_t)nc;
      for (int k = 0; k < K; k++)
        bv[k] = (int64_t)lrintf(bh[k]) * 4096 + (int64_t)lrintf(bh[K + k]);
      snprintf(bn, sizeof bn, "%s_bias", n->name);
      int64_t kd = K;
      init_i32(x, bn, &kd, 1, bv, (size_t)K);
    }
    const char *qi[9] = {in, xs, xz, wn, wsn, wzn, ys, yz, bn};
    o = node(x, vec ? "QLinearMatMul" : "QLinearConv", n->name, qi,
             a->has_bias ? 9 : 8, out);
  } else {
    char acc[200], cn[200];
    snprintf(acc, sizeof acc, "%s_int32", n->name);
    snprintf(cn, sizeof cn, "%s_cast", n->name);
    const char *qi[4] = {in, wn, xz, wzn};
    o = node(x, vec ? "MatMulInteger" : "ConvInteger", n->name, qi, 4, acc);
    const char *ci[1] = {acc};
    attr_i(x, node(x, "Cast", cn, ci, 1, out), "to", FLOAT_T);
  }
  if (!vec && o) {
    spatial(x, o, a);
    int64_t dl[2] = {a->dh, a->dw};
    attr_is(x, o, "dilations", dl, 2);
    attr_i(x, o, "group", a->groups);
  }
  free(wv);
  free(bv);
  return 0;
}

static Onnx__NodeProto *ms_node(xp *x, const char *op, const char *name,
                                const char *const *in, int n_in,
                                const char *out) {
  Onnx__NodeProto *o = node(x, op, name, in, n_in, out);
  if (o)
    o->domain = xp_str(x, "com.microsoft");
  x->ms = 1;
  return o;
}

static int emit_qadd(xp *x, const rove_model *m, const rove_node *n,
                     const float *p, char *const *ins, const char *out) {
  int ta, tb, tc;
  ROVE_TRY(qtype_of(m, n->in[0], &ta));
  ROVE_TRY(qtype_of(m, n->in[1], &tb));
  ROVE_TRY(qtype(n, n->a.qmin, n->a.qmax, &tc));
  char s[3][200], z[3][200];
  ROVE_TRY(q_pair(x, n->name, "a", p[0], (int)lrintf(p[1]), ta, s[0], z[0]));
  ROVE_TRY(q_pair(x, n->name, "b", p[2], (int)lrintf(p[3]), tb, s[1], z[1]));
  ROVE_TRY(q_pair(x, n->name, "c", p[4], (int)lrintf(p[5]), tc, s[2], z[2]));
  const char *qi[8] = {ins[0], s[0], z[0], ins[1], s[1], z[1], s[2], z[2]};
  ms_node(x, "QLinearAdd", n->name, qi, 8, out);
  return 0;
}

static int emit_qavgpool(xp *x, const rove_model *m, const rove_node *n,
                         const float *p, const char *in, const char *out) {
  int tx, ty;
  ROVE_TRY(qtype_of(m, n->in[0], &tx));
  ROVE_TRY(qtype(n, n->a.qmin, n->a.qmax, &ty));
  char s[2][200], z[2][200];
  ROVE_TRY(q_pair(x, n->name, "x", p[0], (int)lrintf(p[1]), tx, s[0], z[0]));
  ROVE_TRY(q_pair(x, n->name, "y", p[2], (int)lrintf(p[3]), ty, s[1], z[1]));
  const char *qi[5] = {in, s[0], z[0], s[1], z[1]};
  if (n->a.kh == 0) {
    ms_node(x, "QLinearGlobalAveragePool", n->name, qi, 5, out);
    return 0;
  }
  Onnx__NodeProto *o = ms_node(x, "QLinearAveragePool", n->name, qi, 5, out);
  if (o) {
    spatial(x, o, &n->a);
    attr_i(x, o, "count_include_pad", n->a.count_include_pad);
    attr_i(x, o, "ceil_mode", n->a.ceil_mode);
  }
  return 0;
}

static int emit_node(xp *x, const rove_model *m, int i, char **names) {
  const rove_node *n = &m->nodes[i];
  const rove_attrs *a = &n->a;
  const float *p = m->params + n->param_off;
  char *ins[ROVE_MAX_IN];
  for (int k = 0; k < n->n_in; k++)
    ins[k] = n->in[k] == ROVE_INPUT ? "input" : names[n->in[k]];
  const char *out = names[i];
  char wn[200], bn[200];
  snprintf(wn, sizeof wn, "%s_weight", n->name);
  snprintf(bn, sizeof bn, "%s_bias", n->name);
  /* No default: -Wswitch (in -Wall) names a layer of layers.def that has
   * no exporter here. */
  switch ((enum rove_op)n->op) {
  case ROVE_OP_CONV: {
    int64_t wd[4] = {a->out, n->ins[0].d[0] / a->groups, a->kh, a->kw};
    size_t nw = (size_t)(wd[0] * wd[1] * wd[2] * wd[3]);
    emit_weight(x, wn, p, wd, 4);
    int64_t kd = a->out;
    if (a->has_bias)
      init_f(x, bn, &kd, 1, p + nw, (size_t)a->out);
    const char *in[3] = {ins[0], wn, bn};
    Onnx__NodeProto *c = node(x, "Conv", n->name, in, a->has_bias ? 3 : 2, out);
    spatial(x, c, a);
    int64_t dl[2] = {a->dh, a->dw};
    attr_is(x, c, "dilations", dl, 2);
    attr_i(x, c, "group", a->groups);
    return 0;
  }
  case ROVE_OP_LINEAR: {
    int fin = (int)rove_shape_numel(&n->ins[0]);
    const char *xin = ins[0];
    char fl[200];
    if (n->ins[0].rank != 1) {
      char fn[200];
      snprintf(fl, sizeof fl, "%s_flat", n->name);
      snprintf(fn, sizeof fn, "%s_flatten", n->name);
      Onnx__NodeProto *f = node(x, "Flatten", fn, &xin, 1, fl);
      attr_i(x, f, "axis", 1);
      xin = fl;
    }
    int64_t wd[2] = {a->out, fin}, kd = a->out;
    emit_weight(x, wn, p, wd, 2);
    if (a->has_bias)
      init_f(x, bn, &kd, 1, p + (size_t)a->out * (size_t)fin, (size_t)a->out);
    const char *in[3] = {xin, wn, bn};
    Onnx__NodeProto *g = node(x, "Gemm", n->name, in, a->has_bias ? 3 : 2, out);
    attr_i(x, g, "transB", 1);
    return 0;
  }
  case ROVE_OP_RELU:
    node(x, "Relu", n->name, (const char **)ins, 1, out);
    return 0;
  case ROVE_OP_SIGMOID:
    node(x, "Sigmoid", n->name, (const char **)ins, 1, out);
    return 0;
  case ROVE_OP_TANH:
    node(x, "Tanh", n->name, (const char **)ins, 1, out);
    return 0;
  case ROVE_OP_ROUND:
    node(x, "Round", n->name, (const char **)ins, 1, out);
    return 0;
  case ROVE_OP_FLOOR:
    node(x, "Floor", n->name, (const char **)ins, 1, out);
    return 0;
  case ROVE_OP_LEAKYRELU:
    attr_f(x, node(x, "LeakyRelu", n->name, (const char **)ins, 1, out),
           "alpha", a->alpha);
    return 0;
  case ROVE_OP_CLIP: {
    char ln[200], hn[200];
    snprintf(ln, sizeof ln, "%s_min", n->name);
    snprintf(hn, sizeof hn, "%s_max", n->name);
    init_f(x, ln, NULL, 0, &a->lo, 1);
    init_f(x, hn, NULL, 0, &a->hi, 1);
    const char *in[3] = {ins[0], ln, hn};
    node(x, "Clip", n->name, in, 3, out);
    return 0;
  }
  case ROVE_OP_MAXPOOL:
  case ROVE_OP_AVGPOOL: {
    if (a->dh > 1 || a->dw > 1)
      return ROVE_ERR(ROVE_EUNSUPPORTED,
                      "node '%s': dilated pooling has no ONNX export", n->name);
    Onnx__NodeProto *pn =
        node(x, n->op == ROVE_OP_MAXPOOL ? "MaxPool" : "AveragePool", n->name,
             (const char **)ins, 1, out);
    spatial(x, pn, a);
    attr_i(x, pn, "ceil_mode", a->ceil_mode);
    if (n->op == ROVE_OP_AVGPOOL)
      attr_i(x, pn, "count_include_pad", a->count_include_pad);
    return 0;
  }
  case ROVE_OP_GAP:
    node(x, "GlobalAveragePool", n->name, (const char **)ins, 1, out);
    return 0;
  case ROVE_OP_BATCHNORM: {
    int64_t c = n->ins[0].d[0];
    static const char *part[4] = {"scale", "bias", "mean", "var"};
    char pn[4][200];
    const char *in[5] = {ins[0], pn[0], pn[1], pn[2], pn[3]};
    for (int k = 0; k < 4; k++) {
      snprintf(pn[k], sizeof pn[k], "%s_%s", n->name, part[k]);
      init_f(x, pn[k], &c, 1, p + k * c, (size_t)c);
    }
    attr_f(x, node(x, "BatchNormalization", n->name, in, 5, out), "epsilon",
           a->eps);
    return 0;
  }
  case ROVE_OP_RESHAPE: {
    int64_t sh[ROVE_MAX_RANK + 1], r = a->shape.rank + 1;
    sh[0] = -1;
    for (int k = 0; k < a->shape.rank; k++)
      sh[k + 1] = a->shape.d[k];
    char sn[200];
    snprintf(sn, sizeof sn, "%s_shape", n->name);
    init_i64(x, sn, &r, 1, sh, (size_t)r);
    const char *in[2] = {ins[0], sn};
    node(x, "Reshape", n->name, in, 2, out);
    return 0;
  }
  case ROVE_OP_ADD:
  case ROVE_OP_SUB:
  case ROVE_OP_MUL:
  case ROVE_OP_DIV: return emit_binary(x, n, p, ins, out);
  case ROVE_OP_CONCAT:
    attr_i(x, node(x, "Concat", n->name, (const char **)ins, n->n_in, out),
           "axis", a->axis + 1);
    return 0;
  case ROVE_OP_SOFTMAX:
    attr_i(x, node(x, "Softmax", n->name, (const char **)ins, 1, out), "axis",
           a->axis + 1);
    return 0;
  case ROVE_OP_FAKEQUANT: return emit_fakequant(x, n, p, ins[0], out);
  case ROVE_OP_QUANTIZE:
  case ROVE_OP_DEQUANTIZE: return emit_quantize(x, m, n, p, ins[0], out);
  case ROVE_OP_QCONV:
  case ROVE_OP_CONVINT: return emit_qconv(x, m, n, p, ins[0], out);
  case ROVE_OP_QADD: return emit_qadd(x, m, n, p, ins, out);
  case ROVE_OP_QAVGPOOL: return emit_qavgpool(x, m, n, p, ins[0], out);
  case ROVE_OP_COUNT: break;
  }
  return ROVE_ERR(ROVE_EUNSUPPORTED, "node '%s': layer kind %d is not a layer",
                  n->name, n->op);
}

static int build(xp *x, const rove_model *m, Onnx__ModelProto *mp) {
  onnx__model_proto__init(mp);
  Onnx__GraphProto *g = xp_alloc(x, sizeof *g);
  Onnx__OperatorSetIdProto *os = xp_alloc(x, sizeof *os);
  Onnx__OperatorSetIdProto **osa = xp_alloc(x, sizeof *osa);
  char **names = xp_alloc(x, sizeof *names * (size_t)(m->n_nodes + 1));
  if (!g || !os || !osa || !names)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory exporting ONNX");
  onnx__graph_proto__init(g);
  onnx__operator_set_id_proto__init(os);
  x->g = g;
  os->domain = xp_str(x, "%s", "");
  os->has_version = 1;
  os->version = OPSET;
  osa[0] = os;
  mp->has_ir_version = 1;
  mp->ir_version = 7;
  mp->n_opset_import = 1;
  mp->opset_import = osa;
  mp->producer_name = xp_str(x, "rove");
  mp->producer_version = xp_str(x, "%s", ROVE_VERSION);
  g->name = xp_str(x, "rove");
  /* Tensor names are made unique by the node index, whatever the node
   * names are; the logits are called "logits". */
  for (int i = 0; i <= m->output; i++)
    names[i] = i == m->output ? xp_str(x, "logits")
                              : xp_str(x, "%.60s:%d", m->nodes[i].name, i);
  for (int i = 0; i <= m->output && !x->oom; i++)
    ROVE_TRY(emit_node(x, m, i, names));
  if (x->ms) {
    /* onnxruntime's contrib domain, for QLinearAdd and the pools. */
    Onnx__OperatorSetIdProto *ms = xp_alloc(x, sizeof *ms);
    Onnx__OperatorSetIdProto **two = xp_alloc(x, 2 * sizeof *two);
    if (!ms || !two)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory exporting ONNX");
    onnx__operator_set_id_proto__init(ms);
    ms->domain = xp_str(x, "com.microsoft");
    ms->has_version = 1;
    ms->version = 1;
    two[0] = os;
    two[1] = ms;
    mp->opset_import = two;
    mp->n_opset_import = 2;
  }
  g->n_input = 1;
  g->input = xp_alloc(x, sizeof *g->input);
  g->n_output = 1;
  g->output = xp_alloc(x, sizeof *g->output);
  if (g->input)
    g->input[0] = value_info(x, "input", &m->in);
  rove_shape ls = {1, {m->n_classes}};
  if (g->output)
    g->output[0] = value_info(x, "logits", &ls);
  if (x->oom || !g->input || !g->input[0] || !g->output || !g->output[0])
    return ROVE_ERR(ROVE_ENOMEM, "out of memory exporting ONNX");
  mp->graph = g;
  return 0;
}

int rove_onnx_export_mem(const rove_model *m, uint8_t **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  if (!m->finalized)
    return ROVE_ERR(ROVE_ESTATE, "model was not finalized");
  xp x;
  memset(&x, 0, sizeof x);
  Onnx__ModelProto mp;
  int rc = build(&x, m, &mp);
  if (rc == 0) {
    size_t n = onnx__model_proto__get_packed_size(&mp);
    *buf = malloc(n + 1);
    if (!*buf) {
      rc = ROVE_ERR(ROVE_ENOMEM, "out of memory for %zu bytes of ONNX", n);
    } else {
      *len = onnx__model_proto__pack(&mp, *buf);
    }
  }
  xp_free(&x);
  ROVE_TRY(rc);
  return 0;
}

int rove_onnx_export(const rove_model *m, const char *path) {
  uint8_t *buf;
  size_t len;
  ROVE_TRY(rove_onnx_export_mem(m, &buf, &len));
  size_t pl = strlen(path) + 32;
  char *tmp = malloc(pl);
  if (!tmp) {
    free(buf);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  snprintf(tmp, pl, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  int rc = 0;
  if (!f) {
    rc = ROVE_ERR(errno == ENOENT ? ROVE_ENOENT : ROVE_EIO,
                  "%s: cannot create '%s': %s", path, tmp, strerror(errno));
  } else {
    fwrite(buf, 1, len, f); /* a short write sets f's error flag */
    rc = rove_file_commit(f, tmp, path, "ONNX file");
  }
  free(tmp);
  free(buf);
  ROVE_TRY(rc);
  return 0;
}
