/* estimate.c - no sensor: energy from MACs and bytes moved (Horowitz,
 * ISSCC 2014, 45 nm), always labelled scope "estimate". The fallback of
 * "auto" when no device is found. */
#include <stdio.h>

#include "common/energy_proto.h"
#include "energy_agents/sensor_backend.h"

static int find(rove_sensor *s, const char *root, const char *arg) {
  (void)root;
  (void)arg;
  s->kind = ROVE_SENSOR_ESTIMATE;
  s->scope = ROVE_SCOPE_ESTIMATE;
  snprintf(s->name, sizeof s->name, "estimate:horowitz-45nm");
  return 1;
}

const rove_sensor_ops rove_sensor_estimate = {
    .name = "estimate",
    .usage = "estimate",
    .help = "analytical estimate (labelled scope \"estimate\")",
    .flags = ROVE_SENSORF_NOT_AUTO | ROVE_SENSORF_NO_ARG,
    .find = find};
