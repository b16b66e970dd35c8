/* hub_cmd.c - `rove hub`: runs the energy hub alone for given models and
 * boards, journaling to DIR and writing DIR/energy.csv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/model.h"
#include "coordinator/cli.h"
#include "coordinator/hub.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: rove hub --token-file FILE --dir DIR --board NAME...\n"
          "                [--listen HOST:PORT] [--port-file FILE] [--quick]\n"
          "                [--batch N] [--timeout S] MODEL...\n\n"
          "Runs the energy hub without a sweep: asks every rove-agent of each\n"
          "--board class to measure each MODEL, journals results to\n"
          "DIR/energy.journal (a re-run skips what is there) and writes\n"
          "DIR/energy.csv. Exits 0 when every model was measured, 1 when\n"
          "--timeout passed first.\n\n"
          "  --listen HOST:PORT  address to listen on (default 127.0.0.1:0)\n"
          "  --port-file FILE    write the bound port there (for port 0)\n"
          "  --quick             the short test protocol\n");
}

int rove_cmd_hub(int argc, char **argv) {
  rove_hub_config cfg;
  rove_hub_config_default(&cfg);
  const char *boards[16], *models[256], *port_file = NULL;
  int nb = 0, nm = 0, quick = 0;
  long batch = 1;
  double timeout = 0;
  int have_token = 0, have_dir = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return ROVE_EXIT_OK;
    }
    if (!strcmp(a, "--quick")) {
      quick = 1;
      continue;
    }
    if (a[0] != '-') {
      if (nm < 256)
        models[nm++] = a;
      continue;
    }
    if (!v) {
      fprintf(stderr, "rove hub: %s needs a value\n", a);
      return ROVE_EXIT_USAGE;
    }
    i++;
    if (!strcmp(a, "--token-file")) {
      snprintf(cfg.token_file, sizeof cfg.token_file, "%s", v);
      have_token = 1;
    } else if (!strcmp(a, "--dir")) {
      snprintf(cfg.dir, sizeof cfg.dir, "%s", v);
      have_dir = 1;
    } else if (!strcmp(a, "--board") && nb < 16) {
      boards[nb++] = v;
    } else if (!strcmp(a, "--port-file")) {
      port_file = v;
    } else if (!strcmp(a, "--timeout")) {
      timeout = atof(v);
    } else if (!strcmp(a, "--batch")) {
      batch = atol(v);
      if (batch < 1 || batch > 65536) {
        fprintf(stderr, "rove hub: --batch %s: expected 1..65536\n", v);
        return ROVE_EXIT_USAGE;
      }
    } else if (!strcmp(a, "--listen")) {
      const char *c = strrchr(v, ':');
      char *end;
      long port = c ? strtol(c + 1, &end, 10) : -1;
      if (!c || *end || port < 0 || port > 65535 ||
          (size_t)(c - v) >= sizeof cfg.host) {
        fprintf(stderr, "rove hub: --listen %s: expected HOST:PORT\n", v);
        return ROVE_EXIT_USAGE;
      }
      memcpy(cfg.host, v, (size_t)(c - v));
      cfg.host[c - v] = 0;
      cfg.port = (int)port;
    } else {
      fprintf(stderr, "rove hub: unknown option %s\n", a);
      usage(stderr);
      return ROVE_EXIT_USAGE;
    }
  }
  if (!have_token || !have_dir || nb == 0 || nm == 0) {
    fprintf(stderr, "rove hub: --token-file, --dir, --board and a model are "
                    "required\n");
    usage(stderr);
    return ROVE_EXIT_USAGE;
  }
  if (quick)
    rove_ep_mconf_quick(&cfg.conf);
  cfg.conf.batch = (uint32_t)batch;
  unsigned char(*hashes)[32] = calloc((size_t)nm, 32);
  rove_hub h;
  int rc = rove_hub_init(&h, &cfg);
  if (rc < 0 || !hashes) {
    free(hashes);
    rove_error_print(stderr);
    return ROVE_EXIT_FAIL;
  }
  for (int i = 0; i < nm && rc == 0; i++) {
    rove_model m;
    unsigned char *bytes = NULL;
    size_t len = 0;
    rc = rove_model_load(&m, models[i]);
    if (rc < 0)
      break;
    memcpy(hashes[i], m.hash, 32);
    rove_model_deinit(&m);
    rc = rove_file_read(models[i], "model file", &bytes, &len);
    for (int b = 0; b < nb && rc == 0; b++)
      rc = rove_hub_add_model(&h, boards[b], models[i], hashes[i], bytes, len,
                              "synthetic", NULL, 0);
    free(bytes);
  }
  if (rc < 0) {
    rove_error_print(stderr);
    rove_hub_deinit(&h);
    free(hashes);
    return ROVE_EXIT_FAIL;
  }
  fprintf(stderr, "rove hub: listening on %s:%d\n", cfg.host,
          rove_hub_port(&h));
  if (port_file) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (f) {
      fprintf(f, "%d\n", rove_hub_port(&h));
      fclose(f);
      rename(tmp, port_file);
    }
  }
  size_t left = rove_hub_run(&h, timeout);
  /* the per-model table with the join's energy columns */
  char path[1100];
  snprintf(path, sizeof path, "%s/energy.csv", cfg.dir);
  FILE *f = fopen(path, "w");
  if (f) {
    fputs("model,hash,", f);
    rove_energy_csv_header(f, boards, nb);
    fputc('\n', f);
    for (int i = 0; i < nm; i++) {
      char hex[65];
      for (int k = 0; k < 32; k++)
        snprintf(hex + 2 * k, 3, "%02x", hashes[i][k]);
      fprintf(f, "\"%s\",%s,", models[i], hex);
      rove_energy_csv_row(f, rove_hub_results(&h), hashes[i], boards, nb);
      fputc('\n', f);
    }
    fclose(f);
  } else {
    fprintf(stderr, "rove hub: cannot write %s\n", path);
  }
  fprintf(stderr,
          "rove hub: %zu of %zu measurements pending; %lu agents "
          "authenticated, %lu connections dropped, %lu duplicate results\n",
          left, (size_t)nm * (size_t)nb, h.n_auth, h.n_dropped, h.n_dupes);
  rove_hub_deinit(&h);
  free(hashes);
  return left ? ROVE_EXIT_FAIL : ROVE_EXIT_OK;
}
