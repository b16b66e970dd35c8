/* fuzz_energy.c - the energy protocol as either side reads it: the frame
 * reader on a byte stream split where the input says, then every message
 * decoder on each frame (HELLO, nonces, REQUEST, RESULT, ACK). */
#include "common/energy_proto.h"
#include "common/energy_result.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) {
  if (n < 1)
    return 0;
  size_t chunk = 1 + d[0] % 64;
  rove_ep_reader r;
  rove_ep_reader_init(&r, 1u << 20);
  for (size_t at = 1; at < n;) {
    size_t k = n - at < chunk ? n - at : chunk;
    if (rove_ep_reader_feed(&r, d + at, k) < 0)
      break;
    at += k;
    int type, rc;
    const unsigned char *p;
    uint32_t len;
    while ((rc = rove_ep_reader_next(&r, &type, &p, &len)) == 1) {
      rove_ep_hello h;
      unsigned char nonce[ROVE_EP_NONCE];
      uint64_t id;
      rove_ep_request q;
      rove_energy_result res;
      rove_ep_decode_hello(p, len, &h);
      rove_ep_decode_nonce(p, len, nonce);
      rove_ep_decode_request(p, len, &q); /* borrows from the frame */
      rove_ep_decode_result(p, len, &res);
      rove_ep_decode_ack(p, len, &id);
      rove_ep_reader_pop(&r);
    }
    if (rc < 0)
      break;
  }
  rove_ep_reader_deinit(&r);
  rove_error_clear();
  return 0;
}
