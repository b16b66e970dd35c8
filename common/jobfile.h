/* jobfile.h - INI files (job files, zoo files) with line numbers, and the
 * sweep job description parsed from one. */
#ifndef ROVE_COMMON_JOBFILE_H
#define ROVE_COMMON_JOBFILE_H

#include <stddef.h>
#include <stdint.h>

/* A generic INI document, parsed with libinih. A section header
 * "[model cnn]" has type "model" and name "cnn"; "[job]" has type "job"
 * and name "". Every section and key remembers its line, so that a caller
 * can say "demo.job:12: [profile p] key 'steps': expected ..." about any
 * value it rejects. Keys keep file order; a repeated key in one section is
 * an error (a job file silently taking the second value hides typos). */
typedef struct rove_ini_key {
  char *name;
  char *value;
  int line;
} rove_ini_key;

typedef struct rove_ini_section {
  char *type;
  char *name; /* "" when the header has no name */
  int line;
  rove_ini_key *keys;
  int n_keys, cap_keys;
} rove_ini_section;

typedef struct rove_ini {
  char *path; /* names the source in every message */
  rove_ini_section *secs;
  int n_secs, cap_secs;
} rove_ini;

/* Parses the file at `path` into `ini` (uninitialised on entry; on error it
 * is left deinitialised). Errors (ROVE_ENOENT, ROVE_EIO, ROVE_EFORMAT) name
 * the file and line. */
int rove_ini_load(rove_ini *ini, const char *path);
/* Same, from a NUL-terminated string; `what` names it in messages. */
int rove_ini_load_string(rove_ini *ini, const char *text, const char *what);
void rove_ini_deinit(rove_ini *ini);

/* The section of that type and name (name NULL: the first of the type), or
 * NULL. Borrowed from `ini`. */
const rove_ini_section *rove_ini_find(const rove_ini *ini, const char *type,
                                      const char *name);
/* The key, or NULL. Borrowed. */
const rove_ini_key *rove_ini_key_find(const rove_ini_section *s,
                                      const char *name);

/* Errors for every key not in the NULL-terminated `allowed` list and for
 * every section type not in `types`, naming the line and listing what is
 * accepted (catches misspelt keys that would otherwise be ignored). */
int rove_ini_check_keys(const rove_ini *ini, const rove_ini_section *s,
                        const char *const *allowed);
int rove_ini_check_sections(const rove_ini *ini, const char *const *types);

/* Typed getters. `s` may be NULL (a missing optional section). When the key
 * is absent: `required` makes it an error naming the section, otherwise
 * *out gets the default. Values are checked against [lo, hi]. Strings are
 * borrowed from `ini`. */
int rove_ini_get_str(const rove_ini *ini, const rove_ini_section *s,
                     const char *key, int required, const char *dflt,
                     const char **out);
int rove_ini_get_int(const rove_ini *ini, const rove_ini_section *s,
                     const char *key, int required, long long dflt,
                     long long lo, long long hi, long long *out);
int rove_ini_get_double(const rove_ini *ini, const rove_ini_section *s,
                        const char *key, int required, double dflt, double lo,
                        double hi, double *out);
int rove_ini_get_bool(const rove_ini *ini, const rove_ini_section *s,
                      const char *key, int required, int dflt, int *out);
/* A comma-separated list of doubles (at most `cap`); *n gets the count. */
int rove_ini_get_doubles(const rove_ini *ini, const rove_ini_section *s,
                         const char *key, double lo, double hi, double *out,
                         int cap, int *n);

/* Records an error "path:line: [section] key 'k': <msg>" for a value the
 * caller rejected and returns `code`. `k` may be NULL (names the section
 * only). */
int rove_ini_error(int code, const rove_ini *ini, const rove_ini_section *s,
                   const rove_ini_key *k, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* ---- sweep job files (documented in jobs/README.md) ---- */

#define ROVE_JOB_NAME_MAX 64
#define ROVE_JOB_MAX_EPS 64

typedef struct rove_job_model {
  const char *name;  /* borrowed from the job's ini */
  char *path;        /* owned: resolved against the job file's directory */
  const char *board; /* optional board class for energy, or NULL */
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
