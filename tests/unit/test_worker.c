/* test_worker.c - the worker's message handling, linked against rove_worker
 * alone (tests/CMakeLists.txt): a call from worker/ back into coordinator/
 * fails to link here. A clean unit and an attack unit sent as the
 * coordinator sends them give the results rove_eval_all gives directly; a
 * unit naming a model the worker was never sent is a failed result, not an
 * error return. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/arch.h"
#include "common/err.h"
#include "common/eval.h"
#include "common/format_rove.h"
#include "common/rng.h"
#include "common/sweep_wire.h"
#include "worker/worker.h"

#define N 6

typedef struct fixture {
  rove_model m;
  float x[N * 28 * 28];
  int32_t y[N];
  rove_wbuf model_msg, data_msg;
  rove_sw_data d;
} fixture;

static void setup_fixture(fixture *f) {
  int hidden[] = {16};
  rove_shape in = {3, {1, 28, 28}};
  cr_assert_eq(rove_arch_mlp(&f->m, &in, hidden, 1, 10, 7), 0, "%s",
               rove_error_message());
  rove_rng g;
  uint64_t ident[] = {99, 1, 2, 3};
  rove_rng_init(&g, ident, 4);
  for (int i = 0; i < N * 28 * 28; i++)
    f->x[i] = rove_rng_uniform(&g);
  for (int i = 0; i < N; i++)
    f->y[i] = i % 10;
  rove_wbuf img;
  rove_wbuf_init(&img);
  cr_assert_eq(rove_model_encode(&f->m, &img), 0);
  rove_wbuf_init(&f->model_msg);
  rove_sw_put_model(&f->model_msg, f->m.hash, img.data, img.len);
  rove_wbuf_deinit(&img);
  f->d = (rove_sw_data){
      .first = 1000, .n = N, .numel = 28 * 28, .x = f->x, .y = f->y};
  rove_worker_data_key(&f->d, f->d.key);
  rove_wbuf_init(&f->data_msg);
  rove_sw_put_data(&f->data_msg, &f->d);
}

static void teardown_fixture(fixture *f) {
  rove_wbuf_deinit(&f->model_msg);
  rove_wbuf_deinit(&f->data_msg);
  rove_model_deinit(&f->m);
}

static void send(rove_worker *w, const rove_wbuf *msg, rove_wbuf *reply) {
  int stop = 0;
  reply->len = 0;
  cr_assert_eq(rove_worker_handle(w, msg->data, msg->len, reply, &stop), 0,
               "%s", rove_error_message());
  cr_assert_eq(stop, 0);
}

static void get_result(const rove_wbuf *reply, rove_unit_result *res) {
  rove_rbuf r;
  rove_rbuf_init(&r, reply->data, reply->len);
  cr_assert_eq(rove_sw_get_result(&r, res), 0, "%s", rove_error_message());
}

Test(worker, units_match_direct_evaluation) {
  static fixture f;
  setup_fixture(&f);
  rove_worker w;
  rove_worker_init(&w, 3);
  rove_wbuf reply;
  rove_wbuf_init(&reply);
  send(&w, &f.model_msg, &reply);
  send(&w, &f.data_msg, &reply);
  cr_assert_eq(reply.len, 0, "MODEL and DATA have no reply");

  /* Clean unit: labels and argmax predictions of the whole shard. */
  uint32_t off[N];
  for (int i = 0; i < N; i++)
    off[i] = (uint32_t)i;
  rove_sw_task t = {.unit = 5, .kind = ROVE_UNIT_CLEAN, .n = N, .off = off};
  memcpy(t.model_hash, f.m.hash, 32);
  memcpy(t.data_key, f.d.key, 32);
  rove_wbuf msg;
  rove_wbuf_init(&msg);
  rove_sw_put_task(&msg, &t);
  send(&w, &msg, &reply);
  rove_unit_result res;
  get_result(&reply, &res);
  cr_assert_eq(res.status, 0, "%s", res.error);
  cr_assert_eq(res.unit, 5);
  rove_exec e;
  cr_assert_eq(rove_exec_init(&e, &f.m, N), 0);
  rove_exec_forward(&e, N, f.x);
  const float *z = rove_exec_logits(&e);
  for (int i = 0; i < N; i++) {
    int best = 0;
    for (int j = 1; j < 10; j++)
      if (z[i * 10 + j] > z[i * 10 + best])
        best = j;
    cr_assert_eq(res.idx[i], 1000 + i, "global indices kept");
    cr_assert_eq(res.pred[i], best);
    cr_assert_eq(res.label[i], f.y[i]);
  }
  rove_exec_deinit(&e);
  rove_unit_result_deinit(&res);

  /* Attack unit on examples 1, 3, 4: the same verdicts and margins as
   * rove_eval_all with one restart on those examples. */
  rove_profile *p;
  cr_assert_eq(rove_profile_create(&p, "naive"), 0);
  cr_assert_eq(rove_profile_set(p, "steps", "5"), 0);
  rove_wbuf pb;
  rove_wbuf_init(&pb);
  rove_profile_encode(p, &pb);
  uint32_t sub[3] = {1, 3, 4};
  t = (rove_sw_task){.unit = 6,
                     .kind = ROVE_UNIT_ATTACK,
                     .seed = 42,
                     .norm_linf = 1,
                     .eps = 0.1,
                     .restart = 0,
                     .profile = pb.data,
                     .profile_len = (uint32_t)pb.len,
                     .n = 3,
                     .off = sub};
  memcpy(t.model_hash, f.m.hash, 32);
  memcpy(t.data_key, f.d.key, 32);
  msg.len = 0;
  rove_sw_put_task(&msg, &t);
  send(&w, &msg, &reply);
  get_result(&reply, &res);
  cr_assert_eq(res.status, 0, "%s", res.error);
  float xs[3 * 28 * 28];
  int ys[3];
  int64_t idx[3];
  for (int i = 0; i < 3; i++) {
    memcpy(xs + i * 784, f.x + sub[i] * 784, sizeof(float) * 784);
    ys[i] = f.y[sub[i]];
    idx[i] = 1000 + sub[i];
  }
  rove_example_result want[3];
  rove_unit u = {.m = &f.m,
                 .p = p,
                 .norm_linf = 1,
                 .eps = 0.1,
                 .seed = 42,
                 .n = 3,
                 .x = xs,
                 .y = ys,
                 .idx = idx};
  cr_assert_eq(rove_eval_unit(&u, want, NULL, NULL), 0);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(res.idx[i], idx[i]);
    cr_assert_eq(res.ex[i].broken, want[i].broken);
    cr_assert(res.ex[i].margin == want[i].margin ||
                  (isnan(res.ex[i].margin) && isnan(want[i].margin)),
              "example %d: margin %.17g vs %.17g", i, res.ex[i].margin,
              want[i].margin);
  }
  rove_unit_result_deinit(&res);

  /* A unit naming a model this worker never got: a failed result. */
  memset(t.model_hash, 0xEE, 32);
  msg.len = 0;
  rove_sw_put_task(&msg, &t);
  send(&w, &msg, &reply);
  get_result(&reply, &res);
  cr_assert_lt(res.status, 0);
  cr_assert(strstr(res.error, "not sent") != NULL, "%s", res.error);
  rove_unit_result_deinit(&res);

  /* STOP. */
  msg.len = 0;
  rove_sw_put_stop(&msg);
  int stop = 0;
  cr_assert_eq(rove_worker_handle(&w, msg.data, msg.len, &reply, &stop), 0);
  cr_assert_eq(stop, 1);

  rove_wbuf_deinit(&pb);
  rove_profile_destroy(&p);
  rove_wbuf_deinit(&msg);
  rove_wbuf_deinit(&reply);
  rove_worker_deinit(&w);
  teardown_fixture(&f);
}
