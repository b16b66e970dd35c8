/* cmd_info.c - `rove info`: a model's graph, parameter and MAC counts. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/model.h"
#include "common/precision.h"
#include "common/util.h"
#include "coordinator/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: rove info MODEL [--json] [--mean M,.. --std S,..]\n\n"
          "Describes a model (.rove or ONNX): its input shape and, per layer,\n"
          "the op, name, output shape, parameters, multiply-accumulates per\n"
          "example and whether the layer is non-differentiable (zero "
          "gradient\n"
          "almost everywhere, so first-order attacks need BPDA); then the\n"
          "totals, whether a trailing Softmax was stripped, and the content\n"
          "hash that identifies the model everywhere in rove.\n\n"
          "  --json     print one JSON object instead of a "
          "table\n" ROVE_CLI_NORM_USAGE "  -h, --help this text\n");
}

static void shape_json(FILE *f, const rove_shape *s) {
  fputc('[', f);
  for (int i = 0; i < s->rank; i++)
    fprintf(f, "%s%d", i ? ", " : "", s->d[i]);
  fputc(']', f);
}

static double node_macs(const rove_node *n) {
  return rove_layers[n->op]->macs ? rove_layers[n->op]->macs(n) : 0.0;
}

static int nondiff(const rove_node *n) {
  return (rove_layers[n->op]->flags & ROVE_OPF_NONDIFF) != 0;
}

static void print_text(const rove_model *m, const char *path, const char *hex) {
  char buf[64];
  printf("model:  %s\n", path);
  rove_shape_text(&m->in, buf, sizeof buf);
  printf("input:  %s\n\n", buf);
  printf("%4s  %-10s %-24s %-12s %10s %14s  %-8s  %s\n", "#", "op", "name",
         "output", "params", "MACs", "non-diff", "precision");
  for (int i = 0; i < m->n_nodes; i++) {
    const rove_node *n = &m->nodes[i];
    rove_shape_text(&n->out, buf, sizeof buf);
    char prec[48];
    rove_precision_node(m, i, prec, sizeof prec);
    printf("%4d  %-10s %-24s %-12s %10zu %14.0f  %-8s  %s%s\n", i,
           rove_layers[n->op]->name, n->name, buf, n->n_params, node_macs(n),
           nondiff(n) ? "yes" : "-", prec,
           i == m->output  ? "   <- logits"
           : i > m->output ? "   (after the logits, not run)"
                           : "");
  }
  printf("\nparameters:          %zu\n", m->n_params);
  printf("MACs per example:    %.0f\n", rove_model_macs(m));
  printf("classes:             %d\n", m->n_classes);
  printf("non-diff layers:     %d\n", rove_model_count_nondiff(m));
  printf("softmax stripped:    %s\n", m->softmax_stripped ? "yes" : "no");
  printf("hash:                %s\n", hex);
}

static void print_json(const rove_model *m, const char *path, const char *hex) {
  printf("{\"model\": ");
  rove_json_str(stdout, path);
  printf(", \"input\": ");
  shape_json(stdout, &m->in);
  printf(", \"layers\": [");
  for (int i = 0; i < m->n_nodes; i++) {
    const rove_node *n = &m->nodes[i];
    printf("%s\n  {\"index\": %d, \"op\": ", i ? "," : "", i);
    rove_json_str(stdout, rove_layers[n->op]->name);
    printf(", \"name\": ");
    rove_json_str(stdout, n->name);
    printf(", \"inputs\": [");
    for (int j = 0; j < n->n_in; j++)
      printf("%s%d", j ? ", " : "", n->in[j]);
    printf("], \"output\": ");
    shape_json(stdout, &n->out);
    char prec[48];
    rove_precision_node(m, i, prec, sizeof prec);
    printf(", \"params\": %zu, \"macs\": %.0f, \"nondiff\": %s, "
           "\"precision\": \"%s\"}",
           n->n_params, node_macs(n), nondiff(n) ? "true" : "false", prec);
  }
  printf("],\n \"params\": %zu, \"macs\": %.0f, \"n_classes\": %d, "
         "\"output_node\": %d, \"nondiff_layers\": %d, "
         "\"softmax_stripped\": %s, \"hash\": \"%s\"}\n",
         m->n_params, rove_model_macs(m), m->n_classes, m->output,
         rove_model_count_nondiff(m), m->softmax_stripped ? "true" : "false",
         hex);
}

int rove_cmd_info(int argc, char **argv) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       ROVE_CLI_NORM_OPTIONS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int json = 0, c;
  rove_norm norm = {0};
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int nr = rove_cli_norm_opt("rove info", c, optarg, &norm);
    if (nr == 2)
      return ROVE_EXIT_USAGE;
    if (nr)
      continue;
    switch (c) {
    case 'j': json = 1; break;
    case 'h': usage(stdout); return ROVE_EXIT_OK;
    default: usage(stderr); return ROVE_EXIT_USAGE;
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "rove info: expected exactly one MODEL argument\n\n");
    usage(stderr);
    return ROVE_EXIT_USAGE;
  }
  const char *path = argv[optind];
  rove_model m;
  if (rove_model_load_norm(&m, path, &norm) < 0) {
    rove_error_print(stderr);
    return ROVE_EXIT_FAIL;
  }
  char hex[65];
  rove_model_hash_hex(&m, hex);
  if (json)
    print_json(&m, path, hex);
  else
    print_text(&m, path, hex);
  rove_model_deinit(&m);
  return ROVE_EXIT_OK;
}
