/* cli.h - the rove subcommands and helpers they share. */
#ifndef ROVE_COORDINATOR_CLI_H
#define ROVE_COORDINATOR_CLI_H

#define X(name, fn, summary) int fn(int argc, char **argv);
#include "coordinator/commands.def"
#undef X

/* Exit codes: 0 success, 1 the command ran and failed (e.g. a bad model
 * file), 2 usage error (unknown option, bad value). */
enum { ROVE_EXIT_OK = 0, ROVE_EXIT_FAIL = 1, ROVE_EXIT_USAGE = 2 };

/* --mean/--std, for every command that loads a model (common/normalize.h):
 * put ROVE_CLI_NORM_OPTIONS in the getopt_long table, pass each option to
 * rove_cli_norm_opt, and load with rove_model_load_norm. */
#include "common/normalize.h"
#define ROVE_CLI_O_MEAN 0x4e01
#define ROVE_CLI_O_STD 0x4e02
#define ROVE_CLI_NORM_OPTIONS                                                  \
  {"mean", required_argument, NULL, ROVE_CLI_O_MEAN}, {                        \
    "std", required_argument, NULL, ROVE_CLI_O_STD                             \
  }
#define ROVE_CLI_NORM_USAGE                                                    \
  "  --mean M1,M2,M3   per-channel mean the model was trained to subtract\n"   \
  "  --std S1,S2,S3    per-channel std it divides by (torchvision "            \
  "Normalize);\n"                                                              \
  "                    folded into the model as its first nodes, so data "     \
  "and\n"                                                                      \
  "                    epsilon stay in pixel space [0, 1]\n"
/* --eps E[,E2,...]: up to `max` comma-separated radii in [0, hi] (hi =
 * INFINITY: any >= 0) into eps[0 .. *n). On a bad list prints what is
 * wrong, prefixed with `cmd`, and returns -1. */
int rove_cli_parse_eps(const char *cmd, const char *s, double hi, double *eps,
                       int max, int *n);

/* 1: c was --mean or --std and is stored in z; 0: not one of them; 2: a
 * bad value (the message is printed, prefixed with `cmd`). */
int rove_cli_norm_opt(const char *cmd, int c, const char *arg, rove_norm *z);

#endif
