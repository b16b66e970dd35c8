/* err.h - error codes, messages and a per-thread traceback (PETSc style). */
#ifndef ROVE_COMMON_ERR_H
#define ROVE_COMMON_ERR_H

#include <stdio.h>

/* Everything that can fail returns int: 0 on success or one of these
 * negative codes. rove_strerror() names them. The human-readable message
 * (which names the file, field or line and what was expected) is recorded
 * by ROVE_ERR at the point of failure; every frame that passes the error up
 * with ROVE_TRY adds one traceback line. */
enum {
  ROVE_OK = 0,
  ROVE_ENOMEM = -1,       /* allocation failed */
  ROVE_EINVAL = -2,       /* bad argument or bad user input */
  ROVE_EIO = -3,          /* read/write failed */
  ROVE_EFORMAT = -4,      /* malformed file or message */
  ROVE_ECRC = -5,         /* checksum mismatch */
  ROVE_EUNSUPPORTED = -6, /* valid input rove does not handle */
  ROVE_ENOENT = -7,       /* file or directory missing */
  ROVE_ESHAPE = -8,       /* tensor shapes disagree */
  ROVE_EVERSION = -9,     /* unknown format/protocol version */
  ROVE_ERANGE = -10,      /* value out of range */
  ROVE_EMPI = -11,        /* MPI failure */
  ROVE_ENET = -12,        /* network failure */
  ROVE_EAUTH = -13,       /* authentication failure */
  ROVE_EINTR = -14,       /* interrupted by a signal */
  ROVE_EACCES = -15,      /* permission denied */
  ROVE_ESTATE = -16,      /* operation invalid in the current state */
  ROVE_ENCODES_ = -17     /* one past the last code */
};

const char *rove_strerror(int code);

/* Records `code` with a printf-style message as the current error of this
 * thread (replacing any previous one) and returns `code`. */
int rove_error_set(int code, const char *file, int line, const char *func,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Adds a traceback frame to the current error and returns `code`. When no
 * message was recorded for it, rove_strerror(code) stands in. */
int rove_error_trace(int code, const char *file, int line, const char *func);

/* Re-raises the current error with context in front of its message:
 * "<context>: <message>" (the message of `code`'s name when none was
 * recorded), keeping the traceback and adding this frame. The message is
 * copied before the context is formatted, so the context may itself quote
 * rove_error_message() — formatting it straight into ROVE_ERR would read
 * and write the same buffer. Returns `code`. */
int rove_error_wrap(int code, const char *file, int line, const char *func,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The current message of this thread ("" when none). Borrowed: valid until
 * the next rove_error_* call on this thread. */
const char *rove_error_message(void);

/* Prints "error: <message>" and, when the environment sets ROVE_TRACEBACK,
 * one line per frame. */
void rove_error_print(FILE *f);

void rove_error_clear(void);

#define ROVE_ERR(code, ...)                                                    \
  rove_error_set((code), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define ROVE_WRAP(code, ...)                                                   \
  rove_error_wrap((code), __FILE__, __LINE__, __func__, __VA_ARGS__)

#define ROVE_TRY(expr)                                                         \
  do {                                                                         \
    int rove__e = (expr);                                                      \
    if (rove__e < 0)                                                           \
      return rove_error_trace(rove__e, __FILE__, __LINE__, __func__);          \
  } while (0)

#endif
