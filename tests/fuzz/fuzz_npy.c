/* fuzz_npy.c - .npy arrays, alone and as the images of an npy: dataset
 * (layout detection, dtypes, range checks) with a fixed valid labels file. */
#include <string.h>

#include "common/data.h"
#include "common/npy.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  rove_npy a;
  if (rove_npy_load_mem(&a, d, n, "fuzz.npy") == 0)
    rove_npy_deinit(&a);
  /* Labels (0, 1) as uint8, shape (2,). */
  static const char lab[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '|u1', "
                            "'fortran_order': False, 'shape': (2,), }";
  char labels[128 + 2];
  size_t hl = sizeof lab - 1;
  memcpy(labels, lab, hl);
  while (hl < 10 + 0x76 - 1)
    labels[hl++] = ' ';
  labels[hl++] = '\n';
  labels[hl++] = 0;
  labels[hl++] = 1;
  char img[160], spec[400];
  snprintf(img, sizeof img, "%s", fuzz_file("x.npy", d, n));
  const char *lp = fuzz_file("y.npy", (const uint8_t *)labels, hl);
  snprintf(spec, sizeof spec, "npy:%s,%s", img, lp);
  rove_dataset ds;
  if (rove_dataset_load(&ds, spec) == 0)
    rove_dataset_deinit(&ds);
  rove_error_clear();
  return 0;
}
