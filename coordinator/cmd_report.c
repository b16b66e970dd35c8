/* cmd_report.c - `rove report DIR`: writes DIR/report.html from a sweep's
 * results (see coordinator/REPORT.md). */
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/cli.h"
#include "coordinator/report.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: rove report DIR [--eps EPS] [--title TEXT]\n\n"
          "Writes DIR/report.html from a sweep's results directory\n"
          "(DIR/summary.csv, and when present summary.json, run.json,\n"
          "job.ini and the energy columns): one self-contained page with\n"
          "inline SVG plots that opens offline in any browser.\n\n"
          "  --eps EPS     the eps used by the energy and gap headline plots\n"
          "                (default: the largest eps at which half of the\n"
          "                models keep 25%% robust accuracy under precise)\n"
          "  --title TEXT  page title (default: \"rove report: JOB\")\n"
          "  -h, --help    this text\n");
}

int rove_cmd_report(int argc, char **argv) {
  rove_report_opts o = {NULL, NULL};
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return ROVE_EXIT_OK;
    }
    if (!strcmp(a, "--eps") || !strcmp(a, "--title")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "rove report: %s needs a value\n", a);
        return ROVE_EXIT_USAGE;
      }
      if (!strcmp(a, "--eps"))
        o.eps = argv[++i];
      else
        o.title = argv[++i];
      continue;
    }
    if (a[0] == '-') {
      fprintf(stderr, "rove report: unknown option '%s'\n\n", a);
      usage(stderr);
      return ROVE_EXIT_USAGE;
    }
    if (dir) {
      fprintf(stderr,
              "rove report: one results directory expected, got "
              "'%s' and '%s'\n",
              dir, a);
      return ROVE_EXIT_USAGE;
    }
    dir = a;
  }
  if (!dir) {
    usage(stderr);
    return ROVE_EXIT_USAGE;
  }
  char path[1300];
  if (rove_report_write(dir, &o, path, sizeof path) != 0) {
    rove_error_print(stderr);
    return ROVE_EXIT_FAIL;
  }
  printf("%s\n", path);
  return ROVE_EXIT_OK;
}
