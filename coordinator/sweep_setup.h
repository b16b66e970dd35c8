/* sweep_setup.h - a job made concrete for `rove sweep` and `rove merge`:
 * profiles built, names for the results, the plan, the job's identity. */
#ifndef ROVE_COORDINATOR_SWEEP_SETUP_H
#define ROVE_COORDINATOR_SWEEP_SETUP_H

#include "common/data.h"
#include "common/eval.h"
#include "common/jobfile.h"
#include "common/model.h"
#include "coordinator/journal.h"
#include "coordinator/results.h"
#include "coordinator/sched.h"

/* A job made concrete: profiles built, names for the results, the plan.
 * With load_inputs, models and data are loaded too (the coordinator);
 * without (rove merge), only what the journals cannot tell. */
typedef struct rove_sweep_setup {
  rove_job job;
  rove_profile **profiles;  /* n_profiles, owned */
  const char **model_names; /* borrowed from job */
  const char **profile_names;
  int *profile_cert; /* per profile: 1 for a certify profile */
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

#endif
