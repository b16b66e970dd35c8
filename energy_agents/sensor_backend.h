/* sensor_backend.h - what a sensor back-end implements (one file in
 * energy_agents/sensors/ plus one line in sensors.def) and the sysfs
 * helpers the back-ends share. */
#ifndef ROVE_ENERGY_AGENTS_SENSOR_BACKEND_H
#define ROVE_ENERGY_AGENTS_SENSOR_BACKEND_H

#include "energy_agents/sensor.h"

/* The back-end paces the sampler itself (one reading per line of a
 * meter): no fixed sampling grid. */
#define ROVE_SENSORF_SELF_PACED 1u
/* Not tried by `--sensor auto`. */
#define ROVE_SENSORF_NOT_AUTO 2u
/* Takes no ":ARG". */
#define ROVE_SENSORF_NO_ARG 4u

struct rove_sensor_ops {
  const char *name;  /* the spec prefix, e.g. "rapl" */
  const char *usage; /* e.g. "rapl[:ZONE]" */
  const char *help;  /* one line for --help */
  unsigned flags;
  /* Looks for the device under root ("" : the real /sys). arg is the text
   * after "name:" or NULL. Returns 1 found (s->kind, scope, name and
   * channels or s->priv set; s->reason set if it is there but cannot be
   * read), 0 not found, or a negative error (a bad argument). */
  int (*find)(rove_sensor *s, const char *root, const char *arg);
  /* Reads watts or unwrapped joules (NULL: the channel reader of
   * sensor.c, for file-based sensors). */
  int (*read)(rove_sensor *s, double timeout_s, double *value, double *t);
  /* Frees s->priv (NULL: nothing to free). */
  void (*deinit)(rove_sensor *s);
};

#define X(sym) extern const rove_sensor_ops rove_sensor_##sym;
#include "energy_agents/sensors.def"
#undef X

/* ---- shared by the sysfs back-ends (sensor.c) ---- */

/* Candidate rails before the total/sub-rail decision. */
typedef struct sensor__rail {
  char label[64];
  char a[ROVE_SENSOR_PATH], b[ROVE_SENSOR_PATH];
} sensor__rail;

/* Reads a small sysfs file (trailing space trimmed): 0 or -errno. */
int sensor__read_text(const char *path, char *buf, size_t cap);
/* Reads a number: 0, -errno, or -EINVAL when not a number. */
int sensor__read_number(const char *path, double *v);
/* out = root + path. */
void sensor__join(char *out, size_t cap, const char *root, const char *path);
/* The directory part of path. */
int sensor__path_dir(const char *path, char *dir, size_t cap);
/* The INA3221 hwmon "sum of shunt voltages" channel, in any case. */
int sensor__has_sum(const char *label);
/* VDD_IN, POM_5V_IN, VIN: the board's input rail. */
int sensor__is_total_label(const char *label);
/* Adds a channel (a; or a * b when b is non-NULL) scaled to W or J. */
int sensor__add_ch(rove_sensor *s, const char *label, const char *a,
                   const char *b, double scale, double max_range_j);
/* Picks the board total if there is one, else all rails (module scope),
 * or the one rail named `want`. Returns 1 when a channel was added. */
int sensor__choose_rails(rove_sensor *s, const char *backend, sensor__rail *r,
                         int n, const char *want, double scale);
/* Raises the error of a failed read of path (-errno e). */
int sensor__read_fail(const char *path, int e);

#endif
