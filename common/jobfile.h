/* jobfile.h - the sweep job description parsed from a job file (an INI
 * document, common/ini.h). */
#ifndef ROVE_COMMON_JOBFILE_H
#define ROVE_COMMON_JOBFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/ini.h"
#include "common/normalize.h"

/* ---- sweep job files (documented in jobs/README.md) ---- */

#define ROVE_JOB_NAME_MAX 64
#define ROVE_JOB_MAX_EPS 64

typedef struct rove_job_model {
  const char *name;  /* borrowed from the job's ini */
  char *path;        /* owned: resolved against the job file's directory */
  const char *board; /* optional board class for energy, or NULL */
  rove_norm norm;    /* mean = / std = keys: input normalization */
  const rove_ini_section *sec;
} rove_job_model;

typedef struct rove_job_profile {
  const char *name;            /* borrowed */
  const char *preset;          /* the `preset` key, default "naive" */
  int norm_linf;               /* the `norm` key: linf (default) or l2 */
  const rove_ini_section *sec; /* the other keys go to rove_profile_set */
} rove_job_profile;

typedef struct rove_job {
  rove_ini ini;
  const char *name;
  const char *data; /* dataset spec, e.g. "fashion-mnist:test" */
  long long n;      /* examples used (the first n of the spec); 0: all */
  uint64_t seed;
  const char *output; /* default "runs/<name>" */
  int shard;          /* examples per shard */
  int skip;           /* skipping that cannot change a verdict (default 1) */
  rove_job_model *models;
  int n_models;
  rove_job_profile *profiles; /* those listed in [sweep] profiles, in order */
  int n_profiles;
  double eps[ROVE_JOB_MAX_EPS]; /* strictly increasing */
  int n_eps;
  /* [energy]: parsed, optional; used by the energy hub. */
  const rove_ini_section *energy;
  const char *energy_listen;
  long long energy_port;
  char *energy_token_file; /* resolved like model paths; owned */
  const char *energy_boards;
  double energy_wait; /* seconds to wait after the last unit for pending
                         measurements (default 0) */
} rove_job;

/* Parses and checks a job file; `job` is uninitialised on entry and left
 * deinitialised on error. Relative model paths are resolved against the
 * directory of `path`. */
int rove_job_load(rove_job *job, const char *path);
int rove_job_load_string(rove_job *job, const char *text, const char *what,
                         const char *base_dir);
void rove_job_deinit(rove_job *job);

#endif
