/* results.h - a sweep's plain-file results: summary.csv, summary.json,
 * per_example.csv, and the end-of-run table. */
#ifndef ROVE_COORDINATOR_RESULTS_H
#define ROVE_COORDINATOR_RESULTS_H

#include <stdint.h>
#include <stdio.h>

#include "common/energy_proto.h"
#include "coordinator/sched.h"

/* Names of the sweep's axes, all borrowed. */
typedef struct rove_results_axes {
  const char *job;
  const char *const *models;   /* n_models */
  const char *const *profiles; /* n_profiles */
  const int *certify;          /* n_profiles: 1 for certify profiles (or
                                  NULL: none) */
  const double *eps;           /* n_eps */
  int64_t first;               /* global index of example 0 */
  /* Energy measurements joined by model hash (NULL: no [energy]). */
  const rove_energy_table *energy;
  const char *const *boards;
  int n_boards;
} rove_results_axes;

/* A unit that failed, for the summary's list of failures. */
typedef struct rove_failure {
  uint32_t unit;
  int32_t status;
  char error[256];
} rove_failure;

/* A growable list of failed units (the sweep's and rove merge's). */
typedef struct rove_failures {
  rove_failure *f;
  int n, cap;
} rove_failures;

/* Records r (status < 0) with its message; 0 or ROVE_ENOMEM. */
int rove_failures_add(rove_failures *l, const rove_unit_result *r);
void rove_failures_deinit(rove_failures *l);

/* Writes the three files into `dir` (each to a temporary name, then
 * renamed, so an old complete file is never replaced by half a new one).
 * wall_s is the sweep's elapsed time (a timing column, like the per-row
 * wall_s, which sums the units' worker time). */
int rove_results_write(const char *dir, rove_sched *s,
                       const rove_results_axes *ax, const rove_failure *f,
                       int n_failures, double wall_s);

/* Human-readable summary table. */
void rove_results_print(FILE *out, rove_sched *s, const rove_results_axes *ax,
                        const rove_failure *f, int n_failures);

const char *rove_verdict_name(int kind);

#endif
