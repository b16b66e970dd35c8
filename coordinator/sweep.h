/* sweep.h - `rove sweep`: the coordinator of rank 0. */
#ifndef ROVE_COORDINATOR_SWEEP_H
#define ROVE_COORDINATOR_SWEEP_H

#include <stdint.h>

#include "coordinator/sweep_setup.h"

/* Exit code of a sweep stopped by a signal: resumable (EX_TEMPFAIL). */
#define ROVE_EXIT_INTERRUPTED 75

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
