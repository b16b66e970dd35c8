/* report.h - `rove report`: a sweep's results directory turned into one
 * self-contained HTML page (inline SVG plots, no network), plus the
 * run.json the sweep writes for it. See coordinator/REPORT.md. */
#ifndef ROVE_COORDINATOR_REPORT_H
#define ROVE_COORDINATOR_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "common/model.h"
#include "coordinator/report_csv.h"
#include "coordinator/report_json.h"

/* ---- Pareto front ----------------------------------------------------
 * Point i is on the front when no other point is at least as cheap and at
 * least as good and strictly better in one of the two (lower cost, higher
 * gain). Identical points are all on the front. Points whose cost or gain
 * is NaN take no part (on_front 0, and they dominate nothing). on_front
 * gets 0/1 per point; returns how many are on the front. O(n^2). */
int rove_pareto_front(const double *cost, const double *gain, int n,
                      int *on_front);

/* ---- run.json: what the sweep records for the report ------------------ */

/* One model of the sweep. `m` may be NULL (the model did not load); then
 * only name and path are written. */
typedef struct rove_run_model {
  const char *name;
  const char *path;
  const rove_model *m;
} rove_run_model;

/* Everything borrowed. */
typedef struct rove_run_info {
  const char *job_name;
  const char *job_path;          /* as given on the command line */
  const unsigned char *job_hash; /* 32 bytes, or NULL */
  uint64_t seed;
  const char *data; /* dataset spec */
  long long n;      /* examples */
  int ranks;        /* MPI ranks of the sweep */
  const char *const *profiles;
  const char *const *presets; /* n_profiles, or NULL */
  int n_profiles;
  const rove_run_model *models;
  int n_models;
} rove_run_info;

/* Writes DIR/run.json (to a temporary name, then renamed): the job, its
 * hash, seed, data, rank count, rove version, machine (uname), the start
 * date (UTC, ISO 8601), and per model: path, hash, parameters, MACs,
 * non-differentiable layer count, precision, and the training log found
 * next to the model file, if any. The sweep calls it once at start. */
int rove_run_write(const char *dir, const rove_run_info *ri);

/* A model's numeric precision as shown in the report: "float32" or, when
 * it has fake-quant nodes, e.g. "int2 act / int8 weights" (from the
 * levels of its quantizers). */
void rove_model_precision(const rove_model *m, char *buf, size_t cap);

/* ---- The report ------------------------------------------------------ */

/* One model's energy on one board, the CSV cells as written (borrowed
 * from the summary table). `status` is "pending" when the columns are
 * missing altogether. */
typedef struct rove_report_energy {
  const char *status, *j, *ci_lo, *ci_hi, *scope, *sensor, *latency, *valid,
      *flags, *power;
  double j_num; /* NaN unless status is ok and j parses */
} rove_report_energy;

/* Per-model facts that are not in summary.csv (strings owned by the
 * report; "" when unknown). */
typedef struct rove_report_model {
  char name[256];
  char hash[80];
  char params[32], macs[32], nondiff[16], precision[64], training[256];
  char source[32]; /* where they came from: run.json, model file, - */
} rove_report_model;

typedef struct rove_report_opts {
  const char *eps; /* the eps (as written in the CSV) for the energy and
                      gap plots; NULL: chosen automatically */
  const char *title;
} rove_report_opts;

/* Everything the page shows, loaded from a results directory. Strings
 * from summary.csv are borrowed from `sum`. */
typedef struct rove_report {
  char dir[1024];
  rove_csv sum;
  /* axes, in order of first appearance (eps sorted numerically) */
  const char **models;
  int n_models;
  const char **profiles;
  int n_profiles;
  const char **eps; /* CSV text */
  double *eps_num;
  int n_eps;
  int *row; /* [model][profile][eps] -> summary row, or -1 */
  /* columns */
  int c_model, c_hash, c_profile, c_eps, c_n, c_clean, c_robust;
  int *c_diag; /* diag_* columns */
  int n_diag;
  /* boards: from energy_<board>_status columns */
  char (*boards)[128];
  int n_boards;
  rove_report_energy *energy; /* [model][board] */
  rove_report_model *meta;    /* n_models */
  char (*preset)[64];         /* per profile: its attack preset (naive, precise,
                                 naive+scaled, ...) from run.json or job.ini;
                                 the profile's name when neither says */
  int ref_eps;                /* index used by the energy and gap plots */
  int i_naive, i_precise;     /* the first profile with preset naive /
                                 precise, or -1 */
  int i_cert;                 /* the first profile with preset certify (its
                                 robust accuracy is certified accuracy: the
                                 lower end of the bracket), or -1 */
  rove_json run;              /* DIR/run.json (type NULL when absent) */
  int have_run;
  char job_hash[80]; /* from run.json, or BLAKE2b of DIR/job.ini */
  char job_seed[32], job_name[128];
  /* Pareto fronts at ref_eps (rove_report_front). */
  uint8_t *front;
  /* Robust accuracy against the number of restarts used, at ref_eps, from
   * DIR/per_example.csv's breaking restart: rs[(m * n_profiles + p) *
   * rs_max + k] after k + 1 restarts (NaN where the profile has no
   * per-example data). rs_max 0: no per_example.csv. */
  double *rs;
  int rs_max;
  /* DIR/summary.json: complete 1/0, or -1 when it is absent */
  int complete;
  char units_done[32], units[32];
  int n_failures;
} rove_report;

/* Loads DIR/summary.csv (required: model, profile, eps, n, clean_acc,
 * robust_acc; everything else by name when present), DIR/run.json and
 * DIR/job.ini when present, and per-model metadata (run.json, else the
 * model files the job names). `r` is uninitialised on entry and left
 * deinitialised on error; errors name the file, line and column. */
int rove_report_load(rove_report *r, const char *dir,
                     const rove_report_opts *o);
void rove_report_deinit(rove_report *r);

/* 1 when model m is on board b's Pareto front of energy against series s
 * at r->ref_eps (s < n_profiles: that profile's robust accuracy;
 * s == n_profiles: clean accuracy). Models without energy or accuracy
 * are never on it. */
int rove_report_front(const rove_report *r, int b, int s, int m);

/* Writes the HTML page to f: it draws what rove_report_load gathered and
 * reads nothing else. */
int rove_report_html(const rove_report *r, const rove_report_opts *o, FILE *f);

/* Loads DIR and writes DIR/report.html atomically (temporary + rename, so
 * an old complete report is never replaced by half a new one). `path_out`
 * (may be NULL) gets the written path. */
int rove_report_write(const char *dir, const rove_report_opts *o,
                      char *path_out, size_t cap);

/* Writes s HTML-escaped (& < > " ') to f. */
void rove_report_escape(FILE *f, const char *s);

#endif
