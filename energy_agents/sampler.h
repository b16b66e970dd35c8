/* sampler.h - a dedicated thread sampling a sensor at a fixed period, and the
 * trapezoid/counter integration of its samples. */
#ifndef ROVE_ENERGY_AGENTS_SAMPLER_H
#define ROVE_ENERGY_AGENTS_SAMPLER_H

#include <pthread.h>
#include <stddef.h>

#include "energy_agents/sensor.h"

/* One timestamped reading: t in CLOCK_MONOTONIC seconds, v in watts
 * (POWER) or cumulative unwrapped joules (ENERGY). gap: the counter reset
 * between the previous reading and this one (the energy of that interval
 * is unknown). */
typedef struct rove_sample {
  double t, v;
  int gap;
} rove_sample;

/* Energy over [t0, t1] from samples sorted by time. POWER: trapezoid over
 * the samples inside, with the values at t0 and t1 interpolated linearly
 * between the neighbouring samples. ENERGY: the counter interpolated at
 * t1 minus at t0. ROVE_ERANGE (with a message) when the samples do not
 * bracket the window, or (ENERGY) when the counter reset inside it.
 * *n_inside (may be NULL): samples strictly inside. */
int rove_integrate(const rove_sample *s, size_t n, int kind, double t0,
                   double t1, double *joules, size_t *n_inside);

/* The sampler owns its thread and sample buffer; the sensor is borrowed
 * and must not be used by anyone else while the sampler runs. */
typedef struct rove_sampler {
  rove_sensor *sensor;
  double period_s;
  pthread_t thread;
  pthread_mutex_t mu;
  rove_sample *buf;
  size_t n, cap;
  int running, stop;
  int err; /* first read error (the thread stops on it) */
  char errmsg[256];
} rove_sampler;

/* Starts sampling every period_s on a fixed grid (absolute deadlines, so
 * the period does not drift with the time a read takes). */
int rove_sampler_start(rove_sampler *sp, rove_sensor *s, double period_s);
/* Stops and joins the thread. Returns the thread's read error, if any.
 * The samples stay for rove_sampler_energy until rove_sampler_deinit. */
int rove_sampler_stop(rove_sampler *sp);
void rove_sampler_deinit(rove_sampler *sp);

/* Waits (up to 2 s past t1) until a sample later than t1 exists, then
 * integrates [t0, t1]. */
int rove_sampler_energy(rove_sampler *sp, double t0, double t1, double *joules,
                        size_t *n_inside);
/* 1 when the samples of [t0, t1] (at least 3) all hold one value: a
 * sensor stuck at a reading, or a counter that does not advance. */
int rove_sampler_flat(rove_sampler *sp, double t0, double t1, double *value,
                      size_t *n);
/* 1 when the counter reset (rove_sample.gap) inside [t0, t1]. */
int rove_sampler_gap(rove_sampler *sp, double t0, double t1);
/* Mean and standard deviation of the interval between samples in
 * [t0, t1] (the achieved period and its jitter). */
void rove_sampler_timing(rove_sampler *sp, double t0, double t1,
                         double *mean_dt, double *jitter);

#endif
