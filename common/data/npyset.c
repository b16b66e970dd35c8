/* npyset.c - the npy: dataset reader: an images array and a labels array
 * in NumPy .npy files (common/npy.c reads the files). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/data.h"
#include "common/data/reader.h"
#include "common/err.h"
#include "common/npy.h"

typedef struct npy_priv {
  rove_npy img;
  int nhwc;  /* source layout is N,H,W,C */
  float div; /* 255 for uint8 (as ToTensor divides), 1 for float */
} npy_priv;

static int npy_fill(data_src *s, long a, long b, float *x) {
  npy_priv *p = s->priv;
  int c = s->shape.d[0], h = s->shape.d[1], w = s->shape.d[2];
  size_t per = (size_t)c * h * w;
  for (long i = a; i < b; i++) {
    const float *src = p->img.data + (size_t)i * per;
    if (!p->nhwc) {
      for (size_t j = 0; j < per; j++)
        *x++ = src[j] / p->div;
      continue;
    }
    for (int ch = 0; ch < c; ch++)
      for (int r = 0; r < h * w; r++)
        *x++ = src[(size_t)r * c + ch] / p->div;
  }
  return 0;
}

static void npy_close(data_src *s) {
  npy_priv *p = s->priv;
  if (p)
    rove_npy_deinit(&p->img);
  free(p);
  s->priv = NULL;
}

static int dims_text(const rove_npy *a, char *out, size_t cap) {
  size_t k = (size_t)snprintf(out, cap, "(");
  for (int i = 0; i < a->ndim && k < cap; i++)
    k +=
        (size_t)snprintf(out + k, cap - k, "%s%ld", i ? ", " : "", a->shape[i]);
  if (k < cap)
    snprintf(out + k, cap - k, "%s)", a->ndim == 1 ? "," : "");
  return 0;
}

/* Sets shape and layout from the images array: (N,H,W) is one channel;
 * a 4-D array is N,C,H,W or N,H,W,C, told apart by which of its second
 * and last dimensions can be a channel count (at most 4), or by the
 * layout option when both or neither can. */
static int image_layout(data_src *s, npy_priv *p, const char *path,
                        const data_opts *o) {
  const rove_npy *a = &p->img;
  char dt[96];
  dims_text(a, dt, sizeof dt);
  if (a->ndim == 3) {
    if (o->layout[0])
      return ROVE_ERR(ROVE_EINVAL,
                      "dataset '%s': layout=%s given, but '%s' is %s, "
                      "(N, H, W) with one channel",
                      s->spec, o->layout, path, dt);
    s->shape = (rove_shape){3, {1, (int)a->shape[1], (int)a->shape[2]}};
    return 0;
  }
  if (a->ndim != 4)
    return ROVE_ERR(ROVE_ESHAPE,
                    "dataset '%s': images '%s' have shape %s (expected "
                    "(N, H, W), (N, C, H, W) or (N, H, W, C))",
                    s->spec, path, dt);
  int nchw_ok = a->shape[1] <= 4, nhwc_ok = a->shape[3] <= 4;
  if (!strcmp(o->layout, "nchw"))
    p->nhwc = 0;
  else if (!strcmp(o->layout, "nhwc"))
    p->nhwc = 1;
  else if (nchw_ok != nhwc_ok)
    p->nhwc = nhwc_ok;
  else
    return ROVE_ERR(ROVE_EINVAL,
                    "dataset '%s': the layout of images '%s' %s is "
                    "ambiguous (either its second or its last dimension "
                    "could be the channels): add ;layout=nchw or "
                    ";layout=nhwc to the spec",
                    s->spec, path, dt);
  long c = p->nhwc ? a->shape[3] : a->shape[1];
  long h = p->nhwc ? a->shape[1] : a->shape[2];
  long w = p->nhwc ? a->shape[2] : a->shape[3];
  s->shape = (rove_shape){3, {(int)c, (int)h, (int)w}};
  return 0;
}

int data_open_npy(data_src *s, const char *arg, const data_opts *o) {
  char img[1024], lab[1024];
  ROVE_TRY(data_split_pair(s, arg, "npy:IMAGES.npy,LABELS.npy", img, lab,
                           sizeof img));

  npy_priv *p = calloc(1, sizeof *p);
  if (!p)
    return ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory", s->spec);
  s->priv = p;
  s->fill = npy_fill;
  s->close = npy_close;
  rove_npy l;
  ROVE_TRY(rove_npy_load(&l, lab));
  int rc = rove_npy_load(&p->img, img);
  if (rc < 0)
    goto out;
  char dl[96], di[96];
  dims_text(&l, dl, sizeof dl);
  dims_text(&p->img, di, sizeof di);
  if (strcmp(l.dtype, "i8") && strcmp(l.dtype, "i4") && strcmp(l.dtype, "u1")) {
    rc = ROVE_ERR(ROVE_EFORMAT,
                  "dataset '%s': labels '%s' have dtype %s (expected "
                  "int64, int32 or uint8)",
                  s->spec, lab, l.dtype);
    goto out;
  }
  if (l.ndim != 1) {
    rc = ROVE_ERR(ROVE_ESHAPE,
                  "dataset '%s': labels '%s' have shape %s (expected (N,))",
                  s->spec, lab, dl);
    goto out;
  }
  if (strcmp(p->img.dtype, "u1") && strcmp(p->img.dtype, "f4") &&
      strcmp(p->img.dtype, "f8")) {
    rc = ROVE_ERR(ROVE_EFORMAT,
                  "dataset '%s': images '%s' have dtype %s (expected uint8, "
                  "divided by 255, or float32 in [0, 1])",
                  s->spec, img, p->img.dtype);
    goto out;
  }
  if ((rc = image_layout(s, p, img, o)) < 0)
    goto out;
  if (p->img.shape[0] != l.shape[0]) {
    rc = ROVE_ERR(ROVE_ESHAPE,
                  "dataset '%s': images '%s' %s hold %ld examples but "
                  "labels '%s' %s hold %ld (expected the same count)",
                  s->spec, img, di, p->img.shape[0], lab, dl, l.shape[0]);
    goto out;
  }
  if (l.shape[0] == 0 || rove_shape_numel(&s->shape) == 0) {
    rc = ROVE_ERR(ROVE_EFORMAT, "dataset '%s': images '%s' %s hold no data",
                  s->spec, img, di);
    goto out;
  }
  if (l.shape[0] > 0x7fffffffL) {
    rc = ROVE_ERR(ROVE_ERANGE, "dataset '%s': too large for rove", s->spec);
    goto out;
  }
  p->div = p->img.dtype[0] == 'u' ? 255.0f : 1.0f;
  if (p->img.dtype[0] == 'f')
    for (size_t i = 0; i < p->img.n; i++) {
      float v = p->img.data[i];
      if (!(v >= 0.0f && v <= 1.0f)) {
        size_t per = (size_t)rove_shape_numel(&s->shape);
        rc = ROVE_ERR(ROVE_ERANGE,
                      "dataset '%s': images '%s': value %g at flat index "
                      "%zu (example %zu) is outside [0, 1] (float images "
                      "must be pixel values in [0, 1], before any "
                      "normalization; use --mean/--std for that)",
                      s->spec, img, (double)v, i, i / per);
        goto out;
      }
    }
  s->total = l.shape[0];
  s->y = malloc((size_t)s->total * sizeof *s->y);
  if (!s->y) {
    rc = ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory", s->spec);
    goto out;
  }
  int maxlab = 0;
  for (long i = 0; i < s->total; i++) {
    float v = l.data[i];
    if (v < 0 || v > 1e6f) {
      rc = ROVE_ERR(ROVE_ERANGE,
                    "dataset '%s': labels '%s': label %.0f at index %ld is "
                    "out of range (expected 0 <= label < 1000000)",
                    s->spec, lab, (double)v, i);
      goto out;
    }
    s->y[i] = (int32_t)v;
    if (s->y[i] > maxlab)
      maxlab = s->y[i];
  }
  s->n_classes = maxlab + 1;
out:
  rove_npy_deinit(&l);
  return rc;
}
