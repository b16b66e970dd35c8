/* cmd_merge.c - `rove merge --out DIR PART_DIR...`: replays the journals of
 * a job array's parts into one scheduler and writes one summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/err.h"
#include "coordinator/cli.h"
#include "coordinator/sweep.h"

typedef struct merge_ctx {
  rove_sched *s;
  rove_failures failures;
} merge_ctx;

static int merge_cb(void *user, const rove_unit_result *r) {
  merge_ctx *m = user;
  ROVE_TRY(rove_sched_complete(m->s, r));
  if (r->status < 0)
    ROVE_TRY(rove_failures_add(&m->failures, r));
  return 0;
}

static int merge(const char *out, char **dirs, int n_dirs) {
  char path[4200];
  rove_journal_header h0;
  off_t good;
  int torn;
  /* Read the first header to size the plan. */
  snprintf(path, sizeof path, "%s/journal", dirs[0]);
  ROVE_TRY(rove_journal_replay(path, &h0, NULL, NULL, &good, &torn));
  snprintf(path, sizeof path, "%s/job.ini", dirs[0]);
  rove_sweep_setup su;
  ROVE_TRY(rove_sweep_setup_init(&su, path, 0, !h0.skip, 0, 1));
  su.plan.n = (int)h0.n;
  rove_sched s;
  int rc = rove_sched_init(&s, &su.plan);
  if (rc) {
    rove_sweep_setup_deinit(&su);
    return rc;
  }
  merge_ctx ctx = {.s = &s};
  uint32_t seen_parts = 0;
  for (int i = 0; i < n_dirs && !rc; i++) {
    rove_journal_header h;
    snprintf(path, sizeof path, "%s/journal", dirs[i]);
    rc = rove_journal_replay(path, &h, merge_cb, &ctx, &good, &torn);
    if (rc)
      break;
    if (memcmp(h.job_hash, h0.job_hash, 32) || h.n != h0.n ||
        h.first != h0.first || h.n_parts != h0.n_parts || h.skip != h0.skip)
      rc = ROVE_ERR(ROVE_EINVAL,
                    "%s is from a different sweep than %s/journal (job, "
                    "models, data or part count differ)",
                    path, dirs[0]);
    else if (h.part < 32 && (seen_parts >> h.part) & 1)
      rc = ROVE_ERR(ROVE_EINVAL, "%s: part %u given twice", path,
                    (unsigned)h.part);
    else if (h.part < 32)
      seen_parts |= 1u << h.part;
  }
  if (!rc) {
    mkdir(out, 0755);
    rove_results_axes ax = {.job = su.job.name,
                            .models = su.model_names,
                            .profiles = su.profile_names,
                            .certify = su.profile_cert,
                            .eps = su.job.eps,
                            .first = h0.first};
    rc = rove_results_write(out, &s, &ax, ctx.failures.f, ctx.failures.n, 0.0);
    if (!rc) {
      rove_results_print(stdout, &s, &ax, ctx.failures.f, ctx.failures.n);
      if (!rove_sched_finished(&s)) {
        fprintf(stderr,
                "rove merge: incomplete: %d of %d units (missing parts, or "
                "parts still running); results written to %s\n",
                s.done, s.total, out);
        rc = 1;
      } else {
        fprintf(stderr, "rove merge: %d parts, %d units, results in %s\n",
                n_dirs, s.total, out);
      }
    }
  }
  rove_failures_deinit(&ctx.failures);
  rove_sched_deinit(&s);
  rove_sweep_setup_deinit(&su);
  return rc;
}

int rove_cmd_merge(int argc, char **argv) {
  const char *out = NULL;
  char **dirs = calloc((size_t)argc, sizeof *dirs);
  int n = 0;
  if (!dirs)
    return ROVE_EXIT_FAIL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--out") && i + 1 < argc) {
      out = argv[++i];
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: rove merge --out DIR PART_DIR...\n"
             "  Joins the parts of a sweep run as a job array (rove sweep "
             "--part I/N)\n  into one summary.csv, summary.json and "
             "per_example.csv in DIR.\n");
      free(dirs);
      return ROVE_EXIT_OK;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "rove merge: unknown option '%s'\n", argv[i]);
      free(dirs);
      return ROVE_EXIT_USAGE;
    } else {
      dirs[n++] = argv[i];
    }
  }
  if (!out || n == 0) {
    fprintf(stderr, "usage: rove merge --out DIR PART_DIR...\n");
    free(dirs);
    return ROVE_EXIT_USAGE;
  }
  int rc = merge(out, dirs, n);
  free(dirs);
  if (rc < 0) {
    rove_error_print(stderr);
    return ROVE_EXIT_FAIL;
  }
  return rc ? ROVE_EXIT_FAIL : ROVE_EXIT_OK;
}
