/* fuzz_sweep_wire.c - every sweep message as the coordinator and the
 * workers decode it (MODEL, DATA, UNIT, RESULT). */
#include "common/sweep_wire.h"
#include "common/wire.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  for (int kind = 0; kind < 4; kind++) {
    rove_rbuf r;
    rove_rbuf_init(&r, d, n);
    int type;
    if (rove_sw_peek(&r, &type) < 0)
      break;
    if (kind == 0) {
      unsigned char h[32];
      const void *b;
      size_t len;
      rove_sw_get_model(&r, h, &b, &len);
    } else if (kind == 1) {
      rove_sw_data x;
      if (rove_sw_get_data(&r, &x) == 0)
        rove_sw_data_deinit(&x);
    } else if (kind == 2) {
      rove_sw_task t;
      if (rove_sw_get_task(&r, &t) == 0)
        rove_sw_task_deinit(&t);
    } else {
      rove_unit_result u;
      rove_sw_get_result(&r, &u);
      rove_unit_result_deinit(&u);
    }
  }
  rove_error_clear();
  return 0;
}
