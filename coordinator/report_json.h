/* report_json.h - a small JSON reader (a DOM of values) for the files the
 * report reads next to a sweep's results: run.json, training logs. */
#ifndef ROVE_COORDINATOR_REPORT_JSON_H
#define ROVE_COORDINATOR_REPORT_JSON_H

#include <stddef.h>

enum {
  ROVE_JSON_NULL = 0,
  ROVE_JSON_BOOL,
  ROVE_JSON_NUM,
  ROVE_JSON_STR,
  ROVE_JSON_ARR,
  ROVE_JSON_OBJ
};

/* One value. Numbers keep their source text too (`str`), so a report can
 * print exactly what the file said. Arrays and objects hold n items; an
 * object's keys are in `keys` (same order as the file). */
typedef struct rove_json {
  int type;
  int b;       /* BOOL */
  double num;  /* NUM */
  char *str;   /* STR: the decoded UTF-8 text; NUM: the source text */
  char **keys; /* OBJ */
  struct rove_json *items;
  int n;
} rove_json;

/* Parses `len` bytes. `v` is uninitialised on entry and, on error, left
 * deinitialised with a message naming `what` and the line. Depth is
 * limited (64) so hostile input cannot exhaust the stack. */
int rove_json_parse(rove_json *v, const char *buf, size_t len,
                    const char *what);
/* Reads and parses a whole file. ROVE_ENOENT when it does not exist. */
int rove_json_load(rove_json *v, const char *path);
void rove_json_deinit(rove_json *v);

/* The member `key` of an object, or NULL (also when v is NULL or not an
 * object). Borrowed. */
const rove_json *rove_json_get(const rove_json *v, const char *key);
/* Text of a string or number member (numbers: the source text), or NULL. */
const char *rove_json_text(const rove_json *v, const char *key);

#endif
