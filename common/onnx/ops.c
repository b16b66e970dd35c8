/* ops.c - the ONNX operators rove imports (one handler each) and their
 * table by op type and domain (common/ONNX.md lists them). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/onnx/import.h"

/* ---- operators --------------------------------------------------------- */

/* Elementwise binary op between (node, node), (node, const), (const,
 * node) or (const, const). */
static int ox_op_binary(ox_ctx *c, int bin, int rove_op) {
  ox_value *va, *vb;
  ROVE_TRY(ox_in_required(c, 0, &va));
  ROVE_TRY(ox_in_required(c, 1, &vb));
  if (va->kind == OX_CONST && vb->kind == OX_CONST) {
    ox_tensor t;
    ROVE_TRY(ox_const_binary(c, bin, &va->t, &vb->t, &t));
    return ox_def_const(c, 0, &t);
  }
  if (va->kind == OX_NODE && vb->kind == OX_NODE) {
    rove_attrs a;
    rove_attrs_default(&a);
    int in[2] = {va->node, vb->node};
    return ox_emit_out(c, rove_op, in, 2, &a, NULL);
  }
  if (va->kind != OX_CONST && vb->kind != OX_CONST) {
    /* Two activations, not both plain: a pending QuantizeLinear or
     * quantized integers, which ox_in_node refuses with the reason (the
     * fuzzer's corpus/fuzz_onnx/regress-add-quantized-operand read the
     * missing constant of such an Add). */
    ox_value *x0, *x1;
    ROVE_TRY(ox_in_node(c, 0, &x0));
    ROVE_TRY(ox_in_node(c, 1, &x1));
    rove_attrs a;
    rove_attrs_default(&a);
    int in[2] = {x0->node, x1->node};
    return ox_emit_out(c, rove_op, in, 2, &a, NULL);
  }
  int const_first = va->kind == OX_CONST;
  ox_value *x;
  ROVE_TRY(ox_in_node(c, const_first ? 1 : 0, &x));
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
  ROVE_TRY(ox_emit(c, rove_op, &x->node, 1, &a, &id));
  if ((long)c->m->nodes[id].n_params != nvals)
    return NERR(c, ROVE_ESTATE,
                "layer '%s' holds %zu constants, the importer has %ld",
                rove_layers[rove_op]->name, c->m->nodes[id].n_params, nvals);
  float *p = rove_model_node_params(c->m, id);
  if (a.cmode != 3) {
    /* A scalar, or one value per channel: the constant's own values in
     * order (every other dimension of it is 1). */
    for (long k = 0; k < nvals; k++)
      p[k] = (float)ox_tval(t, k);
  } else {
    /* Expand the constant to the full per-example shape. */
    int64_t idx[ROVE_MAX_RANK] = {0}, dims[ROVE_MAX_RANK];
    for (int k = 0; k < s->rank; k++)
      dims[k] = s->d[k];
    for (long k = 0; k < nvals; k++, ox_idx_next(s->rank, dims, idx)) {
      int64_t off = 0;
      for (int j = 0; j < s->rank; j++) {
        int kt = j + 1 - (r - t->rank);
        if (kt >= 0)
          off = off * t->dims[kt] + (t->dims[kt] == 1 ? 0 : idx[j]);
      }
      p[k] = (float)ox_tval(t, off);
    }
  }
  for (long k = 0; t->is_int && k < t->n; k++)
    if (t->i[k] == OX_BATCH)
      return NERR(c, ROVE_EUNSUPPORTED, "computes with the batch size");
  return ox_def_node(c, 0, id, &c->m->nodes[id].out);
}

static int ox_op_add(ox_ctx *c) {
  if (c->fused_into[c->node_idx] >= 0)
    return ox_def_node(c, 0, c->fused_into[c->node_idx],
                       &c->fused_sh[c->node_idx]);
  return ox_op_binary(c, BIN_ADD, ROVE_OP_ADD);
}
static int ox_op_sub(ox_ctx *c) {
  return ox_op_binary(c, BIN_SUB, ROVE_OP_SUB);
}
static int ox_op_mul(ox_ctx *c) {
  return ox_op_binary(c, BIN_MUL, ROVE_OP_MUL);
}
static int ox_op_div(ox_ctx *c) {
  return ox_op_binary(c, BIN_DIV, ROVE_OP_DIV);
}

/* Unary elementwise ops, evaluated on constants or emitted as a layer. */
enum { UN_RELU, UN_ROUND, UN_FLOOR, UN_SIGMOID, UN_TANH, UN_NEG, UN_RECIP };

static int ox_op_unary_kind(ox_ctx *c, int kind, int rove_op) {
  ox_value *x;
  ROVE_TRY(ox_in_required(c, 0, &x));
  if (x->kind == OX_CONST) {
    ox_tensor t;
    ROVE_TRY(ox_tensor_copy(&t, &x->t));
    if (ox_tensor_to_float(c, &t) < 0) {
      ox_tensor_free(&t);
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
    return ox_def_const(c, 0, &t);
  }
  if (rove_op < 0)
    return NERR(c, ROVE_EUNSUPPORTED,
                "supported on constants only, not on activations");
  return ox_emit_unary(c, rove_op, NULL);
}

static int ox_op_relu(ox_ctx *c) {
  return ox_op_unary_kind(c, UN_RELU, ROVE_OP_RELU);
}
static int ox_op_round(ox_ctx *c) {
  return ox_op_unary_kind(c, UN_ROUND, ROVE_OP_ROUND);
}
static int ox_op_floor(ox_ctx *c) {
  return ox_op_unary_kind(c, UN_FLOOR, ROVE_OP_FLOOR);
}
static int ox_op_sigmoid(ox_ctx *c) {
  return ox_op_unary_kind(c, UN_SIGMOID, ROVE_OP_SIGMOID);
}
static int ox_op_tanh(ox_ctx *c) {
  return ox_op_unary_kind(c, UN_TANH, ROVE_OP_TANH);
}
static int ox_op_neg(ox_ctx *c) {
  return ox_op_unary_kind(c, UN_NEG, -1);
}

/* Reciprocal (torch writes c / x as Reciprocal then Mul): a div layer
 * computing 1 / x. */
static int ox_op_reciprocal(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(ox_in_required(c, 0, &x));
  if (x->kind == OX_CONST)
    return ox_op_unary_kind(c, UN_RECIP, -1);
  ROVE_TRY(ox_in_node(c, 0, &x));
  rove_attrs a;
  rove_attrs_default(&a);
  a.cmode = 1;
  a.const_first = 1;
  int id;
  ROVE_TRY(ox_emit(c, ROVE_OP_DIV, &x->node, 1, &a, &id));
  if (c->m->nodes[id].n_params != 1)
    return NERR(c, ROVE_ESTATE, "div layer holds %zu constants, expected 1",
                c->m->nodes[id].n_params);
  rove_model_node_params(c->m, id)[0] = 1.0f;
  return ox_def_node(c, 0, id, &c->m->nodes[id].out);
}

/* Pad with zeros on the spatial axes of an activation: recorded on the
 * value and absorbed by the consuming Conv or AveragePool (torch writes
 * avg_pool2d with count_include_pad as Pad + AveragePool). */
static int ox_op_pad(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(ox_in_node(c, 0, &x));
  char mode[32];
  ox_attr_string(c, "mode", "constant", mode, sizeof mode);
  if (strcmp(mode, "constant") != 0)
    return NERR(c, ROVE_EUNSUPPORTED, "mode '%s' (only constant)", mode);
  int64_t pads[2 * OX_MAX_DIMS];
  int n, r = x->shape.rank + 1;
  float value = 0;
  if (c->opset < 11) {
    ROVE_TRY(ox_attr_ints(c, "pads", pads, 2 * OX_MAX_DIMS, &n));
    ROVE_TRY(ox_attr_float(c, "value", 0.0f, &value));
  } else {
    ox_tensor *pt, *vt;
    ROVE_TRY(ox_in_const(c, 1, 1, &pt));
    ROVE_TRY(ox_in_const(c, 2, 0, &vt));
    if (ox_has_input(c, 3))
      return NERR(c, ROVE_EUNSUPPORTED, "the axes input is not supported");
    if (!pt->is_int || pt->n > 2 * OX_MAX_DIMS)
      return NERR(c, ROVE_EFORMAT, "pads must be integers");
    n = (int)pt->n;
    for (int k = 0; k < n; k++)
      pads[k] = pt->i[k];
    if (vt && vt->n != 1)
      return NERR(c, ROVE_EFORMAT, "constant_value must be a scalar");
    value = vt ? (float)ox_tval(vt, 0) : 0.0f;
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
  ROVE_TRY(ox_def_node(c, 0, node, &sh));
  if (zero && !old[0] && !old[1] && !old[2] && !old[3])
    return 0;
  if (r != 4)
    return NERR(c, ROVE_EUNSUPPORTED, "padding of a rank-%d activation", r);
  ox_value *v = c->node->n_output > 0 && c->node->output[0][0]
                    ? ox_find_value(c, c->node->output[0])
                    : NULL;
  if (!v)
    return 0; /* the padded output is not used */
  v->padded = 1;
  v->pad[0] = old[0] + (int)pads[2];
  v->pad[1] = old[1] + (int)pads[3];
  v->pad[2] = old[2] + (int)pads[r + 2];
  v->pad[3] = old[3] + (int)pads[r + 3];
  return 0;
}

/* Adds a pending Pad's zeros to a Conv/AveragePool's own padding. */
void ox_absorb_pad(const ox_value *x, rove_attrs *a) {
  if (!x->padded)
    return;
  a->pt += x->pad[0];
  a->pl += x->pad[1];
  a->pb += x->pad[2];
  a->pr += x->pad[3];
}

static int ox_op_leakyrelu(ox_ctx *c) {
  rove_attrs a;
  rove_attrs_default(&a);
  ROVE_TRY(ox_attr_float(c, "alpha", 0.01f, &a.alpha));
  return ox_emit_unary(c, ROVE_OP_LEAKYRELU, &a);
}

/* A scalar bound of Clip given as an input (opset 11+). */
int ox_clip_bound(ox_ctx *c, int k, float *v) {
  ox_tensor *t;
  ROVE_TRY(ox_in_const(c, k, 0, &t));
  if (!t)
    return 0;
  if (t->n != 1)
    return NERR(c, ROVE_EUNSUPPORTED,
                "bound input %d has %lld values "
                "(expected a scalar)",
                k, (long long)t->n);
  *v = (float)ox_tval(t, 0);
  return 0;
}

static int ox_op_clip(ox_ctx *c) {
  rove_attrs a;
  rove_attrs_default(&a);
  if (c->opset < 11) {
    ROVE_TRY(ox_attr_float(c, "min", a.lo, &a.lo));
    ROVE_TRY(ox_attr_float(c, "max", a.hi, &a.hi));
  } else {
    ROVE_TRY(ox_clip_bound(c, 1, &a.lo));
    ROVE_TRY(ox_clip_bound(c, 2, &a.hi));
  }
  ox_value *x;
  ROVE_TRY(ox_in_required(c, 0, &x));
  if (x->kind == OX_CONST) {
    ox_tensor t;
    ROVE_TRY(ox_tensor_copy(&t, &x->t));
    for (int64_t k = 0; k < t.n; k++) {
      if (t.is_int)
        t.i[k] = t.i[k] < a.lo   ? (int64_t)a.lo
                 : t.i[k] > a.hi ? (int64_t)a.hi
                                 : t.i[k];
      else
        t.f[k] = t.f[k] < a.lo ? a.lo : t.f[k] > a.hi ? a.hi : t.f[k];
    }
    return ox_def_const(c, 0, &t);
  }
  return ox_emit_unary(c, ROVE_OP_CLIP, &a);
}

/* Reads spatial conv/pool attributes: kernel (already known for conv),
 * strides, dilations, pads and auto_pad, for input spatial size h x w. */
int ox_spatial_attrs(ox_ctx *c, rove_attrs *a, int h, int w,
                     int allow_dilation) {
  int64_t v[4];
  int n;
  ROVE_TRY(ox_attr_ints(c, "strides", v, 2, &n));
  if (n == 2) {
    a->sh = (int)v[0];
    a->sw = (int)v[1];
  } else if (n != -1) {
    return NERR(c, ROVE_EUNSUPPORTED, "'strides' must have 2 values");
  }
  ROVE_TRY(ox_attr_ints(c, "dilations", v, 2, &n));
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
  ROVE_TRY(ox_attr_ints(c, "pads", v, 4, &n));
  if (n == 4) {
    a->pt = (int)v[0];
    a->pl = (int)v[1];
    a->pb = (int)v[2];
    a->pr = (int)v[3];
  } else if (n != -1) {
    return NERR(c, ROVE_EUNSUPPORTED, "'pads' must have 4 values");
  }
  char ap[32];
  ox_attr_string(c, "auto_pad", "NOTSET", ap, sizeof ap);
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

static int ox_op_conv(ox_ctx *c) {
  ox_value *x;
  ox_tensor *w, *b;
  ROVE_TRY(ox_in_node_pad(c, 0, &x, 1));
  ROVE_TRY(ox_in_const(c, 1, 1, &w));
  ROVE_TRY(ox_in_const(c, 2, 0, &b));
  if (x->shape.rank != 3 || w->rank != 4)
    return NERR(c, ROVE_EUNSUPPORTED,
                "only 2-D convolution is supported (input of per-example "
                "rank %d, weight of rank %d)",
                x->shape.rank, w->rank);
  rove_attrs a;
  rove_attrs_default(&a);
  int64_t g;
  ROVE_TRY(ox_attr_int(c, "group", 1, &g));
  a.groups = (int)g;
  a.out = (int)w->dims[0];
  a.kh = (int)w->dims[2];
  a.kw = (int)w->dims[3];
  int64_t ks[2];
  int n;
  ROVE_TRY(ox_attr_ints(c, "kernel_shape", ks, 2, &n));
  if (n == 2 && (ks[0] != a.kh || ks[1] != a.kw))
    return NERR(c, ROVE_ESHAPE,
                "kernel_shape %lldx%lld does not match the weight's %dx%d",
                (long long)ks[0], (long long)ks[1], a.kh, a.kw);
  ROVE_TRY(ox_spatial_attrs(c, &a, x->shape.d[1], x->shape.d[2], 1));
  ox_absorb_pad(x, &a);
  if (b && b->n != a.out)
    return NERR(c, ROVE_ESHAPE, "bias has %lld values, expected %d",
                (long long)b->n, a.out);
  a.has_bias = b != NULL;
  int id;
  ROVE_TRY(ox_emit(c, ROVE_OP_CONV, &x->node, 1, &a, &id));
  size_t need = (size_t)w->n + (b ? (size_t)b->n : 0);
  if (c->m->nodes[id].n_params != need)
    return NERR(c, ROVE_ESHAPE,
                "weight has %lld values; the layer expects %zu (weight "
                "dimension 1 must be input channels / group)",
                (long long)w->n, c->m->nodes[id].n_params - (b ? b->n : 0));
  float *p = rove_model_node_params(c->m, id);
  for (int64_t k = 0; k < w->n; k++)
    p[k] = (float)ox_tval(w, k);
  for (int64_t k = 0; b && k < b->n; k++)
    p[w->n + k] = (float)ox_tval(b, k);
  return ox_def_node(c, 0, id, &c->m->nodes[id].out);
}

/* Emits linear with W[out][in] = scale * B^T or B (transposed) and bias. */
int ox_emit_linear(ox_ctx *c, ox_value *x, const ox_tensor *wt, int trans,
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
  ROVE_TRY(ox_emit(c, ROVE_OP_LINEAR, &x->node, 1, &a, &id));
  float *p = rove_model_node_params(c->m, id);
  for (int o = 0; o < fout; o++)
    for (int i = 0; i < fin; i++) {
      float v = (float)ox_tval(wt, trans ? (int64_t)o * fin + i
                                         : (int64_t)i * fout + o);
      p[(size_t)o * (size_t)fin + (size_t)i] = alpha == 1.0f ? v : alpha * v;
    }
  for (int o = 0; bias && o < fout; o++) {
    float v = (float)ox_tval(bias, bias->n == 1 ? 0 : o);
    p[(size_t)fout * (size_t)fin + (size_t)o] = beta == 1.0f ? v : beta * v;
  }
  *out_id = id;
  return ox_def_node(c, 0, id, &c->m->nodes[id].out);
}

static int ox_op_gemm(ox_ctx *c) {
  ox_value *x;
  ox_tensor *bt, *ct;
  ROVE_TRY(ox_in_node(c, 0, &x));
  ROVE_TRY(ox_in_const(c, 1, 1, &bt));
  ROVE_TRY(ox_in_const(c, 2, 0, &ct));
  float alpha, beta;
  int64_t ta, tb;
  ROVE_TRY(ox_attr_float(c, "alpha", 1.0f, &alpha));
  ROVE_TRY(ox_attr_float(c, "beta", 1.0f, &beta));
  ROVE_TRY(ox_attr_int(c, "transA", 0, &ta));
  ROVE_TRY(ox_attr_int(c, "transB", 0, &tb));
  if (ta)
    return NERR(c, ROVE_EUNSUPPORTED,
                "transA = 1 would mix the batch into the features");
  if (beta == 0.0f)
    ct = NULL;
  int id;
  return ox_emit_linear(c, x, bt, (int)tb, alpha, ct, beta, &id);
}

/* The index of the only node consuming `name`, or -1 (none, several, or
 * a graph output). */
int ox_sole_consumer(const ox_ctx *c, const char *name) {
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

static int ox_op_matmul(ox_ctx *c) {
  ox_value *x;
  ox_tensor *wt;
  ROVE_TRY(ox_in_node(c, 0, &x));
  ROVE_TRY(ox_in_const(c, 1, 1, &wt));
  /* x @ W + b, as torch writes a linear layer on tensors that are not
   * 2-D: fuse the Add into the linear's bias when it is the MatMul's only
   * consumer and its other operand is a constant vector. */
  const ox_tensor *bias = NULL;
  int add = c->node->n_output ? ox_sole_consumer(c, c->node->output[0]) : -1;
  if (add >= 0 && c->g->node[add]->op_type &&
      strcmp(c->g->node[add]->op_type, "Add") == 0 &&
      c->g->node[add]->n_input == 2 && wt->rank == 2) {
    const Onnx__NodeProto *an = c->g->node[add];
    const char *other = strcmp(an->input[0], c->node->output[0]) == 0
                            ? an->input[1]
                            : an->input[0];
    ox_value *bv = ox_find_value(c, other);
    if (bv && bv->kind == OX_CONST && bv->t.n == wt->dims[1] &&
        (bv->t.rank == 1 || (bv->t.rank == 2 && bv->t.dims[0] == 1)))
      bias = &bv->t;
  }
  int id;
  ROVE_TRY(ox_emit_linear(c, x, wt, 0, 1.0f, bias, 1.0f, &id));
  if (bias) {
    c->fused_into[add] = id;
    c->fused_sh[add] = c->m->nodes[id].out;
  }
  return 0;
}

static int ox_op_pool(ox_ctx *c, int op) {
  ox_value *x;
  ROVE_TRY(ox_in_node_pad(c, 0, &x, op == ROVE_OP_AVGPOOL));
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
  ROVE_TRY(ox_attr_ints(c, "kernel_shape", ks, 2, &n));
  if (n != 2)
    return NERR(c, ROVE_EFORMAT, "'kernel_shape' must have 2 values");
  a.kh = (int)ks[0];
  a.kw = (int)ks[1];
  ROVE_TRY(ox_spatial_attrs(c, &a, x->shape.d[1], x->shape.d[2], 0));
  ROVE_TRY(ox_attr_int(c, "ceil_mode", 0, &v));
  a.ceil_mode = (int)v;
  if (op == ROVE_OP_AVGPOOL) {
    ROVE_TRY(ox_attr_int(c, "count_include_pad", 0, &v));
    a.count_include_pad = (int)v;
    if (x->padded) {
      /* The explicit zeros are ordinary input to AveragePool: they count
       * in the mean, which mixes with the pool's own padding only when
       * that padding counts too. */
      if ((a.pt || a.pl || a.pb || a.pr) && !a.count_include_pad)
        return NERR(c, ROVE_EUNSUPPORTED,
                    "a Pad in front of a padded AveragePool with "
                    "count_include_pad = 0");
      ox_absorb_pad(x, &a);
      a.count_include_pad = 1;
    }
  }
  return ox_emit_out(c, op, &x->node, 1, &a, NULL);
}

static int ox_op_maxpool(ox_ctx *c) {
  return ox_op_pool(c, ROVE_OP_MAXPOOL);
}
static int ox_op_avgpool(ox_ctx *c) {
  return ox_op_pool(c, ROVE_OP_AVGPOOL);
}

static int ox_op_gap(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(ox_in_node(c, 0, &x));
  if (x->shape.rank != 3)
    return NERR(c, ROVE_EUNSUPPORTED,
                "input has per-example rank %d (expected C x H x W)",
                x->shape.rank);
  return ox_emit_unary(c, ROVE_OP_GAP, NULL);
}

static int ox_op_batchnorm(ox_ctx *c) {
  ox_value *x;
  ox_tensor *t[4];
  ROVE_TRY(ox_in_node(c, 0, &x));
  for (int k = 0; k < 4; k++)
    ROVE_TRY(ox_in_const(c, k + 1, 1, &t[k]));
  int64_t training;
  ROVE_TRY(ox_attr_int(c, "training_mode", 0, &training));
  if (training)
    return NERR(c, ROVE_EUNSUPPORTED,
                "training_mode = 1 (rove imports inference graphs; export "
                "the model in eval mode)");
  for (size_t k = 1; k < c->node->n_output; k++)
    if (c->node->output[k][0] && ox_sole_consumer(c, c->node->output[k]) != -1)
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
  ROVE_TRY(ox_attr_float(c, "epsilon", 1e-5f, &a.eps));
  int id;
  ROVE_TRY(ox_emit(c, ROVE_OP_BATCHNORM, &x->node, 1, &a, &id));
  if (c->m->nodes[id].n_params != (size_t)(4 * ch))
    return NERR(c, ROVE_ESTATE,
                "batchnorm layer holds %zu parameters, "
                "expected 4 per channel",
                c->m->nodes[id].n_params);
  float *p = rove_model_node_params(c->m, id);
  for (int k = 0; k < 4; k++)
    for (int j = 0; j < ch; j++)
      p[k * ch + j] = (float)ox_tval(t[k], j);
  return ox_def_node(c, 0, id, &c->m->nodes[id].out);
}

static int ox_op_softmax(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(ox_in_node(c, 0, &x));
  int r = x->shape.rank + 1, ax;
  int64_t axis;
  ROVE_TRY(ox_attr_int(c, "axis", c->opset >= 13 ? -1 : 1, &axis));
  ROVE_TRY(ox_norm_axis(c, axis, r, &ax));
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
  return ox_emit_out(c, ROVE_OP_SOFTMAX, &x->node, 1, &a, NULL);
}

static int ox_op_identity(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(ox_in_required(c, 0, &x));
  if (x->kind == OX_CONST) {
    ox_tensor t;
    ROVE_TRY(ox_tensor_copy(&t, &x->t));
    return ox_def_const(c, 0, &t);
  }
  if (x->kind == OX_QPEND)
    return NERR(c, ROVE_EUNSUPPORTED,
                "passes on a QuantizeLinear output; rove expects it to feed "
                "a DequantizeLinear directly");
  for (size_t k = 1; k < c->node->n_output; k++)
    if (c->node->output[k][0] && ox_sole_consumer(c, c->node->output[k]) != -1)
      return NERR(c, ROVE_EUNSUPPORTED, "the dropout mask output is used");
  return ox_def_node(c, 0, x->node, &x->shape);
}

/* Reshapes a constant to dims (numel must match). */
int ox_const_reshape(ox_ctx *c, const ox_tensor *src, int rank,
                     const int64_t *dims) {
  ox_tensor t;
  if (ox_dims_numel(rank, dims) != src->n)
    return NERR(c, ROVE_ESHAPE,
                "cannot reshape a constant of %lld elements to %lld",
                (long long)src->n, (long long)ox_dims_numel(rank, dims));
  ROVE_TRY(ox_tensor_copy(&t, src));
  t.rank = rank;
  for (int k = 0; k < rank; k++)
    t.dims[k] = dims[k];
  return ox_def_const(c, 0, &t);
}

/* Resolves a Reshape target against the input dims (0: copy, -1: infer).
 * in_dims[0] may be OX_BATCH for activations. */
int ox_resolve_target(ox_ctx *c, int in_rank, const int64_t *in_dims,
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

static int ox_op_reshape(ox_ctx *c) {
  ox_value *x;
  ox_tensor *t;
  ROVE_TRY(ox_in_required(c, 0, &x));
  ROVE_TRY(ox_in_const(c, 1, 1, &t));
  int64_t allowzero;
  ROVE_TRY(ox_attr_int(c, "allowzero", 0, &allowzero));
  int64_t dims[OX_MAX_DIMS], out[OX_MAX_DIMS];
  int r;
  if (x->kind == OX_CONST) {
    ROVE_TRY(ox_resolve_target(c, x->t.rank, x->t.dims, x->t.n, t,
                               (int)allowzero, out, &r, 0));
    return ox_const_reshape(c, &x->t, r, out);
  }
  ROVE_TRY(ox_in_node(c, 0, &x));
  int ir = ox_onnx_dims(&x->shape, dims);
  ROVE_TRY(ox_resolve_target(c, ir, dims, rove_shape_numel(&x->shape), t,
                             (int)allowzero, out, &r, 1));
  rove_shape s;
  ROVE_TRY(ox_per_example(c, r, out, &s));
  if (rove_shape_numel(&s) != rove_shape_numel(&x->shape))
    return NERR(c, ROVE_ESHAPE,
                "target shape has %ld elements per example, the input %ld",
                rove_shape_numel(&s), rove_shape_numel(&x->shape));
  return ox_emit_reshape(c, x, &s);
}

static int ox_op_flatten(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(ox_in_required(c, 0, &x));
  int64_t axis;
  ROVE_TRY(ox_attr_int(c, "axis", 1, &axis));
  int ax;
  if (x->kind == OX_CONST) {
    ROVE_TRY(ox_norm_axis(c, axis, x->t.rank + 1, &ax));
    int64_t d[2] = {ox_dims_numel(ax, x->t.dims),
                    ox_dims_numel(x->t.rank - ax, x->t.dims + ax)};
    return ox_const_reshape(c, &x->t, 2, d);
  }
  ROVE_TRY(ox_in_node(c, 0, &x));
  ROVE_TRY(ox_norm_axis(c, axis, x->shape.rank + 2, &ax));
  if (ax != 1)
    return NERR(c, ROVE_EUNSUPPORTED,
                "axis %d would mix the batch with other dimensions "
                "(only axis 1 is supported)",
                ax);
  rove_shape s = {1, {(int)rove_shape_numel(&x->shape)}};
  return ox_emit_reshape(c, x, &s);
}

/* Axes of Squeeze/Unsqueeze: an attribute before opset 13, an input
 * after. */
int ox_squeeze_axes(ox_ctx *c, int64_t *axes, int *n) {
  if (c->opset < 13) {
    ROVE_TRY(ox_attr_ints(c, "axes", axes, OX_MAX_DIMS, n));
    return 0;
  }
  ox_tensor *t;
  ROVE_TRY(ox_in_const(c, 1, 0, &t));
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

static int ox_op_squeeze_like(ox_ctx *c, int unsq) {
  ox_value *x;
  ROVE_TRY(ox_in_required(c, 0, &x));
  int64_t axes[OX_MAX_DIMS], in[OX_MAX_DIMS], out[OX_MAX_DIMS];
  int na, ir, or = 0;
  ROVE_TRY(ox_squeeze_axes(c, axes, &na));
  if (x->kind == OX_QPEND)
    return ox_in_node(c, 0, &x);
  if (x->kind == OX_CONST) {
    ir = x->t.rank;
    memcpy(in, x->t.dims, sizeof(int64_t) * (size_t)ir);
  } else {
    ir = ox_onnx_dims(&x->shape, in);
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
      ROVE_TRY(ox_norm_axis(c, axes[k], r, &ax));
      mark[ax] = 1;
    }
    for (int k = 0, j = 0; k < r; k++)
      out[or ++] = mark[k] ? 1 : in[j++];
  } else {
    for (int k = 0; k < na; k++) {
      int ax;
      ROVE_TRY(ox_norm_axis(c, axes[k], ir, &ax));
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
    return ox_const_reshape(c, &x->t, or, out);
  if (or < 1 || out[0] != OX_BATCH)
    return NERR(c, ROVE_EUNSUPPORTED, "moves the batch dimension");
  rove_shape s;
  ROVE_TRY(ox_per_example(c, or, out, &s));
  return ox_emit_reshape(c, x, &s);
}

static int ox_op_squeeze(ox_ctx *c) {
  return ox_op_squeeze_like(c, 0);
}
static int ox_op_unsqueeze(ox_ctx *c) {
  return ox_op_squeeze_like(c, 1);
}

static int ox_op_shape(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(ox_in_required(c, 0, &x));
  int64_t d[OX_MAX_DIMS];
  int r;
  if (x->kind == OX_CONST) {
    r = x->t.rank;
    memcpy(d, x->t.dims, sizeof(int64_t) * (size_t)r);
  } else {
    r = ox_onnx_dims(&x->shape, d);
  }
  int64_t start, end;
  ROVE_TRY(ox_attr_int(c, "start", 0, &start));
  ROVE_TRY(ox_attr_int(c, "end", r, &end));
  start = start < 0 ? start + r : start;
  end = end < 0 ? end + r : end;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < 0 ? 0 : end > r ? r : end;
  int64_t n = end > start ? end - start : 0;
  ox_tensor t;
  ROVE_TRY(ox_tensor_alloc(&t, 1, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, &n));
  for (int64_t k = 0; k < n; k++)
    t.i[k] = d[start + k];
  return ox_def_const(c, 0, &t);
}

static int ox_op_gather(ox_ctx *c) {
  ox_tensor *data, *ind;
  ox_value *x;
  ROVE_TRY(ox_in_required(c, 0, &x));
  if (x->kind != OX_CONST)
    return NERR(c, ROVE_EUNSUPPORTED,
                "Gather on an activation is not supported (only on "
                "constants such as shapes)");
  data = &x->t;
  ROVE_TRY(ox_in_const(c, 1, 1, &ind));
  if (!ind->is_int)
    return NERR(c, ROVE_EFORMAT, "indices must be integers");
  int64_t axis;
  int ax;
  ROVE_TRY(ox_attr_int(c, "axis", 0, &axis));
  ROVE_TRY(ox_norm_axis(c, axis, data->rank, &ax));
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
  int64_t outer = ox_dims_numel(ax, data->dims), len = data->dims[ax];
  int64_t inner = ox_dims_numel(data->rank - ax - 1, data->dims + ax + 1);
  ox_tensor t;
  ROVE_TRY(ox_tensor_alloc(&t, data->is_int, data->elem, r, dims));
  int64_t o = 0;
  for (int64_t a = 0; a < outer; a++)
    for (int64_t q = 0; q < ind->n; q++) {
      int64_t ix = ind->i[q] < 0 ? ind->i[q] + len : ind->i[q];
      if (ix < 0 || ix >= len) {
        ox_tensor_free(&t);
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
  return ox_def_const(c, 0, &t);
}

static int ox_op_concat(ox_ctx *c) {
  int n = ox_n_inputs(c), nconst = 0;
  ox_value *v[64] = {0};
  if (n < 1 || n > 64)
    return NERR(c, ROVE_EUNSUPPORTED, "%d inputs (1 to 64 supported)", n);
  for (int k = 0; k < n; k++) {
    ROVE_TRY(ox_in_required(c, k, &v[k]));
    nconst += v[k]->kind == OX_CONST;
  }
  int64_t axis;
  ROVE_TRY(ox_attr_int(c, "axis", 0, &axis));
  if (nconst == n) {
    int r = v[0]->t.rank, ax, isint = 1;
    ROVE_TRY(ox_norm_axis(c, axis, r, &ax));
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
    ROVE_TRY(ox_tensor_alloc(
        &t, isint, isint ? v[0]->t.elem : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
        r, dims));
    int64_t outer = ox_dims_numel(ax, dims), o = 0;
    for (int64_t a = 0; a < outer; a++)
      for (int k = 0; k < n; k++) {
        const ox_tensor *s = &v[k]->t;
        int64_t blk = ox_dims_numel(r - ax, s->dims + ax);
        for (int64_t b = 0; b < blk; b++, o++) {
          if (isint)
            t.i[o] = s->i[a * blk + b];
          else
            t.f[o] = (float)ox_tval(s, a * blk + b);
        }
      }
    return ox_def_const(c, 0, &t);
  }
  if (nconst > 0)
    return NERR(c, ROVE_EUNSUPPORTED,
                "concatenates activations with constants");
  if (n > ROVE_MAX_IN)
    return NERR(c, ROVE_EUNSUPPORTED, "%d inputs (rove layers take up to %d)",
                n, ROVE_MAX_IN);
  int in[ROVE_MAX_IN], ax;
  for (int k = 0; k < n; k++) {
    ROVE_TRY(ox_in_node(c, k, &v[k]));
    in[k] = v[k]->node;
  }
  ROVE_TRY(ox_norm_axis(c, axis, v[0]->shape.rank + 1, &ax));
  if (ax == 0)
    return NERR(c, ROVE_EUNSUPPORTED, "concatenation along the batch axis");
  rove_attrs a;
  rove_attrs_default(&a);
  a.axis = ax - 1;
  return ox_emit_out(c, ROVE_OP_CONCAT, in, n, &a, NULL);
}

static int ox_op_constant(ox_ctx *c) {
  const Onnx__AttributeProto *a =
      c->node->n_attribute == 1 ? c->node->attribute[0] : NULL;
  ox_tensor t;
  if (!a || !a->name)
    return NERR(c, ROVE_EFORMAT, "expected exactly one named attribute");
  if (strcmp(a->name, "value") == 0 && a->t) {
    char where[160];
    snprintf(where, sizeof where, "node '%s' attribute 'value'",
             ox_node_name(c->node));
    ROVE_TRY(ox_tensor_from_proto(c->what, where, a->t, &t));
  } else if (strcmp(a->name, "value_float") == 0) {
    ROVE_TRY(
        ox_tensor_alloc(&t, 0, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL));
    t.f[0] = a->f;
  } else if (strcmp(a->name, "value_int") == 0) {
    ROVE_TRY(
        ox_tensor_alloc(&t, 1, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, NULL));
    t.i[0] = a->i;
  } else if (strcmp(a->name, "value_floats") == 0) {
    int64_t n = (int64_t)a->n_floats;
    ROVE_TRY(
        ox_tensor_alloc(&t, 0, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, &n));
    for (int64_t k = 0; k < n; k++)
      t.f[k] = a->floats[k];
  } else if (strcmp(a->name, "value_ints") == 0) {
    int64_t n = (int64_t)a->n_ints;
    ROVE_TRY(
        ox_tensor_alloc(&t, 1, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, &n));
    for (int64_t k = 0; k < n; k++)
      t.i[k] = a->ints[k];
  } else {
    return NERR(c, ROVE_EUNSUPPORTED, "attribute '%s' is not supported",
                a->name);
  }
  return ox_def_const(c, 0, &t);
}

static int ox_op_constant_of_shape(ox_ctx *c) {
  ox_tensor *s, val;
  ROVE_TRY(ox_in_const(c, 0, 1, &s));
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
  const Onnx__AttributeProto *a = ox_attr(c, "value");
  if (a && a->t) {
    ROVE_TRY(
        ox_tensor_from_proto(c->what, "ConstantOfShape value", a->t, &val));
    if (val.n != 1) {
      ox_tensor_free(&val);
      return NERR(c, ROVE_EFORMAT, "'value' must hold one element");
    }
  } else {
    ROVE_TRY(ox_tensor_alloc(&val, 0, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0,
                             NULL));
    val.f[0] = 0;
  }
  ox_tensor t;
  int rc = ox_tensor_alloc(&t, val.is_int, val.elem, (int)s->n, s->i);
  if (rc == 0)
    for (int64_t k = 0; k < t.n; k++) {
      if (t.is_int)
        t.i[k] = val.i[0];
      else
        t.f[k] = val.f[0];
    }
  ox_tensor_free(&val);
  ROVE_TRY(rc);
  return ox_def_const(c, 0, &t);
}

static int ox_op_cast(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(ox_in_required(c, 0, &x));
  int64_t to;
  ROVE_TRY(ox_attr_int(c, "to", 0, &to));
  int to_float = to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
                 to == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
  if (x->kind != OX_CONST) {
    if (!to_float)
      return NERR(c, ROVE_EUNSUPPORTED,
                  "casts an activation to data type %lld (only float is "
                  "supported)",
                  (long long)to);
    /* Integers (ConvInteger's int32, a uint8 tensor) are held as floats
     * already: the cast is the identity, and the result is a float. */
    ROVE_TRY(ox_op_identity(c));
    c->q_seen = 0;
    return 0;
  }
  if (!to_float && !ox_is_int_elem((int)to))
    return NERR(c, ROVE_EUNSUPPORTED, "cast to data type %lld", (long long)to);
  ox_tensor t;
  ROVE_TRY(ox_tensor_copy(&t, &x->t));
  if (to_float) {
    int rc = ox_tensor_to_float(c, &t);
    if (rc < 0) {
      ox_tensor_free(&t);
      return rc;
    }
  } else if (!t.is_int) {
    ox_tensor u;
    int rc = ox_tensor_alloc(&u, 1, (int)to, t.rank, t.dims);
    if (rc < 0) {
      ox_tensor_free(&t);
      return rc;
    }
    for (int64_t k = 0; k < t.n; k++)
      u.i[k] = (int64_t)t.f[k]; /* ONNX Cast truncates toward zero */
    ox_tensor_free(&t);
    t = u;
  }
  t.elem = (int)to;
  return ox_def_const(c, 0, &t);
}

/* Slice on constants (shape subgraphs). */
static int ox_op_slice(ox_ctx *c) {
  ox_value *x;
  ox_tensor *st, *en, *ax, *sp;
  ROVE_TRY(ox_in_required(c, 0, &x));
  if (x->kind != OX_CONST)
    return NERR(c, ROVE_EUNSUPPORTED,
                "Slice on an activation is not supported (only on "
                "constants)");
  if (c->opset < 10)
    return NERR(c, ROVE_EUNSUPPORTED, "Slice before opset 10");
  ROVE_TRY(ox_in_const(c, 1, 1, &st));
  ROVE_TRY(ox_in_const(c, 2, 1, &en));
  ROVE_TRY(ox_in_const(c, 3, 0, &ax));
  ROVE_TRY(ox_in_const(c, 4, 0, &sp));
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
    ROVE_TRY(ox_norm_axis(c, ax ? ax->i[k] : k, d->rank, &a));
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
  ROVE_TRY(ox_tensor_alloc(&t, d->is_int, d->elem, d->rank, cnt));
  for (int64_t o = 0; o < t.n; o++, ox_idx_next(d->rank, cnt, idx)) {
    int64_t off = 0;
    for (int k = 0; k < d->rank; k++)
      off = off * d->dims[k] + lo[k] + idx[k] * step[k];
    if (t.is_int)
      t.i[o] = d->i[off];
    else
      t.f[o] = d->f[off];
  }
  return ox_def_const(c, 0, &t);
}

static int ox_op_transpose(ox_ctx *c) {
  ox_value *x;
  ROVE_TRY(ox_in_required(c, 0, &x));
  if (x->kind != OX_CONST)
    return NERR(c, ROVE_EUNSUPPORTED,
                "Transpose on an activation is not supported (only on "
                "constants such as weights)");
  const ox_tensor *d = &x->t;
  int64_t perm[OX_MAX_DIMS], dims[OX_MAX_DIMS], idx[OX_MAX_DIMS] = {0};
  int n;
  ROVE_TRY(ox_attr_ints(c, "perm", perm, OX_MAX_DIMS, &n));
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
  ROVE_TRY(ox_tensor_alloc(&t, d->is_int, d->elem, d->rank, dims));
  for (int64_t o = 0; o < t.n; o++, ox_idx_next(d->rank, dims, idx)) {
    int64_t off = 0;
    for (int k = 0; k < d->rank; k++)
      off += idx[k] * stride[perm[k]];
    if (t.is_int)
      t.i[o] = d->i[off];
    else
      t.f[o] = d->f[off];
  }
  return ox_def_const(c, 0, &t);
}
/* ---- the operator table ----------------------------------------------
 * One line per op type: a new operator is its handler above plus a line
 * here (and a row in common/ONNX.md). `domain` "" is the default ONNX
 * domain (also written "ai.onnx"). */

typedef struct ox_op {
  const char *domain;
  const char *name;
  ox_op_fn fn;
  int q_ok; /* passes the operator format's integer tensors through */
} ox_op;

static const ox_op ox_ops[] = {
    {"", "Add", ox_op_add, 0},
    {"", "AveragePool", ox_op_avgpool, 0},
    {"", "BatchNormalization", ox_op_batchnorm, 0},
    {"", "Cast", ox_op_cast, 1},
    {"", "Clip", ox_op_clip, 0},
    {"", "Concat", ox_op_concat, 0},
    {"", "Constant", ox_op_constant, 0},
    {"", "ConstantOfShape", ox_op_constant_of_shape, 0},
    {"", "Conv", ox_op_conv, 0},
    {"", "ConvInteger", ox_op_convinteger, 0},
    {"", "DequantizeLinear", ox_op_dequantize, 0},
    {"", "Div", ox_op_div, 0},
    {"", "Dropout", ox_op_identity, 1},
    {"", "Flatten", ox_op_flatten, 1},
    {"", "Floor", ox_op_floor, 0},
    {"", "Gather", ox_op_gather, 0},
    {"", "Gemm", ox_op_gemm, 0},
    {"", "GlobalAveragePool", ox_op_gap, 0},
    {"", "Identity", ox_op_identity, 1},
    {"", "LeakyRelu", ox_op_leakyrelu, 0},
    {"", "MatMul", ox_op_matmul, 0},
    {"", "MatMulInteger", ox_op_matmulinteger, 0},
    {"", "MaxPool", ox_op_maxpool, 1},
    {"", "Mul", ox_op_mul, 0},
    {"", "Neg", ox_op_neg, 0},
    {"", "Pad", ox_op_pad, 0},
    {"", "QLinearConv", ox_op_qlinearconv, 0},
    {"", "QLinearMatMul", ox_op_qlinearmatmul, 0},
    {"", "QuantizeLinear", ox_op_quantize, 0},
    {"", "Reciprocal", ox_op_reciprocal, 0},
    {"", "Relu", ox_op_relu, 0},
    {"", "Reshape", ox_op_reshape, 1},
    {"", "Round", ox_op_round, 0},
    {"", "Shape", ox_op_shape, 0},
    {"", "Sigmoid", ox_op_sigmoid, 0},
    {"", "Slice", ox_op_slice, 0},
    {"", "Softmax", ox_op_softmax, 0},
    {"", "Squeeze", ox_op_squeeze, 1},
    {"", "Sub", ox_op_sub, 0},
    {"", "Tanh", ox_op_tanh, 0},
    {"", "Transpose", ox_op_transpose, 0},
    {"", "Unsqueeze", ox_op_unsqueeze, 1},
    /* onnxruntime's contrib operators that its QOperator format emits. */
    {"com.microsoft", "QLinearAdd", ox_op_qlinearadd, 0},
    {"com.microsoft", "QLinearAveragePool", ox_op_qlinearavgpool, 0},
    {"com.microsoft", "QLinearGlobalAveragePool", ox_op_qlinearglobalavgpool,
     0},
};

ox_op_fn ox_find_op(const char *domain, const char *op_type, int *q_ok) {
  if (!domain || !strcmp(domain, "ai.onnx"))
    domain = "";
  for (size_t k = 0; k < sizeof ox_ops / sizeof ox_ops[0]; k++)
    if (!strcmp(ox_ops[k].domain, domain) && !strcmp(ox_ops[k].name, op_type)) {
      if (q_ok)
        *q_ok = ox_ops[k].q_ok;
      return ox_ops[k].fn;
    }
  return NULL;
}
