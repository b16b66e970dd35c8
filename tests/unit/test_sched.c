/* test_sched.c - the sweep scheduler against an independent oracle: any
 * completion order gives the verdicts computed directly from the rules. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/sched.h"

/* A fake attack: whether restart r at eps index e breaks example i of
 * (m, p). Larger eps breaks more often; the pattern is arbitrary. */
static int fake_breaks(int m, int p, int e, int r, int i) {
  uint32_t h = (uint32_t)(m * 7919 + p * 104729 + e * 1299709 + r * 15485863 +
                          i * 32452843);
  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  return (int)(h % 100) < 12 + 10 * e;
}
static int fake_label(int i) {
  return i % 10;
}
static int fake_pred(int m, int i) {
  return (i * (m + 3)) % 11 == 0 ? 99 : i % 10;
}

static void fake_run(const rove_sched_task *t, rove_unit_result *r) {
  rove_unit_result_init(r);
  r->unit = t->unit;
  r->kind = t->key.kind;
  cr_assert_eq(rove_unit_result_alloc(r, t->n), 0);
  memset(r->model_hash, t->key.model + 1, 32);
  for (uint32_t j = 0; j < t->n; j++) {
    int i = (int)t->idx[j];
    r->idx[j] = i;
    if (t->key.kind == ROVE_UNIT_CLEAN) {
      r->label[j] = fake_label(i);
      r->pred[j] = fake_pred(t->key.model, i);
      r->margin[j] = 1.0;
      continue;
    }
    int b = fake_breaks(t->key.model, t->key.profile, t->key.eps,
                        t->key.restart, i);
    r->ex[j].broken = (int8_t)b;
    r->ex[j].attack = b ? (int8_t)(t->key.restart % 3) : -1;
    r->ex[j].margin = b ? -1.0 - t->key.restart : 2.0 - t->key.eps;
    r->ex[j].diag = 1u << (i % 3);
    r->grad_evals += 10;
  }
}

static rove_plan demo_plan(int skip) {
  rove_plan p = {.n_models = 2,
                 .n_profiles = 2,
                 .n_eps = 3,
                 .eps = {0.1, 0.2, 0.3},
                 .n = 53,
                 .shard = 8,
                 .skip = skip,
                 .part = 0,
                 .n_parts = 1};
  p.restarts[0] = 3;
  p.restarts[1] = 1;
  return p;
}

/* Runs the plan to completion with up to `slots` units in flight,
 * completing a pseudo-random one each time (seeded), checking that no
 * example is attacked after it is already broken when skipping. */
static uint64_t run_all(rove_sched *s, int slots, unsigned seed) {
  rove_unit_result *fl = calloc((size_t)slots, sizeof *fl);
  int nfl = 0;
  uint64_t grads = 0;
  srand(seed);
  for (int guard = 0; guard < 100000; guard++) {
    rove_sched_task t;
    while (nfl < slots && rove_sched_next(s, &t)) {
      if (s->plan.skip && t.key.kind == ROVE_UNIT_ATTACK)
        for (uint32_t j = 0; j < t.n; j++) {
          int i = (int)t.idx[j];
          cr_assert_neq(fake_pred(t.key.model, i), 99 + 0 * fake_label(i),
                        "clean-wrong example %d attacked", i);
          for (int e = 0; e <= t.key.eps; e++)
            for (int r = 0; r < (e < t.key.eps ? s->plan.restarts[t.key.profile]
                                               : t.key.restart);
                 r++)
              cr_assert(!fake_breaks(t.key.model, t.key.profile, e, r, i),
                        "example %d attacked after it was broken", i);
        }
      fake_run(&t, &fl[nfl++]);
    }
    if (nfl == 0)
      break;
    int k = rand() % nfl;
    grads += fl[k].grad_evals;
    cr_assert_eq(rove_sched_complete(s, &fl[k]), 0, "%s", rove_error_message());
    rove_unit_result_deinit(&fl[k]);
    fl[k] = fl[--nfl];
  }
  free(fl);
  cr_assert(rove_sched_finished(s));
  return grads;
}

/* The rules applied directly, without a scheduler. */
static void check_oracle(rove_sched *s) {
  const rove_plan *pl = &s->plan;
  for (int m = 0; m < pl->n_models; m++)
    for (int p = 0; p < pl->n_profiles; p++)
      for (int e = 0; e < pl->n_eps; e++) {
        int robust = 0, broken = 0, wrong = 0;
        for (int i = 0; i < pl->n; i++) {
          const rove_verdict *v;
          int kind = rove_sched_verdict(s, m, p, e, i, &v);
          int want = ROVE_V_ROBUST, fe = -1, fr = -1;
          if (fake_pred(m, i) != fake_label(i)) {
            want = ROVE_V_CLEAN_WRONG;
          } else {
            for (int ee = 0; ee <= e && fe < 0; ee++)
              for (int r = 0; r < pl->restarts[p] && fe < 0; r++)
                if (fake_breaks(m, p, ee, r, i)) {
                  fe = ee;
                  fr = r;
                }
            if (fe >= 0)
              want = ROVE_V_BROKEN;
          }
          cr_assert_eq(kind, want, "m%d p%d e%d example %d: %d != %d", m, p, e,
                       i, kind, want);
          if (want == ROVE_V_BROKEN) {
            cr_assert_eq(v->eps_found, fe);
            cr_assert_eq(v->restart, fr);
            cr_assert_eq(v->attack, fr % 3);
          }
          robust += want == ROVE_V_ROBUST;
          broken += want == ROVE_V_BROKEN;
          wrong += want == ROVE_V_CLEAN_WRONG;
        }
        const rove_row *row = rove_sched_row(s, m, p, e);
        cr_assert_eq(row->n, pl->n);
        cr_assert_eq(row->robust, robust);
        cr_assert_eq(row->broken, broken);
        cr_assert_eq(row->clean_correct, pl->n - wrong);
        cr_assert_eq(row->errors, 0);
      }
}

Test(sched, key_id_round_trip) {
  rove_plan p = demo_plan(1);
  rove_sched s;
  cr_assert_eq(rove_sched_init(&s, &p), 0);
  cr_assert_eq(s.n_shards, 7);
  cr_assert_eq(s.n_units, 2 * 7 * (1 + 3 * 3 + 3 * 1));
  for (int u = 0; u < s.n_units; u++) {
    rove_unit_key k;
    rove_sched_key(&s, (uint32_t)u, &k);
    cr_assert_eq(rove_sched_id(&s, &k), u);
  }
  rove_unit_key bad = {ROVE_UNIT_ATTACK, 0, 1, 0, 1, 0}; /* restart 1 of 1 */
  cr_assert_eq(rove_sched_id(&s, &bad), -1);
  rove_sched_deinit(&s);
}

Test(sched, verdicts_match_oracle_in_any_order) {
  for (int skip = 0; skip <= 1; skip++)
    for (int slots = 1; slots <= 7; slots += 3) {
      rove_plan p = demo_plan(skip);
      rove_sched s;
      cr_assert_eq(rove_sched_init(&s, &p), 0);
      run_all(&s, slots, (unsigned)(slots * 31 + skip));
      check_oracle(&s);
      rove_sched_deinit(&s);
    }
}

Test(sched, skipping_saves_work_with_identical_verdicts) {
  rove_plan p1 = demo_plan(1), p0 = demo_plan(0);
  rove_sched a, b;
  cr_assert_eq(rove_sched_init(&a, &p1), 0);
  cr_assert_eq(rove_sched_init(&b, &p0), 0);
  uint64_t ga = run_all(&a, 3, 1), gb = run_all(&b, 3, 2);
  cr_assert_lt(ga, gb, "skipping spent %llu >= %llu", (unsigned long long)ga,
               (unsigned long long)gb);
  for (int m = 0; m < 2; m++)
    for (int q = 0; q < 2; q++)
      for (int e = 0; e < 3; e++)
        for (int i = 0; i < p1.n; i++)
          cr_assert_eq(rove_sched_verdict(&a, m, q, e, i, NULL),
                       rove_sched_verdict(&b, m, q, e, i, NULL));
  rove_sched_deinit(&a);
  rove_sched_deinit(&b);
}

Test(sched, rejects_duplicates_early_results_and_wrong_examples) {
  rove_plan p = demo_plan(1);
  rove_sched s;
  cr_assert_eq(rove_sched_init(&s, &p), 0);
  rove_sched_task t;
  cr_assert_eq(rove_sched_next(&s, &t), 1);
  cr_assert_eq(t.key.kind, ROVE_UNIT_CLEAN, "clean passes go first");
  rove_unit_result r;
  fake_run(&t, &r);

  /* An attack unit whose clean pass has not finished. */
  rove_unit_key k = {ROVE_UNIT_ATTACK, t.key.model, 0, 0, 0, t.key.shard};
  rove_unit_result early;
  rove_unit_result_init(&early);
  early.unit = (uint32_t)rove_sched_id(&s, &k);
  early.kind = ROVE_UNIT_ATTACK;
  cr_assert_eq(rove_sched_complete(&s, &early), ROVE_ESTATE);

  /* Wrong example list. */
  r.idx[0] += 1000;
  cr_assert_eq(rove_sched_complete(&s, &r), ROVE_EFORMAT);
  r.idx[0] -= 1000;
  cr_assert_eq(rove_sched_complete(&s, &r), 0);
  cr_assert_eq(rove_sched_complete(&s, &r), ROVE_ESTATE, "reported twice");
  cr_assert_eq(s.done, 1);
  rove_unit_result_deinit(&r);
  rove_sched_deinit(&s);
}

Test(sched, failed_units_are_recorded_and_the_sweep_goes_on) {
  rove_plan p = demo_plan(1);
  rove_sched s;
  cr_assert_eq(rove_sched_init(&s, &p), 0);
  int failed_clean = 0, failed_attack = 0;
  rove_sched_task t;
  while (rove_sched_next(&s, &t)) {
    rove_unit_result r;
    fake_run(&t, &r);
    /* Model 1's clean pass on shard 2 fails, and one attack unit. */
    if (t.key.kind == ROVE_UNIT_CLEAN && t.key.model == 1 && t.key.shard == 2) {
      r.status = ROVE_EIO;
      failed_clean = 1;
    }
    if (t.key.kind == ROVE_UNIT_ATTACK && t.key.model == 0 &&
        t.key.profile == 1 && t.key.eps == 2 && t.key.shard == 0) {
      r.status = ROVE_EINVAL;
      snprintf(r.error, sizeof r.error, "boom");
      failed_attack = 1;
    }
    cr_assert_eq(rove_sched_complete(&s, &r), 0);
    rove_unit_result_deinit(&r);
  }
  cr_assert(failed_clean && failed_attack);
  cr_assert(rove_sched_finished(&s));
  const rove_row *row = rove_sched_row(&s, 1, 0, 0);
  cr_assert_eq(row->errors, 8, "the failed shard's 8 examples read error");
  cr_assert_eq(row->failed_units, 3, "3 restarts depend on it");
  int err = 0;
  for (int i = 0; i < 8; i++)
    err += rove_sched_verdict(&s, 0, 1, 2, i, NULL) == ROVE_V_ERROR;
  row = rove_sched_row(&s, 0, 1, 2);
  cr_assert_eq(row->failed_units, 1);
  cr_assert_eq(row->errors, err);
  cr_assert_gt(err, 0);
  rove_sched_deinit(&s);
}

Test(sched, parts_partition_the_shards) {
  rove_plan full = demo_plan(1);
  rove_sched f;
  cr_assert_eq(rove_sched_init(&f, &full), 0);
  run_all(&f, 2, 5);
  int total = 0;
  for (int part = 0; part < 3; part++) {
    rove_plan pp = full;
    pp.part = part;
    pp.n_parts = 3;
    rove_sched s;
    cr_assert_eq(rove_sched_init(&s, &pp), 0);
    total += s.total;
    run_all(&s, 2, (unsigned)part);
    for (int i = 0; i < full.n; i++)
      if (rove_sched_owns(&s, i))
        for (int e = 0; e < 3; e++)
          cr_assert_eq(rove_sched_verdict(&s, 1, 0, e, i, NULL),
                       rove_sched_verdict(&f, 1, 0, e, i, NULL));
    rove_sched_deinit(&s);
  }
  cr_assert_eq(total, f.total);
  rove_sched_deinit(&f);
}

Test(sched, bad_plans_are_refused) {
  rove_plan p = demo_plan(1);
  rove_sched s;
  p.restarts[1] = 0;
  cr_assert_eq(rove_sched_init(&s, &p), ROVE_ERANGE);
  p = demo_plan(1);
  p.part = 1;
  cr_assert_eq(rove_sched_init(&s, &p), ROVE_EINVAL);
}
