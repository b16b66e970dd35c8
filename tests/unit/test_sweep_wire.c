/* test_sweep_wire.c - sweep messages: round trips, and every truncation or
 * corruption is an error, never a crash or a silently wrong value. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/err.h"
#include "common/sweep_wire.h"

static void attack_result(rove_unit_result *r) {
  rove_unit_result_init(r);
  r->unit = 12345;
  r->kind = ROVE_UNIT_ATTACK;
  r->grad_evals = 1ull << 40;
  r->forward_evals = 17;
  r->seconds = 2.5;
  memset(r->model_hash, 0x5A, 32);
  cr_assert_eq(rove_unit_result_alloc(r, 4), 0);
  for (int i = 0; i < 4; i++) {
    r->idx[i] = 1000 + 3 * i;
    r->ex[i].broken = (int8_t)(i == 2);
    r->ex[i].attack = (int8_t)(i == 2 ? 1 : -1);
    r->ex[i].margin = i == 2 ? -0.125 : 1e-300 * i;
    r->ex[i].diag = 0x80000001u >> i;
  }
}

Test(sweep_wire, result_round_trip) {
  rove_unit_result a, b;
  attack_result(&a);
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_sw_put_result(&w, &a);
  cr_assert_eq(w.failed, 0);
  rove_rbuf r;
  rove_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(rove_sw_get_result(&r, &b), 0, "%s", rove_error_message());
  cr_assert_eq(b.unit, a.unit);
  cr_assert_eq(b.grad_evals, a.grad_evals);
  cr_assert_eq(b.forward_evals, 17);
  cr_assert_eq(b.n, 4);
  cr_assert_eq(memcmp(b.model_hash, a.model_hash, 32), 0);
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(b.idx[i], a.idx[i]);
    cr_assert_eq(b.ex[i].broken, a.ex[i].broken);
    cr_assert_eq(b.ex[i].attack, a.ex[i].attack);
    cr_assert(b.ex[i].margin == a.ex[i].margin, "bit-exact doubles");
    cr_assert_eq(b.ex[i].diag, a.ex[i].diag);
  }
  rove_unit_result_deinit(&b);

  /* A failed clean unit with its message. */
  rove_unit_result c, d;
  rove_unit_result_init(&c);
  c.kind = ROVE_UNIT_CLEAN;
  c.status = ROVE_EFORMAT;
  snprintf(c.error, sizeof c.error, "cnn.onnx: bad magic");
  cr_assert_eq(rove_unit_result_alloc(&c, 2), 0);
  c.idx[1] = 1;
  c.label[1] = 7;
  c.pred[1] = 3;
  c.margin[1] = -2.0;
  rove_wbuf_deinit(&w);
  rove_wbuf_init(&w);
  rove_sw_put_result(&w, &c);
  rove_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(rove_sw_get_result(&r, &d), 0);
  cr_assert_eq(d.status, ROVE_EFORMAT);
  cr_assert_str_eq(d.error, "cnn.onnx: bad magic");
  cr_assert_eq(d.label[1], 7);
  cr_assert_eq(d.pred[1], 3);
  cr_assert(d.margin[1] == -2.0);
  rove_unit_result_deinit(&c);
  rove_unit_result_deinit(&d);
  rove_unit_result_deinit(&a);
  rove_wbuf_deinit(&w);
}

Test(sweep_wire, every_truncation_and_trailing_byte_fails) {
  rove_unit_result a, b;
  attack_result(&a);
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_sw_put_result(&w, &a);
  for (size_t cut = 0; cut < w.len; cut++) {
    rove_rbuf r;
    rove_rbuf_init(&r, w.data, cut);
    cr_assert_lt(rove_sw_get_result(&r, &b), 0, "cut at %zu", cut);
    rove_unit_result_deinit(&b);
  }
  rove_put_u8(&w, 0);
  rove_rbuf r;
  rove_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(rove_sw_get_result(&r, &b), ROVE_EFORMAT);
  rove_unit_result_deinit(&b);
  rove_unit_result_deinit(&a);
  rove_wbuf_deinit(&w);
}

Test(sweep_wire, version_and_type_are_checked) {
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_sw_put_stop(&w);
  w.data[4] = 99; /* version */
  rove_rbuf r;
  int type;
  rove_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(rove_sw_peek(&r, &type), ROVE_EVERSION);
  w.data[4] = ROVE_SW_VERSION;
  rove_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(rove_sw_peek(&r, &type), 0);
  cr_assert_eq(type, ROVE_SW_STOP);
  /* A stop message is not a result. */
  rove_unit_result b;
  rove_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(rove_sw_get_result(&r, &b), ROVE_EFORMAT);
  rove_unit_result_deinit(&b);
  w.data[0] ^= 1;
  rove_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(rove_sw_peek(&r, &type), ROVE_EFORMAT);
  rove_wbuf_deinit(&w);
}

Test(sweep_wire, task_data_model_round_trips) {
  uint32_t off[3] = {0, 5, 9};
  rove_sw_task t = {.unit = 7,
                    .kind = ROVE_UNIT_ATTACK,
                    .seed = 99,
                    .norm_linf = 1,
                    .eps = 0.1,
                    .restart = 4,
                    .profile = "PROF",
                    .profile_len = 4,
                    .n = 3,
                    .off = off};
  memset(t.model_hash, 1, 32);
  memset(t.data_key, 2, 32);
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_sw_put_task(&w, &t);
  rove_rbuf r;
  rove_rbuf_init(&r, w.data, w.len);
  rove_sw_task u;
  cr_assert_eq(rove_sw_get_task(&r, &u), 0);
  cr_assert_eq(u.unit, 7);
  cr_assert_eq(u.seed, 99);
  cr_assert(u.eps == 0.1);
  cr_assert_eq(u.restart, 4);
  cr_assert_eq(u.profile_len, 4);
  cr_assert_eq(memcmp(u.profile, "PROF", 4), 0);
  cr_assert_eq(u.off[2], 9);
  cr_assert_eq(u.data_key[31], 2);
  rove_sw_task_deinit(&u);
  for (size_t cut = 0; cut < w.len; cut++) {
    rove_rbuf_init(&r, w.data, cut);
    cr_assert_lt(rove_sw_get_task(&r, &u), 0);
    rove_sw_task_deinit(&u);
  }

  float x[6] = {0.f, 0.25f, 1.f, -0.f, 0.5f, 0.75f};
  int32_t y[2] = {3, 9};
  rove_sw_data d = {.first = 200, .n = 2, .numel = 3, .x = x, .y = y};
  memset(d.key, 3, 32);
  rove_wbuf_deinit(&w);
  rove_wbuf_init(&w);
  rove_sw_put_data(&w, &d);
  rove_rbuf_init(&r, w.data, w.len);
  rove_sw_data e;
  cr_assert_eq(rove_sw_get_data(&r, &e), 0);
  cr_assert_eq(e.first, 200);
  cr_assert_eq(memcmp(e.x, x, sizeof x), 0);
  cr_assert_eq(e.y[1], 9);
  rove_sw_data_deinit(&e);
  rove_rbuf_init(&r, w.data, w.len - 1);
  cr_assert_lt(rove_sw_get_data(&r, &e), 0);

  rove_wbuf_deinit(&w);
  rove_wbuf_init(&w);
  unsigned char h[32], h2[32];
  memset(h, 9, 32);
  rove_sw_put_model(&w, h, "modelbytes", 10);
  rove_rbuf_init(&r, w.data, w.len);
  const void *bytes;
  size_t len;
  cr_assert_eq(rove_sw_get_model(&r, h2, &bytes, &len), 0);
  cr_assert_eq(len, 10);
  cr_assert_eq(memcmp(bytes, "modelbytes", 10), 0);
  cr_assert_eq(h2[0], 9);
  rove_wbuf_deinit(&w);
}
