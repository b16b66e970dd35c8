/* report_json.c - recursive-descent JSON parser with line numbers. */
#include "coordinator/report_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"

typedef struct jp {
  const char *s, *end, *what;
  int line, depth;
} jp;

static void ws(jp *p) {
  while (p->s < p->end &&
         (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) {
    if (*p->s == '\n')
      p->line++;
    p->s++;
  }
}

static int fail(jp *p, const char *expected) {
  if (p->s >= p->end)
    return ROVE_ERR(ROVE_EFORMAT, "%s:%d: expected %s, found end of file",
                    p->what, p->line, expected);
  return ROVE_ERR(ROVE_EFORMAT, "%s:%d: expected %s, found '%c'", p->what,
                  p->line, expected, *p->s);
}

static void put_utf8(char *o, size_t *k, unsigned cp) {
  if (cp < 0x80) {
    o[(*k)++] = (char)cp;
  } else if (cp < 0x800) {
    o[(*k)++] = (char)(0xC0 | (cp >> 6));
    o[(*k)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    o[(*k)++] = (char)(0xE0 | (cp >> 12));
    o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[(*k)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    o[(*k)++] = (char)(0xF0 | (cp >> 18));
    o[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[(*k)++] = (char)(0x80 | (cp & 0x3F));
  }
}

static int hex4(jp *p, unsigned *cp) {
  *cp = 0;
  for (int i = 0; i < 4; i++, p->s++) {
    if (p->s >= p->end)
      return fail(p, "four hex digits after \\u");
    char c = *p->s;
    unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                 : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                 : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                        : 16u;
    if (d == 16)
      return fail(p, "four hex digits after \\u");
    *cp = *cp * 16 + d;
  }
  return 0;
}

/* Decodes a string literal (p->s at the opening quote) into a new buffer;
 * the decoded text is never longer than the source. */
static int str(jp *p, char **out) {
  const char *q = ++p->s;
  size_t cap = 1;
  while (q < p->end && *q != '"') {
    q += (*q == '\\' && q + 1 < p->end) ? 2 : 1;
    cap += 2;
  }
  char *o = malloc(cap + 4);
  if (!o)
    return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", p->what);
  size_t k = 0;
  for (;;) {
    if (p->s >= p->end) {
      free(o);
      return fail(p, "a closing '\"'");
    }
    unsigned char c = (unsigned char)*p->s;
    if (c == '"') {
      p->s++;
      break;
    }
    if (c < 0x20) {
      free(o);
      return fail(p, "no raw control character inside a string");
    }
    if (c != '\\') {
      o[k++] = (char)c;
      p->s++;
      continue;
    }
    p->s++;
    if (p->s >= p->end) {
      free(o);
      return fail(p, "an escape character");
    }
    char e = *p->s++;
    unsigned cp;
    switch (e) {
    case '"': o[k++] = '"'; break;
    case '\\': o[k++] = '\\'; break;
    case '/': o[k++] = '/'; break;
    case 'b': o[k++] = '\b'; break;
    case 'f': o[k++] = '\f'; break;
    case 'n': o[k++] = '\n'; break;
    case 'r': o[k++] = '\r'; break;
    case 't': o[k++] = '\t'; break;
    case 'u':
      if (hex4(p, &cp)) {
        free(o);
        return ROVE_EFORMAT;
      }
      /* A surrogate pair becomes one code point; a lone surrogate is
       * replaced by U+FFFD rather than emitted as invalid UTF-8. */
      if (cp >= 0xD800 && cp < 0xDC00 && p->end - p->s >= 6 &&
          p->s[0] == '\\' && p->s[1] == 'u') {
        const char *save = p->s;
        unsigned lo;
        p->s += 2;
        if (!hex4(p, &lo) && lo >= 0xDC00 && lo < 0xE000)
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        else {
          rove_error_clear();
          p->s = save;
          cp = 0xFFFD;
        }
      } else if (cp >= 0xD800 && cp < 0xE000) {
        cp = 0xFFFD;
      }
      put_utf8(o, &k, cp);
      break;
    default:
      p->s--;
      free(o);
      return fail(p, "a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)");
    }
  }
  o[k] = '\0';
  *out = o;
  return 0;
}

static int value(jp *p, rove_json *v);

static int push(jp *p, rove_json *v, int *cap, char *key) {
  if (v->n == *cap) {
    int nc = *cap ? *cap * 2 : 4;
    rove_json *ni = realloc(v->items, (size_t)nc * sizeof *ni);
    if (!ni)
      return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", p->what);
    v->items = ni;
    if (v->type == ROVE_JSON_OBJ) {
      char **nk = realloc(v->keys, (size_t)nc * sizeof *nk);
      if (!nk)
        return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", p->what);
      v->keys = nk;
    }
    *cap = nc;
  }
  memset(&v->items[v->n], 0, sizeof v->items[v->n]);
  if (v->type == ROVE_JSON_OBJ)
    v->keys[v->n] = key;
  v->n++;
  return 0;
}

static int container(jp *p, rove_json *v, int obj) {
  if (++p->depth > 64)
    return ROVE_ERR(ROVE_EFORMAT, "%s:%d: nesting deeper than 64 levels",
                    p->what, p->line);
  v->type = obj ? ROVE_JSON_OBJ : ROVE_JSON_ARR;
  char close = obj ? '}' : ']';
  int cap = 0;
  p->s++;
  ws(p);
  if (p->s < p->end && *p->s == close) {
    p->s++;
    p->depth--;
    return 0;
  }
  for (;;) {
    char *key = NULL;
    ws(p);
    if (obj) {
      if (p->s >= p->end || *p->s != '"')
        return fail(p, "a member name in double quotes");
      ROVE_TRY(str(p, &key));
      ws(p);
      if (p->s >= p->end || *p->s != ':') {
        free(key);
        return fail(p, "':' after a member name");
      }
      p->s++;
    }
    int rc = push(p, v, &cap, key);
    if (rc) {
      free(key);
      return rc;
    }
    ROVE_TRY(value(p, &v->items[v->n - 1]));
    ws(p);
    if (p->s < p->end && *p->s == ',') {
      p->s++;
      continue;
    }
    if (p->s < p->end && *p->s == close) {
      p->s++;
      break;
    }
    return fail(p, obj ? "',' or '}'" : "',' or ']'");
  }
  p->depth--;
  return 0;
}

static int number(jp *p, rove_json *v) {
  const char *a = p->s;
  if (p->s < p->end && *p->s == '-')
    p->s++;
  int digits = 0;
  while (p->s < p->end &&
         ((*p->s >= '0' && *p->s <= '9') || *p->s == '.' || *p->s == 'e' ||
          *p->s == 'E' || *p->s == '+' || *p->s == '-')) {
    digits += *p->s >= '0' && *p->s <= '9';
    p->s++;
  }
  size_t n = (size_t)(p->s - a);
  char *t = malloc(n + 1);
  if (!t)
    return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", p->what);
  memcpy(t, a, n);
  t[n] = '\0';
  char *e;
  errno = 0;
  double d = strtod(t, &e);
  if (!digits || *e) {
    free(t);
    p->s = a;
    return fail(p, "a number");
  }
  v->type = ROVE_JSON_NUM;
  v->num = d;
  v->str = t;
  return 0;
}

static int word(jp *p, const char *w) {
  size_t n = strlen(w);
  if ((size_t)(p->end - p->s) >= n && !memcmp(p->s, w, n)) {
    p->s += n;
    return 1;
  }
  return 0;
}

static int value(jp *p, rove_json *v) {
  ws(p);
  if (p->s >= p->end)
    return fail(p, "a value");
  char c = *p->s;
  if (c == '{' || c == '[')
    return container(p, v, c == '{');
  if (c == '"') {
    v->type = ROVE_JSON_STR;
    return str(p, &v->str);
  }
  if (c == '-' || (c >= '0' && c <= '9'))
    return number(p, v);
  if (word(p, "true")) {
    v->type = ROVE_JSON_BOOL;
    v->b = 1;
    return 0;
  }
  if (word(p, "false")) {
    v->type = ROVE_JSON_BOOL;
    return 0;
  }
  if (word(p, "null")) {
    v->type = ROVE_JSON_NULL;
    return 0;
  }
  return fail(p, "a value (object, array, string, number, true, false, null)");
}

int rove_json_parse(rove_json *v, const char *buf, size_t len,
                    const char *what) {
  memset(v, 0, sizeof *v);
  jp p = {buf, buf + len, what ? what : "json", 1, 0};
  int rc = value(&p, v);
  if (!rc) {
    ws(&p);
    if (p.s < p.end)
      rc = fail(&p, "end of file after the top-level value");
  }
  if (rc)
    rove_json_deinit(v);
  return rc;
}

int rove_json_load(rove_json *v, const char *path) {
  unsigned char *b = NULL;
  size_t n = 0;
  memset(v, 0, sizeof *v);
  ROVE_TRY(rove_file_read(path, "JSON file", &b, &n));
  int rc = rove_json_parse(v, (const char *)b, n, path);
  free(b);
  return rc;
}

void rove_json_deinit(rove_json *v) {
  for (int i = 0; i < v->n; i++) {
    rove_json_deinit(&v->items[i]);
    if (v->keys)
      free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
  memset(v, 0, sizeof *v);
}

const rove_json *rove_json_get(const rove_json *v, const char *key) {
  if (!v || v->type != ROVE_JSON_OBJ)
    return NULL;
  for (int i = 0; i < v->n; i++)
    if (!strcmp(v->keys[i], key))
      return &v->items[i];
  return NULL;
}

const char *rove_json_text(const rove_json *v, const char *key) {
  const rove_json *m = rove_json_get(v, key);
  if (m && (m->type == ROVE_JSON_STR || m->type == ROVE_JSON_NUM))
    return m->str;
  return NULL;
}
