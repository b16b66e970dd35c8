/* err.c - per-thread error message and traceback. */
#include "common/err.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define ROVE_ERR_FRAMES 16

static _Thread_local struct {
  int code;
  char msg[1024];
  int nframes;
  char frames[ROVE_ERR_FRAMES][160];
} err_state;

const char *rove_strerror(int code) {
  switch (code) {
  case ROVE_OK: return "success";
  case ROVE_ENOMEM: return "out of memory";
  case ROVE_EINVAL: return "invalid argument";
  case ROVE_EIO: return "input/output error";
  case ROVE_EFORMAT: return "malformed data";
  case ROVE_ECRC: return "checksum mismatch";
  case ROVE_EUNSUPPORTED: return "not supported";
  case ROVE_ENOENT: return "no such file or directory";
  case ROVE_ESHAPE: return "shape mismatch";
  case ROVE_EVERSION: return "unsupported version";
  case ROVE_ERANGE: return "value out of range";
  case ROVE_EMPI: return "MPI error";
  case ROVE_ENET: return "network error";
  case ROVE_EAUTH: return "authentication failed";
  case ROVE_EINTR: return "interrupted";
  case ROVE_EACCES: return "permission denied";
  case ROVE_ESTATE: return "invalid state";
  default: return "unknown error";
  }
}

static void add_frame(const char *file, int line, const char *func) {
  if (err_state.nframes >= ROVE_ERR_FRAMES)
    return;
  snprintf(err_state.frames[err_state.nframes++], sizeof err_state.frames[0],
           "%s:%d in %s()", file, line, func);
}

int rove_error_set(int code, const char *file, int line, const char *func,
                   const char *fmt, ...) {
  va_list ap;
  err_state.code = code;
  err_state.nframes = 0;
  va_start(ap, fmt);
  vsnprintf(err_state.msg, sizeof err_state.msg, fmt, ap);
  va_end(ap);
  add_frame(file, line, func);
  return code;
}

int rove_error_trace(int code, const char *file, int line, const char *func) {
  if (err_state.code != code || err_state.msg[0] == '\0') {
    /* Nobody recorded a message for this code: name it. */
    err_state.code = code;
    err_state.nframes = 0;
    snprintf(err_state.msg, sizeof err_state.msg, "%s", rove_strerror(code));
  }
  add_frame(file, line, func);
  return code;
}

int rove_error_wrap(int code, const char *file, int line, const char *func,
                    const char *fmt, ...) {
  char inner[sizeof err_state.msg], ctx[sizeof err_state.msg];
  snprintf(inner, sizeof inner, "%s",
           err_state.msg[0] ? err_state.msg : rove_strerror(code));
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ctx, sizeof ctx, fmt, ap);
  va_end(ap);
  err_state.code = code;
  /* Copied piecewise (snprintf of ctx and inner together would warn
   * about a truncation that is wanted). */
  size_t cap = sizeof err_state.msg, k = strlen(ctx), m = strlen(inner);
  if (k > cap - 1)
    k = cap - 1;
  memcpy(err_state.msg, ctx, k);
  if (k + 2 < cap) {
    memcpy(err_state.msg + k, ": ", 2);
    k += 2;
    if (m > cap - 1 - k)
      m = cap - 1 - k;
    memcpy(err_state.msg + k, inner, m);
    k += m;
  }
  err_state.msg[k] = '\0';
  add_frame(file, line, func);
  return code;
}

const char *rove_error_message(void) {
  return err_state.msg;
}

void rove_error_print(FILE *f) {
  fprintf(f, "error: %s\n",
          err_state.msg[0] ? err_state.msg : rove_strerror(err_state.code));
  if (getenv("ROVE_TRACEBACK"))
    for (int i = 0; i < err_state.nframes; i++)
      fprintf(f, "  [%d] %s\n", i, err_state.frames[i]);
}

void rove_error_clear(void) {
  err_state.code = 0;
  err_state.msg[0] = '\0';
  err_state.nframes = 0;
}
