/* ina3221.c - Jetson INA3221 rails, through the old L4T iio driver (mW) or
 * the JetPack >= 5 hwmon driver (mV x mA); the board total when there is
 * one, else the module rails labelled as such. */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/energy_proto.h"
#include "common/err.h"
#include "energy_agents/sensor_backend.h"

/* Old L4T iio driver: rail_name_K next to in_power_K_input (mW). */
static int find_iio(rove_sensor *s, const char *root, const char *want) {
  char pat[ROVE_SENSOR_PATH];
  sensor__join(pat, sizeof pat, root,
               "/sys/bus/i2c/drivers/ina3221x/*/iio:device*/rail_name_*");
  glob_t g;
  if (glob(pat, 0, NULL, &g) != 0)
    return 0;
  sensor__rail r[ROVE_SENSOR_MAX_CH];
  int n = 0;
  for (size_t i = 0; i < g.gl_pathc && n < ROVE_SENSOR_MAX_CH; i++) {
    const char *p = g.gl_pathv[i];
    const char *k = strrchr(p, '_') + 1;
    char dir[ROVE_SENSOR_PATH], label[64];
    if (sensor__path_dir(p, dir, sizeof dir) ||
        sensor__read_text(p, label, sizeof label))
      continue;
    if (!label[0] || strstr(label, "NC"))
      continue;
    snprintf(r[n].label, sizeof r[n].label, "%s", label);
    snprintf(r[n].a, sizeof r[n].a, "%.400s/in_power%.8s_input", dir, k);
    r[n].b[0] = 0;
    n++;
  }
  globfree(&g);
  if (n == 0)
    return 0;
  s->kind = ROVE_SENSOR_POWER;
  return sensor__choose_rails(s, "ina3221-iio", r, n, want, 1e-3) ? 1 : -1;
}

/* JetPack >= 5 hwmon driver: inK_label, inK_input (mV), currK_input (mA).
 * Channels labelled NC and the "sum of shunt voltages" channel are
 * skipped. */
static int find_hwmon_driver(rove_sensor *s, const char *root,
                             const char *want) {
  char pat[ROVE_SENSOR_PATH];
  sensor__join(pat, sizeof pat, root,
               "/sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*/in*_label");
  glob_t g;
  if (glob(pat, 0, NULL, &g) != 0)
    return 0;
  sensor__rail r[ROVE_SENSOR_MAX_CH];
  int n = 0;
  double upd = 0;
  for (size_t i = 0; i < g.gl_pathc && n < ROVE_SENSOR_MAX_CH; i++) {
    const char *p = g.gl_pathv[i];
    const char *base = strrchr(p, '/') + 1;
    int k;
    char dir[ROVE_SENSOR_PATH], label[64], tmp[ROVE_SENSOR_PATH + 32];
    if (sscanf(base, "in%d_label", &k) != 1 ||
        sensor__path_dir(p, dir, sizeof dir) ||
        sensor__read_text(p, label, sizeof label))
      continue;
    if (!label[0] || strstr(label, "NC") || sensor__has_sum(label))
      continue;
    snprintf(r[n].label, sizeof r[n].label, "%s", label);
    snprintf(r[n].a, sizeof r[n].a, "%.400s/in%d_input", dir, k);
    snprintf(r[n].b, sizeof r[n].b, "%.400s/curr%d_input", dir, k);
    snprintf(tmp, sizeof tmp, "%s/update_interval", dir);
    double ms;
    if (sensor__read_number(tmp, &ms) == 0 && ms > 0)
      upd = ms * 1e-3;
    n++;
  }
  globfree(&g);
  if (n == 0)
    return 0;
  s->kind = ROVE_SENSOR_POWER;
  s->update_interval_s = upd;
  return sensor__choose_rails(s, "ina3221-hwmon", r, n, want, 1e-6) ? 1 : -1;
}

static int find(rove_sensor *s, const char *root, const char *want) {
  int r = find_iio(s, root, want);
  return r == 0 ? find_hwmon_driver(s, root, want) : r;
}

const rove_sensor_ops rove_sensor_ina3221 = {
    .name = "ina3221",
    .usage = "ina3221[:RAIL]",
    .help = "Jetson INA3221 (iio or hwmon driver); RAIL picks one rail",
    .find = find};
