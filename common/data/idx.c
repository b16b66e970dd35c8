/* idx.c - IDX files (MNIST / Fashion-MNIST format), gzip or raw, and the
 * fashion-mnist: and idx: dataset readers. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "common/data.h"
#include "common/data/reader.h"
#include "common/err.h"

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
  size_t cap = 1 << 16, n = 0; /* doubled as needed */
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

typedef struct idx_priv {
  rove_idx img;
} idx_priv;

static int idx_fill(data_src *s, long a, long b, float *x) {
  idx_priv *p = s->priv;
  size_t pix = (size_t)rove_shape_numel(&s->shape);
  const unsigned char *src = p->img.data + (size_t)a * pix;
  for (size_t i = 0; i < (size_t)(b - a) * pix; i++)
    x[i] = (float)src[i] / 255.0f;
  return 0;
}

static void idx_close(data_src *s) {
  idx_priv *p = s->priv;
  if (p)
    rove_idx_deinit(&p->img);
  free(p);
  s->priv = NULL;
}

static int open_pair(data_src *s, const char *img, const char *lab) {
  idx_priv *p = calloc(1, sizeof *p);
  if (!p)
    return ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory", s->spec);
  s->priv = p;
  s->fill = idx_fill;
  s->close = idx_close;
  rove_idx li;
  ROVE_TRY(rove_idx_read(&li, lab, 1));
  int rc = rove_idx_read(&p->img, img, 3);
  if (rc < 0)
    goto out;
  if (p->img.dims[0] != li.dims[0]) {
    rc = ROVE_ERR(ROVE_EFORMAT,
                  "dataset '%s': '%s' holds %u images but '%s' holds %u "
                  "labels (expected the same count)",
                  s->spec, img, p->img.dims[0], lab, li.dims[0]);
    goto out;
  }
  if (p->img.dims[0] > INT_MAX ||
      (uint64_t)p->img.dims[1] * p->img.dims[2] > INT_MAX) {
    rc = ROVE_ERR(ROVE_ERANGE, "dataset '%s': too large for rove", s->spec);
    goto out;
  }
  s->total = (long)p->img.dims[0];
  s->shape.rank = 3;
  s->shape.d[0] = 1;
  s->shape.d[1] = (int)p->img.dims[1];
  s->shape.d[2] = (int)p->img.dims[2];
  s->y = malloc((size_t)s->total * sizeof *s->y);
  if (!s->y) {
    rc = ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory", s->spec);
    goto out;
  }
  int maxlab = 0;
  for (size_t i = 0; i < li.n; i++) {
    s->y[i] = li.data[i];
    if (li.data[i] > maxlab)
      maxlab = li.data[i];
  }
  s->n_classes = maxlab + 1;
out:
  rove_idx_deinit(&li);
  return rc;
}

int data_open_fmnist(data_src *s, const char *arg, const data_opts *o) {
  (void)o;
  const char *stem = strcmp(arg, "test") == 0    ? "t10k"
                     : strcmp(arg, "train") == 0 ? "train"
                                                 : NULL;
  if (!stem)
    return ROVE_ERR(ROVE_EINVAL,
                    "dataset spec '%s': unknown split '%s' (expected "
                    "fashion-mnist:test or fashion-mnist:train)",
                    s->spec, arg);
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
  char img[1024], lab[1024];
  ROVE_TRY(fmnist_path(dir, stem, "images-idx3-ubyte", img, sizeof img));
  ROVE_TRY(fmnist_path(dir, stem, "labels-idx1-ubyte", lab, sizeof lab));
  return open_pair(s, img, lab);
}

int data_open_idx(data_src *s, const char *arg, const data_opts *o) {
  (void)o;
  char img[1024], lab[1024];
  ROVE_TRY(data_split_pair(s, arg, "idx:IMAGES,LABELS", img, lab, sizeof img));
  return open_pair(s, img, lab);
}
