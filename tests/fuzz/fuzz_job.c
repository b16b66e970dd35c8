/* fuzz_job.c - job files (the INI layer and the sweep's keys). */
#include "common/jobfile.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  char *s = fuzz_text(d, n);
  rove_job j;
  if (rove_job_load_string(&j, s, "fuzz.job", "/nonexistent") == 0)
    rove_job_deinit(&j);
  free(s);
  rove_error_clear();
  return 0;
}
