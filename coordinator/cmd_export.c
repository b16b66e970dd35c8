/* cmd_export.c - `rove export`: writes a model as ONNX and checks that it
 * loads back to bit-identical logits. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/data.h"
#include "common/err.h"
#include "common/model.h"
#include "common/onnx.h"
#include "common/onnx_export.h"
#include "common/rng.h"
#include "coordinator/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: rove export MODEL OUT.onnx [--data SPEC] [--n N]\n"
          "                   [--mean M,.. --std S,..]\n\n"
          "Writes MODEL (.rove or ONNX) as ONNX opset 13. Quantized layers\n"
          "become QuantizeLinear/DequantizeLinear (weights as int8), so a\n"
          "board's runtime sees the quantized model. Before the file is\n"
          "written, the encoding is imported again and its logits are\n"
          "compared bit for bit with the model's on 64 seeded random inputs\n"
          "and, with --data, on the first N examples of a dataset.\n\n"
          "  --data SPEC   also compare on this dataset (common/DATA.md)\n"
          "  --n N         examples of --data to compare (default "
          "256)\n" ROVE_CLI_NORM_USAGE "  -h, --help    this text\n");
}

/* Logits of `a` and `b` on n inputs x must agree bit for bit. */
static int compare(const rove_model *a, const rove_model *b, const float *x,
                   int n, const char *what, long *checked) {
  rove_exec ea, eb;
  int bmax = n < 64 ? n : 64, rc;
  size_t d = (size_t)rove_shape_numel(&a->in);
  ROVE_TRY(rove_exec_init(&ea, a, bmax));
  if ((rc = rove_exec_init(&eb, b, bmax)) < 0) {
    rove_exec_deinit(&ea);
    ROVE_TRY(rc);
  }
  size_t K = (size_t)a->n_classes;
  for (int i0 = 0; i0 < n && rc == 0; i0 += bmax) {
    int B = n - i0 < bmax ? n - i0 : bmax;
    rove_exec_forward(&ea, B, x + (size_t)i0 * d);
    rove_exec_forward(&eb, B, x + (size_t)i0 * d);
    const float *za = rove_exec_logits(&ea), *zb = rove_exec_logits(&eb);
    for (size_t j = 0; j < (size_t)B * K; j++)
      if (memcmp(&za[j], &zb[j], sizeof(float)) != 0) {
        rc = ROVE_ERR(ROVE_ESTATE,
                      "the exported model's logit %zu of %s example %zu is "
                      "%.9g, the model's %.9g: not written",
                      j % K, what, (size_t)i0 + j / K, (double)zb[j],
                      (double)za[j]);
        break;
      }
    *checked += B;
  }
  rove_exec_deinit(&ea);
  rove_exec_deinit(&eb);
  ROVE_TRY(rc);
  return 0;
}

static int run(const char *in, const char *out, const char *data, int n,
               const rove_norm *norm) {
  rove_model m, back;
  uint8_t *buf = NULL;
  size_t len = 0;
  float *x = NULL;
  rove_dataset ds;
  int have_back = 0, have_ds = 0, rc;
  long checked = 0;
  ROVE_TRY(rove_model_load_norm(&m, in, norm));
  if ((rc = rove_onnx_export_mem(&m, &buf, &len)) < 0)
    goto out;
  if ((rc = rove_onnx_load_mem(&back, buf, len, out)) < 0)
    goto out;
  have_back = 1;
  if (back.n_classes != m.n_classes ||
      rove_shape_numel(&back.in) != rove_shape_numel(&m.in)) {
    rc = ROVE_ERR(ROVE_ESHAPE, "the exported model's shapes differ");
    goto out;
  }
  size_t d = (size_t)rove_shape_numel(&m.in);
  x = malloc(sizeof *x * d * 64);
  if (!x) {
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory");
    goto out;
  }
  rove_rng g;
  uint64_t id[2] = {0x6578706f7274ull /* "export" */, 1};
  rove_rng_init(&g, id, 2);
  for (size_t i = 0; i < d * 64; i++)
    x[i] = rove_rng_uniform(&g);
  if ((rc = compare(&m, &back, x, 64, "random", &checked)) < 0)
    goto out;
  if (data) {
    if ((rc = rove_dataset_load(&ds, data)) < 0)
      goto out;
    have_ds = 1;
    if (rove_shape_numel(&ds.shape) != (long)d) {
      rc = ROVE_ERR(ROVE_ESHAPE, "dataset '%s' does not fit model '%s'", data,
                    in);
      goto out;
    }
    if ((rc = compare(&m, &back, ds.x, n < ds.n ? n : ds.n, "dataset",
                      &checked)) < 0)
      goto out;
  }
  if ((rc = rove_onnx_export(&m, out)) < 0)
    goto out;
  char h1[65];
  rove_model_hash_hex(&m, h1);
  printf("wrote %s: %zu bytes, opset 13, %d layers -> %d ONNX-imported "
         "layers; logits bit-identical on %ld inputs (model %.16s)\n",
         out, len, m.n_nodes, back.n_nodes, checked, h1);
out:
  free(x);
  free(buf);
  if (have_ds)
    rove_dataset_deinit(&ds);
  if (have_back)
    rove_model_deinit(&back);
  rove_model_deinit(&m);
  ROVE_TRY(rc);
  return 0;
}

int rove_cmd_export(int argc, char **argv) {
  static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                       {"n", required_argument, NULL, 'n'},
                                       ROVE_CLI_NORM_OPTIONS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *data = NULL;
  int n = 256, c;
  rove_norm norm = {0};
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int nr = rove_cli_norm_opt("rove export", c, optarg, &norm);
    if (nr == 2)
      return ROVE_EXIT_USAGE;
    if (nr)
      continue;
    switch (c) {
    case 'd': data = optarg; break;
    case 'n': {
      char *end;
      errno = 0;
      long v = strtol(optarg, &end, 10);
      if (!*optarg || *end || errno || v < 1 || v > 1000000) {
        fprintf(stderr,
                "rove export: --n '%s': expected a positive "
                "integer\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      n = (int)v;
      break;
    }
    case 'h': usage(stdout); return ROVE_EXIT_OK;
    default: usage(stderr); return ROVE_EXIT_USAGE;
    }
  }
  if (argc - optind != 2) {
    fprintf(stderr, "rove export: expected MODEL and OUT.onnx\n\n");
    usage(stderr);
    return ROVE_EXIT_USAGE;
  }
  if (run(argv[optind], argv[optind + 1], data, n, &norm) < 0) {
    rove_error_print(stderr);
    return ROVE_EXIT_FAIL;
  }
  return ROVE_EXIT_OK;
}
