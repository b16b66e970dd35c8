/* cli.h - the rove subcommands and helpers they share. */
#ifndef ROVE_COORDINATOR_CLI_H
#define ROVE_COORDINATOR_CLI_H

#define X(name, fn, summary) int fn(int argc, char **argv);
#include "coordinator/commands.def"
#undef X

/* Exit codes: 0 success, 1 the command ran and failed (e.g. a bad model
 * file), 2 usage error (unknown option, bad value). */
enum { ROVE_EXIT_OK = 0, ROVE_EXIT_FAIL = 1, ROVE_EXIT_USAGE = 2 };

#endif
