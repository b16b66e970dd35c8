/* fuzz_idx.c - IDX files (raw or gzip), as images and as labels. */
#include "common/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  const char *p = fuzz_file("in.idx", d, n);
  for (int nd = 1; nd <= 3; nd += 2) {
    rove_idx x;
    if (rove_idx_read(&x, p, nd) == 0)
      rove_idx_deinit(&x);
  }
  rove_error_clear();
  return 0;
}
