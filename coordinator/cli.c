/* cli.c - helpers the rove subcommands share (cli.h). */
#include "coordinator/cli.h"

#include <stdio.h>

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
