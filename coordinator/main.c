/* main.c - the rove command: dispatches to subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "coordinator/cli.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
#define X(name, fn, summary) {name, fn, summary},
#include "coordinator/commands.def"
#undef X
    {NULL, NULL, NULL}};

static void usage(FILE *f) {
  fprintf(f,
          "rove %s - robustness versus energy\n\n"
          "usage: rove COMMAND [ARGS...]\n\ncommands:\n",
          ROVE_VERSION);
  for (const command *c = commands; c->name; c++)
    fprintf(f, "  %-9s %s\n", c->name, c->summary);
  fprintf(f, "  %-9s %s\n", "version", "print the version");
  fprintf(f, "\n'rove COMMAND --help' describes one command.\n");
}

int main(int argc, char **argv) {
  /* One BLAS thread per process unless the user says otherwise: SmallCNN's
   * GEMMs are tall and skinny and threading them is slower; scale-out is
   * one MPI rank per core. */
  if (!getenv("OPENBLAS_NUM_THREADS"))
    openblas_set_num_threads(1);
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
      !strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? ROVE_EXIT_USAGE : ROVE_EXIT_OK;
  }
  if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
    printf("rove %s\n", ROVE_VERSION);
    return ROVE_EXIT_OK;
  }
  for (const command *c = commands; c->name; c++)
    if (!strcmp(c->name, argv[1]))
      return c->run(argc - 1, argv + 1);
  fprintf(stderr, "rove: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return ROVE_EXIT_USAGE;
}
