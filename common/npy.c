/* npy.c - a small reader for the .npy arrays the test fixtures are stored in.
 */
#include "common/npy.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"

void rove_npy_deinit(rove_npy *a) {
  free(a->data);
  memset(a, 0, sizeof *a);
}

/* Finds `'key':` in the header dictionary and returns the text after the
 * colon (skipping blanks), or NULL. */
static const char *dict_value(const char *hdr, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *p = strstr(hdr, pat);
  if (!p)
    return NULL;
  p += strlen(pat);
  while (*p == ' ')
    p++;
  if (*p != ':')
    return NULL;
  p++;
  while (*p == ' ')
    p++;
  return p;
}

int rove_npy_load_mem(rove_npy *a, const void *buf, size_t len,
                      const char *what) {
  const unsigned char *b = buf;
  memset(a, 0, sizeof *a);
  if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
    return ROVE_ERR(ROVE_EFORMAT, "%s: not a .npy file (bad magic)", what);
  size_t hlen, off;
  if (b[6] == 1) {
    hlen = (size_t)b[8] | (size_t)b[9] << 8;
    off = 10;
  } else if (b[6] == 2 || b[6] == 3) {
    if (len < 12)
      return ROVE_ERR(ROVE_EFORMAT, "%s: truncated .npy header", what);
    hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
           (size_t)b[11] << 24;
    off = 12;
  } else {
    return ROVE_ERR(ROVE_EVERSION, "%s: .npy format version %d (expected 1-3)",
                    what, b[6]);
  }
  if (hlen > 65536 || off + hlen > len)
    return ROVE_ERR(ROVE_EFORMAT, "%s: truncated .npy header", what);
  char hdr[65537];
  memcpy(hdr, b + off, hlen);
  hdr[hlen] = '\0';
  off += hlen;

  /* descr: a quote, the byte order (< little, > big, | not applicable,
   * = native, which is little on every machine rove runs on), the kind
   * (f, i, u) and the size in bytes. */
  const char *d = dict_value(hdr, "descr");
  int esize = 0, big = 0;
  char kind = 0;
  if (d && d[0] == '\'' && strchr("<>|=", d[1]) && d[1] && d[2] &&
      strchr("fiu", d[2]) && d[3] >= '1' && d[3] <= '8' && d[4] == '\'') {
    big = d[1] == '>';
    kind = d[2];
    esize = d[3] - '0';
  }
  int ok = (kind == 'f' && (esize == 4 || esize == 8)) ||
           (kind == 'i' && (esize == 1 || esize == 4 || esize == 8)) ||
           (kind == 'u' && esize == 1);
  if (!ok) {
    char got[16] = "?";
    if (d)
      snprintf(got, sizeof got, "%.8s", d);
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: field 'descr' is %s (expected float32/64 'f4'/'f8', "
                    "int8/32/64 'i1'/'i4'/'i8' or uint8 'u1', either byte "
                    "order)",
                    what, got);
  }
  int isint = kind != 'f';
  snprintf(a->dtype, sizeof a->dtype, "%c%d", kind, esize);
  const char *fo = dict_value(hdr, "fortran_order");
  if (!fo || strncmp(fo, "False", 5) != 0) {
    memset(a, 0, sizeof *a);
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: field 'fortran_order' is not False: Fortran-order "
                    "arrays are not read (save with np.ascontiguousarray)",
                    what);
  }
  const char *s = dict_value(hdr, "shape");
  if (!s || *s != '(')
    return ROVE_ERR(ROVE_EFORMAT, "%s: field 'shape' missing or not a tuple",
                    what);
  s++;
  size_t n = 1;
  while (1) {
    while (*s == ' ' || *s == ',')
      s++;
    if (*s == ')')
      break;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno || v < 0 || a->ndim >= ROVE_NPY_MAX_DIMS)
      return ROVE_ERR(ROVE_EFORMAT,
                      "%s: field 'shape' is not a tuple of at most %d "
                      "non-negative integers",
                      what, ROVE_NPY_MAX_DIMS);
    if (v > 0 && n > SIZE_MAX / 16 / (size_t)v)
      return ROVE_ERR(ROVE_ERANGE, "%s: shape too large", what);
    a->shape[a->ndim++] = v;
    n *= (size_t)v;
    s = end;
  }
  if (len - off < n * (size_t)esize)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: %zu bytes of data, shape needs %zu (truncated file?)",
                    what, len - off, n * (size_t)esize);
  a->n = n;
  a->data = malloc((n ? n : 1) * sizeof(float));
  if (!a->data) {
    memset(a, 0, sizeof *a);
    return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", what);
  }
  const unsigned char *p = b + off;
  for (size_t i = 0; i < n; i++, p += esize) {
    uint64_t u = 0;
    if (big)
      for (int k = 0; k < esize; k++)
        u = u << 8 | p[k];
    else
      for (int k = esize - 1; k >= 0; k--)
        u = u << 8 | p[k];
    if (kind == 'u')
      a->data[i] = (float)u;
    else if (isint && esize == 1)
      a->data[i] = (float)(int8_t)(uint8_t)u;
    else if (isint && esize == 4)
      a->data[i] = (float)(int32_t)(uint32_t)u;
    else if (isint)
      a->data[i] = (float)(int64_t)u;
    else if (esize == 4) {
      uint32_t w = (uint32_t)u;
      memcpy(&a->data[i], &w, 4);
    } else {
      double dv;
      memcpy(&dv, &u, 8);
      a->data[i] = (float)dv;
    }
  }
  return 0;
}

int rove_npy_load(rove_npy *a, const char *path) {
  memset(a, 0, sizeof *a);
  unsigned char *buf;
  size_t len;
  ROVE_TRY(rove_file_read(path, NULL, &buf, &len));
  int rc = rove_npy_load_mem(a, buf, len, path);
  free(buf);
  ROVE_TRY(rc);
  return 0;
}
