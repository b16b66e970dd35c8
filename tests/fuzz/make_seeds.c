/* make_seeds.c - writes the binary seed inputs of the fuzz corpora that
 * only rove's own encoders can make: energy protocol frames, sweep wire
 * messages, a sweep journal and an energy journal (run by hand after a
 * format change; the outputs are committed in tests/fuzz/corpus/):
 *   cc ... make_seeds.c coordinator/journal.c -lrove_common ...
 *   make_seeds tests/fuzz/corpus */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/energy_journal.h"
#include "common/energy_proto.h"
#include "common/energy_result.h"
#include "common/sweep_wire.h"
#include "common/wire.h"
#include "coordinator/journal.h"

static void put(const char *dir, const char *name, const void *b, size_t n) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  if (!f || (n && fwrite(b, 1, n, f) != n)) {
    perror(p);
    exit(1);
  }
  fclose(f);
}

static rove_energy_result a_result(void) {
  rove_energy_result r;
  memset(&r, 0, sizeof r);
  r.request_id = 42;
  memset(r.model_hash, 7, 32);
  snprintf(r.model_name, sizeof r.model_name, "cnn");
  snprintf(r.board, sizeof r.board, "nano");
  snprintf(r.input_set, sizeof r.input_set, "synthetic");
  r.status = 0;
  r.batch = 1;
  r.n_trials = 3;
  r.trial_j[0] = r.trial_j[1] = r.trial_j[2] = 3.5e-4;
  r.energy_j = r.energy_dyn_j = 3.5e-4;
  r.ci_lo_j = 3.4e-4;
  r.ci_hi_j = 3.6e-4;
  return r;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
    return 2;
  }
  char d[400];
  /* Energy frames, one stream: HELLO, CHALLENGE, REQUEST, RESULT, ACK
   * (the first byte of the input is the harness's chunk size). */
  snprintf(d, sizeof d, "%s/fuzz_energy", argv[1]);
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_put_u8(&w, 7);
  rove_ep_hello h;
  memset(&h, 0, sizeof h);
  snprintf(h.board, sizeof h.board, "nano");
  snprintf(h.agent_id, sizeof h.agent_id, "agent-1");
  snprintf(h.sensor, sizeof h.sensor, "ina3221");
  rove_ep_encode_hello(&w, &h);
  rove_ep_encode_nonce(&w, ROVE_EP_CHALLENGE, h.nonce);
  rove_ep_request q;
  memset(&q, 0, sizeof q);
  q.request_id = 42;
  snprintf(q.model_name, sizeof q.model_name, "cnn");
  snprintf(q.input_set, sizeof q.input_set, "synthetic");
  rove_ep_mconf_quick(&q.conf);
  static const unsigned char model[16] = "ROVE fake model";
  q.model = model;
  q.model_len = sizeof model;
  rove_ep_encode_request(&w, &q);
  rove_energy_result er = a_result();
  rove_ep_encode_result(&w, &er);
  rove_ep_encode_ack(&w, 42);
  put(d, "stream", w.data, w.len);
  rove_wbuf_deinit(&w);

  /* Sweep messages, one per file. */
  snprintf(d, sizeof d, "%s/fuzz_sweep_wire", argv[1]);
  unsigned char hash[32];
  memset(hash, 3, sizeof hash);
  rove_wbuf_init(&w);
  rove_sw_put_model(&w, hash, model, sizeof model);
  put(d, "model", w.data, w.len);
  rove_wbuf_deinit(&w);
  float x[6] = {0, 0.25f, 0.5f, 0.75f, 1, 0.5f};
  int32_t y[2] = {1, 0};
  rove_sw_data sd = {.first = 100, .n = 2, .numel = 3, .x = x, .y = y};
  memset(sd.key, 5, 32);
  rove_wbuf_init(&w);
  rove_sw_put_data(&w, &sd);
  put(d, "data", w.data, w.len);
  rove_wbuf_deinit(&w);
  uint32_t off[2] = {0, 1};
  static const unsigned char prof[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  rove_sw_task t = {.unit = 9,
                    .kind = ROVE_UNIT_ATTACK,
                    .seed = 1,
                    .norm_linf = 1,
                    .eps = 0.1,
                    .profile = prof,
                    .profile_len = sizeof prof,
                    .n = 2,
                    .off = off};
  rove_wbuf_init(&w);
  rove_sw_put_task(&w, &t);
  put(d, "task", w.data, w.len);
  rove_wbuf_deinit(&w);
  rove_unit_result u;
  rove_unit_result_init(&u);
  u.unit = 9;
  u.kind = ROVE_UNIT_CLEAN;
  if (rove_unit_result_alloc(&u, 2) < 0)
    return 1;
  u.idx[0] = 100;
  u.idx[1] = 101;
  rove_wbuf_init(&w);
  rove_sw_put_result(&w, &u);
  put(d, "result", w.data, w.len);
  rove_wbuf_deinit(&w);

  /* A journal of one result, and an energy journal of one measurement. */
  snprintf(d, sizeof d, "%s/fuzz_journal/journal", argv[1]);
  unlink(d);
  rove_journal j;
  rove_journal_header jh = {.n = 2, .first = 100, .part = 0, .n_parts = 1};
  if (rove_journal_create(&j, d, &jh) < 0 || rove_journal_append(&j, &u) < 0 ||
      rove_journal_close(&j) < 0)
    return 1;
  rove_unit_result_deinit(&u);
  snprintf(d, sizeof d, "%s/fuzz_energy_journal/energy.journal", argv[1]);
  unlink(d);
  rove_energy_journal ej;
  rove_energy_table tab;
  rove_energy_table_init(&tab);
  size_t torn;
  if (rove_energy_journal_open(&ej, d, &tab, &torn) < 0 ||
      rove_energy_journal_append(&ej, &er) < 0)
    return 1;
  rove_energy_journal_close(&ej);
  rove_energy_table_deinit(&tab);
  return 0;
}
