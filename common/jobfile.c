/* jobfile.c - INI parsing over libinih with line numbers, and sweep jobs. */
#include "common/jobfile.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* ---- generic INI ---- */

typedef struct parse_state {
  rove_ini *ini;
  const char *text; /* string source, or NULL */
  FILE *f;          /* file source */
  int line;         /* line most recently handed to inih */
  int err;          /* first error recorded by us (0: none) */
} parse_state;

static char *dup_range(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

static int fail(parse_state *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(parse_state *st, int code, const char *fmt, ...) {
  if (st->err)
    return st->err;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  st->err = ROVE_ERR(code, "%s:%d: %s", st->ini->path, st->line, msg);
  return st->err;
}

/* A section header is seen by our reader (libinih does not report empty
 * sections or their lines), so every section is recorded with its line. */
static void note_section(parse_state *st, const char *ln) {
  while (isspace((unsigned char)*ln))
    ln++;
  if (*ln != '[')
    return;
  const char *end = strchr(ln, ']');
  if (!end)
    return; /* libinih reports the syntax error */
  const char *p = ln + 1;
  while (p < end && isspace((unsigned char)*p))
    p++;
  const char *t = p;
  while (p < end && !isspace((unsigned char)*p))
    p++;
  size_t tn = (size_t)(p - t);
  while (p < end && isspace((unsigned char)*p))
    p++;
  const char *q = end;
  while (q > p && isspace((unsigned char)q[-1]))
    q--;
  rove_ini *ini = st->ini;
  if (tn == 0) {
    fail(st, ROVE_EFORMAT,
         "empty section header, expected [type] or "
         "[type name]");
    return;
  }
  for (int i = 0; i < ini->n_secs; i++) {
    const rove_ini_section *s = &ini->secs[i];
    if (strlen(s->type) == tn && !strncmp(s->type, t, tn) &&
        strlen(s->name) == (size_t)(q - p) &&
        !strncmp(s->name, p, (size_t)(q - p))) {
      fail(st, ROVE_EFORMAT,
           "section [%s%s%s] repeated (first at line %d); each section may "
           "appear once",
           s->type, s->name[0] ? " " : "", s->name, s->line);
      return;
    }
  }
  if (ini->n_secs == ini->cap_secs) {
    int cap = ini->cap_secs ? 2 * ini->cap_secs : 8;
    rove_ini_section *ns = realloc(ini->secs, (size_t)cap * sizeof *ns);
    if (!ns) {
      fail(st, ROVE_ENOMEM, "out of memory");
      return;
    }
    ini->secs = ns;
    ini->cap_secs = cap;
  }
  rove_ini_section *s = &ini->secs[ini->n_secs];
  memset(s, 0, sizeof *s);
  s->type = dup_range(t, tn);
  s->name = dup_range(p, (size_t)(q - p));
  s->line = st->line;
  if (!s->type || !s->name) {
    free(s->type);
    free(s->name);
    fail(st, ROVE_ENOMEM, "out of memory");
    return;
  }
  ini->n_secs++;
}

/* fgets-like reader that counts lines. A line longer than libinih's buffer
 * would be split by it and shift every later line number, so it is an
 * error here instead. */
static char *reader(char *str, int num, void *user) {
  parse_state *st = user;
  size_t n = 0;
  int c, any = 0, truncated = 0;
  for (;;) {
    if (st->text) {
      c = *st->text ? (unsigned char)*st->text++ : EOF;
    } else {
      c = fgetc(st->f);
    }
    if (c == EOF)
      break;
    any = 1;
    if ((int)n < num - 2)
      str[n++] = (char)c;
    else if (c != '\n')
      truncated = 1;
    if (c == '\n')
      break;
  }
  if (!any)
    return NULL;
  if (n > 0 && str[n - 1] != '\n' && (int)n < num - 1)
    str[n++] = '\n';
  str[n] = '\0';
  st->line++;
  if (truncated)
    fail(st, ROVE_EFORMAT, "line longer than %d characters", num - 3);
  note_section(st, str);
  return str;
}

static int handler(void *user, const char *section, const char *name,
                   const char *value) {
  parse_state *st = user;
  rove_ini *ini = st->ini;
  (void)section;
  if (st->err)
    return 0;
  if (ini->n_secs == 0) {
    fail(st, ROVE_EFORMAT, "key '%s' before any [section]", name);
    return 0;
  }
  rove_ini_section *s = &ini->secs[ini->n_secs - 1];
  for (int i = 0; i < s->n_keys; i++)
    if (!strcmp(s->keys[i].name, name)) {
      fail(st, ROVE_EFORMAT,
           "key '%s' repeated in [%s%s%s] (first at line %d; an indented "
           "line continues the previous value)",
           name, s->type, s->name[0] ? " " : "", s->name, s->keys[i].line);
      return 0;
    }
  if (s->n_keys == s->cap_keys) {
    int cap = s->cap_keys ? 2 * s->cap_keys : 8;
    rove_ini_key *nk = realloc(s->keys, (size_t)cap * sizeof *nk);
    if (!nk) {
      fail(st, ROVE_ENOMEM, "out of memory");
      return 0;
    }
    s->keys = nk;
    s->cap_keys = cap;
  }
  rove_ini_key *k = &s->keys[s->n_keys];
  k->name = dup_range(name, strlen(name));
  k->value = dup_range(value, strlen(value));
  k->line = st->line;
  if (!k->name || !k->value) {
    free(k->name);
    free(k->value);
    fail(st, ROVE_ENOMEM, "out of memory");
    return 0;
  }
  s->n_keys++;
  return 1;
}

static int parse(rove_ini *ini, parse_state *st) {
  int rc = ini_parse_stream(reader, st, handler, st);
  if (st->err) {
    int e = st->err;
    rove_ini_deinit(ini);
    return e;
  }
  if (rc != 0) {
    int line = rc > 0 ? rc : st->line;
    int e = rc == -2 ? ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", ini->path)
                     : ROVE_ERR(ROVE_EFORMAT,
                                "%s:%d: syntax error, expected [section], "
                                "key = value, or a ; or # comment",
                                ini->path, line);
    rove_ini_deinit(ini);
    return e;
  }
  return 0;
}

int rove_ini_load_string(rove_ini *ini, const char *text, const char *what) {
  memset(ini, 0, sizeof *ini);
  ini->path = dup_range(what, strlen(what));
  if (!ini->path)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  parse_state st = {.ini = ini, .text = text};
  return parse(ini, &st);
}

int rove_ini_load(rove_ini *ini, const char *path) {
  memset(ini, 0, sizeof *ini);
  FILE *f = fopen(path, "r");
  if (!f)
    return ROVE_ERR(errno == ENOENT ? ROVE_ENOENT : ROVE_EIO,
                    "%s: cannot open: %s", path, strerror(errno));
  ini->path = dup_range(path, strlen(path));
  if (!ini->path) {
    fclose(f);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  parse_state st = {.ini = ini, .f = f};
  int rc = parse(ini, &st);
  if (rc == 0 && ferror(f)) {
    rove_ini_deinit(ini);
    rc = ROVE_ERR(ROVE_EIO, "%s: read error", path);
  }
  fclose(f);
  return rc;
}

void rove_ini_deinit(rove_ini *ini) {
  for (int i = 0; i < ini->n_secs; i++) {
    rove_ini_section *s = &ini->secs[i];
    for (int j = 0; j < s->n_keys; j++) {
      free(s->keys[j].name);
      free(s->keys[j].value);
    }
    free(s->keys);
    free(s->type);
    free(s->name);
  }
  free(ini->secs);
  free(ini->path);
  memset(ini, 0, sizeof *ini);
}

const rove_ini_section *rove_ini_find(const rove_ini *ini, const char *type,
                                      const char *name) {
  for (int i = 0; i < ini->n_secs; i++)
    if (!strcmp(ini->secs[i].type, type) &&
        (!name || !strcmp(ini->secs[i].name, name)))
      return &ini->secs[i];
  return NULL;
}

const rove_ini_key *rove_ini_key_find(const rove_ini_section *s,
                                      const char *name) {
  if (!s)
    return NULL;
  for (int i = 0; i < s->n_keys; i++)
    if (!strcmp(s->keys[i].name, name))
      return &s->keys[i];
  return NULL;
}

int rove_ini_error(int code, const rove_ini *ini, const rove_ini_section *s,
                   const rove_ini_key *k, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!s)
    return ROVE_ERR(code, "%s: %s", ini->path, msg);
  const char *sp = s->name[0] ? " " : "";
  if (!k)
    return ROVE_ERR(code, "%s:%d: [%s%s%s]: %s", ini->path, s->line, s->type,
                    sp, s->name, msg);
  return ROVE_ERR(code, "%s:%d: [%s%s%s] key '%s': %s", ini->path, k->line,
                  s->type, sp, s->name, k->name, msg);
}

static void join_list(const char *const *l, char *buf, size_t cap) {
  buf[0] = '\0';
  size_t n = 0;
  for (int i = 0; l[i] && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", l[i]);
}

static int in_list(const char *const *l, const char *s) {
  for (int i = 0; l[i]; i++)
    if (!strcmp(l[i], s))
      return 1;
  return 0;
}

int rove_ini_check_keys(const rove_ini *ini, const rove_ini_section *s,
                        const char *const *allowed) {
  if (!s)
    return 0;
  for (int i = 0; i < s->n_keys; i++)
    if (!in_list(allowed, s->keys[i].name)) {
      char list[400];
      join_list(allowed, list, sizeof list);
      return rove_ini_error(ROVE_EINVAL, ini, s, &s->keys[i],
                            "unknown key, expected one of: %s", list);
    }
  return 0;
}

int rove_ini_check_sections(const rove_ini *ini, const char *const *types) {
  for (int i = 0; i < ini->n_secs; i++)
    if (!in_list(types, ini->secs[i].type)) {
      char list[400];
      join_list(types, list, sizeof list);
      return rove_ini_error(ROVE_EINVAL, ini, &ini->secs[i], NULL,
                            "unknown section type '%s', expected one of: %s",
                            ini->secs[i].type, list);
    }
  return 0;
}

static int missing(const rove_ini *ini, const rove_ini_section *s,
                   const char *key) {
  if (!s)
    return ROVE_ERR(ROVE_EINVAL, "%s: missing section with required key '%s'",
                    ini->path, key);
  return rove_ini_error(ROVE_EINVAL, ini, s, NULL, "missing required key '%s'",
                        key);
}

int rove_ini_get_str(const rove_ini *ini, const rove_ini_section *s,
                     const char *key, int required, const char *dflt,
                     const char **out) {
  const rove_ini_key *k = rove_ini_key_find(s, key);
  if (!k) {
    if (required)
      return missing(ini, s, key);
    *out = dflt;
    return 0;
  }
  if (!k->value[0])
    return rove_ini_error(ROVE_EINVAL, ini, s, k, "empty value");
  *out = k->value;
  return 0;
}

int rove_ini_get_int(const rove_ini *ini, const rove_ini_section *s,
                     const char *key, int required, long long dflt,
                     long long lo, long long hi, long long *out) {
  const rove_ini_key *k = rove_ini_key_find(s, key);
  if (!k) {
    if (required)
      return missing(ini, s, key);
    *out = dflt;
    return 0;
  }
  char *end;
  errno = 0;
  long long v = strtoll(k->value, &end, 10);
  if (end == k->value || *end || errno)
    return rove_ini_error(ROVE_EINVAL, ini, s, k,
                          "expected an integer, got '%s'", k->value);
  if (v < lo || v > hi)
    return rove_ini_error(ROVE_ERANGE, ini, s, k,
                          "%lld is out of range, expected %lld..%lld", v, lo,
                          hi);
  *out = v;
  return 0;
}

static int parse_double(const char *s, double *v) {
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  while (isspace((unsigned char)*end))
    end++;
  return end != s && !*end && !errno && isfinite(*v);
}

int rove_ini_get_double(const rove_ini *ini, const rove_ini_section *s,
                        const char *key, int required, double dflt, double lo,
                        double hi, double *out) {
  const rove_ini_key *k = rove_ini_key_find(s, key);
  if (!k) {
    if (required)
      return missing(ini, s, key);
    *out = dflt;
    return 0;
  }
  double v;
  if (!parse_double(k->value, &v))
    return rove_ini_error(ROVE_EINVAL, ini, s, k,
                          "expected a finite number, got '%s'", k->value);
  if (v < lo || v > hi)
    return rove_ini_error(ROVE_ERANGE, ini, s, k,
                          "%g is out of range, expected %g..%g", v, lo, hi);
  *out = v;
  return 0;
}

int rove_ini_get_bool(const rove_ini *ini, const rove_ini_section *s,
                      const char *key, int required, int dflt, int *out) {
  const rove_ini_key *k = rove_ini_key_find(s, key);
  if (!k) {
    if (required)
      return missing(ini, s, key);
    *out = dflt;
    return 0;
  }
  static const char *const yes[] = {"1", "true", "yes", "on", NULL};
  static const char *const no[] = {"0", "false", "no", "off", NULL};
  if (in_list(yes, k->value))
    *out = 1;
  else if (in_list(no, k->value))
    *out = 0;
  else
    return rove_ini_error(ROVE_EINVAL, ini, s, k,
                          "expected true or false, got '%s'", k->value);
  return 0;
}

int rove_ini_get_doubles(const rove_ini *ini, const rove_ini_section *s,
                         const char *key, double lo, double hi, double *out,
                         int cap, int *n) {
  const rove_ini_key *k = rove_ini_key_find(s, key);
  *n = 0;
  if (!k)
    return missing(ini, s, key);
  const char *p = k->value;
  for (int item = 1;; item++) {
    while (isspace((unsigned char)*p))
      p++;
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    while (len > 0 && isspace((unsigned char)p[len - 1]))
      len--;
    char tmp[64];
    if (len >= sizeof tmp)
      return rove_ini_error(ROVE_EINVAL, ini, s, k, "item %d is too long",
                            item);
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    double v;
    if (!parse_double(tmp, &v))
      return rove_ini_error(ROVE_EINVAL, ini, s, k,
                            "item %d: expected a finite number, got '%s'", item,
                            tmp);
    if (v < lo || v > hi)
      return rove_ini_error(ROVE_ERANGE, ini, s, k,
                            "item %d: %g is out of range, expected %g..%g",
                            item, v, lo, hi);
    if (*n == cap)
      return rove_ini_error(ROVE_ERANGE, ini, s, k, "more than %d items", cap);
    out[(*n)++] = v;
    if (!c)
      break;
    p = c + 1;
  }
  return 0;
}

/* ---- sweep jobs ---- */

static int check_name(const rove_ini *ini, const rove_ini_section *s) {
  const char *n = s->name;
  if (!n[0])
    return rove_ini_error(ROVE_EINVAL, ini, s, NULL,
                          "needs a name, e.g. [%s NAME]", s->type);
  if (strlen(n) >= ROVE_JOB_NAME_MAX)
    return rove_ini_error(ROVE_EINVAL, ini, s, NULL,
                          "name longer than %d characters",
                          ROVE_JOB_NAME_MAX - 1);
  for (const char *p = n; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("_.+-", *p))
      return rove_ini_error(ROVE_EINVAL, ini, s, NULL,
                            "name '%s' may only contain letters, digits and "
                            "_ . + -",
                            n);
  return 0;
}

/* Splits a comma-separated name list into the sections of `type` it names,
 * in list order; NULL key: every section of that type in file order. */
static int select_sections(const rove_ini *ini, const rove_ini_section *sw,
                           const char *key, const char *type,
                           const rove_ini_section ***out, int *n) {
  const rove_ini_key *k = rove_ini_key_find(sw, key);
  int total = 0;
  for (int i = 0; i < ini->n_secs; i++)
    total += !strcmp(ini->secs[i].type, type);
  *out = NULL;
  *n = 0;
  if (!k) {
    if (total == 0)
      return ROVE_ERR(ROVE_EINVAL, "%s: no [%s NAME] section", ini->path, type);
    *out = malloc((size_t)total * sizeof **out);
    if (!*out)
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
    for (int i = 0; i < ini->n_secs; i++)
      if (!strcmp(ini->secs[i].type, type))
        (*out)[(*n)++] = &ini->secs[i];
    return 0;
  }
  int cap = 1;
  for (const char *p = k->value; *p; p++)
    cap += *p == ',';
  *out = malloc((size_t)cap * sizeof **out);
  if (!*out)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  const char *p = k->value;
  for (;;) {
    while (isspace((unsigned char)*p))
      p++;
    const char *c = strchr(p, ',');
    const char *e = c ? c : p + strlen(p);
    while (e > p && isspace((unsigned char)e[-1]))
      e--;
    char name[ROVE_JOB_NAME_MAX];
    size_t len = (size_t)(e - p);
    const rove_ini_section *found = NULL;
    if (len > 0 && len < sizeof name) {
      memcpy(name, p, len);
      name[len] = '\0';
      found = rove_ini_find(ini, type, name);
    }
    if (!found) {
      free(*out);
      *out = NULL;
      return rove_ini_error(ROVE_EINVAL, ini, sw, k,
                            "'%.*s' names no [%s NAME] section", (int)len, p,
                            type);
    }
    for (int i = 0; i < *n; i++)
      if ((*out)[i] == found) {
        free(*out);
        *out = NULL;
        return rove_ini_error(ROVE_EINVAL, ini, sw, k, "'%s' listed twice",
                              name);
      }
    (*out)[(*n)++] = found;
    if (!c)
      break;
    p = c + 1;
  }
  return 0;
}

static char *resolve(const char *base_dir, const char *path) {
  if (path[0] == '/' || !base_dir || !base_dir[0])
    return dup_range(path, strlen(path));
  size_t n = strlen(base_dir) + strlen(path) + 2;
  char *r = malloc(n);
  if (r)
    snprintf(r, n, "%s/%s", base_dir, path);
  return r;
}

static int job_parse(rove_job *job, const char *base_dir) {
  rove_ini *ini = &job->ini;
  static const char *const types[] = {"job",   "model",  "profile",
                                      "sweep", "energy", NULL};
  ROVE_TRY(rove_ini_check_sections(ini, types));

  const rove_ini_section *js = rove_ini_find(ini, "job", NULL);
  if (!js)
    return ROVE_ERR(ROVE_EINVAL, "%s: missing the [job] section", ini->path);
  if (js->name[0])
    return rove_ini_error(ROVE_EINVAL, ini, js, NULL, "[job] takes no name");
  static const char *const job_keys[] = {"name",   "data",  "n",    "seed",
                                         "output", "shard", "skip", NULL};
  ROVE_TRY(rove_ini_check_keys(ini, js, job_keys));
  ROVE_TRY(rove_ini_get_str(ini, js, "name", 1, NULL, &job->name));
  for (const char *p = job->name; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("_.+-", *p))
      return rove_ini_error(ROVE_EINVAL, ini, js, rove_ini_key_find(js, "name"),
                            "may only contain letters, digits and _ . + -");
  ROVE_TRY(rove_ini_get_str(ini, js, "data", 1, NULL, &job->data));
  ROVE_TRY(rove_ini_get_int(ini, js, "n", 0, 0, 0, INT32_MAX, &job->n));
  long long seed;
  ROVE_TRY(rove_ini_get_int(ini, js, "seed", 0, 0, 0, LLONG_MAX, &seed));
  job->seed = (uint64_t)seed;
  ROVE_TRY(rove_ini_get_str(ini, js, "output", 0, NULL, &job->output));
  long long shard;
  ROVE_TRY(rove_ini_get_int(ini, js, "shard", 0, 100, 1, 1000000, &shard));
  job->shard = (int)shard;
  ROVE_TRY(rove_ini_get_bool(ini, js, "skip", 0, 1, &job->skip));

  const rove_ini_section *sw = rove_ini_find(ini, "sweep", NULL);
  if (!sw)
    return ROVE_ERR(ROVE_EINVAL, "%s: missing the [sweep] section", ini->path);
  static const char *const sweep_keys[] = {"eps", "profiles", "models", NULL};
  ROVE_TRY(rove_ini_check_keys(ini, sw, sweep_keys));
  ROVE_TRY(rove_ini_get_doubles(ini, sw, "eps", 0.0, 1e6, job->eps,
                                ROVE_JOB_MAX_EPS, &job->n_eps));
  for (int i = 1; i < job->n_eps; i++)
    if (!(job->eps[i] > job->eps[i - 1]))
      /* Nested balls are what lets a smaller eps's verdict carry over. */
      return rove_ini_error(ROVE_EINVAL, ini, sw, rove_ini_key_find(sw, "eps"),
                            "values must be strictly increasing (%g follows "
                            "%g)",
                            job->eps[i], job->eps[i - 1]);

  const rove_ini_section **sel;
  int n;
  ROVE_TRY(select_sections(ini, sw, "models", "model", &sel, &n));
  job->models = calloc((size_t)n, sizeof *job->models);
  if (!job->models) {
    free(sel);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  job->n_models = n;
  static const char *const model_keys[] = {"path", "board", NULL};
  for (int i = 0; i < n; i++) {
    rove_job_model *m = &job->models[i];
    m->sec = sel[i];
    m->name = sel[i]->name;
    int rc = check_name(ini, sel[i]);
    if (!rc)
      rc = rove_ini_check_keys(ini, sel[i], model_keys);
    const char *path = NULL;
    if (!rc)
      rc = rove_ini_get_str(ini, sel[i], "path", 1, NULL, &path);
    if (!rc)
      rc = rove_ini_get_str(ini, sel[i], "board", 0, NULL, &m->board);
    if (!rc && !(m->path = resolve(base_dir, path)))
      rc = ROVE_ERR(ROVE_ENOMEM, "out of memory");
    if (rc) {
      free(sel);
      return rove_error_trace(rc, __FILE__, __LINE__, __func__);
    }
  }
  free(sel);

  ROVE_TRY(select_sections(ini, sw, "profiles", "profile", &sel, &n));
  job->profiles = calloc((size_t)n, sizeof *job->profiles);
  if (!job->profiles) {
    free(sel);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  }
  job->n_profiles = n;
  for (int i = 0; i < n; i++) {
    rove_job_profile *p = &job->profiles[i];
    p->sec = sel[i];
    p->name = sel[i]->name;
    const char *norm = "linf";
    int rc = check_name(ini, sel[i]);
    if (!rc)
      rc = rove_ini_get_str(ini, sel[i], "preset", 0, "naive", &p->preset);
    if (!rc)
      rc = rove_ini_get_str(ini, sel[i], "norm", 0, "linf", &norm);
    if (!rc) {
      if (!strcmp(norm, "linf") || !strcmp(norm, "inf"))
        p->norm_linf = 1;
      else if (!strcmp(norm, "l2") || !strcmp(norm, "2"))
        p->norm_linf = 0;
      else
        rc = rove_ini_error(ROVE_EINVAL, ini, sel[i],
                            rove_ini_key_find(sel[i], "norm"),
                            "expected linf or l2, got '%s'", norm);
    }
    if (rc) {
      free(sel);
      return rove_error_trace(rc, __FILE__, __LINE__, __func__);
    }
  }
  free(sel);

  const rove_ini_section *en = rove_ini_find(ini, "energy", NULL);
  job->energy = en;
  if (en) {
    static const char *const energy_keys[] = {"listen", "port", "token",
                                              "boards", "wait", NULL};
    ROVE_TRY(rove_ini_check_keys(ini, en, energy_keys));
    ROVE_TRY(
        rove_ini_get_str(ini, en, "listen", 0, "0.0.0.0", &job->energy_listen));
    ROVE_TRY(rove_ini_get_int(ini, en, "port", 0, 7878, 1, 65535,
                              &job->energy_port));
    const char *token = NULL;
    ROVE_TRY(rove_ini_get_str(ini, en, "token", 0, NULL, &token));
    if (token && !(job->energy_token_file = resolve(base_dir, token)))
      return ROVE_ERR(ROVE_ENOMEM, "out of memory");
    ROVE_TRY(rove_ini_get_str(ini, en, "boards", 0, NULL, &job->energy_boards));
    ROVE_TRY(rove_ini_get_double(ini, en, "wait", 0, 0.0, 0.0, 86400.0,
                                 &job->energy_wait));
  }
  return 0;
}

int rove_job_load_string(rove_job *job, const char *text, const char *what,
                         const char *base_dir) {
  memset(job, 0, sizeof *job);
  ROVE_TRY(rove_ini_load_string(&job->ini, text, what));
  int rc = job_parse(job, base_dir);
  if (rc) {
    rove_job_deinit(job);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}

int rove_job_load(rove_job *job, const char *path) {
  memset(job, 0, sizeof *job);
  ROVE_TRY(rove_ini_load(&job->ini, path));
  char dir[PATH_MAX];
  const char *slash = strrchr(path, '/');
  if (slash && (size_t)(slash - path) < sizeof dir) {
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    if (!dir[0])
      strcpy(dir, "/");
  } else {
    strcpy(dir, ".");
  }
  int rc = job_parse(job, dir);
  if (rc) {
    rove_job_deinit(job);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}

void rove_job_deinit(rove_job *job) {
  for (int i = 0; i < job->n_models; i++)
    free(job->models[i].path);
  free(job->models);
  free(job->profiles);
  free(job->energy_token_file);
  rove_ini_deinit(&job->ini);
  memset(job, 0, sizeof *job);
}
