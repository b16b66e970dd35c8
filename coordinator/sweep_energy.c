/* sweep_energy.c - the sweep's energy hub: which boards measure which
 * models, and starting the hub that the agents connect to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/sweep_wire.h"
#include "coordinator/sweep_internal.h"

static int add_board(coord *c, const char *b, size_t len) {
  while (len > 0 && (*b == ' ' || *b == '\t'))
    b++, len--;
  while (len > 0 && (b[len - 1] == ' ' || b[len - 1] == '\t'))
    len--;
  if (len == 0)
    return 0;
  for (int i = 0; i < c->n_boards; i++)
    if (strlen(c->boards[i]) == len && !strncmp(c->boards[i], b, len))
      return 0;
  char **nb = realloc(c->boards, (size_t)(c->n_boards + 1) * sizeof *nb);
  if (!nb)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  c->boards = nb;
  if (!(c->boards[c->n_boards] = strndup(b, len)))
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  c->n_boards++;
  return 0;
}

/* [energy]: start the hub and ask each board class to measure each model
 * (a model's `board` key, else every board in [energy] boards). */
int sweep__start_energy(coord *c) {
  const rove_job *j = &c->su.job;
  if (!j->energy)
    return 0;
  const char *all = j->energy_boards ? j->energy_boards : "";
  for (const char *p = all;;) {
    const char *e = strchr(p, ',');
    ROVE_TRY(add_board(c, p, e ? (size_t)(e - p) : strlen(p)));
    if (!e)
      break;
    p = e + 1;
  }
  int n_listed = c->n_boards;
  for (int m = 0; m < j->n_models; m++)
    if (j->models[m].board)
      ROVE_TRY(add_board(c, j->models[m].board, strlen(j->models[m].board)));
  if (c->n_boards == 0)
    return rove_ini_error(ROVE_EINVAL, &j->ini, j->energy, NULL,
                          "no board to measure on: set boards = ... here or "
                          "board = ... in a [model] section");
  if (!j->energy_token_file)
    return rove_ini_error(ROVE_EINVAL, &j->ini, j->energy, NULL,
                          "missing required key 'token' (the shared token "
                          "file the agents also use)");
  rove_hub_config cfg;
  rove_hub_config_default(&cfg);
  snprintf(cfg.host, sizeof cfg.host, "%s", j->energy_listen);
  cfg.port = (int)j->energy_port;
  snprintf(cfg.token_file, sizeof cfg.token_file, "%s", j->energy_token_file);
  size_t dl = strlen(c->dir);
  if (dl >= sizeof cfg.dir)
    return ROVE_ERR(ROVE_ERANGE, "%s: output path too long for the energy hub",
                    c->dir);
  memcpy(cfg.dir, c->dir, dl + 1);
  cfg.quiet = c->o->quiet;
  int rc = rove_hub_init(&c->hub, &cfg);
  if (rc) {
    char why[512];
    snprintf(why, sizeof why, "%s", rove_error_message());
    return rove_ini_error(rc, &j->ini, j->energy, NULL,
                          "cannot start the energy hub: %s", why);
  }
  c->hub_on = 1;
  for (int m = 0; m < j->n_models; m++) {
    if (!c->su.loaded[m])
      continue;
    /* The agents get the same .rove image the workers do: decode it
     * from the MODEL message rather than re-encoding the model. */
    const rove_wbuf *mm = &c->model_msg[m];
    rove_rbuf r;
    rove_rbuf_init(&r, mm->data, mm->len);
    unsigned char hash[32];
    const void *img;
    size_t img_len;
    ROVE_TRY(rove_sw_get_model(&r, hash, &img, &img_len));
    for (int b = 0; b < c->n_boards; b++) {
      if (j->models[m].board ? strcmp(j->models[m].board, c->boards[b]) != 0
                             : b >= n_listed)
        continue;
      ROVE_TRY(rove_hub_add_model(&c->hub, c->boards[b], j->models[m].name,
                                  hash, img, img_len, "clean", NULL, 0));
    }
  }
  return 0;
}
