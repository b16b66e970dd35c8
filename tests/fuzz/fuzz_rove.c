/* fuzz_rove.c - the native .rove decoder on arbitrary bytes. */
#include "common/format_rove.h"
#include "common/model.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  rove_model m;
  if (rove_model_decode(&m, d, n, "fuzz.rove") == 0)
    rove_model_deinit(&m);
  rove_error_clear();
  return 0;
}
