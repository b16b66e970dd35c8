/* cmd_convert.c - `rove convert`: write a model (ONNX or built-in) as .rove. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arch.h"
#include "common/err.h"
#include "common/format_rove.h"
#include "common/model.h"
#include "coordinator/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: rove convert IN OUT.rove\n"
          "       rove convert --builtin smallcnn [--width W] [--classes N]\n"
          "                    [--seed S] [--input CxHxW] OUT.rove\n\n"
          "Writes a model in rove's native format (common/FORMAT.md): either\n"
          "a model file IN (ONNX or .rove), or a built-in architecture with\n"
          "random weights drawn from SEED. The output is written atomically\n"
          "and its content hash printed; loading OUT gives the same hash and\n"
          "the same logits as IN.\n\n"
          "  --builtin NAME  built-in architecture (smallcnn)\n"
          "  --width W       width multiplier of the built-in (default 1)\n"
          "  --classes N     classes of the built-in (default 10)\n"
          "  --seed S        weight seed of the built-in (default "
          "1)\n" ROVE_CLI_NORM_USAGE "  -h, --help      this text\n");
}

static int parse_num(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (!*s || *end || errno || !(v >= lo && v <= hi))
    return -1;
  *out = v;
  return 0;
}

int rove_cmd_convert(int argc, char **argv) {
  static const struct option opts[] = {
      {"builtin", required_argument, NULL, 'B'},
      {"width", required_argument, NULL, 'w'},
      {"classes", required_argument, NULL, 'c'},
      {"seed", required_argument, NULL, 's'},
      {"input", required_argument, NULL, 'i'},
      ROVE_CLI_NORM_OPTIONS,
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *builtin = NULL;
  rove_shape in = {3, {1, 28, 28, 0}};
  double width = 1, classes = 10, seed = 1;
  int c;
  rove_norm norm = {0};
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int nr = rove_cli_norm_opt("rove convert", c, optarg, &norm);
    if (nr == 2)
      return ROVE_EXIT_USAGE;
    if (nr)
      continue;
    switch (c) {
    case 'B': builtin = optarg; break;
    case 'i': {
      int c0, h0, w0;
      char tail;
      if (sscanf(optarg, "%dx%dx%d%c", &c0, &h0, &w0, &tail) != 3 || c0 < 1 ||
          c0 > 64 || h0 < 16 || w0 < 16 || h0 > 4096 || w0 > 4096) {
        fprintf(stderr,
                "rove convert: --input '%s': expected CxHxW with C in 1..64 "
                "and H, W >= 16 (e.g. 3x32x32)\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      in = (rove_shape){3, {c0, h0, w0, 0}};
      break;
    }
    case 'w':
      if (parse_num(optarg, 0.0625, 64, &width) < 0) {
        fprintf(stderr,
                "rove convert: --width '%s': expected a number in "
                "[0.0625, 64]\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      break;
    case 'c':
      if (parse_num(optarg, 2, 100000, &classes) < 0 ||
          classes != (int)classes) {
        fprintf(stderr,
                "rove convert: --classes '%s': expected an integer "
                ">= 2\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      break;
    case 's':
      if (parse_num(optarg, 0, 9007199254740992.0, &seed) < 0 ||
          seed != (double)(uint64_t)seed) {
        fprintf(stderr,
                "rove convert: --seed '%s': expected a non-negative "
                "integer\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      break;
    case 'h': usage(stdout); return ROVE_EXIT_OK;
    default: usage(stderr); return ROVE_EXIT_USAGE;
    }
  }
  int want = builtin ? 1 : 2;
  if (argc - optind != want) {
    fprintf(stderr, "rove convert: expected %s\n\n",
            builtin ? "one OUT.rove argument with --builtin"
                    : "IN and OUT.rove arguments");
    usage(stderr);
    return ROVE_EXIT_USAGE;
  }
  if (builtin && strcmp(builtin, "smallcnn") != 0) {
    fprintf(stderr,
            "rove convert: --builtin '%s': unknown architecture (expected "
            "smallcnn)\n",
            builtin);
    return ROVE_EXIT_USAGE;
  }
  const char *out = argv[argc - 1];
  rove_model m;
  int rc;
  memset(&m, 0, sizeof m);
  if (builtin) {
    rc = rove_arch_smallcnn_in(&m, &in, (float)width, (int)classes,
                               (uint64_t)seed);
    if (rc == 0 && !m.finalized)
      rc = rove_model_finalize(&m, -1);
    if (rc == 0)
      rc = rove_model_normalize(&m, &norm);
  } else {
    rc = rove_model_load_norm(&m, argv[optind], &norm);
  }
  if (rc == 0)
    rc = rove_model_save(&m, out);
  if (rc < 0) {
    rove_error_print(stderr);
    rove_model_deinit(&m);
    return ROVE_EXIT_FAIL;
  }
  char hex[65];
  rove_model_hash_hex(&m, hex);
  printf("%s  %s\n", hex, out);
  rove_model_deinit(&m);
  return ROVE_EXIT_OK;
}
