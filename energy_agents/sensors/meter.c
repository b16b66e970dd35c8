/* meter.c - an external meter: a command (sh -c) printing one reading in
 * watts per line; the sampler takes one sample per line. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/energy_proto.h"
#include "common/err.h"
#include "energy_agents/sensor_backend.h"

typedef struct meter_state {
  char cmd[256];
  int fd, pid;
  char line[128];
  size_t len;
} meter_state;

static int start(meter_state *m) {
  int fds[2];
  if (pipe(fds) != 0)
    return ROVE_ERR(ROVE_EIO, "meter: pipe: %s", strerror(errno));
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return ROVE_ERR(ROVE_EIO, "meter: fork: %s", strerror(errno));
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl("/bin/sh", "sh", "-c", m->cmd, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFD, FD_CLOEXEC);
  m->fd = fds[0];
  m->pid = (int)pid;
  return 0;
}

static int read_meter(rove_sensor *s, double timeout_s, double *v, double *t) {
  meter_state *m = s->priv;
  double end = rove_now() + timeout_s;
  for (;;) {
    char *nl = memchr(m->line, '\n', m->len);
    if (nl) {
      *nl = 0;
      *t = rove_now();
      char *e;
      double x = strtod(m->line, &e);
      int ok = e != m->line && isfinite(x);
      while (ok && *e && isspace((unsigned char)*e))
        e++;
      ok = ok && !*e;
      char bad[64];
      snprintf(bad, sizeof bad, "%.60s", m->line);
      size_t used = (size_t)(nl - m->line) + 1;
      memmove(m->line, nl + 1, m->len - used);
      m->len -= used;
      if (!ok)
        return ROVE_ERR(ROVE_EFORMAT,
                        "meter \"%s\": line \"%s\": expected one reading in "
                        "watts",
                        m->cmd, bad);
      *v = x;
      return 0;
    }
    if (m->len >= sizeof m->line - 1)
      return ROVE_ERR(ROVE_EFORMAT, "meter \"%s\": line longer than %zu bytes",
                      m->cmd, sizeof m->line - 1);
    double left = end - rove_now();
    if (left <= 0)
      return ROVE_ERR(ROVE_ERANGE, "meter \"%s\": no reading for %.1f s",
                      m->cmd, timeout_s);
    struct pollfd p = {m->fd, POLLIN, 0};
    int pr = poll(&p, 1, (int)(left * 1000) + 1);
    if (pr < 0 && errno != EINTR)
      return ROVE_ERR(ROVE_EIO, "meter: poll: %s", strerror(errno));
    if (pr <= 0)
      continue;
    ssize_t n = read(m->fd, m->line + m->len, sizeof m->line - 1 - m->len);
    if (n == 0)
      return ROVE_ERR(ROVE_EIO, "meter \"%s\": the command exited", m->cmd);
    if (n < 0 && errno != EINTR)
      return ROVE_ERR(ROVE_EIO, "meter: read: %s", strerror(errno));
    if (n > 0)
      m->len += (size_t)n;
  }
}

static void deinit(rove_sensor *s) {
  meter_state *m = s->priv;
  if (!m)
    return;
  if (m->fd >= 0)
    close(m->fd);
  if (m->pid > 0) {
    kill((pid_t)m->pid, SIGTERM);
    waitpid((pid_t)m->pid, NULL, 0);
  }
  free(m);
  s->priv = NULL;
}

static int find(rove_sensor *s, const char *root, const char *arg) {
  (void)root;
  if (!arg)
    return ROVE_ERR(ROVE_EINVAL,
                    "--sensor meter:COMMAND: the command is missing");
  meter_state *m = calloc(1, sizeof *m);
  if (!m)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory");
  m->fd = -1;
  s->priv = m;
  snprintf(m->cmd, sizeof m->cmd, "%s", arg);
  s->kind = ROVE_SENSOR_POWER;
  s->scope = ROVE_SCOPE_EXTERNAL;
  snprintf(s->name, sizeof s->name, "meter:%.120s", arg);
  ROVE_TRY(start(m));
  return 1;
}

const rove_sensor_ops rove_sensor_meter = {
    .name = "meter",
    .usage = "meter:COMMAND",
    .help = "run COMMAND (sh -c), one reading in watts per line",
    .flags = ROVE_SENSORF_SELF_PACED | ROVE_SENSORF_NOT_AUTO,
    .find = find,
    .read = read_meter,
    .deinit = deinit};
