/* model_io.c - rove_model_load: reads a model file, native .rove or ONNX. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/format_rove.h"
#include "common/model.h"
#include "common/onnx.h"

int rove_model_load(rove_model *m, const char *path) {
  unsigned char *buf;
  size_t len;
  memset(m, 0, sizeof *m);
  ROVE_TRY(rove_file_read(path, "model file", &buf, &len));
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
