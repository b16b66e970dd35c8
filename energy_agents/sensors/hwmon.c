/* hwmon.c - generic hwmon power and energy sensors (INA219/226/238, ...). */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/energy_proto.h"
#include "common/err.h"
#include "energy_agents/sensor_backend.h"

/* Generic hwmon: prefers an energy counter (µJ) over power (µW). INA3221
 * devices are handled by their own back-end (they have no power file). */
static int find(rove_sensor *s, const char *root, const char *want) {
  char pat[ROVE_SENSOR_PATH];
  sensor__join(pat, sizeof pat, root, "/sys/class/hwmon/hwmon*/name");
  glob_t g;
  if (glob(pat, 0, NULL, &g) != 0)
    return 0;
  int rc = 0;
  for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
    char dir[ROVE_SENSOR_PATH], name[64], f[ROVE_SENSOR_PATH + 32];
    if (sensor__path_dir(g.gl_pathv[i], dir, sizeof dir) ||
        sensor__read_text(g.gl_pathv[i], name, sizeof name))
      continue;
    if (want ? strcmp(name, want) != 0 : !strcmp(name, "ina3221"))
      continue;
    const char *kinds[2] = {"energy", "power"};
    for (int kd = 0; kd < 2 && !rc; kd++) {
      char p2[ROVE_SENSOR_PATH + 32];
      snprintf(p2, sizeof p2, "%s/%s*_input", dir, kinds[kd]);
      glob_t g2;
      if (glob(p2, 0, NULL, &g2) != 0)
        continue;
      /* one channel: the first, which is the device's total */
      const char *file = g2.gl_pathv[0];
      char label[64];
      int num = 1;
      sscanf(strrchr(file, '/') + 1 + strlen(kinds[kd]), "%d", &num);
      snprintf(f, sizeof f, "%s/%s%d_label", dir, kinds[kd], num);
      if (sensor__read_text(f, label, sizeof label))
        snprintf(label, sizeof label, "%s%d", kinds[kd], num);
      sensor__add_ch(s, label, file, NULL, 1e-6, 0);
      s->kind = kd == 0 ? ROVE_SENSOR_ENERGY : ROVE_SENSOR_POWER;
      s->scope = ROVE_SCOPE_SENSOR;
      snprintf(s->name, sizeof s->name, "hwmon:%.40s:%.60s", name, label);
      snprintf(f, sizeof f, "%s/update_interval", dir);
      double ms;
      if (sensor__read_number(f, &ms) == 0 && ms > 0)
        s->update_interval_s = ms * 1e-3;
      globfree(&g2);
      rc = 1;
    }
  }
  globfree(&g);
  return rc;
}

const rove_sensor_ops rove_sensor_hwmon = {
    .name = "hwmon",
    .usage = "hwmon[:NAME]",
    .help = "generic hwmon power*_input / energy*_input",
    .find = find};
