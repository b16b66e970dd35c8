/* fuzz_onnx.c - ONNX import (protobuf decode, the graph, constant folding,
 * every operator) on arbitrary bytes. */
#include "common/model.h"
#include "common/onnx.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  rove_model m;
  if (rove_onnx_load_mem(&m, d, n, "fuzz.onnx") == 0)
    rove_model_deinit(&m);
  rove_error_clear();
  return 0;
}
