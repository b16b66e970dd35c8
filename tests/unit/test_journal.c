/* test_journal.c - journal round trip, torn tail, CRC mismatch, and the
 * resume set (replayed units are not run again, missing ones are). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "coordinator/journal.h"
#include "coordinator/sched.h"

static char dir[64];
static char path[128];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/rove-journal-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/journal", dir);
}
static void teardown(void) {
  unlink(path);
  rmdir(dir);
}
TestSuite(journal, .init = setup, .fini = teardown);

static void make_result(rove_unit_result *r, uint32_t unit, uint32_t n) {
  rove_unit_result_init(r);
  r->unit = unit;
  r->kind = ROVE_UNIT_ATTACK;
  r->grad_evals = 100 + unit;
  r->seconds = 0.5;
  cr_assert_eq(rove_unit_result_alloc(r, n), 0);
  for (uint32_t i = 0; i < n; i++) {
    r->idx[i] = 3 * i + unit;
    r->ex[i].broken = (int8_t)(i & 1);
    r->ex[i].attack = (int8_t)((i & 1) ? 2 : -1);
    r->ex[i].margin = (double)i - 1.25;
    r->ex[i].diag = i;
  }
}

typedef struct seen {
  int count;
  uint32_t units[16];
  uint64_t grads[16];
  double margin_sum;
} seen;

static int collect(void *user, const rove_unit_result *r) {
  seen *s = user;
  s->units[s->count] = r->unit;
  s->grads[s->count++] = r->grad_evals;
  for (uint32_t i = 0; i < r->n; i++)
    s->margin_sum += r->ex[i].margin;
  return 0;
}

static off_t file_size(void) {
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  return st.st_size;
}

static void write_three(void) {
  rove_journal j;
  rove_journal_header h = {.n = 77, .first = -5, .part = 1, .n_parts = 4};
  memset(h.job_hash, 0xAB, 32);
  cr_assert_eq(rove_journal_create(&j, path, &h), 0);
  for (uint32_t u = 0; u < 3; u++) {
    rove_unit_result r;
    make_result(&r, u, 5);
    cr_assert_eq(rove_journal_append(&j, &r), 0);
    rove_unit_result_deinit(&r);
  }
  cr_assert_eq(rove_journal_close(&j), 0);
  cr_assert_eq(rove_journal_close(&j), 0, "closing twice is harmless");
}

Test(journal, round_trip) {
  write_three();
  rove_journal_header h;
  seen s = {0};
  off_t good;
  int torn;
  cr_assert_eq(rove_journal_replay(path, &h, collect, &s, &good, &torn), 0,
               "%s", rove_error_message());
  cr_assert_eq(torn, 0);
  cr_assert_eq(good, file_size());
  cr_assert_eq(h.n, 77);
  cr_assert_eq(h.first, -5);
  cr_assert_eq(h.part, 1);
  cr_assert_eq(h.n_parts, 4);
  cr_assert_eq(h.job_hash[31], 0xAB);
  cr_assert_eq(s.count, 3);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(s.units[i], (uint32_t)i);
    cr_assert_eq(s.grads[i], 100u + (uint64_t)i);
  }
  /* margins -1.25 .. 2.75 per unit: sum 3.75 each */
  cr_assert_float_eq(s.margin_sum, 3 * 3.75, 1e-12);
}

Test(journal, refuses_to_overwrite) {
  write_three();
  rove_journal j;
  rove_journal_header h = {0};
  cr_assert_eq(rove_journal_create(&j, path, &h), ROVE_EACCES);
  cr_assert(strstr(rove_error_message(), "--resume"));
}

/* A full disk mid-record (here a file size limit, which cuts a write
 * short the same way): the append fails naming the cause, leaves no
 * partial record behind, and an append once there is room again lands
 * after the last whole record, so every record replays. */
Test(journal, a_failed_append_takes_its_bytes_back) {
  rove_journal j;
  rove_journal_header h = {.n = 9, .n_parts = 1};
  cr_assert_eq(rove_journal_create(&j, path, &h), 0);
  rove_unit_result r;
  for (uint32_t u = 0; u < 2; u++) {
    make_result(&r, u, 5);
    cr_assert_eq(rove_journal_append(&j, &r), 0);
    rove_unit_result_deinit(&r);
  }
  off_t before = file_size();
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit old, lim;
  cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = old;
  lim.rlim_cur = (rlim_t)before + 20; /* room for part of a record */
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  make_result(&r, 2, 5);
  cr_assert_lt(rove_journal_append(&j, &r), 0);
  cr_assert(strstr(rove_error_message(), "File too large") != NULL, "%s",
            rove_error_message());
  cr_assert(strstr(rove_error_message(), path) != NULL);
  cr_assert_eq(file_size(), before, "the partial record was left behind");
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  cr_assert_eq(rove_journal_append(&j, &r), 0, "%s", rove_error_message());
  rove_unit_result_deinit(&r);
  cr_assert_eq(rove_journal_close(&j), 0);
  seen s = {0};
  off_t good;
  int torn;
  cr_assert_eq(rove_journal_replay(path, &h, collect, &s, &good, &torn), 0,
               "%s", rove_error_message());
  cr_assert_eq(torn, 0);
  cr_assert_eq(s.count, 3);
  cr_assert_eq(s.units[2], 2u);
}

Test(journal, torn_tail_is_dropped_and_appending_resumes) {
  write_three();
  off_t full = file_size();
  /* Every cut inside the last record is a torn tail. */
  rove_journal_header h;
  off_t good = 0;
  int torn;
  seen s = {0};
  cr_assert_eq(rove_journal_replay(path, &h, collect, &s, &good, &torn), 0);
  off_t last_start = 0;
  {
    /* Find where the last record starts: replay a copy cut by one byte. */
    cr_assert_eq(truncate(path, full - 1), 0);
    seen s2 = {0};
    cr_assert_eq(
        rove_journal_replay(path, &h, collect, &s2, &last_start, &torn), 0);
    cr_assert_eq(torn, 1);
    cr_assert_eq(s2.count, 2);
  }
  for (off_t cut = last_start + 1; cut < full; cut += 7) {
    cr_assert_eq(truncate(path, cut), 0);
    seen s3 = {0};
    cr_assert_eq(rove_journal_replay(path, &h, collect, &s3, &good, &torn), 0);
    cr_assert_eq(torn, 1, "cut at %ld", (long)cut);
    cr_assert_eq(good, last_start);
    cr_assert_eq(s3.count, 2);
  }
  rove_journal j;
  cr_assert_eq(rove_journal_reopen(&j, path, good), 0);
  rove_unit_result r;
  make_result(&r, 9, 2);
  cr_assert_eq(rove_journal_append(&j, &r), 0);
  rove_unit_result_deinit(&r);
  cr_assert_eq(rove_journal_close(&j), 0);
  seen s4 = {0};
  cr_assert_eq(rove_journal_replay(path, &h, collect, &s4, &good, &torn), 0);
  cr_assert_eq(torn, 0);
  cr_assert_eq(s4.count, 3);
  cr_assert_eq(s4.units[2], 9);
}

static void flip_byte(off_t at) {
  int fd = open(path, O_RDWR);
  unsigned char b;
  cr_assert_eq(pread(fd, &b, 1, at), 1);
  b ^= 0x40;
  cr_assert_eq(pwrite(fd, &b, 1, at), 1);
  close(fd);
}

Test(journal, crc_mismatch_in_the_middle_is_an_error_at_the_end_torn) {
  write_three();
  off_t full = file_size();
  rove_journal_header h;
  off_t good;
  int torn;
  /* A byte in the last record's payload: a torn write. */
  flip_byte(full - 3);
  seen s = {0};
  cr_assert_eq(rove_journal_replay(path, &h, collect, &s, &good, &torn), 0);
  cr_assert_eq(torn, 1);
  cr_assert_eq(s.count, 2);
  flip_byte(full - 3);
  /* A byte in the first unit record (the header record is 70 bytes). */
  flip_byte(70 + 8 + 20);
  seen s2 = {0};
  cr_assert_eq(rove_journal_replay(path, &h, collect, &s2, &good, &torn),
               ROVE_ECRC);
  cr_assert(strstr(rove_error_message(), "record 1"), "%s",
            rove_error_message());
}

Test(journal, not_a_journal) {
  FILE *f = fopen(path, "wb");
  fputs("hello, this is not a journal at all, just text", f);
  fclose(f);
  rove_journal_header h;
  off_t good;
  int torn;
  int rc = rove_journal_replay(path, &h, NULL, NULL, &good, &torn);
  cr_assert_lt(rc, 0);
}

/* Resume: replaying a journal of the first k completed units into a fresh
 * scheduler leaves exactly the other units to run, and the final verdicts
 * equal an uninterrupted run's. */
static int replay_into(void *user, const rove_unit_result *r) {
  return rove_sched_complete(user, r);
}

static void fake(const rove_sched_task *t, rove_unit_result *r) {
  rove_unit_result_init(r);
  r->unit = t->unit;
  r->kind = t->key.kind;
  cr_assert_eq(rove_unit_result_alloc(r, t->n), 0);
  for (uint32_t j = 0; j < t->n; j++) {
    int i = (int)t->idx[j];
    r->idx[j] = i;
    if (t->key.kind == ROVE_UNIT_CLEAN) {
      r->label[j] = i % 4;
      r->pred[j] = i % 9 == 0 ? 5 : i % 4;
    } else {
      r->ex[j].broken =
          (int8_t)((i * 7 + t->key.eps * 3 + t->key.restart) % 5 == 0);
      r->ex[j].attack = r->ex[j].broken ? 0 : -1;
      r->ex[j].margin = 1.0;
    }
  }
  r->grad_evals = t->n;
}

Test(journal, resume_runs_only_the_missing_units) {
  rove_plan p = {.n_models = 1,
                 .n_profiles = 1,
                 .n_eps = 2,
                 .eps = {0.1, 0.2},
                 .n = 30,
                 .shard = 7,
                 .skip = 1,
                 .part = 0,
                 .n_parts = 1};
  p.restarts[0] = 2;
  rove_sched ref, a, b;
  cr_assert_eq(rove_sched_init(&ref, &p), 0);
  cr_assert_eq(rove_sched_init(&a, &p), 0);
  rove_sched_task t;
  while (rove_sched_next(&ref, &t)) {
    rove_unit_result r;
    fake(&t, &r);
    cr_assert_eq(rove_sched_complete(&ref, &r), 0);
    rove_unit_result_deinit(&r);
  }
  rove_journal j;
  rove_journal_header h = {.n = 30, .n_parts = 1};
  cr_assert_eq(rove_journal_create(&j, path, &h), 0);
  int ran = 0;
  for (; ran < 9 && rove_sched_next(&a, &t); ran++) {
    rove_unit_result r;
    fake(&t, &r);
    cr_assert_eq(rove_sched_complete(&a, &r), 0);
    cr_assert_eq(rove_journal_append(&j, &r), 0);
    rove_unit_result_deinit(&r);
  }
  /* One more in flight when the "crash" happens: not journaled. */
  cr_assert_eq(rove_sched_next(&a, &t), 1);
  rove_journal_close(&j);

  cr_assert_eq(rove_sched_init(&b, &p), 0);
  off_t good;
  int torn;
  cr_assert_eq(rove_journal_replay(path, &h, replay_into, &b, &good, &torn), 0,
               "%s", rove_error_message());
  cr_assert_eq(b.done, a.done);
  cr_assert_eq(b.inflight, 0);
  int resumed = 0;
  while (rove_sched_next(&b, &t)) {
    rove_unit_result r;
    fake(&t, &r);
    cr_assert_eq(rove_sched_complete(&b, &r), 0);
    rove_unit_result_deinit(&r);
    resumed++;
  }
  cr_assert(rove_sched_finished(&b));
  for (int e = 0; e < 2; e++) {
    const rove_row *rr = rove_sched_row(&ref, 0, 0, e);
    int robust = rr->robust, broken = rr->broken, units = rr->units;
    uint64_t ge = rr->grad_evals;
    const rove_row *rb = rove_sched_row(&b, 0, 0, e);
    cr_assert_eq(rb->robust, robust);
    cr_assert_eq(rb->broken, broken);
    cr_assert_eq(rb->units, units, "no unit lost or counted twice");
    cr_assert_eq(rb->grad_evals, ge);
    for (int i = 0; i < 30; i++)
      cr_assert_eq(rove_sched_verdict(&b, 0, 0, e, i, NULL),
                   rove_sched_verdict(&ref, 0, 0, e, i, NULL));
  }
  /* Replaying the same journal twice into one scheduler is refused. */
  cr_assert_eq(rove_journal_replay(path, &h, replay_into, &b, &good, &torn),
               ROVE_ESTATE);
  rove_sched_deinit(&ref);
  rove_sched_deinit(&a);
  rove_sched_deinit(&b);
}
