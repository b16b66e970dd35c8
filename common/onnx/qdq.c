/* qdq.c - QuantizeLinear and DequantizeLinear: folded into constant
 * weights, or a pending quantization that the following dequantization
 * turns into one fakequant node. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/onnx/import.h"

/* Range of the integer type of a zero point. */
int ox_qrange(ox_ctx *c, int elem, int *qmin, int *qmax) {
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
 * value (a 1-element tensor is per-tensor); the zero point defaults to
 * uint8 0. */
int ox_q_params(ox_ctx *c, int rank, ox_tensor **s, ox_tensor **z, int *axis) {
  ROVE_TRY(ox_in_const(c, 1, 1, s));
  ROVE_TRY(ox_in_const(c, 2, 0, z));
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
    if (!(ox_tval(*s, k) > 0))
      return NERR(c, ROVE_EINVAL, "scale %lld is %g (expected > 0)",
                  (long long)k, ox_tval(*s, k));
  int64_t ax;
  ROVE_TRY(ox_attr_int(c, "axis", 1, &ax));
  *axis = -1;
  /* A 1-element 1-D scale (PyTorch writes its per-tensor scales so) is
   * per-tensor, as in every runtime: only more values make it per-axis. */
  if ((*s)->n > 1) {
    ROVE_TRY(ox_norm_axis(c, ax, rank, axis));
  }
  return 0;
}

/* Channel of flat element k of tensor t for quantization axis ax. */
int64_t ox_q_chan(const ox_tensor *t, int ax, int64_t k) {
  if (ax < 0)
    return 0;
  int64_t inner = ox_dims_numel(t->rank - ax - 1, t->dims + ax + 1);
  return (k / inner) % t->dims[ax];
}

int ox_op_quantize(ox_ctx *c) {
  ox_value *x;
  ox_tensor *s, *z;
  ROVE_TRY(ox_in_required(c, 0, &x));
  int rank = x->kind == OX_CONST ? x->t.rank : x->shape.rank + 1;
  int ax, qmin, qmax;
  ROVE_TRY(ox_q_params(c, rank, &s, &z, &ax));
  int elem = z ? z->elem : ONNX__TENSOR_PROTO__DATA_TYPE__UINT8;
  ROVE_TRY(ox_qrange(c, elem, &qmin, &qmax));
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
    ROVE_TRY(ox_tensor_alloc(&t, 1, elem, x->t.rank, x->t.dims));
    for (int64_t k = 0; k < t.n; k++) {
      int64_t ch = ox_q_chan(&x->t, ax, k);
      float q = rintf((float)ox_tval(&x->t, k) / (float)ox_tval(s, ch));
      double v = (double)q + (z ? (double)z->i[ch] : 0.0);
      t.i[k] = v < qmin ? qmin : v > qmax ? qmax : (int64_t)v;
    }
    return ox_def_const(c, 0, &t);
  }
  ROVE_TRY(ox_in_node(c, 0, &x));
  ox_value *v;
  int node = x->node;
  rove_shape sh = x->shape;
  if (c->node->n_output < 1 || !c->node->output[0][0])
    return 0;
  /* new_value may move the value array, and x, s and z point into it:
   * copy the scale and zero point first, use none of them after it. */
  ox_tensor qs, qz;
  int64_t n1 = 1;
  ROVE_TRY(ox_tensor_copy(&qs, s));
  int rc = z ? ox_tensor_copy(&qz, z)
             : ox_tensor_alloc(&qz, 1, ONNX__TENSOR_PROTO__DATA_TYPE__UINT8,
                               s->rank, s->rank ? &n1 : NULL);
  if (rc == 0 && !z)
    qz.i[0] = 0;
  if (rc == 0)
    rc = ox_new_value(c, c->node->output[0], &v);
  if (rc < 0) {
    ox_tensor_free(&qs);
    ox_tensor_free(&qz);
    ROVE_TRY(rc);
  }
  v->kind = OX_QPEND;
  v->qnode = -1;
  v->node = node;
  v->shape = sh;
  v->qaxis = ax;
  v->qs = qs;
  v->qz = qz;
  return 0;
}

int ox_op_dequantize(ox_ctx *c) {
  ox_value *x;
  ox_tensor *s, *z;
  ROVE_TRY(ox_in_required(c, 0, &x));
  int rank = x->kind == OX_CONST ? x->t.rank : x->shape.rank + 1;
  int ax;
  ROVE_TRY(ox_q_params(c, rank, &s, &z, &ax));
  if (x->kind == OX_CONST) {
    if (!x->t.is_int)
      return NERR(c, ROVE_EFORMAT, "input is not an integer tensor");
    if (ax >= 0 && x->t.dims[ax] != s->n)
      return NERR(c, ROVE_ESHAPE,
                  "per-axis scale has %lld values, axis %d has %lld",
                  (long long)s->n, ax, (long long)x->t.dims[ax]);
    ox_tensor t;
    ROVE_TRY(ox_tensor_alloc(&t, 0, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
                             x->t.rank, x->t.dims));
    for (int64_t k = 0; k < t.n; k++) {
      int64_t ch = ox_q_chan(&x->t, ax, k);
      t.f[k] = (float)(x->t.i[k] - (z ? z->i[ch] : 0)) * (float)ox_tval(s, ch);
    }
    return ox_def_const(c, 0, &t);
  }
  if (x->kind == OX_QNODE) {
    /* The integer operators' output back to real values. */
    if (ax >= 0 && s->n > 1)
      return NERR(c, ROVE_EUNSUPPORTED,
                  "per-axis DequantizeLinear of an activation");
    if (z && z->elem != x->qelem)
      return NERR(c, ROVE_EFORMAT,
                  "zero point of ONNX type %d, input '%s' of type %d", z->elem,
                  x->name, x->qelem);
    rove_attrs a;
    rove_attrs_default(&a);
    ROVE_TRY(ox_qrange(c, x->qelem, &a.qmin, &a.qmax));
    int id;
    ROVE_TRY(ox_emit(c, ROVE_OP_DEQUANTIZE, &x->node, 1, &a, &id));
    float *p = rove_model_node_params(c->m, id);
    p[0] = (float)ox_tval(s, 0);
    p[1] = z ? (float)z->i[0] : 0.0f;
    return ox_def_node(c, 0, id, &c->m->nodes[id].out);
  }
  if (x->kind != OX_QPEND)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input '%s' is not the output of a QuantizeLinear", x->name);
  /* Q -> DQ on an activation with the same scale and zero point (what
   * fake quantization exports): one fakequant node. Otherwise the two are
   * what they say: a quantize node, then a dequantize with its own. */
  int same = x->qs.n == s->n && x->qaxis == ax;
  for (int64_t k = 0; same && k < s->n; k++)
    same = (float)ox_tval(s, k) == (float)ox_tval(&x->qs, k) &&
           (z ? z->i[k] : 0) == x->qz.i[x->qz.n > 1 ? k : 0];
  if (!same) {
    if (ax >= 0 && s->n > 1)
      return NERR(c, ROVE_EUNSUPPORTED,
                  "scale or axis differ from the QuantizeLinear's, per axis");
    ox_value *q;
    ROVE_TRY(ox_in_q(c, 0, &q));
    rove_attrs d;
    rove_attrs_default(&d);
    ROVE_TRY(ox_qrange(c, q->qelem, &d.qmin, &d.qmax));
    int id;
    ROVE_TRY(ox_emit(c, ROVE_OP_DEQUANTIZE, &q->node, 1, &d, &id));
    float *p = rove_model_node_params(c->m, id);
    p[0] = (float)ox_tval(s, 0);
    p[1] = z ? (float)z->i[0] : 0.0f;
    return ox_def_node(c, 0, id, &c->m->nodes[id].out);
  }
  rove_attrs a;
  rove_attrs_default(&a);
  ROVE_TRY(ox_qrange(c, x->qz.elem, &a.qmin, &a.qmax));
  if (ax >= 0 && s->n > 1) {
    if (ax != 1)
      return NERR(c, ROVE_EUNSUPPORTED,
                  "per-axis quantization along axis %d (rove supports the "
                  "channel axis 1)",
                  ax);
    a.per_channel = 1;
  }
  int id;
  ROVE_TRY(ox_emit(c, ROVE_OP_FAKEQUANT, &x->node, 1, &a, &id));
  int nc = a.per_channel ? x->shape.d[0] : 1;
  if (c->m->nodes[id].n_params != (size_t)(2 * nc))
    return NERR(c, ROVE_ESTATE,
                "fakequant layer holds %zu parameters, "
                "expected %d",
                c->m->nodes[id].n_params, 2 * nc);
  float *p = rove_model_node_params(c->m, id);
  for (int k = 0; k < nc; k++) {
    p[k] = (float)ox_tval(s, k);
    p[nc + k] = (float)x->qz.i[x->qz.n > 1 ? k : 0];
  }
  return ox_def_node(c, 0, id, &c->m->nodes[id].out);
}
