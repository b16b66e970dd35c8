/* ini.c - INI documents over libinih with a line number on every section
 * and key, typed getters and error messages naming file, line and key. */
#include "common/ini.h"

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
#include "common/fileio.h"

typedef struct parse_state {
  rove_ini *ini;
  const char *text; /* the source text */
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
    c = *st->text ? (unsigned char)*st->text++ : EOF;
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
  unsigned char *buf;
  size_t len;
  ROVE_TRY(rove_file_read(path, NULL, &buf, &len));
  size_t text_len = strlen((const char *)buf);
  int rc;
  if (text_len != len) {
    /* A NUL would end the text early and hide the rest of the file. */
    int line = 1;
    for (size_t k = 0; k < text_len; k++)
      line += buf[k] == '\n';
    rc = ROVE_ERR(ROVE_EFORMAT,
                  "%s:%d: a NUL byte at offset %zu: not a text file", path,
                  line, text_len);
  } else {
    rc = rove_ini_load_string(ini, (const char *)buf, path);
  }
  free(buf);
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
