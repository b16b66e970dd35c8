/* tensor.c - the ONNX importer's constant tensors: decoding
 * TensorProtos and evaluating what is computed from constants only. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/onnx/import.h"

/* ---- constant tensors ------------------------------------------------ */

void ox_tensor_free(ox_tensor *t) {
  free(t->f);
  free(t->i);
  t->f = NULL;
  t->i = NULL;
}

int64_t ox_dims_numel(int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int k = 0; k < rank; k++)
    n *= dims[k];
  return n;
}

/* Allocates t's values (uninitialised) for the given type and shape. The
 * dims must already be validated (non-negative, product < 2^31). */
int ox_tensor_alloc(ox_tensor *t, int is_int, int elem, int rank,
                    const int64_t *dims) {
  memset(t, 0, sizeof *t);
  t->is_int = is_int;
  t->elem = elem;
  t->rank = rank;
  for (int k = 0; k < rank; k++)
    t->dims[k] = dims[k];
  t->n = ox_dims_numel(rank, dims);
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

int ox_tensor_copy(ox_tensor *dst, const ox_tensor *src) {
  ROVE_TRY(ox_tensor_alloc(dst, src->is_int, src->elem, src->rank, src->dims));
  size_t cnt = (size_t)(src->n > 0 ? src->n : 1);
  if (src->is_int)
    memcpy(dst->i, src->i, cnt * sizeof *dst->i);
  else
    memcpy(dst->f, src->f, cnt * sizeof *dst->f);
  return 0;
}

double ox_tval(const ox_tensor *t, int64_t k) {
  return t->is_int ? (double)t->i[k] : (double)t->f[k];
}

int ox_is_int_elem(int elem) {
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

int ox_elem_size(int elem) {
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
int64_t ox_raw_int(const uint8_t *p, int elem) {
  int sz = ox_elem_size(elem);
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

double ox_raw_float(const uint8_t *p, int elem) {
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
int ox_tensor_from_proto(const char *what, const char *where,
                         const Onnx__TensorProto *p, ox_tensor *t) {
  memset(t, 0, sizeof *t);
  int elem = p->has_data_type ? p->data_type : 0;
  if (p->has_data_location &&
      p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: %s is stored as external data, which rove does not "
                    "read (save the model with its weights inside)",
                    what, where);
  int sz = ox_elem_size(elem);
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
  int isint = ox_is_int_elem(elem);
  /* The values present must match the dims before anything is allocated:
   * a few bytes of model may declare a tensor of gigabytes (the fuzzer's
   * corpus/fuzz_onnx/regress-huge-dims-no-data asked for 8 GB). */
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
  if (have != n)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: %s holds %lld values but its dims need %lld", what,
                    where, (long long)have, (long long)n);
  ROVE_TRY(ox_tensor_alloc(t, isint, elem, (int)p->n_dims, p->dims));
  for (int64_t k = 0; k < n; k++) {
    if (p->has_raw_data && p->raw_data.len > 0) {
      const uint8_t *q = p->raw_data.data + (size_t)k * (size_t)sz;
      if (isint)
        t->i[k] = ox_raw_int(q, elem);
      else
        t->f[k] = (float)ox_raw_float(q, elem);
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
int ox_tensor_to_float(ox_ctx *c, ox_tensor *t) {
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

/* ---- constant evaluation ---------------------------------------------- */

/* numpy-style broadcasting of a and b into out's dims. */
int ox_bcast_dims(ox_ctx *c, const ox_tensor *a, const ox_tensor *b, int *rank,
                  int64_t *dims) {
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
int64_t ox_bcast_off(const ox_tensor *t, int r, const int64_t *idx) {
  int64_t off = 0;
  for (int k = 0; k < t->rank; k++) {
    int64_t i = idx[k + (r - t->rank)];
    off = off * t->dims[k] + (t->dims[k] == 1 ? 0 : i);
  }
  return off;
}

void ox_idx_next(int r, const int64_t *dims, int64_t *idx) {
  for (int k = r - 1; k >= 0; k--) {
    if (++idx[k] < dims[k])
      return;
    idx[k] = 0;
  }
}

int ox_const_binary(ox_ctx *c, int op, const ox_tensor *a, const ox_tensor *b,
                    ox_tensor *out) {
  int r;
  int64_t dims[OX_MAX_DIMS], idx[OX_MAX_DIMS] = {0};
  ROVE_TRY(ox_bcast_dims(c, a, b, &r, dims));
  int isint = a->is_int && b->is_int;
  ROVE_TRY(ox_tensor_alloc(
      out, isint, isint ? a->elem : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, r,
      dims));
  for (int64_t k = 0; k < out->n; k++, ox_idx_next(r, dims, idx)) {
    int64_t oa = ox_bcast_off(a, r, idx), ob = ox_bcast_off(b, r, idx);
    if (isint) {
      int64_t x = a->i[oa], y = b->i[ob];
      if (x == OX_BATCH || y == OX_BATCH) {
        ox_tensor_free(out);
        return NERR(c, ROVE_EUNSUPPORTED,
                    "computes with the batch size, which rove models do not "
                    "depend on");
      }
      if (op == BIN_DIV && y == 0) {
        ox_tensor_free(out);
        return NERR(c, ROVE_EINVAL, "integer division by zero");
      }
      out->i[k] = op == BIN_ADD   ? x + y
                  : op == BIN_SUB ? x - y
                  : op == BIN_MUL ? x * y
                                  : x / y;
    } else {
      float x = (float)ox_tval(a, oa), y = (float)ox_tval(b, ob);
      out->f[k] = op == BIN_ADD   ? x + y
                  : op == BIN_SUB ? x - y
                  : op == BIN_MUL ? x * y
                                  : x / y;
    }
  }
  return 0;
}
