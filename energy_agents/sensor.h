/* sensor.h - power/energy sensor back-ends, discovered by name and label, each
 * labelled with its scope. */
#ifndef ROVE_ENERGY_AGENTS_SENSOR_H
#define ROVE_ENERGY_AGENTS_SENSOR_H

#include "common/util.h"
#include <stddef.h>

/* What a reading means. A POWER sensor gives instantaneous watts (the
 * sampler integrates by trapezoid); an ENERGY sensor gives a cumulative
 * counter in joules, already unwrapped (the sampler differences it); an
 * ESTIMATE has no reading at all: energy comes from MACs and bytes. */
enum rove_sensor_kind {
  ROVE_SENSOR_POWER = 1,
  ROVE_SENSOR_ENERGY = 2,
  ROVE_SENSOR_ESTIMATE = 3
};

#define ROVE_SENSOR_MAX_CH 8

typedef struct rove_sensor_ops rove_sensor_ops;
#define ROVE_SENSOR_PATH 512

/* One channel: a file with a power or energy value, or (INA3221 hwmon)
 * a voltage file and a current file whose product is power. */
typedef struct rove_sensor_ch {
  char label[64];
  char path_a[ROVE_SENSOR_PATH];
  char path_b[ROVE_SENSOR_PATH]; /* "" unless P = a * b */
  double scale;                  /* raw (or raw product) -> W or J */
  double max_range_j;            /* counter wrap modulus in J, 0: none */
  double last_raw;               /* counters: the previous raw reading */
  double acc_j;                  /* counters: unwrapped energy so far */
  int have_last;
} rove_sensor_ch;

/* A sensor sums its channels (e.g. two RAPL packages). When `reason` is
 * non-empty the sensor was found but cannot be read, or none was found:
 * it is unmeasurable and must be reported as such, never as 0 J. */
typedef struct rove_sensor {
  char name[128]; /* e.g. "ina3221-hwmon:VDD_IN", "rapl:package-0" */
  int kind;       /* enum rove_sensor_kind */
  int scope;      /* enum rove_energy_scope (common/energy_proto.h) */
  int n_ch;
  rove_sensor_ch ch[ROVE_SENSOR_MAX_CH];
  double update_interval_s; /* the sensor's own refresh period, 0: unknown */
  unsigned wraps;           /* counter wraps seen */
  unsigned resets;          /* counters gone backwards with no known range: the
                               energy of that interval is unknown (not an error:
                               windows across it are refused, the rest measured) */
  char reason[256];         /* unmeasurable: why */
  const rove_sensor_ops *ops; /* the back-end (sensors.def) */
  void *priv;                 /* the back-end's own state, or NULL */
} rove_sensor;

/* The back-ends, in sensors.def order; *n gets their number. */
const rove_sensor_ops *const *rove_sensor_backends(int *n);
/* Their usage strings joined with ", " (for --help and errors). */
void rove_sensor_usage(char *buf, size_t cap);
/* 1 when the sampler must not impose a grid (the back-end paces itself). */
int rove_sensor_self_paced(const rove_sensor *s);

/* Finds a sensor. `root` prefixes every sysfs path ("" or NULL: the real
 * /sys; tests pass a fake tree). `spec` is one of:
 *   auto             the first back-end of energy_agents/sensors.def that
 *                    finds a device (ina3221: iio, then hwmon driver;
 *                    rapl; hwmon); the estimate when none is present
 *   NAME[:ARG]       one back-end of sensors.def by name: ina3221[:RAIL],
 *                    rapl[:ZONE], hwmon[:NAME], meter:COMMAND, estimate
 * A device that exists but cannot be read gives 0 with s->reason set (the
 * sensor is unmeasurable); a bad spec is ROVE_EINVAL. Call
 * rove_sensor_deinit afterwards either way. */
int rove_sensor_open(rove_sensor *s, const char *root, const char *spec);
void rove_sensor_deinit(rove_sensor *s);

/* 1 when the sensor can be sampled. */
int rove_sensor_measurable(const rove_sensor *s);

/* Reads the current value: watts (POWER) or unwrapped joules (ENERGY).
 * *t gets the CLOCK_MONOTONIC time of the reading in seconds. For the
 * meter this blocks until the next line or timeout_s (ROVE_ERANGE).
 * Errors (vanished file, EACCES, not a number) name the file. A counter
 * running backwards with a known range is a wrap (s->wraps), without one a
 * reset (s->resets; the unwrapped value holds still over that interval). */
int rove_sensor_read(rove_sensor *s, double timeout_s, double *value,
                     double *t);

/* rove_now() (CLOCK_MONOTONIC seconds) is in common/util.h. */
/* Sleeps (CLOCK_MONOTONIC, restarts after signals) for s seconds. */
void rove_sleep(double s);
/* Sleeps until rove_now() >= t (returns at once if t has passed). */
void rove_sleep_until(double t);

#endif
