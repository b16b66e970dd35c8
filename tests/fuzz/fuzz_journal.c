/* fuzz_journal.c - replay of a sweep journal (record framing, CRCs, torn
 * tails, the header, every unit result) from an arbitrary file. */
#include "coordinator/journal.h"
#include "fuzz_util.h"

static int count(void *user, const rove_unit_result *r) {
  (void)r;
  (*(int *)user)++;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  const char *p = fuzz_file("journal", d, n);
  rove_journal_header h;
  off_t good;
  int torn, k = 0;
  rove_journal_replay(p, &h, count, &k, &good, &torn);
  rove_error_clear();
  return 0;
}
