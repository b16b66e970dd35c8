/* fuzz_cifar.c - the CIFAR-10 and CIFAR-100 binary readers on an
 * arbitrary batch file. */
#include "common/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  fuzz_file("test_batch.bin", d, n);
  fuzz_file("test.bin", d, n);
  char spec[200];
  const char *forms[3] = {"cifar10:%s:test", "cifar100:%s:test",
                          "cifar100:%s:test;coarse[1:]"};
  for (int k = 0; k < 3; k++) {
    snprintf(spec, sizeof spec, forms[k], fuzz_dir());
    rove_dataset ds;
    if (rove_dataset_load(&ds, spec) == 0)
      rove_dataset_deinit(&ds);
  }
  rove_error_clear();
  return 0;
}
