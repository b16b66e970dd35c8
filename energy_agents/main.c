/* main.c - rove-agent: measures inference energy on a board and reports to the
 * sweep's energy hub (or prints it: `measure`). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/data.h"
#include "common/energy_proto.h"
#include "common/err.h"
#include "common/fileio.h"
#include "common/model.h"
#include "energy_agents/client.h"
#include "energy_agents/sensor.h"
#include "energy_agents/sensor_backend.h"
#include "energy_agents/workload.h"

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: rove-agent --hub HOST:PORT --token-file FILE [--board NAME]\n"
      "                  [--sensor auto|SPEC] [--sysfs-root DIR] [--quick]\n"
      "                  [--agent-id ID] [--backoff-max S]\n"
      "       rove-agent measure MODEL... [--sensor SPEC] [--sysfs-root DIR]\n"
      "                  [--quick] [--batch N] [--inputs FILE.f32|DATASET] "
      "[--json]\n"
      "       rove-agent sensors [--sensor SPEC] [--sysfs-root DIR]\n\n"
      "Sensor specs (energy_agents/sensors.def):\n"
      "  %-18s the first back-end below that finds a device, else estimate\n",
      "auto");
  int n;
  const rove_sensor_ops *const *b = rove_sensor_backends(&n);
  for (int i = 0; i < n; i++)
    fprintf(f, "  %-18s %s\n", b[i]->usage, b[i]->help);
  fprintf(f, "See energy_agents/README.md.\n");
}

static int parse_hostport(const char *s, char *host, size_t cap, int *port) {
  const char *c = strrchr(s, ':');
  if (!c || c == s || (size_t)(c - s) >= cap)
    return -1;
  char *end;
  long p = strtol(c + 1, &end, 10);
  if (*end || p < 1 || p > 65535)
    return -1;
  memcpy(host, s, (size_t)(c - s));
  host[c - s] = 0;
  if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1]:port */
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = 0;
  }
  *port = (int)p;
  return 0;
}

static void json_num(const char *k, double v, int comma) {
  if (isfinite(v))
    printf("  \"%s\": %.9g%s\n", k, v, comma ? "," : "");
  else
    printf("  \"%s\": null%s\n", k, comma ? "," : "");
}

/* JSON string without escapes beyond the few that can occur in names and
 * reasons. */
static void json_str(const char *k, const char *v, int comma) {
  printf("  \"%s\": \"", k);
  for (const char *c = v; *c; c++) {
    if (*c == '"' || *c == '\\')
      printf("\\%c", *c);
    else if ((unsigned char)*c < 0x20)
      printf("\\u%04x", *c);
    else
      putchar(*c);
  }
  printf("\"%s\n", comma ? "," : "");
}

static void print_result(const rove_energy_result *r, int json) {
  char flags[256];
  rove_energy_flags_str(r->flags, flags, sizeof flags);
  if (json) {
    printf("{\n");
    json_str("model", r->model_name, 1);
    json_str("sensor", r->sensor, 1);
    json_str("scope", rove_energy_scope_name(r->scope), 1);
    json_str("status", rove_energy_status_name(r->status), 1);
    json_str("reason", r->reason, 1);
    json_str("input_set", r->input_set, 1);
    json_num("batch", r->batch, 1);
    json_num("power_w", r->power_w, 1);
    json_num("idle_power_w", r->idle_power_w, 1);
    json_num("idle_before_w", r->idle_before_w, 1);
    json_num("idle_after_w", r->idle_after_w, 1);
    json_num("energy_per_inference_j", r->energy_j, 1);
    json_num("energy_per_inference_dynamic_j", r->energy_dyn_j, 1);
    json_num("ci95_lo_j", r->ci_lo_j, 1);
    json_num("ci95_hi_j", r->ci_hi_j, 1);
    json_num("cv", r->cv, 1);
    json_num("latency_s", r->latency_p50_s, 1);
    json_num("latency_p99_s", r->latency_p99_s, 1);
    json_num("trials", r->n_trials, 1);
    json_num("inferences", (double)r->n_inferences, 1);
    json_num("samples", (double)r->n_samples, 1);
    json_num("sample_period_s", r->sample_period_s, 1);
    json_num("jitter_s", r->jitter_s, 1);
    json_str("flags", flags, 1);
    printf("  \"valid\": %s\n}\n",
           rove_energy_result_valid(r) ? "true" : "false");
    return;
  }
  printf("%s: %s [%s, %s]\n", r->model_name, rove_energy_status_name(r->status),
         r->sensor, rove_energy_scope_name(r->scope));
  if (r->status != ROVE_ER_OK) {
    printf("  reason: %s\n", r->reason);
    return;
  }
  printf("  energy/inference %.6g J (95%% CI %.6g .. %.6g), above idle %.6g "
         "J\n",
         r->energy_j, r->ci_lo_j, r->ci_hi_j, r->energy_dyn_j);
  printf("  power %.4g W, idle %.4g W (before %.4g, after %.4g)\n", r->power_w,
         r->idle_power_w, r->idle_before_w, r->idle_after_w);
  printf("  latency p50 %.4g s, p99 %.4g s (batch %u), CV %.3g, %u trials, "
         "%llu samples, jitter %.3g s\n",
         r->latency_p50_s, r->latency_p99_s, r->batch, r->cv, r->n_trials,
         (unsigned long long)r->n_samples, r->jitter_s);
  printf("  flags: %s; valid: %s\n", flags[0] ? flags : "none",
         rove_energy_result_valid(r) ? "yes" : "no");
}

/* --inputs: a raw float32 file (the examples back to back, as the hub
 * sends them), or a dataset spec (cifar10:test[0:64], npy:..., folder:...,
 * common/DATA.md) whose pixels are sent the same way. */
static int read_inputs(const char *arg, unsigned char **buf, size_t *len) {
  struct stat st;
  if (stat(arg, &st) == 0 || !strchr(arg, ':'))
    return rove_file_read(arg, "input set", buf, len);
  rove_dataset d;
  ROVE_TRY(rove_dataset_load(&d, arg));
  *len = (size_t)d.n * (size_t)rove_shape_numel(&d.shape) * sizeof(float);
  *buf = (unsigned char *)d.x;
  d.x = NULL;
  rove_dataset_deinit(&d);
  return 0;
}

static int cmd_measure(int argc, char **argv) {
  const char *sensor = "auto", *root = "", *inputs = NULL;
  int quick = 0, json = 0;
  long batch = 1;
  const char *models[64];
  int nm = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--sensor") && i + 1 < argc)
      sensor = argv[++i];
    else if (!strcmp(a, "--sysfs-root") && i + 1 < argc)
      root = argv[++i];
    else if (!strcmp(a, "--inputs") && i + 1 < argc)
      inputs = argv[++i];
    else if (!strcmp(a, "--batch") && i + 1 < argc) {
      char *e;
      batch = strtol(argv[++i], &e, 10);
      if (*e || batch < 1 || batch > 65536) {
        fprintf(stderr, "rove-agent: --batch %s: expected 1..65536\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(a, "--quick"))
      quick = 1;
    else if (!strcmp(a, "--json"))
      json = 1;
    else if (a[0] == '-') {
      fprintf(stderr, "rove-agent measure: unknown option %s\n", a);
      usage(stderr);
      return 2;
    } else if (nm < 64)
      models[nm++] = a;
  }
  if (nm == 0) {
    fprintf(stderr, "rove-agent measure: no model given\n");
    return 2;
  }
  unsigned char *in = NULL, *mb[64] = {0};
  size_t in_len = 0;
  rove_ep_request q[64];
  int rc = 0;
  if (inputs && (rc = read_inputs(inputs, &in, &in_len)) < 0)
    goto fail;
  for (int i = 0; i < nm; i++) {
    size_t len;
    if ((rc = rove_file_read(models[i], "model file", &mb[i], &len)) < 0)
      goto fail;
    memset(&q[i], 0, sizeof q[i]);
    /* the join key is the content hash, which needs the decoded model */
    rove_model m;
    if ((rc = rove_model_load(&m, models[i])) < 0)
      goto fail;
    memcpy(q[i].model_hash, m.hash, 32);
    rove_model_deinit(&m);
    snprintf(q[i].model_name, sizeof q[i].model_name, "%s", models[i]);
    snprintf(q[i].input_set, sizeof q[i].input_set, "%s",
             inputs ? inputs : "synthetic");
    if (quick)
      rove_ep_mconf_quick(&q[i].conf);
    else
      rove_ep_mconf_default(&q[i].conf);
    q[i].conf.batch = (uint32_t)batch;
    q[i].model = mb[i];
    q[i].model_len = (uint32_t)len;
    q[i].inputs = in;
    q[i].inputs_len = (uint32_t)in_len;
  }
  rove_energy_result res[64];
  if ((rc = rove_agent_measure(root, sensor, quick, q, nm, res)) < 0)
    goto fail;
  int bad = 0;
  for (int i = 0; i < nm; i++) {
    print_result(&res[i], json);
    bad |= res[i].status != ROVE_ER_OK;
  }
  for (int i = 0; i < nm; i++)
    free(mb[i]);
  free(in);
  return bad ? 1 : 0;
fail:
  rove_error_print(stderr);
  for (int i = 0; i < nm; i++)
    free(mb[i]);
  free(in);
  return rc == ROVE_EINVAL ? 2 : 1;
}

static int cmd_sensors(int argc, char **argv) {
  const char *sensor = "auto", *root = "";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sensor") && i + 1 < argc)
      sensor = argv[++i];
    else if (!strcmp(argv[i], "--sysfs-root") && i + 1 < argc)
      root = argv[++i];
    else {
      usage(stderr);
      return 2;
    }
  }
  rove_sensor s;
  if (rove_sensor_open(&s, root, sensor) < 0) {
    rove_error_print(stderr);
    return 2;
  }
  printf("sensor %s, scope %s\n", s.name, rove_energy_scope_name(s.scope));
  for (int i = 0; i < s.n_ch; i++)
    printf("  %s: %s%s%s\n", s.ch[i].label, s.ch[i].path_a,
           s.ch[i].path_b[0] ? " x " : "", s.ch[i].path_b);
  if (s.reason[0])
    printf("unmeasurable: %s\n", s.reason);
  else if (s.kind != ROVE_SENSOR_ESTIMATE) {
    double v, t;
    if (rove_sensor_read(&s, 2, &v, &t) == 0)
      printf("reading: %.6g %s\n", v, s.kind == ROVE_SENSOR_ENERGY ? "J" : "W");
  }
  int un = s.reason[0] != 0;
  rove_sensor_deinit(&s);
  return un ? 1 : 0;
}

int main(int argc, char **argv) {
  /* one BLAS thread: the board's energy per inference is measured for a
   * defined configuration, and threading tall-skinny GEMMs rarely helps */
  if (!getenv("OPENBLAS_NUM_THREADS"))
    openblas_set_num_threads(1);
  if (argc >= 2 && !strcmp(argv[1], "measure"))
    return cmd_measure(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "sensors"))
    return cmd_sensors(argc - 1, argv + 1);
  rove_agent_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  snprintf(cfg.board, sizeof cfg.board, "default");
  snprintf(cfg.sensor, sizeof cfg.sensor, "auto");
  cfg.backoff_max_s = 10;
  const char *hub = NULL, *token = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--quick")) {
      cfg.quick = 1;
      continue;
    } else if (!v) {
      fprintf(stderr, "rove-agent: %s: unknown option or missing value\n", a);
      usage(stderr);
      return 2;
    }
    i++;
    if (!strcmp(a, "--hub"))
      hub = v;
    else if (!strcmp(a, "--token-file"))
      token = v;
    else if (!strcmp(a, "--board"))
      snprintf(cfg.board, sizeof cfg.board, "%s", v);
    else if (!strcmp(a, "--agent-id"))
      snprintf(cfg.agent_id, sizeof cfg.agent_id, "%s", v);
    else if (!strcmp(a, "--sensor"))
      snprintf(cfg.sensor, sizeof cfg.sensor, "%s", v);
    else if (!strcmp(a, "--sysfs-root"))
      snprintf(cfg.sysfs_root, sizeof cfg.sysfs_root, "%s", v);
    else if (!strcmp(a, "--backoff-max")) {
      cfg.backoff_max_s = atof(v);
      if (!(cfg.backoff_max_s >= 0.1 && cfg.backoff_max_s <= 3600)) {
        fprintf(stderr, "rove-agent: --backoff-max %s: expected 0.1..3600\n",
                v);
        return 2;
      }
    } else {
      fprintf(stderr, "rove-agent: unknown option %s\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (!hub || !token) {
    fprintf(stderr, "rove-agent: --hub HOST:PORT and --token-file are "
                    "required\n");
    usage(stderr);
    return 2;
  }
  if (parse_hostport(hub, cfg.host, sizeof cfg.host, &cfg.port) < 0) {
    fprintf(stderr, "rove-agent: --hub %s: expected HOST:PORT\n", hub);
    return 2;
  }
  if (rove_ep_token_load(&cfg.token, token) < 0) {
    rove_error_print(stderr);
    return 2;
  }
  if (rove_agent_run(&cfg) < 0) {
    rove_error_print(stderr);
    return 1;
  }
  return 0;
}
