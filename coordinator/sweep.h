/* sweep.h - `rove sweep` and `rove merge`: the job turned into a plan, the
 * coordinator loop, and merging of job-array parts. */
#ifndef ROVE_COORDINATOR_SWEEP_H
#define ROVE_COORDINATOR_SWEEP_H

#include <stdint.h>

#include "common/data.h"
#include "common/eval.h"
#include "common/jobfile.h"
#include "common/model.h"
#include "coordinator/journal.h"
#include "coordinator/results.h"
#include "coordinator/sched.h"

/* Exit code of a sweep stopped by a signal: resumable (EX_TEMPFAIL). */
#define ROVE_EXIT_INTERRUPTED 75

/* A job made concrete: profiles built, names for the results, the plan.
 * With load_inputs, models and data are loaded too (the coordinator);
 * without (rove merge), only what the journals cannot tell. */
typedef struct rove_sweep_setup {
  rove_job job;
  rove_profile **profiles;  /* n_profiles, owned */
  const char **model_names; /* borrowed from job */
  const char **profile_names;
  rove_plan plan;
  /* load_inputs only */
  rove_dataset data;
  int data_loaded;
  rove_model *models; /* n_models; loaded[i] says which loaded */
  int *loaded;
  char (*model_error)[256]; /* why a model did not load */
  unsigned char job_hash[32];
} rove_sweep_setup;

/* Errors name the job file, line and key. */
int rove_sweep_setup_init(rove_sweep_setup *s, const char *job_path,
                          int load_inputs, int no_skip, int part, int parts);
void rove_sweep_setup_deinit(rove_sweep_setup *s);

typedef struct rove_sweep_opts {
  const char *job_path;
  const char *out; /* NULL: the job's output */
  int resume;
  int no_skip;
  int part, parts;
  int quiet;
  int rank, size;
} rove_sweep_opts;

/* Runs the coordinator (rank 0); returns an exit code. */
int rove_sweep_coordinate(const rove_sweep_opts *o);

#endif
