/* cmd_eval.c - `rove eval`: clean accuracy of a model on a dataset. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/data.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/model.h"
#include "common/util.h"
#include "coordinator/cli.h"

static void usage(FILE *f) {
  fprintf(
      f, "usage: rove eval MODEL [--data SPEC] [--n N] [--batch B]\n"
         "                 [--logits FILE.csv] [--json] [--mean M,.. --std "
         "S,..]\n\n"
         "Clean (unattacked) accuracy of a model (.rove or ONNX).\n\n"
         "  --data SPEC       dataset (default fashion-mnist:test); see\n"
         "                    common/DATA.md, e.g. fashion-mnist:test[0:1000]\n"
         "                    or idx:IMAGES,LABELS\n"
         "  --n N             only the first N examples of the dataset\n"
         "  --batch B         examples per forward pass (default 100); the\n"
         "                    results do not depend on it\n"
         "  --logits FILE.csv write index,label,z0..z{N-1} per example\n"
         "  --json            print one JSON object\n" ROVE_CLI_NORM_USAGE
         "  -h, --help        this text\n");
}

/* The model must take the dataset's examples as they are: the same shape,
 * or a vector of the same size (an MLP exported with a flat input). */

/* Index of the largest logit (the first on ties); -1 if any is NaN, which
 * never counts as correct. */
static int argmax(const float *z, int n) {
  int best = 0;
  for (int j = 0; j < n; j++) {
    if (z[j] != z[j])
      return -1;
    if (z[j] > z[best])
      best = j;
  }
  return best;
}

typedef struct eval_opts {
  const char *model, *data, *logits;
  int n, batch, json;
  rove_norm norm;
} eval_opts;

static int run(const eval_opts *o) {
  rove_model m;
  rove_dataset d;
  rove_exec e;
  FILE *csv = NULL;
  char *tmp = NULL;
  int rc;
  memset(&d, 0, sizeof d);
  memset(&e, 0, sizeof e);
  ROVE_TRY(rove_model_load_norm(&m, o->model, &o->norm));
  rc = rove_dataset_load(&d, o->data);
  if (rc < 0)
    goto out;
  rc = rove_dataset_check_model(&d, &m, o->model);
  if (rc < 0)
    goto out;
  int n = d.n;
  if (o->n > 0) {
    if (o->n > d.n) {
      rc = ROVE_ERR(ROVE_ERANGE,
                    "--n %d, but dataset '%s' holds only %d examples", o->n,
                    d.spec, d.n);
      goto out;
    }
    n = o->n;
  }
  int bmax = o->batch < n ? o->batch : n;
  rc = rove_exec_init(&e, &m, bmax);
  if (rc < 0)
    goto out;
  if (o->logits) {
    /* Written beside the target and renamed at the end, so a failed run
     * never leaves a truncated CSV where a good one was. */
    size_t len = strlen(o->logits) + 32;
    tmp = malloc(len);
    if (!tmp) {
      rc = ROVE_ERR(ROVE_ENOMEM, "out of memory");
      goto out;
    }
    snprintf(tmp, len, "%s.tmp.%ld", o->logits, (long)getpid());
    csv = fopen(tmp, "w");
    if (!csv) {
      rc = ROVE_ERR(ROVE_EIO, "--logits '%s': cannot create '%s': %s",
                    o->logits, tmp, strerror(errno));
      goto out;
    }
    fprintf(csv, "index,label");
    for (int j = 0; j < m.n_classes; j++)
      fprintf(csv, ",z%d", j);
    fputc('\n', csv);
  }
  long correct = 0;
  int K = m.n_classes;
  for (int i0 = 0; i0 < n; i0 += bmax) {
    int B = n - i0 < bmax ? n - i0 : bmax;
    rove_exec_forward(&e, B, rove_dataset_x(&d, i0));
    const float *z = rove_exec_logits(&e);
    for (int b = 0; b < B; b++) {
      int y = d.y[i0 + b];
      correct += argmax(z + (size_t)b * K, K) == y;
      if (csv) {
        fprintf(csv, "%ld,%d", d.first + i0 + b, y);
        for (int j = 0; j < K; j++)
          fprintf(csv, ",%.9g", (double)z[(size_t)b * K + j]);
        fputc('\n', csv);
      }
    }
  }
  if (csv) {
    rc = rove_file_commit(csv, tmp, o->logits, "--logits");
    csv = NULL;
    if (rc < 0)
      goto out;
  }
  char hex[65];
  rove_model_hash_hex(&m, hex);
  double acc = (double)correct / n;
  if (o->json) {
    printf("{\"model\": ");
    rove_json_str(stdout, o->model);
    printf(", \"hash\": \"%s\", \"data\": ", hex);
    rove_json_str(stdout, d.spec);
    printf(", \"first\": %ld, \"n\": %d, \"correct\": %ld, "
           "\"clean_acc\": %.6f}\n",
           d.first, n, correct, acc);
  } else {
    printf("model:          %s (%.16s)\n", o->model, hex);
    printf("data:           %s, %d examples\n", d.spec, n);
    printf("clean accuracy: %.4f (%ld/%d)\n", acc, correct, n);
  }
  rc = 0;
out:
  if (csv)
    fclose(csv);
  if (tmp && rc < 0)
    unlink(tmp);
  free(tmp);
  rove_exec_deinit(&e);
  rove_dataset_deinit(&d);
  rove_model_deinit(&m);
  return rc;
}

int rove_cmd_eval(int argc, char **argv) {
  static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                       {"n", required_argument, NULL, 'n'},
                                       {"batch", required_argument, NULL, 'b'},
                                       {"logits", required_argument, NULL, 'l'},
                                       {"json", no_argument, NULL, 'j'},
                                       ROVE_CLI_NORM_OPTIONS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  eval_opts o = {.data = "fashion-mnist:test", .batch = 100};
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int nr = rove_cli_norm_opt("rove eval", c, optarg, &o.norm);
    if (nr == 2)
      return ROVE_EXIT_USAGE;
    if (nr)
      continue;
    switch (c) {
    case 'd': o.data = optarg; break;
    case 'l': o.logits = optarg; break;
    case 'j': o.json = 1; break;
    case 'n':
      if (rove_parse_int(optarg, 1, INT_MAX, &o.n) < 0) {
        fprintf(stderr, "rove eval: --n '%s': expected a positive integer\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      break;
    case 'b':
      if (rove_parse_int(optarg, 1, 1 << 16, &o.batch) < 0) {
        fprintf(stderr,
                "rove eval: --batch '%s': expected an integer from 1 to "
                "65536\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      break;
    case 'h': usage(stdout); return ROVE_EXIT_OK;
    default: usage(stderr); return ROVE_EXIT_USAGE;
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "rove eval: expected exactly one MODEL argument\n\n");
    usage(stderr);
    return ROVE_EXIT_USAGE;
  }
  o.model = argv[optind];
  if (run(&o) < 0) {
    rove_error_print(stderr);
    return ROVE_EXIT_FAIL;
  }
  return ROVE_EXIT_OK;
}
