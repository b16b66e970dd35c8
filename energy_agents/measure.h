/* measure.h - the measurement protocol: idle, warm-up, interleaved fixed-length
 * trials, statistics and validity flags. */
#ifndef ROVE_ENERGY_AGENTS_MEASURE_H
#define ROVE_ENERGY_AGENTS_MEASURE_H

#include <stddef.h>

#include "common/energy_proto.h"
#include "energy_agents/sensor.h"

/* Something to measure: `run` performs one batch of inference and sets
 * *n_examples (how many inferences it did). The analytical estimate uses
 * macs / param_bytes / act_bytes and bits instead of a sensor. */
typedef struct rove_workload {
  char name[128];
  unsigned char model_hash[32];
  char input_set[64];
  int (*run)(void *ctx, int *n_examples);
  void *ctx;
  double macs;        /* multiply-accumulates per example */
  double param_bytes; /* weights read once per batch */
  double act_bytes;   /* activations written and read per example */
  int bits;           /* arithmetic precision: 32, 16 or 8 */
} rove_workload;

/* Energy per example by the Horowitz (ISSCC 2014, 45 nm) table: each MAC
 * costs a multiply and an add at `bits`; weights come from DRAM (about
 * 1.95 nJ per 64 bits, the middle of 1.3-2.6) once per batch, and
 * activations go through on-chip SRAM (about 10 pJ per 64 bits). Memory
 * dominates, which is why bytes are counted at all. */
double rove_estimate_joules(const rove_workload *w, int batch);

/* Runs the protocol on n workloads with sensor s and configuration c:
 * settle, idle power before; warm-up; c->trials rounds, each running every
 * workload for one window of c->window_s (so slow drift hits all models
 * alike); settle, idle power after. Settling and idle windows follow the
 * sensor's update interval (below), in quick mode too. A sensor whose
 * reading never moves is flagged STUCK, a counter reset inside a trial
 * COUNTER_RESET (status FAILED, energies NaN: never 0 J). Fills out[0..n)
 * (board and agent id are left for the caller). An unmeasurable sensor fills
 * every result with status UNMEASURABLE and the reason; a failing workload
 * gives status FAILED for that model. Returns 0, or a negative code for a
 * broken sensor mid-run (the results then say FAILED with the reason, too).
 * `quick` only sets the QUICK flag. */
int rove_measure(rove_sensor *s, const rove_ep_mconf *c, int quick,
                 rove_workload *w, int n, rove_energy_result *out);

/* The wait before each idle window: two sensor update intervals (the
 * sample period when the sensor does not say), at least three periods. */
double rove_measure_settle_s(const rove_sensor *s, const rove_ep_mconf *c);
/* An idle window: c->idle_s, at least ten sensor update intervals. */
double rove_measure_idle_s(const rove_sensor *s, const rove_ep_mconf *c);

/* Statistics over n values (helpers, exposed for tests). */
double rove_stat_median(const double *x, int n);
/* p in [0, 1], linear interpolation between order statistics. */
double rove_stat_quantile(const double *x, int n, double p);
/* Two-sided 95 % Student t quantile for df degrees of freedom. */
double rove_stat_t975(int df);

#endif
