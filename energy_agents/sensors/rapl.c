/* rapl.c - RAPL powercap energy counters (µJ, wrap-aware). */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/energy_proto.h"
#include "common/err.h"
#include "energy_agents/sensor_backend.h"

/* RAPL: top-level intel-rapl:N zones named package-N (or the named zone
 * at any level). intel-rapl-mmio zones duplicate the package counter and
 * would double it, so they are dropped. */
static int find(rove_sensor *s, const char *root, const char *want) {
  char pat[ROVE_SENSOR_PATH];
  sensor__join(pat, sizeof pat, root, "/sys/class/powercap/intel-rapl*");
  glob_t g;
  if (glob(pat, 0, NULL, &g) != 0)
    return 0;
  size_t k = (size_t)snprintf(s->name, sizeof s->name, "rapl:");
  int found = 0;
  for (size_t i = 0; i < g.gl_pathc; i++) {
    const char *p = g.gl_pathv[i];
    const char *base = strrchr(p, '/') + 1;
    if (!strncmp(base, "intel-rapl-mmio", 15) || !strcmp(base, "intel-rapl"))
      continue;
    int depth = 0;
    for (const char *c = base; *c; c++)
      depth += *c == ':';
    char f[ROVE_SENSOR_PATH + 32], name[64], e[ROVE_SENSOR_PATH + 32];
    snprintf(f, sizeof f, "%s/name", p);
    if (sensor__read_text(f, name, sizeof name))
      continue;
    if (want ? strcmp(name, want) != 0
             : (depth != 1 || strncmp(name, "package", 7) != 0))
      continue;
    double range = 0;
    snprintf(f, sizeof f, "%s/max_energy_range_uj", p);
    int er = sensor__read_number(f, &range);
    snprintf(e, sizeof e, "%s/energy_uj", p);
    found++;
    if (er != 0)
      range = 0; /* unknown: a backwards step is then a reset */
    sensor__add_ch(s, name, e, NULL, 1e-6, range > 0 ? range * 1e-6 : 0);
    if (k < sizeof s->name)
      k += (size_t)snprintf(s->name + k, sizeof s->name - k, "%s%s",
                            found > 1 ? "+" : "", name);
  }
  globfree(&g);
  if (!found)
    return 0;
  s->kind = ROVE_SENSOR_ENERGY;
  s->scope = ROVE_SCOPE_CPU_PACKAGE;
  return 1;
}

const rove_sensor_ops rove_sensor_rapl = {
    .name = "rapl",
    .usage = "rapl[:ZONE]",
    .help = "RAPL powercap, default every package-* zone",
    .find = find};
