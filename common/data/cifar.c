/* cifar.c - the CIFAR-10 and CIFAR-100 binary versions (cifar10:, cifar100:).
 *
 * CIFAR-10 (cifar-10-batches-bin/): test_batch.bin, data_batch_1..5.bin;
 * each record is one label byte (0-9) and 3072 pixel bytes, the R, G and B
 * planes of a 32x32 image, rows top to bottom. CIFAR-100
 * (cifar-100-binary/): test.bin, train.bin; each record is a coarse label
 * byte (0-19), a fine label byte (0-99) and the same 3072 bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/data.h"
#include "common/data/reader.h"
#include "common/err.h"
#include "common/fileio.h"

#define CIFAR_PIX 3072
#define CIFAR_ROOT_DEFAULT "/usr/share/datasets"

typedef struct cifar_kind {
  const char *name;    /* cifar10 */
  const char *subdir;  /* cifar-10-batches-bin */
  const char *archive; /* what to download */
  const char *test[1];
  const char *train[5];
  int n_train;
  int label_bytes;
} cifar_kind;

static const cifar_kind k10 = {"cifar10",
                               "cifar-10-batches-bin",
                               "cifar-10-binary.tar.gz",
                               {"test_batch.bin"},
                               {"data_batch_1.bin", "data_batch_2.bin",
                                "data_batch_3.bin", "data_batch_4.bin",
                                "data_batch_5.bin"},
                               5,
                               1};
static const cifar_kind k100 = {"cifar100",
                                "cifar-100-binary",
                                "cifar-100-binary.tar.gz",
                                {"test.bin"},
                                {"train.bin"},
                                1,
                                2};

typedef struct cifar_priv {
  unsigned char *rec; /* all records of all files, back to back */
  size_t rec_len;
} cifar_priv;

static int cifar_fill(data_src *s, long a, long b, float *x) {
  cifar_priv *p = s->priv;
  for (long i = a; i < b; i++) {
    const unsigned char *r =
        p->rec + (size_t)i * p->rec_len + (p->rec_len - CIFAR_PIX);
    for (int j = 0; j < CIFAR_PIX; j++)
      *x++ = (float)r[j] / 255.0f;
  }
  return 0;
}

static void cifar_close(data_src *s) {
  cifar_priv *p = s->priv;
  if (p)
    free(p->rec);
  free(p);
  s->priv = NULL;
}

static int is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds the directory holding the split's first file: DIR or
 * DIR/<subdir>, where DIR is the spec's, else ROVE_DATA_DIR, else
 * /usr/share/datasets. */
static int find_dir(const data_src *s, const cifar_kind *k, const char *dir,
                    const char *first, char *out, size_t cap) {
  const char *env = getenv("ROVE_DATA_DIR");
  const char *root = dir ? dir : env && *env ? env : CIFAR_ROOT_DEFAULT;
  char p[1200];
  snprintf(p, sizeof p, "%s/%s", root, first);
  if (is_file(p) && (size_t)snprintf(out, cap, "%s", root) < cap)
    return 0;
  snprintf(p, sizeof p, "%s/%s/%s", root, k->subdir, first);
  if (is_file(p) && (size_t)snprintf(out, cap, "%s/%s", root, k->subdir) < cap)
    return 0;
  return ROVE_ERR(ROVE_ENOENT,
                  "dataset '%s': %s not found in '%s' or '%s/%s' (%s). No "
                  "Debian package ships %s: download %s (the binary "
                  "version) from https://www.cs.toronto.edu/~kriz/cifar.html, "
                  "unpack it in a directory DIR so that DIR/%s/%s exists, "
                  "and set ROVE_DATA_DIR=DIR or write %s:DIR:test",
                  s->spec, first, root, root, k->subdir,
                  dir           ? "the directory in the spec"
                  : env && *env ? "from ROVE_DATA_DIR"
                                : "the default; ROVE_DATA_DIR is not set",
                  k->name, k->archive, k->subdir, first, k->name);
}

static int cifar_open(data_src *s, const cifar_kind *k, const char *arg,
                      const data_opts *o) {
  char dirbuf[1024], where[1200];
  const char *split = arg, *dir = NULL;
  const char *colon = strrchr(arg, ':');
  if (colon) {
    if ((size_t)(colon - arg) >= sizeof dirbuf || colon == arg)
      return ROVE_ERR(ROVE_EINVAL, "dataset spec '%s': bad directory", s->spec);
    memcpy(dirbuf, arg, (size_t)(colon - arg));
    dirbuf[colon - arg] = '\0';
    dir = dirbuf;
    split = colon + 1;
  }
  int train = strcmp(split, "train") == 0;
  if (!train && strcmp(split, "test") != 0)
    return ROVE_ERR(ROVE_EINVAL,
                    "dataset spec '%s': unknown split '%s' (expected "
                    "%s:test or %s:train, or %s:DIR:test)",
                    s->spec, split, k->name, k->name, k->name);
  const char *const *files = train ? k->train : k->test;
  int nf = train ? k->n_train : 1;
  ROVE_TRY(find_dir(s, k, dir, files[0], where, sizeof where));

  cifar_priv *p = calloc(1, sizeof *p);
  if (!p)
    return ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory", s->spec);
  s->priv = p;
  s->fill = cifar_fill;
  s->close = cifar_close;
  p->rec_len = (size_t)k->label_bytes + CIFAR_PIX;
  /* The label rove uses: CIFAR-10's only byte, CIFAR-100's fine (second)
   * byte, or its coarse (first) byte with the coarse option. */
  int lim = k->label_bytes == 1 ? 10 : o->coarse ? 20 : 100;
  int lb = k->label_bytes == 1 ? 0 : o->coarse ? 0 : 1;
  size_t used = 0;
  for (int f = 0; f < nf; f++) {
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", where, files[f]);
    unsigned char *buf;
    size_t len;
    ROVE_TRY(rove_file_read(path, "CIFAR batch file", &buf, &len));
    if (len == 0 || len % p->rec_len) {
      free(buf);
      if (len == 0)
        return ROVE_ERR(ROVE_EFORMAT, "%s file '%s' is empty", k->name, path);
      return ROVE_ERR(ROVE_EFORMAT,
                      "%s file '%s': record %zu is truncated (%zu of %zu "
                      "bytes: one record is %d label byte%s and %d pixel "
                      "bytes)",
                      k->name, path, len / p->rec_len, len % p->rec_len,
                      p->rec_len, k->label_bytes, k->label_bytes > 1 ? "s" : "",
                      CIFAR_PIX);
    }
    unsigned char *nb = realloc(p->rec, used + len);
    if (!nb) {
      free(buf);
      return ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory", s->spec);
    }
    p->rec = nb;
    /* Labels are checked per file, so the message names the file and
     * its own record number. */
    for (size_t r = 0; r < len / p->rec_len; r++) {
      int v = buf[r * p->rec_len + (size_t)lb];
      if (v >= lim) {
        free(buf);
        return ROVE_ERR(ROVE_EFORMAT,
                        "%s file '%s': record %zu has %slabel %d (expected "
                        "0..%d)",
                        k->name, path, r,
                        k->label_bytes == 1 ? ""
                        : o->coarse         ? "coarse "
                                            : "fine ",
                        v, lim - 1);
      }
    }
    memcpy(p->rec + used, buf, len);
    used += len;
    free(buf);
  }
  s->total = (long)(used / p->rec_len);
  s->shape.rank = 3;
  s->shape.d[0] = 3;
  s->shape.d[1] = 32;
  s->shape.d[2] = 32;
  s->n_classes = lim;
  s->y = malloc((size_t)s->total * sizeof *s->y);
  if (!s->y)
    return ROVE_ERR(ROVE_ENOMEM, "dataset '%s': out of memory", s->spec);
  for (long i = 0; i < s->total; i++)
    s->y[i] = p->rec[(size_t)i * p->rec_len + (size_t)lb];
  return 0;
}

int data_open_cifar10(data_src *s, const char *arg, const data_opts *o) {
  return cifar_open(s, &k10, arg, o);
}

int data_open_cifar100(data_src *s, const char *arg, const data_opts *o) {
  return cifar_open(s, &k100, arg, o);
}
