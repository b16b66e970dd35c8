/* cmd_certify.c - `rove certify`: certified robust accuracy (a lower bound,
 * proved by bound propagation) at each eps, beside the clean accuracy. */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/certify/certify.h"
#include "common/data.h"
#include "common/err.h"
#include "common/eval.h"
#include "common/model.h"
#include "common/util.h"
#include "coordinator/cli.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: rove certify MODEL --eps E[,E2,...] [--norm linf|l2]\n"
          "                    [--method ibp|crown|best] [--data SPEC] [--n "
          "N] [--json]\n\n"
          "Certified robust accuracy of a model (.rove or ONNX): the share of\n"
          "examples for which bound propagation proves that no input in the\n"
          "ball changes the prediction. It is a lower bound on the true\n"
          "robust accuracy, where every attack gives an upper bound\n"
          "(common/certify/README.md).\n\n"
          "  --eps E[,E2,...]  radii (L-inf: in [0, 1])\n"
          "  --norm N          linf (default) or l2\n"
          "  --method M        ibp, crown or best (default: both, each\n"
          "                    margin's larger bound)\n"
          "  --data SPEC       dataset (default fashion-mnist:test)\n"
          "  --n N             first N examples (default 100)\n"
          "  --json            print one JSON object\n" ROVE_CLI_NORM_USAGE
          "  -h, --help        this text\n");
}

typedef struct cert_opts {
  const char *model, *data;
  double eps[64];
  int n_eps, n, json, method, linf;
  rove_norm norm;
} cert_opts;

static int run(const cert_opts *o) {
  rove_model m;
  rove_dataset d;
  memset(&d, 0, sizeof d);
  ROVE_TRY(rove_model_load_norm(&m, o->model, &o->norm));
  int rc = rove_dataset_load(&d, o->data);
  if (rc == 0)
    rc = rove_dataset_check_model(&d, &m, o->model);
  if (rc < 0)
    goto out;
  int n = o->n < d.n ? o->n : d.n;
  rove_cert_opts co = {o->method, o->linf, 0};
  long *cert = calloc((size_t)o->n_eps, sizeof *cert);
  double *ms = calloc((size_t)o->n_eps, sizeof *ms);
  long clean = 0;
  if (!cert || !ms) {
    free(cert);
    free(ms);
    rc = ROVE_ERR(ROVE_ENOMEM, "out of memory");
    goto out;
  }
  int ord[64];
  long tried[64] = {0};
  rove_eps_ascending(o->eps, o->n_eps, ord);
  for (int i = 0; i < n && rc == 0; i++) {
    /* A clean-wrong example costs nothing more; one not certified at an
     * eps is not certified at a larger one (the bounds only widen: the
     * nested-ball rule of the attacks, rove_break_carries). */
    for (int k = 0; k < o->n_eps && rc == 0; k++) {
      int e = ord[k];
      rove_cert_result r;
      rc = rove_certify(&m, rove_dataset_x(&d, i), d.y[i], o->eps[e], &co, &r,
                        NULL);
      if (rc < 0)
        break;
      if (k == 0)
        clean += r.clean_ok;
      ms[e] += r.ms;
      tried[e]++;
      cert[e] += r.certified;
      if (!r.certified)
        break;
    }
  }
  if (rc == 0) {
    char hex[65];
    rove_model_hash_hex(&m, hex);
    if (o->json) {
      printf("{\"model\": ");
      rove_json_str(stdout, o->model);
      printf(", \"hash\": \"%s\", \"data\": ", hex);
      rove_json_str(stdout, d.spec);
      printf(", \"n\": %d, \"norm\": \"%s\", \"method\": \"%s\", "
             "\"clean_acc\": %.6f, \"results\": [",
             n, o->linf ? "linf" : "l2", rove_cert_method_name(o->method),
             (double)clean / n);
      for (int e = 0; e < o->n_eps; e++)
        printf("%s{\"eps\": %.17g, \"certified\": %ld, \"certified_acc\": "
               "%.6f, \"ms_total\": %.3f}",
               e ? ", " : "", o->eps[e], cert[e], (double)cert[e] / n, ms[e]);
      printf("]}\n");
    } else {
      printf("model:    %s (%.16s)\n", o->model, hex);
      printf("data:     %s, %d examples; %s, %s\n", d.spec, n,
             o->linf ? "L-inf" : "L2", rove_cert_method_name(o->method));
      printf("clean:    %.4f (%ld/%d)\n", (double)clean / n, clean, n);
      printf("%10s  %10s  %12s  %14s\n", "eps", "certified", "", "ms/example");
      for (int e = 0; e < o->n_eps; e++)
        printf("%10.6g  %10.4f  %5ld/%-6d  %14.3f\n", o->eps[e],
               (double)cert[e] / n, cert[e], n,
               tried[e] > 0 ? ms[e] / (double)tried[e] : 0.0);
    }
  }
  free(cert);
  free(ms);
out:
  rove_dataset_deinit(&d);
  rove_model_deinit(&m);
  ROVE_TRY(rc);
  return 0;
}

int rove_cmd_certify(int argc, char **argv) {
  static const struct option opts[] = {{"eps", required_argument, NULL, 'e'},
                                       {"norm", required_argument, NULL, 'N'},
                                       {"method", required_argument, NULL, 'M'},
                                       {"data", required_argument, NULL, 'd'},
                                       {"n", required_argument, NULL, 'n'},
                                       {"json", no_argument, NULL, 'j'},
                                       ROVE_CLI_NORM_OPTIONS,
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  cert_opts o;
  memset(&o, 0, sizeof o);
  o.data = "fashion-mnist:test";
  o.n = 100;
  o.method = ROVE_CERT_BEST;
  o.linf = 1;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    int nr = rove_cli_norm_opt("rove certify", c, optarg, &o.norm);
    if (nr == 2)
      return ROVE_EXIT_USAGE;
    if (nr)
      continue;
    switch (c) {
    case 'e':
      /* L2 radii may exceed 1; rove_certify checks L-inf's bound. */
      if (rove_cli_parse_eps("rove certify", optarg, INFINITY, o.eps, 64,
                             &o.n_eps) < 0)
        return ROVE_EXIT_USAGE;
      break;
    case 'N':
      if (strcmp(optarg, "linf") && strcmp(optarg, "l2")) {
        fprintf(stderr, "rove certify: --norm '%s': expected linf or l2\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      o.linf = !strcmp(optarg, "linf");
      break;
    case 'M':
      if ((o.method = rove_cert_method_find(optarg)) < 0) {
        fprintf(stderr,
                "rove certify: --method '%s': expected ibp, crown or best\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      break;
    case 'd': o.data = optarg; break;
    case 'n':
      if (rove_parse_int(optarg, 1, INT_MAX, &o.n) < 0) {
        fprintf(stderr, "rove certify: --n '%s': expected a positive integer\n",
                optarg);
        return ROVE_EXIT_USAGE;
      }
      break;
    case 'j': o.json = 1; break;
    case 'h': usage(stdout); return ROVE_EXIT_OK;
    default: usage(stderr); return ROVE_EXIT_USAGE;
    }
  }
  if (argc - optind != 1 || o.n_eps == 0) {
    fprintf(stderr, "rove certify: expected one MODEL and --eps\n\n");
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
