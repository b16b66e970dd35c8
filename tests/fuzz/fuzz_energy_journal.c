/* fuzz_energy_journal.c - replay of the hub's energy journal. */
#include "common/energy_journal.h"
#include "common/energy_result.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  const char *p = fuzz_file("energy.journal", d, n);
  rove_energy_table t;
  rove_energy_table_init(&t);
  size_t torn;
  rove_energy_journal_read(p, &t, &torn);
  rove_energy_table_deinit(&t);
  rove_error_clear();
  return 0;
}
