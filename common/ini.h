/* ini.h - INI files (job files, zoo files) with line numbers. */
#ifndef ROVE_COMMON_INI_H
#define ROVE_COMMON_INI_H

#include <stddef.h>

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

#endif
