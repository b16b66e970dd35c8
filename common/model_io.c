/* model_io.c - rove_model_load: reads a model file, native .rove or ONNX. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/format_rove.h"
#include "common/model.h"
#include "common/onnx.h"

/* Reads all of `path` into a malloc'd buffer (*buf, caller frees). */
static int read_all(const char *path, unsigned char **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    return ROVE_ERR(e == ENOENT   ? ROVE_ENOENT
                    : e == EACCES ? ROVE_EACCES
                                  : ROVE_EIO,
                    "model file '%s': %s", path, strerror(e));
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    return ROVE_ERR(ROVE_EINVAL,
                    "model file '%s' is a directory (expected a .rove or "
                    ".onnx file)",
                    path);
  }
  size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 65536, n = 0;
  unsigned char *b = malloc(cap);
  while (b) {
    n += fread(b + n, 1, cap - n, f);
    if (n < cap)
      break;
    unsigned char *nb = realloc(b, cap * 2);
    if (!nb) {
      free(b);
      b = NULL;
      break;
    }
    b = nb;
    cap *= 2;
  }
  int bad = ferror(f);
  fclose(f);
  if (!b)
    return ROVE_ERR(ROVE_ENOMEM, "model file '%s': out of memory reading it",
                    path);
  if (bad) {
    free(b);
    return ROVE_ERR(ROVE_EIO, "model file '%s': read error", path);
  }
  *buf = b;
  *len = n;
  return 0;
}

int rove_model_load(rove_model *m, const char *path) {
  unsigned char *buf;
  size_t len;
  memset(m, 0, sizeof *m);
  ROVE_TRY(read_all(path, &buf, &len));
  int rc;
  if (len == 0)
    rc = ROVE_ERR(ROVE_EFORMAT,
                  "model file '%s' is empty (expected a .rove or ONNX "
                  "model)",
                  path);
  else if (rove_format_is_native(buf, len))
    rc = rove_model_decode(m, buf, len, path);
  else
    rc = rove_onnx_load_mem(m, buf, len, path);
  free(buf);
  if (rc < 0)
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  return 0;
}
