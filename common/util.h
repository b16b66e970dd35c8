/* util.h - small helpers every command shares: clock, JSON strings, ints. */
#ifndef ROVE_COMMON_UTIL_H
#define ROVE_COMMON_UTIL_H

#include <stdio.h>

/* Seconds on CLOCK_MONOTONIC (for durations, never for dates). */
double rove_now(void);

/* Writes s as a JSON string literal: quotes, backslashes and control
 * characters escaped; NULL writes "". */
void rove_json_str(FILE *f, const char *s);

/* Parses all of s as a decimal int in [lo, hi] into *out. Returns 0, or -1
 * (s empty, trailing characters, overflow, out of range; *out unchanged):
 * the caller names the option in its message. */
int rove_parse_int(const char *s, int lo, int hi, int *out);

#endif
