/* test_energy_proto.c - frame codec, HMAC handshake, result codec and the
 * energy journal. */
#include <criterion/criterion.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/energy_journal.h"
#include "common/energy_proto.h"
#include "common/err.h"

static void sample_result(rove_energy_result *r, int k) {
  memset(r, 0, sizeof *r);
  for (int i = 0; i < 32; i++)
    r->model_hash[i] = (unsigned char)(i * 7 + k);
  snprintf(r->board, sizeof r->board, "jetson-nano");
  r->request_id = rove_ep_request_id(r->model_hash, r->board);
  snprintf(r->model_name, sizeof r->model_name, "model-%d", k);
  snprintf(r->agent_id, sizeof r->agent_id, "agent-%d", k);
  snprintf(r->sensor, sizeof r->sensor, "ina3221-iio:POM_5V_IN");
  snprintf(r->input_set, sizeof r->input_set, "clean");
  r->scope = ROVE_SCOPE_BOARD_INPUT;
  r->status = ROVE_ER_OK;
  r->flags = ROVE_EF_QUICK | ROVE_EF_IDLE_DRIFT;
  r->batch = 4;
  r->n_trials = 3;
  r->trial_j[0] = 1.5e-3;
  r->trial_j[1] = 1.25e-3 + k;
  r->trial_j[2] = -0.0;
  r->energy_j = 1.4e-3;
  r->energy_dyn_j = 0.7e-3;
  r->ci_lo_j = 1.1e-3;
  r->ci_hi_j = 1.7e-3;
  r->cv = 0.031;
  r->power_w = 4.321;
  r->idle_power_w = 1.9;
  r->idle_before_w = 1.8;
  r->idle_after_w = 2.0;
  r->latency_p50_s = 0.0123;
  r->latency_p99_s = NAN;
  r->n_inferences = 123456789012ull;
  r->n_samples = 4242;
  r->sample_period_s = 0.005;
  r->jitter_s = 1e-5;
}

static void assert_same(const rove_energy_result *a,
                        const rove_energy_result *b) {
  rove_wbuf x, y;
  rove_wbuf_init(&x);
  rove_wbuf_init(&y);
  rove_energy_result_put(&x, a);
  rove_energy_result_put(&y, b);
  cr_assert_eq(x.len, y.len);
  cr_assert(memcmp(x.data, y.data, x.len) == 0);
  rove_wbuf_deinit(&x);
  rove_wbuf_deinit(&y);
  cr_assert_str_eq(a->board, b->board);
  cr_assert_eq(a->n_inferences, b->n_inferences);
}

Test(energy_proto, result_frame_round_trip_byte_by_byte) {
  rove_energy_result r, back;
  sample_result(&r, 1);
  rove_wbuf w;
  rove_wbuf_init(&w);
  cr_assert_eq(rove_ep_encode_result(&w, &r), 0);
  cr_assert_eq(rove_ep_encode_ack(&w, 77), 0);
  rove_ep_reader rd;
  rove_ep_reader_init(&rd, ROVE_EP_MAX_PAYLOAD);
  int type, got = 0;
  const unsigned char *p;
  uint32_t n;
  /* One byte at a time: a frame only appears once it is whole. */
  for (size_t i = 0; i < w.len; i++) {
    cr_assert_eq(rove_ep_reader_feed(&rd, w.data + i, 1), 0);
    int k;
    while ((k = rove_ep_reader_next(&rd, &type, &p, &n)) == 1) {
      if (got == 0) {
        cr_assert_eq(type, ROVE_EP_RESULT);
        cr_assert_eq(rove_ep_decode_result(p, n, &back), 0);
        assert_same(&r, &back);
        cr_assert(isnan(back.latency_p99_s));
      } else {
        uint64_t id;
        cr_assert_eq(type, ROVE_EP_ACK);
        cr_assert_eq(rove_ep_decode_ack(p, n, &id), 0);
        cr_assert_eq(id, 77);
      }
      got++;
      rove_ep_reader_pop(&rd);
    }
    cr_assert_geq(k, 0);
  }
  cr_assert_eq(got, 2);
  rove_ep_reader_deinit(&rd);
  rove_wbuf_deinit(&w);
}

Test(energy_proto, request_round_trip_borrows_model_bytes) {
  unsigned char model[1000], inputs[16];
  for (int i = 0; i < 1000; i++)
    model[i] = (unsigned char)(i * 31);
  memset(inputs, 0x3f, sizeof inputs);
  rove_ep_request q = {0}, b;
  q.request_id = 0x0102030405060708ull;
  memset(q.model_hash, 0xab, 32);
  snprintf(q.model_name, sizeof q.model_name, "smallcnn");
  snprintf(q.input_set, sizeof q.input_set, "adversarial");
  rove_ep_mconf_quick(&q.conf);
  q.conf.batch = 8;
  q.model = model;
  q.model_len = sizeof model;
  q.inputs = inputs;
  q.inputs_len = sizeof inputs;
  rove_wbuf w;
  rove_wbuf_init(&w);
  cr_assert_eq(rove_ep_encode_request(&w, &q), 0);
  cr_assert_eq(rove_ep_decode_request(w.data + ROVE_EP_HEADER,
                                      (uint32_t)(w.len - ROVE_EP_HEADER), &b),
               0);
  cr_assert_eq(b.request_id, q.request_id);
  cr_assert_eq(b.model_len, 1000);
  cr_assert(memcmp(b.model, model, 1000) == 0);
  cr_assert_eq(b.inputs_len, 16);
  cr_assert_eq(b.conf.batch, 8);
  cr_assert_str_eq(b.input_set, "adversarial");
  /* truncated by one byte: a clear format error, never a crash */
  cr_assert_eq(rove_ep_decode_request(w.data + ROVE_EP_HEADER,
                                      (uint32_t)(w.len - ROVE_EP_HEADER - 1),
                                      &b),
               ROVE_EFORMAT);
  /* a bad configuration is refused by name */
  q.conf.trials = 0;
  rove_wbuf_deinit(&w);
  rove_wbuf_init(&w);
  cr_assert_eq(rove_ep_encode_request(&w, &q), 0);
  cr_assert_eq(rove_ep_decode_request(w.data + ROVE_EP_HEADER,
                                      (uint32_t)(w.len - ROVE_EP_HEADER), &b),
               ROVE_ERANGE);
  cr_assert(strstr(rove_error_message(), "trials") != NULL);
  rove_wbuf_deinit(&w);
}

Test(energy_proto, reader_rejects_garbage_oversize_and_versions) {
  rove_ep_reader rd;
  int type;
  const unsigned char *p;
  uint32_t n;
  rove_ep_reader_init(&rd, ROVE_EP_MAX_PREAUTH);
  const char *http = "GET / HTTP/1.1\r\n\r\n";
  rove_ep_reader_feed(&rd, http, strlen(http));
  cr_assert_eq(rove_ep_reader_next(&rd, &type, &p, &n), ROVE_EFORMAT);
  cr_assert(strstr(rove_error_message(), "magic") != NULL);
  rove_ep_reader_deinit(&rd);

  /* oversize: refused from the header alone, before the payload arrives */
  rove_wbuf w;
  rove_wbuf_init(&w);
  size_t off = rove_ep_frame_begin(&w, ROVE_EP_HELLO);
  rove_patch_u32(&w, off + 8, ROVE_EP_MAX_PREAUTH + 1);
  rove_ep_reader_init(&rd, ROVE_EP_MAX_PREAUTH);
  rove_ep_reader_feed(&rd, w.data, w.len);
  cr_assert_eq(rove_ep_reader_next(&rd, &type, &p, &n), ROVE_ERANGE);
  rove_ep_reader_deinit(&rd);

  /* version 2 and unknown type */
  rove_patch_u32(&w, off + 8, 0);
  w.data[off + 4] = 2;
  rove_ep_reader_init(&rd, ROVE_EP_MAX_PREAUTH);
  rove_ep_reader_feed(&rd, w.data, w.len);
  cr_assert_eq(rove_ep_reader_next(&rd, &type, &p, &n), ROVE_EVERSION);
  rove_ep_reader_deinit(&rd);
  w.data[off + 4] = 1;
  w.data[off + 6] = 200;
  rove_ep_reader_init(&rd, ROVE_EP_MAX_PREAUTH);
  rove_ep_reader_feed(&rd, w.data, w.len);
  cr_assert_eq(rove_ep_reader_next(&rd, &type, &p, &n), ROVE_EFORMAT);
  rove_ep_reader_deinit(&rd);
  rove_wbuf_deinit(&w);
}

Test(energy_proto, hello_rejects_unsafe_board_names) {
  rove_ep_hello h = {0}, b;
  snprintf(h.board, sizeof h.board, "pi4\",evil");
  snprintf(h.agent_id, sizeof h.agent_id, "a1");
  rove_wbuf w;
  rove_wbuf_init(&w);
  cr_assert_eq(rove_ep_encode_hello(&w, &h), 0);
  cr_assert_eq(rove_ep_decode_hello(w.data + ROVE_EP_HEADER,
                                    (uint32_t)(w.len - ROVE_EP_HEADER), &b),
               ROVE_EFORMAT);
  cr_assert(strstr(rove_error_message(), "board") != NULL);
  rove_wbuf_deinit(&w);
}

static char *write_tmp(const char *content) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/rove-token-XXXXXX");
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
  close(fd);
  return path;
}

Test(energy_proto, hmac_matches_an_independent_computation) {
  rove_ep_token t;
  char *path = write_tmp("correct horse battery staple\n\n");
  cr_assert_eq(rove_ep_token_load(&t, path), 0);
  unlink(path);
  cr_assert_eq(t.len, strlen("correct horse battery staple"));
  unsigned char a[32], b[32], mac[32], ref[32];
  for (int i = 0; i < 32; i++) {
    a[i] = (unsigned char)i;
    b[i] = (unsigned char)(255 - i);
  }
  rove_ep_mac(&t, "agent", a, b, "pi4", "x1", mac);
  /* The documented layout, built by hand: length-prefixed strings (u32
   * little-endian), then the nonces, then board and agent id. */
  unsigned char msg[256];
  size_t k = 0;
  const char *parts[2] = {"rove-energy-v1", "agent"};
  for (int i = 0; i < 2; i++) {
    uint32_t l = (uint32_t)strlen(parts[i]);
    msg[k++] = (unsigned char)l;
    msg[k++] = 0;
    msg[k++] = 0;
    msg[k++] = 0;
    memcpy(msg + k, parts[i], l);
    k += l;
  }
  memcpy(msg + k, a, 32);
  k += 32;
  memcpy(msg + k, b, 32);
  k += 32;
  const char *tail[2] = {"pi4", "x1"};
  for (int i = 0; i < 2; i++) {
    uint32_t l = (uint32_t)strlen(tail[i]);
    msg[k++] = (unsigned char)l;
    msg[k++] = 0;
    msg[k++] = 0;
    msg[k++] = 0;
    memcpy(msg + k, tail[i], l);
    k += l;
  }
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, t.key, t.len);
  crypto_auth_hmacsha256_update(&st, msg, k);
  crypto_auth_hmacsha256_final(&st, ref);
  cr_assert(rove_ep_mac_equal(mac, ref));
  /* role, nonce order and board all change it */
  rove_ep_mac(&t, "hub", a, b, "pi4", "x1", ref);
  cr_assert(!rove_ep_mac_equal(mac, ref));
  rove_ep_mac(&t, "agent", b, a, "pi4", "x1", ref);
  cr_assert(!rove_ep_mac_equal(mac, ref));
  rove_ep_mac(&t, "agent", a, b, "pi5", "x1", ref);
  cr_assert(!rove_ep_mac_equal(mac, ref));
  /* a wrong token gives another MAC */
  rove_ep_token t2 = t;
  t2.key[0] ^= 1;
  rove_ep_mac(&t2, "agent", a, b, "pi4", "x1", ref);
  cr_assert(!rove_ep_mac_equal(mac, ref));
}

Test(energy_proto, token_file_errors_name_the_file) {
  rove_ep_token t;
  char *path = write_tmp("short\n");
  cr_assert_eq(rove_ep_token_load(&t, path), ROVE_EINVAL);
  cr_assert(strstr(rove_error_message(), path) != NULL);
  unlink(path);
  cr_assert_eq(rove_ep_token_load(&t, "/nonexistent/token"), ROVE_ENOENT);
  cr_assert(strstr(rove_error_message(), "/nonexistent/token") != NULL);
}

Test(energy_proto, flags_and_validity) {
  char buf[128];
  rove_energy_flags_str(ROVE_EF_IDLE_DRIFT | ROVE_EF_QUICK, buf, sizeof buf);
  cr_assert_str_eq(buf, "idle_drift|quick");
  rove_energy_result r;
  sample_result(&r, 0);
  cr_assert(!rove_energy_result_valid(&r)); /* idle drift invalidates */
  r.flags = ROVE_EF_QUICK | ROVE_EF_COUNTER_WRAP;
  cr_assert(rove_energy_result_valid(&r));
  r.status = ROVE_ER_UNMEASURABLE;
  cr_assert(!rove_energy_result_valid(&r));
}

static char jdir[64];
static void jpath(char *out, size_t cap) {
  snprintf(jdir, sizeof jdir, "/tmp/rove-ej-XXXXXX");
  cr_assert(mkdtemp(jdir) != NULL);
  snprintf(out, cap, "%s/energy.journal", jdir);
}

static long file_size(const char *p) {
  FILE *f = fopen(p, "rb");
  cr_assert(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

Test(energy_proto, journal_keeps_results_and_drops_duplicates) {
  char path[128];
  jpath(path, sizeof path);
  rove_energy_table t;
  rove_energy_table_init(&t);
  rove_energy_journal j;
  cr_assert_eq(rove_energy_journal_open(&j, path, &t, NULL), 0);
  rove_energy_result r[3];
  for (int i = 0; i < 3; i++) {
    sample_result(&r[i], i);
    int added;
    cr_assert_eq(rove_energy_table_add(&t, &r[i], &added), 0);
    cr_assert_eq(added, 1);
    cr_assert_eq(rove_energy_journal_append(&j, &r[i]), 0);
  }
  int added = 1;
  cr_assert_eq(rove_energy_table_add(&t, &r[1], &added), 0);
  cr_assert_eq(added, 0);
  rove_energy_journal_close(&j);
  rove_energy_table_deinit(&t);

  rove_energy_table u;
  rove_energy_table_init(&u);
  size_t torn = 99;
  cr_assert_eq(rove_energy_journal_read(path, &u, &torn), 0);
  cr_assert_eq(torn, 0);
  cr_assert_eq(u.n, 3);
  for (int i = 0; i < 3; i++) {
    const rove_energy_result *f =
        rove_energy_table_find(&u, r[i].model_hash, "jetson-nano");
    cr_assert(f);
    assert_same(f, &r[i]);
  }
  cr_assert_null(rove_energy_table_find(&u, r[0].model_hash, "pi4"));
  rove_energy_table_deinit(&u);
  unlink(path);
  rmdir(jdir);
}

Test(energy_proto, journal_accepts_a_torn_tail_and_refuses_corruption) {
  char path[128];
  jpath(path, sizeof path);
  rove_energy_table t;
  rove_energy_table_init(&t);
  rove_energy_journal j;
  cr_assert_eq(rove_energy_journal_open(&j, path, &t, NULL), 0);
  rove_energy_result r[2];
  sample_result(&r[0], 0);
  sample_result(&r[1], 1);
  cr_assert_eq(rove_energy_journal_append(&j, &r[0]), 0);
  long one = file_size(path);
  cr_assert_eq(rove_energy_journal_append(&j, &r[1]), 0);
  long two = file_size(path);
  rove_energy_journal_close(&j);
  rove_energy_table_deinit(&t);

  /* Crash mid-write: the second record loses its last 5 bytes. */
  cr_assert_eq(truncate(path, two - 5), 0);
  rove_energy_table_init(&t);
  size_t torn = 0;
  cr_assert_eq(rove_energy_journal_open(&j, path, &t, &torn), 0);
  cr_assert_eq(torn, (size_t)(two - 5 - one));
  cr_assert_eq(t.n, 1);
  cr_assert_eq(file_size(path), one); /* the tail is cut before appending */
  cr_assert_eq(rove_energy_journal_append(&j, &r[1]), 0);
  rove_energy_journal_close(&j);
  rove_energy_table_deinit(&t);
  rove_energy_table_init(&t);
  cr_assert_eq(rove_energy_journal_read(path, &t, &torn), 0);
  cr_assert_eq(t.n, 2);
  cr_assert_eq(torn, 0);
  rove_energy_table_deinit(&t);

  /* A flipped byte inside the first record: corruption, an error naming
   * the offset, and the file is left alone. */
  FILE *f = fopen(path, "r+b");
  fseek(f, 8 + 8 + 20, SEEK_SET);
  int c = fgetc(f);
  fseek(f, 8 + 8 + 20, SEEK_SET);
  fputc(c ^ 0x55, f);
  fclose(f);
  long before = file_size(path);
  rove_energy_table_init(&t);
  cr_assert_eq(rove_energy_journal_open(&j, path, &t, &torn), ROVE_ECRC);
  cr_assert(strstr(rove_error_message(), "byte 8") != NULL);
  cr_assert_eq(file_size(path), before);
  rove_energy_table_deinit(&t);

  /* not a journal at all */
  f = fopen(path, "wb");
  fputs("hello world, not a journal", f);
  fclose(f);
  rove_energy_table_init(&t);
  cr_assert_eq(rove_energy_journal_read(path, &t, &torn), ROVE_EFORMAT);
  rove_energy_table_deinit(&t);
  unlink(path);
  rmdir(jdir);
}
