/* data.c - IDX readers (gzip or raw) and dataset spec strings. */
#include "common/data.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "common/err.h"
#include "common/model.h"

#define IDX_U8 0x08

static int errno_code(int e) {
  return e == ENOENT ? ROVE_ENOENT : e == EACCES ? ROVE_EACCES : ROVE_EIO;
}

/* Reads a whole file through zlib, which passes raw (non-gzip) files
 * through unchanged, so one reader serves both. *buf is malloc'd. */
static int read_gz(const char *path, unsigned char **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  errno = 0;
  gzFile g = gzopen(path, "rb");
  if (!g) {
    int e = errno ? errno : ENOMEM;
    return ROVE_ERR(errno_code(e), "IDX file '%s': %s", path, strerror(e));
  }
  size_t cap = 1 << 20, n = 0;
  unsigned char *b = malloc(cap);
  for (;;) {
    if (!b) {
      gzclose(g);
      return ROVE_ERR(ROVE_ENOMEM, "IDX file '%s': out of memory", path);
    }
    unsigned want = cap - n > (1u << 30) ? (1u << 30) : (unsigned)(cap - n);
    int k = gzread(g, b + n, want);
    if (k < 0) {
      int zerr;
      const char *msg = gzerror(g, &zerr);
      int rc = ROVE_ERR(ROVE_EFORMAT,
                        "IDX file '%s': not a readable gzip stream (%s)", path,
                        zerr == Z_ERRNO ? strerror(errno) : msg);
      free(b);
      gzclose(g);
      return rc;
    }
    if (k == 0)
      break;
    n += (size_t)k;
    if (n == cap) {
      unsigned char *nb = realloc(b, cap * 2);
      if (!nb)
        free(b);
      b = nb;
      cap *= 2;
    }
  }
  gzclose(g);
  *buf = b;
  *len = n;
  return 0;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

int rove_idx_read(rove_idx *idx, const char *path, int want_ndims) {
  unsigned char *b;
  size_t len;
  memset(idx, 0, sizeof *idx);
  ROVE_TRY(read_gz(path, &b, &len));
  const char *kind = want_ndims == 1 ? "labels" : "images";
  uint32_t want_magic = 0x00000800u | (uint32_t)want_ndims;
  int rc = 0;
  if (len < 4 || be32(b) != want_magic) {
    rc = ROVE_ERR(ROVE_EFORMAT,
                  "IDX file '%s': magic 0x%08x (expected 0x%08x: IDX %s, "
                  "unsigned bytes, %d dimension%s)",
                  path, len < 4 ? 0u : be32(b), want_magic, kind, want_ndims,
                  want_ndims == 1 ? "" : "s");
    goto fail;
  }
  size_t hdr = 4 + 4 * (size_t)want_ndims;
  if (len < hdr) {
    rc = ROVE_ERR(ROVE_EFORMAT,
                  "IDX file '%s': truncated inside its %zu-byte header", path,
                  hdr);
    goto fail;
  }
  /* The product of the dimensions is compared with what the file holds as
   * it grows, so no overflow can hide a short file. */
  size_t have = len - hdr, need = 1;
  for (int i = 0; i < want_ndims; i++) {
    idx->dims[i] = be32(b + 4 + 4 * i);
    if (idx->dims[i] > have || (idx->dims[i] && need > have / idx->dims[i]))
      need = SIZE_MAX;
    else
      need *= idx->dims[i];
  }
  idx->ndims = want_ndims;
  if (need != have) {
    char dims[96];
    size_t k = 0;
    for (int i = 0; i < want_ndims; i++)
      k += (size_t)snprintf(dims + k, sizeof dims - k, "%s%u", i ? "x" : "",
                            idx->dims[i]);
    if (need > have)
      rc = ROVE_ERR(ROVE_EFORMAT,
                    "IDX file '%s': the header declares %s %s, which needs "
                    "more than the %zu data bytes the file holds "
                    "(truncated?)",
                    path, dims, kind, have);
    else
      rc = ROVE_ERR(ROVE_EFORMAT,
                    "IDX file '%s': the header declares %s %s (%zu bytes) "
                    "but %zu data bytes follow",
                    path, dims, kind, need, have);
    goto fail;
  }
  if (need == 0) {
    rc = ROVE_ERR(ROVE_EFORMAT, "IDX file '%s' holds no %s", path, kind);
    goto fail;
  }
  memmove(b, b + hdr, need);
  idx->data = b;
  idx->n = need;
  return 0;
fail:
  free(b);
  memset(idx, 0, sizeof *idx);
  return rc;
}

void rove_idx_deinit(rove_idx *idx) {
  free(idx->data);
  memset(idx, 0, sizeof *idx);
}

void rove_dataset_deinit(rove_dataset *d) {
  free(d->x);
  free(d->y);
  memset(d, 0, sizeof *d);
}

/* A parsed slice: has_a/has_b say whether the ends were given. */
typedef struct slice {
  int present;
  long a, b;
  int has_a, has_b;
} slice;

static int parse_end(const char *s, const char *e, long *v, int *has) {
  while (s < e && *s == ' ')
    s++;
  while (e > s && e[-1] == ' ')
    e--;
  if (s == e) {
    *has = 0;
    return 0;
  }
  char tmp[32];
  if ((size_t)(e - s) >= sizeof tmp)
    return -1;
  memcpy(tmp, s, (size_t)(e - s));
  tmp[e - s] = '\0';
  char *end;
  errno = 0;
  long x = strtol(tmp, &end, 10);
  if (*end || errno || x < -INT_MAX || x > INT_MAX)
    return -1;
  *v = x;
  *has = 1;
  return 0;
}

/* Splits "body[a:b]" into its body length and slice. */
static int parse_slice(const char *spec, size_t *body_len, slice *sl) {
  size_t n = strlen(spec);
  memset(sl, 0, sizeof *sl);
  *body_len = n;
  if (n == 0 || spec[n - 1] != ']')
    return 0;
  const char *open = strrchr(spec, '[');
  const char *close = spec + n - 1;
  if (!open)
    return ROVE_ERR(ROVE_EINVAL,
                    "dataset spec '%s': ']' without '[' (expected a slice "
                    "like [0:1000])",
                    spec);
  const char *colon = memchr(open, ':', (size_t)(close - open));
  if (!colon || memchr(colon + 1, ':', (size_t)(close - colon - 1)) ||
      parse_end(open + 1, colon, &sl->a, &sl->has_a) < 0 ||
      parse_end(colon + 1, close, &sl->b, &sl->has_b) < 0)
    return ROVE_ERR(ROVE_EINVAL,
                    "dataset spec '%s': bad slice '%s' (expected [a:b] with "
                    "integers a and b, either optional)",
                    spec, open);
  sl->present = 1;
  *body_len = (size_t)(open - spec);
  return 0;
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds <dir>/<stem>-<kind>-idx<k>-ubyte[.gz]. */
static int fmnist_path(const char *dir, const char *stem, const char *what,
                       char *out, size_t cap) {
  snprintf(out, cap, "%s/%s-%s.gz", dir, stem, what);
  if (file_exists(out))
    return 0;
  snprintf(out, cap, "%s/%s-%s", dir, stem, what);
  if (file_exists(out))
    return 0;
  return ROVE_ERR(ROVE_ENOENT,
                  "Fashion-MNIST file %s/%s-%s(.gz) is missing (the Debian "
                  "package dataset-fashion-mnist provides it: apt-get "
                  "install dataset-fashion-mnist; or set ROVE_DATA_DIR)",
                  dir, stem, what);
}

static int resolve_paths(const char *spec, const char *body, char *img,
                         char *lab, size_t cap) {
  if (strncmp(body, "fashion-mnist:", 14) == 0) {
    const char *part = body + 14;
    const char *stem = strcmp(part, "test") == 0    ? "t10k"
                       : strcmp(part, "train") == 0 ? "train"
                                                    : NULL;
    if (!stem)
      return ROVE_ERR(ROVE_EINVAL,
                      "dataset spec '%s': unknown split '%s' (expected "
                      "fashion-mnist:test or fashion-mnist:train)",
                      spec, part);
    const char *dir = getenv("ROVE_DATA_DIR");
    int from_env = dir && dir[0];
    if (!from_env)
      dir = ROVE_DATA_DEFAULT_DIR;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      if (from_env)
        return ROVE_ERR(ROVE_ENOENT,
                        "dataset directory '%s' (from ROVE_DATA_DIR) does "
                        "not exist",
                        dir);
      return ROVE_ERR(ROVE_ENOENT,
                      "dataset directory '%s' does not exist: install the "
                      "Debian package dataset-fashion-mnist (apt-get "
                      "install dataset-fashion-mnist) or set ROVE_DATA_DIR",
                      dir);
    }
    ROVE_TRY(fmnist_path(dir, stem, "images-idx3-ubyte", img, cap));
    ROVE_TRY(fmnist_path(dir, stem, "labels-idx1-ubyte", lab, cap));
    return 0;
  }
  if (strncmp(body, "idx:", 4) == 0) {
    const char *p = body + 4, *comma = strchr(p, ',');
    if (!comma || comma == p || !comma[1])
      return ROVE_ERR(ROVE_EINVAL,
                      "dataset spec '%s': expected idx:IMAGES,LABELS (two "
                      "paths separated by a comma)",
                      spec);
    if ((size_t)(comma - p) >= cap || strlen(comma + 1) >= cap)
      return ROVE_ERR(ROVE_EINVAL, "dataset spec '%s': path too long", spec);
    memcpy(img, p, (size_t)(comma - p));
    img[comma - p] = '\0';
    snprintf(lab, cap, "%s", comma + 1);
    return 0;
  }
  return ROVE_ERR(ROVE_EINVAL,
                  "dataset spec '%s': unknown dataset (expected "
                  "fashion-mnist:test, fashion-mnist:train or "
                  "idx:IMAGES,LABELS, optionally followed by [a:b])",
                  spec);
}

int rove_dataset_load(rove_dataset *d, const char *spec) {
  memset(d, 0, sizeof *d);
  if (strlen(spec) >= sizeof d->spec)
    return ROVE_ERR(ROVE_EINVAL, "dataset spec is longer than %zu bytes",
                    sizeof d->spec - 1);
  size_t blen;
  slice sl;
  ROVE_TRY(parse_slice(spec, &blen, &sl));
  char body[512], img[1024], lab[1024];
  memcpy(body, spec, blen);
  body[blen] = '\0';
  ROVE_TRY(resolve_paths(spec, body, img, lab, sizeof img));

  rove_idx li, ii;
  ROVE_TRY(rove_idx_read(&li, lab, 1));
  int rc = rove_idx_read(&ii, img, 3);
  if (rc < 0) {
    rove_idx_deinit(&li);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  long total = (long)ii.dims[0];
  if (ii.dims[0] != li.dims[0]) {
    rc = ROVE_ERR(ROVE_EFORMAT,
                  "dataset '%s': '%s' holds %u images but '%s' holds %u "
                  "labels (expected the same count)",
                  spec, img, ii.dims[0], lab, li.dims[0]);
    goto out;
  }
  if (total > INT_MAX || (uint64_t)ii.dims[1] * ii.dims[2] > INT_MAX) {
    rc = ROVE_ERR(ROVE_ERANGE, "dataset '%s': too large for rove", spec);
    goto out;
  }
  long a = sl.has_a ? sl.a : 0, b = sl.has_b ? sl.b : total;
  if (a < 0)
    a += total;
  if (b < 0)
    b += total;
  if (a < 0 || b > total || a >= b) {
    rc = ROVE_ERR(ROVE_ERANGE,
                  "dataset spec '%s': slice selects [%ld:%ld], which is "
                  "empty or outside the %ld examples (expected 0 <= a < b "
                  "<= %ld)",
                  spec, a, b, total, total);
    goto out;
  }
  int maxlab = 0;
  for (size_t i = 0; i < li.n; i++)
    if (li.data[i] > maxlab)
      maxlab = li.data[i];
  size_t pix = (size_t)ii.dims[1] * ii.dims[2];
  d->n = (int)(b - a);
  d->shape.rank = 3;
  d->shape.d[0] = 1;
  d->shape.d[1] = (int)ii.dims[1];
  d->shape.d[2] = (int)ii.dims[2];
  d->n_classes = maxlab + 1;
  d->first = a;
  snprintf(d->spec, sizeof d->spec, "%s", spec);
  d->x = malloc((size_t)d->n * pix * sizeof(float));
  d->y = malloc((size_t)d->n * sizeof(int32_t));
  if (!d->x || !d->y) {
    rc = ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory for %d examples",
                  spec, d->n);
    goto out;
  }
  const unsigned char *src = ii.data + (size_t)a * pix;
  for (size_t i = 0; i < (size_t)d->n * pix; i++)
    d->x[i] = (float)src[i] / 255.0f;
  for (int i = 0; i < d->n; i++)
    d->y[i] = li.data[a + i];
  rc = 0;
out:
  rove_idx_deinit(&li);
  rove_idx_deinit(&ii);
  if (rc < 0)
    rove_dataset_deinit(d);
  return rc;
}

int rove_dataset_check_model(const rove_dataset *d, const rove_model *m,
                             const char *model_path) {
  int same = m->in.rank == d->shape.rank;
  for (int i = 0; same && i < m->in.rank; i++)
    same = m->in.d[i] == d->shape.d[i];
  if (!same && !(m->in.rank == 1 &&
                 rove_shape_numel(&m->in) == rove_shape_numel(&d->shape))) {
    char a[64], b[64];
    rove_shape_text(&m->in, a, sizeof a);
    rove_shape_text(&d->shape, b, sizeof b);
    return ROVE_ERR(ROVE_ESHAPE,
                    "model '%s' expects %s inputs, but dataset '%s' has %s "
                    "examples",
                    model_path, a, d->spec, b);
  }
  if (d->n_classes > m->n_classes)
    return ROVE_ERR(ROVE_ESHAPE,
                    "dataset '%s' has labels up to %d, but model '%s' "
                    "outputs only %d class logits",
                    d->spec, d->n_classes - 1, model_path, m->n_classes);
  return 0;
}
