/* fuzz_zoo.c - zoo files (the INI layer and every training key). */
#include "common/train/train.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  char *s = fuzz_text(d, n);
  rove_zoo z;
  if (rove_zoo_load_string(&z, s, "fuzz.zoo") == 0)
    rove_zoo_deinit(&z);
  free(s);
  rove_error_clear();
  return 0;
}
