/* cli.c - helpers the rove subcommands share (cli.h). */
#include "coordinator/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

int rove_cli_norm_opt(const char *cmd, int c, const char *arg, rove_norm *z) {
  if (c != ROVE_CLI_O_MEAN && c != ROVE_CLI_O_STD)
    return 0;
  int mean = c == ROVE_CLI_O_MEAN;
  if (rove_norm_parse(arg, mean ? z->mean : z->std,
                      mean ? &z->n_mean : &z->n_std,
                      mean ? "--mean" : "--std") < 0) {
    fprintf(stderr, "%s: %s\n", cmd, rove_error_message());
    return 2;
  }
  return 1;
}

int rove_cli_parse_eps(const char *cmd, const char *s, double hi, double *eps,
                       int max, int *n) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", s);
  *n = 0;
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    if (errno || end == tok || *end || !(v >= 0.0 && v <= hi)) {
      if (isinf(hi))
        fprintf(stderr, "%s: --eps: '%s' is not a number >= 0\n", cmd, tok);
      else
        fprintf(stderr,
                "%s: --eps: '%s' is not a number in [0, %g] (inputs live in "
                "[0, 1])\n",
                cmd, tok, hi);
      return -1;
    }
    if (*n == max) {
      fprintf(stderr, "%s: --eps: more than %d values\n", cmd, max);
      return -1;
    }
    eps[(*n)++] = v;
  }
  if (*n == 0) {
    fprintf(stderr, "%s: --eps: no value given\n", cmd);
    return -1;
  }
  return 0;
}
