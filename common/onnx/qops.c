/* qops.c - the integer operators of ONNX's operator ("QOperator") format:
 * QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, and onnxruntime's
 * com.microsoft QLinearAdd, QLinearAveragePool and
 * QLinearGlobalAveragePool, imported as rove's q-domain layers
 * (common/layers/qlinear.c), which compute what the runtime computes. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/onnx/import.h"

int ox_in_q(ox_ctx *c, int k, ox_value **out) {
  ROVE_TRY(ox_in_required(c, k, out));
  ox_value *x = *out;
  if (x->kind == OX_QNODE)
    return 0;
  if (x->kind != OX_QPEND)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input %d ('%s') must hold quantized integers (the output of "
                "a QuantizeLinear or of an integer operator)",
                k, x->name);
  if (x->qs.n != 1)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input '%s' is quantized per axis; integer operators take "
                "per-tensor activations",
                x->name);
  if (x->qnode < 0) {
    rove_attrs a;
    rove_attrs_default(&a);
    ROVE_TRY(ox_qrange(c, x->qz.elem, &a.qmin, &a.qmax));
    char name[200];
    snprintf(name, sizeof name, "%.180s_quantize", x->name);
    int id,
        rc = rove_model_add(c->m, ROVE_OP_QUANTIZE, name, &x->node, 1, &a, &id);
    if (rc < 0) {
      char msg[512];
      snprintf(msg, sizeof msg, "%s", rove_error_message());
      return NERR(c, rc, "%s", msg);
    }
    float *p = rove_model_node_params(c->m, id);
    p[0] = (float)ox_tval(&x->qs, 0);
    p[1] = (float)x->qz.i[0];
    x->qnode = id;
  }
  /* Seen as an integer node by this operator (the value keeps its
   * pending form for a DequantizeLinear that may also read it); a copy in
   * the context, which new values cannot move. */
  ox_value *t = &c->qin[k & 1];
  *t = *x;
  t->kind = OX_QNODE;
  t->node = x->qnode;
  t->qelem = x->qz.elem;
  *out = t;
  return 0;
}

/* A per-tensor scale (scalar or 1 element) input k, > 0. */
static int q_scale(ox_ctx *c, int k, const char *what, float *s) {
  ox_tensor *t;
  ROVE_TRY(ox_in_const(c, k, 1, &t));
  if (t->n != 1)
    return NERR(c, ROVE_EUNSUPPORTED,
                "%s has %lld values (expected one: per-tensor)", what,
                (long long)t->n);
  *s = (float)ox_tval(t, 0);
  if (!(*s > 0) || !isfinite(*s))
    return NERR(c, ROVE_EINVAL, "%s is %g (expected > 0)", what, (double)*s);
  return 0;
}

/* A per-tensor zero point input k (absent: 0 of type dflt_elem); its type
 * and range in *elem, *lo, *hi. */
static int q_zero(ox_ctx *c, int k, const char *what, int dflt_elem, int *zp,
                  int *elem, int *lo, int *hi) {
  ox_tensor *t;
  ROVE_TRY(ox_in_const(c, k, 0, &t));
  *zp = 0;
  *elem = dflt_elem;
  if (t) {
    if (!t->is_int || t->n != 1)
      return NERR(c, ROVE_EUNSUPPORTED,
                  "%s must be one integer (per-tensor), has %lld values", what,
                  (long long)t->n);
    *zp = (int)t->i[0];
    *elem = t->elem;
  }
  if (lo)
    ROVE_TRY(ox_qrange(c, *elem, lo, hi));
  return 0;
}

/* Fills a qconv/convint node's params: x and y scale/zero point, the
 * weight (as [K][Cg][kh][kw], from w, transposed when the weight is a
 * MatMul's [in][out]), its zero points and scales (1 or K each) and the
 * int32 bias split exactly into hi = b >> 12 and lo = b & 4095. */
typedef struct qc_in {
  float xs, ys;
  int xz, yz;
  const ox_tensor *w, *wz, *ws, *b;
  int trans; /* w is [in][out] */
} qc_in;

static int fill_qconv(ox_ctx *c, int id, const qc_in *q) {
  rove_node *n = &c->m->nodes[id];
  int K = n->a.out, nc = n->a.per_channel ? K : 1;
  size_t nw = (size_t)q->w->n;
  size_t need = 4 + nw + 2 * (size_t)nc + (n->a.has_bias ? 2 * (size_t)K : 0);
  if (n->n_params != need)
    return NERR(c, ROVE_ESHAPE,
                "weight has %lld values; the layer expects %zu (dimension 1 "
                "must be input channels / group)",
                (long long)q->w->n,
                n->n_params - 4 - 2 * (size_t)nc -
                    (n->a.has_bias ? 2 * (size_t)K : 0));
  float *p = rove_model_node_params(c->m, id);
  p[0] = q->xs;
  p[1] = (float)q->xz;
  p[2] = q->ys;
  p[3] = (float)q->yz;
  int fin = (int)(nw / (size_t)K);
  for (size_t k = 0; k < nw; k++) {
    size_t src = k;
    if (q->trans) {
      size_t o = k / (size_t)fin, i = k % (size_t)fin;
      src = i * (size_t)K + o;
    }
    p[4 + k] = (float)q->w->i[src];
  }
  for (int k = 0; k < nc; k++) {
    p[4 + nw + (size_t)k] = q->wz ? (float)q->wz->i[q->wz->n > 1 ? k : 0] : 0;
    p[4 + nw + (size_t)nc + (size_t)k] =
        q->ws ? (float)ox_tval(q->ws, q->ws->n > 1 ? k : 0) : 1.0f;
  }
  for (int k = 0; n->a.has_bias && k < K; k++) {
    int64_t b = q->b->i[k];
    if (b < INT32_MIN || b > INT32_MAX)
      return NERR(c, ROVE_ERANGE, "bias %d is %lld, outside int32", k,
                  (long long)b);
    int64_t hi = b >= 0 ? b / 4096 : -((-b + 4095) / 4096);
    p[4 + nw + 2 * (size_t)nc + (size_t)k] = (float)hi;
    p[4 + nw + 2 * (size_t)nc + (size_t)K + (size_t)k] = (float)(b - hi * 4096);
  }
  return 0;
}

/* The weight's per-channel scale/zero point count must be 1 or K. */
static int chan_count(ox_ctx *c, const ox_tensor *t, int K, const char *what,
                      int *per_channel) {
  if (!t)
    return 0;
  /* Zero points are integers (a float one would be read as one). */
  if (strstr(what, "zero") && !t->is_int)
    return NERR(c, ROVE_EFORMAT, "%s is not an integer tensor", what);
  if (t->n != 1 && t->n != K)
    return NERR(c, ROVE_ESHAPE, "%s has %lld values (expected 1 or %d)", what,
                (long long)t->n, K);
  if (t->n > 1)
    *per_channel = 1;
  return 0;
}

static int weight_int(ox_ctx *c, const ox_tensor *w) {
  if (!w->is_int)
    return NERR(c, ROVE_EFORMAT,
                "weight is not an integer tensor (expected int8 or uint8)");
  return 0;
}

/* Conv-style attributes of QLinearConv/ConvInteger for weight w. */
static int conv_attrs(ox_ctx *c, const ox_value *x, const ox_tensor *w,
                      rove_attrs *a) {
  if (x->shape.rank != 3 || w->rank != 4)
    return NERR(c, ROVE_EUNSUPPORTED,
                "only 2-D convolution is supported (input of per-example "
                "rank %d, weight of rank %d)",
                x->shape.rank, w->rank);
  int64_t g;
  ROVE_TRY(ox_attr_int(c, "group", 1, &g));
  a->groups = (int)g;
  a->out = (int)w->dims[0];
  a->kh = (int)w->dims[2];
  a->kw = (int)w->dims[3];
  return ox_spatial_attrs(c, a, x->shape.d[1], x->shape.d[2], 1);
}

/* Marks output 0 (when the node has one) as integers of type elem. */
static void mark_q(ox_ctx *c, int elem) {
  if (c->node->n_output < 1 || !c->node->output[0][0])
    return;
  ox_value *v = ox_find_value(c, c->node->output[0]);
  if (v) {
    v->kind = OX_QNODE;
    v->qelem = elem;
  }
}

static int emit_q(ox_ctx *c, int op, ox_value *x, const rove_attrs *a,
                  const qc_in *q, int out_elem) {
  int id;
  ROVE_TRY(ox_emit(c, op, &x->node, 1, a, &id));
  ROVE_TRY(fill_qconv(c, id, q));
  ROVE_TRY(ox_def_node(c, 0, id, &c->m->nodes[id].out));
  mark_q(c, out_elem);
  return 0;
}

int ox_op_qlinearconv(ox_ctx *c) {
  ox_value *x;
  ox_tensor *w, *ws, *wz, *b;
  qc_in q;
  memset(&q, 0, sizeof q);
  int elem, yelem;
  rove_attrs a;
  rove_attrs_default(&a);
  ROVE_TRY(ox_in_q(c, 0, &x));
  ROVE_TRY(q_scale(c, 1, "x_scale", &q.xs));
  ROVE_TRY(q_zero(c, 2, "x_zero_point", x->qelem, &q.xz, &elem, NULL, NULL));
  ROVE_TRY(ox_in_const(c, 3, 1, &w));
  ROVE_TRY(weight_int(c, w));
  ROVE_TRY(ox_in_const(c, 4, 1, &ws));
  ROVE_TRY(ox_in_const(c, 5, 0, &wz));
  ROVE_TRY(q_scale(c, 6, "y_scale", &q.ys));
  ROVE_TRY(q_zero(c, 7, "y_zero_point", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8,
                  &q.yz, &yelem, &a.qmin, &a.qmax));
  ROVE_TRY(ox_in_const(c, 8, 0, &b));
  ROVE_TRY(conv_attrs(c, x, w, &a));
  ROVE_TRY(chan_count(c, ws, a.out, "w_scale", &a.per_channel));
  ROVE_TRY(chan_count(c, wz, a.out, "w_zero_point", &a.per_channel));
  for (int64_t k = 0; k < ws->n; k++)
    if (!(ox_tval(ws, k) > 0))
      return NERR(c, ROVE_EINVAL, "w_scale %lld is %g (expected > 0)",
                  (long long)k, ox_tval(ws, k));
  if (b && (!b->is_int || b->n != a.out))
    return NERR(c, ROVE_ESHAPE, "bias must be %d int32 values (has %lld%s)",
                a.out, (long long)b->n, b->is_int ? "" : ", not integers");
  a.has_bias = b != NULL;
  q.w = w;
  q.ws = ws;
  q.wz = wz;
  q.b = b;
  return emit_q(c, ROVE_OP_QCONV, x, &a, &q, yelem);
}

/* QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp) with b
 * a constant [in][out] and a a feature vector per example. */
int ox_op_qlinearmatmul(ox_ctx *c) {
  ox_value *x;
  ox_tensor *w, *ws, *wz;
  qc_in q;
  memset(&q, 0, sizeof q);
  int elem, yelem;
  rove_attrs a;
  rove_attrs_default(&a);
  ROVE_TRY(ox_in_q(c, 0, &x));
  ROVE_TRY(q_scale(c, 1, "a_scale", &q.xs));
  ROVE_TRY(q_zero(c, 2, "a_zero_point", x->qelem, &q.xz, &elem, NULL, NULL));
  ROVE_TRY(ox_in_const(c, 3, 1, &w));
  ROVE_TRY(weight_int(c, w));
  ROVE_TRY(ox_in_const(c, 4, 1, &ws));
  ROVE_TRY(ox_in_const(c, 5, 0, &wz));
  ROVE_TRY(q_scale(c, 6, "y_scale", &q.ys));
  ROVE_TRY(q_zero(c, 7, "y_zero_point", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8,
                  &q.yz, &yelem, &a.qmin, &a.qmax));
  if (w->rank != 2 || x->shape.rank != 1 || x->shape.d[0] != w->dims[0])
    return NERR(c, ROVE_EUNSUPPORTED,
                "expects a feature vector times a constant [in][out] matrix "
                "(input per-example rank %d, matrix of rank %d)",
                x->shape.rank, w->rank);
  a.out = (int)w->dims[1];
  ROVE_TRY(chan_count(c, ws, a.out, "b_scale", &a.per_channel));
  ROVE_TRY(chan_count(c, wz, a.out, "b_zero_point", &a.per_channel));
  for (int64_t k = 0; k < ws->n; k++)
    if (!(ox_tval(ws, k) > 0))
      return NERR(c, ROVE_EINVAL, "b_scale %lld is %g (expected > 0)",
                  (long long)k, ox_tval(ws, k));
  q.w = w;
  q.ws = ws;
  q.wz = wz;
  q.trans = 1;
  return emit_q(c, ROVE_OP_QCONV, x, &a, &q, yelem);
}

/* ConvInteger(x, w, x_zp, w_zp) / MatMulInteger(a, b, a_zp, b_zp): the
 * int32 accumulator. */
static int integer_op(ox_ctx *c, int matmul) {
  ox_value *x;
  ox_tensor *w, *wz;
  qc_in q;
  memset(&q, 0, sizeof q);
  int elem;
  rove_attrs a;
  rove_attrs_default(&a);
  a.qmin = a.qmax = 0;
  ROVE_TRY(ox_in_q(c, 0, &x));
  ROVE_TRY(ox_in_const(c, 1, 1, &w));
  ROVE_TRY(weight_int(c, w));
  ROVE_TRY(q_zero(c, 2, matmul ? "a_zero_point" : "x_zero_point", x->qelem,
                  &q.xz, &elem, NULL, NULL));
  ROVE_TRY(ox_in_const(c, 3, 0, &wz));
  q.xs = q.ys = 1;
  if (matmul) {
    if (w->rank != 2 || x->shape.rank != 1 || x->shape.d[0] != w->dims[0])
      return NERR(c, ROVE_EUNSUPPORTED,
                  "expects a feature vector times a constant [in][out] "
                  "matrix (input per-example rank %d, matrix of rank %d)",
                  x->shape.rank, w->rank);
    a.out = (int)w->dims[1];
    q.trans = 1;
  } else {
    ROVE_TRY(conv_attrs(c, x, w, &a));
  }
  ROVE_TRY(chan_count(c, wz, a.out, "weight zero point", &a.per_channel));
  q.w = w;
  q.wz = wz;
  return emit_q(c, ROVE_OP_CONVINT, x, &a, &q,
                ONNX__TENSOR_PROTO__DATA_TYPE__INT32);
}

int ox_op_convinteger(ox_ctx *c) {
  return integer_op(c, 0);
}
int ox_op_matmulinteger(ox_ctx *c) {
  return integer_op(c, 1);
}

int ox_op_qlinearadd(ox_ctx *c) {
  ox_value *x0, *x1;
  float p[6];
  int z[3], elem, lo, hi;
  ROVE_TRY(ox_in_q(c, 0, &x0));
  int n0 = x0->node;
  rove_shape s0 = x0->shape;
  int e0 = x0->qelem;
  ROVE_TRY(q_scale(c, 1, "A_scale", &p[0]));
  ROVE_TRY(q_zero(c, 2, "A_zero_point", e0, &z[0], &elem, NULL, NULL));
  ROVE_TRY(ox_in_q(c, 3, &x1));
  ROVE_TRY(q_scale(c, 4, "B_scale", &p[2]));
  ROVE_TRY(q_zero(c, 5, "B_zero_point", x1->qelem, &z[1], &elem, NULL, NULL));
  ROVE_TRY(q_scale(c, 6, "C_scale", &p[4]));
  ROVE_TRY(q_zero(c, 7, "C_zero_point", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8,
                  &z[2], &elem, &lo, &hi));
  if (s0.rank != x1->shape.rank ||
      memcmp(s0.d, x1->shape.d, sizeof(int) * (size_t)s0.rank))
    return NERR(c, ROVE_EUNSUPPORTED,
                "inputs of different shapes (broadcasting is not supported)");
  rove_attrs a;
  rove_attrs_default(&a);
  a.qmin = lo;
  a.qmax = hi;
  int in[2] = {n0, x1->node}, id;
  ROVE_TRY(ox_emit(c, ROVE_OP_QADD, in, 2, &a, &id));
  float *q = rove_model_node_params(c->m, id);
  for (int k = 0; k < 3; k++) {
    q[2 * k] = p[2 * k];
    q[2 * k + 1] = (float)z[k];
  }
  ROVE_TRY(ox_def_node(c, 0, id, &c->m->nodes[id].out));
  mark_q(c, elem);
  return 0;
}

static int qpool(ox_ctx *c, int global) {
  ox_value *x;
  float xs, ys;
  int xz, yz, elem, yelem;
  rove_attrs a;
  rove_attrs_default(&a);
  ROVE_TRY(ox_in_q(c, 0, &x));
  ROVE_TRY(q_scale(c, 1, "x_scale", &xs));
  ROVE_TRY(q_zero(c, 2, "x_zero_point", x->qelem, &xz, &elem, NULL, NULL));
  ROVE_TRY(q_scale(c, 3, "y_scale", &ys));
  ROVE_TRY(
      q_zero(c, 4, "y_zero_point", x->qelem, &yz, &yelem, &a.qmin, &a.qmax));
  if (x->shape.rank != 3)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input has per-example rank %d (expected C x H x W)",
                x->shape.rank);
  int64_t v;
  ROVE_TRY(ox_attr_int(c, "channels_last", 0, &v));
  if (v)
    return NERR(c, ROVE_EUNSUPPORTED, "channels_last = 1 (NHWC) input");
  if (global) {
    a.kh = a.kw = 0;
  } else {
    int64_t ks[2];
    int n;
    ROVE_TRY(ox_attr_ints(c, "kernel_shape", ks, 2, &n));
    if (n != 2)
      return NERR(c, ROVE_EFORMAT, "'kernel_shape' must have 2 values");
    a.kh = (int)ks[0];
    a.kw = (int)ks[1];
    ROVE_TRY(ox_spatial_attrs(c, &a, x->shape.d[1], x->shape.d[2], 0));
    ROVE_TRY(ox_attr_int(c, "ceil_mode", 0, &v));
    a.ceil_mode = (int)v;
    ROVE_TRY(ox_attr_int(c, "count_include_pad", 0, &v));
    a.count_include_pad = (int)v;
  }
  int id;
  ROVE_TRY(ox_emit(c, ROVE_OP_QAVGPOOL, &x->node, 1, &a, &id));
  float *p = rove_model_node_params(c->m, id);
  p[0] = xs;
  p[1] = (float)xz;
  p[2] = ys;
  p[3] = (float)yz;
  ROVE_TRY(ox_def_node(c, 0, id, &c->m->nodes[id].out));
  mark_q(c, yelem);
  return 0;
}

int ox_op_qlinearglobalavgpool(ox_ctx *c) {
  return qpool(c, 1);
}
int ox_op_qlinearavgpool(ox_ctx *c) {
  return qpool(c, 0);
}
