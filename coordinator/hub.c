/* hub.c - the energy hub: libuv TCP server, HMAC handshake, request hand-out
 * and re-issue, journaled exactly-once results, the summary join. */
#include "coordinator/hub.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "net/uv_send.h"

struct rove_hub_req {
  char board[64], name[128], input_set[64];
  unsigned char hash[32];
  uint64_t id;
  unsigned char *bytes, *inputs;
  size_t len, inputs_len;
  rove_hub_conn *owner; /* the agent measuring it, NULL: unassigned */
  int done;
};

struct rove_hub_conn {
  rove_hub *h;
  uv_tcp_t tcp;
  rove_ep_reader rd;
  int state; /* 0 want HELLO, 1 want AUTH, 2 authenticated */
  int closing;
  rove_ep_hello hello;
  unsigned char snonce[ROVE_EP_NONCE];
  char peer[64];
  double t_connect, t_rx;
  rove_hub_conn *next;
};

void rove_hub_config_default(rove_hub_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->host, sizeof c->host, "127.0.0.1");
  snprintf(c->dir, sizeof c->dir, ".");
  rove_ep_mconf_default(&c->conf);
  c->auth_timeout_s = 5;
  c->frame_timeout_s = 30;
  c->max_inflight = 4;
}

static double now_s(rove_hub *h) {
  return (double)uv_now(&h->loop) * 1e-3;
}

static void logf_(rove_hub *h, const char *peer, const char *what,
                  const char *detail) {
  if (!h->cfg.quiet)
    fprintf(stderr, "rove hub: %s: %s%s%s\n", peer, what, detail ? ": " : "",
            detail ? detail : "");
}

/* ---- connections ------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *hd) {
  rove_hub_conn *c = hd->data;
  rove_ep_reader_deinit(&c->rd);
  free(c);
}

/* Drops a client with a logged reason. Its requests go back to the queue,
 * so an agent killed mid-measurement costs only time. */
static void conn_drop(rove_hub_conn *c, const char *why) {
  if (c->closing)
    return;
  rove_hub *h = c->h;
  c->closing = 1;
  h->n_dropped++;
  logf_(h, c->peer, "dropped", why);
  for (size_t i = 0; i < h->n_reqs; i++)
    if (h->reqs[i].owner == c)
      h->reqs[i].owner = NULL;
  for (rove_hub_conn **p = &h->conns; *p; p = &(*p)->next)
    if (*p == c) {
      *p = c->next;
      break;
    }
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void conn_send(rove_hub_conn *c, rove_wbuf *w) {
  if (c->closing) {
    rove_wbuf_deinit(w);
    return;
  }
  if (rove_uv_send((uv_stream_t *)&c->tcp, w) < 0) {
    char why[256];
    snprintf(why, sizeof why, "%s", rove_error_message());
    rove_error_clear();
    conn_drop(c, why);
  }
}

static void send_request(rove_hub_conn *c, rove_hub_req *q) {
  rove_ep_request m;
  memset(&m, 0, sizeof m);
  m.request_id = q->id;
  memcpy(m.model_hash, q->hash, 32);
  snprintf(m.model_name, sizeof m.model_name, "%s", q->name);
  snprintf(m.input_set, sizeof m.input_set, "%s", q->input_set);
  m.conf = c->h->cfg.conf;
  m.model = q->bytes;
  m.model_len = (uint32_t)q->len;
  m.inputs = q->inputs;
  m.inputs_len = (uint32_t)q->inputs_len;
  rove_wbuf w;
  rove_wbuf_init(&w);
  if (rove_ep_encode_request(&w, &m) < 0) {
    rove_wbuf_deinit(&w);
    return;
  }
  q->owner = c;
  conn_send(c, &w);
}

/* Hands unassigned requests to authenticated agents of their board class,
 * at most max_inflight each. */
static void schedule(rove_hub *h) {
  for (rove_hub_conn *c = h->conns; c; c = c->next) {
    if (c->state != 2 || c->closing)
      continue;
    int busy = 0;
    for (size_t i = 0; i < h->n_reqs; i++)
      busy += h->reqs[i].owner == c && !h->reqs[i].done;
    for (size_t i = 0; i < h->n_reqs && busy < h->cfg.max_inflight; i++) {
      rove_hub_req *q = &h->reqs[i];
      if (q->done || q->owner || strcmp(q->board, c->hello.board))
        continue;
      send_request(c, q);
      busy++;
    }
  }
}

static rove_hub_req *find_req(rove_hub *h, uint64_t id) {
  for (size_t i = 0; i < h->n_reqs; i++)
    if (h->reqs[i].id == id)
      return &h->reqs[i];
  return NULL;
}

static int on_result(rove_hub_conn *c, const unsigned char *p, uint32_t n) {
  rove_hub *h = c->h;
  rove_energy_result r;
  ROVE_TRY(rove_ep_decode_result(p, n, &r));
  if (strcmp(r.board, c->hello.board))
    return ROVE_ERR(ROVE_EFORMAT,
                    "RESULT for board \"%s\" from an agent of board \"%s\"",
                    r.board, c->hello.board);
  rove_hub_req *q = find_req(h, r.request_id);
  if (rove_energy_table_find_id(&h->results, r.request_id)) {
    h->n_dupes++; /* a re-delivery, or two agents measured it */
  } else if (!q) {
    logf_(h, c->peer, "ignored a result for a request this hub never made",
          r.model_name);
  } else {
    /* journal first (fsync'ed), then acknowledge: a result the agent
     * forgets is one the hub has on disk */
    ROVE_TRY(rove_energy_journal_append(&h->journal, &r));
    ROVE_TRY(rove_energy_table_add(&h->results, &r, NULL));
    char msg[256];
    snprintf(msg, sizeof msg, "%s on %s: %s, %.6g J/inference", r.model_name,
             r.board, rove_energy_status_name(r.status), r.energy_j);
    logf_(h, c->peer, "result", msg);
  }
  if (q) {
    q->done = 1;
    q->owner = NULL;
  }
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_ep_encode_ack(&w, r.request_id);
  conn_send(c, &w);
  schedule(h);
  return 0;
}

static int on_frame(rove_hub_conn *c, int type, const unsigned char *p,
                    uint32_t n) {
  rove_hub *h = c->h;
  unsigned char mac[ROVE_EP_MAC], want[ROVE_EP_MAC];
  switch (c->state) {
  case 0:
    if (type != ROVE_EP_HELLO)
      return ROVE_ERR(ROVE_EAUTH, "%s before HELLO", rove_ep_type_name(type));
    ROVE_TRY(rove_ep_decode_hello(p, n, &c->hello));
    rove_ep_random(c->snonce, sizeof c->snonce);
    {
      rove_wbuf w;
      rove_wbuf_init(&w);
      rove_ep_encode_nonce(&w, ROVE_EP_CHALLENGE, c->snonce);
      conn_send(c, &w);
    }
    c->state = 1;
    return 0;
  case 1:
    if (type != ROVE_EP_AUTH)
      return ROVE_ERR(ROVE_EAUTH, "%s instead of AUTH",
                      rove_ep_type_name(type));
    ROVE_TRY(rove_ep_decode_nonce(p, n, mac));
    rove_ep_mac(&h->token, "agent", c->snonce, c->hello.nonce, c->hello.board,
                c->hello.agent_id, want);
    if (!rove_ep_mac_equal(mac, want))
      return ROVE_ERR(ROVE_EAUTH, "authentication failed (wrong token)");
    rove_ep_mac(&h->token, "hub", c->hello.nonce, c->snonce, c->hello.board,
                c->hello.agent_id, mac);
    {
      rove_wbuf w;
      rove_wbuf_init(&w);
      rove_ep_encode_nonce(&w, ROVE_EP_AUTH_OK, mac);
      conn_send(c, &w);
    }
    c->state = 2;
    c->rd.max_payload = 1u << 20; /* results are small */
    h->n_auth++;
    {
      char who[320];
      snprintf(who, sizeof who, "%s (board %s, sensor %s)", c->hello.agent_id,
               c->hello.board, c->hello.sensor);
      logf_(h, c->peer, "agent authenticated", who);
    }
    schedule(h);
    return 0;
  default:
    if (type == ROVE_EP_RESULT)
      return on_result(c, p, n);
    return ROVE_ERR(ROVE_EFORMAT, "unexpected %s from an agent",
                    rove_ep_type_name(type));
  }
}

static void on_alloc(uv_handle_t *hd, size_t sz, uv_buf_t *b) {
  (void)hd;
  b->base = malloc(sz);
  b->len = b->base ? sz : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  rove_hub_conn *c = s->data;
  if (nread < 0) {
    free(b->base);
    conn_drop(c,
              nread == UV_EOF ? "closed by the peer" : uv_strerror((int)nread));
    return;
  }
  if (nread == 0) {
    free(b->base);
    return;
  }
  c->t_rx = now_s(c->h);
  int rc = rove_ep_reader_feed(&c->rd, b->base, (size_t)nread);
  free(b->base);
  int type;
  const unsigned char *p;
  uint32_t n;
  while (rc >= 0 && !c->closing &&
         (rc = rove_ep_reader_next(&c->rd, &type, &p, &n)) == 1) {
    rc = on_frame(c, type, p, n);
    rove_ep_reader_pop(&c->rd);
  }
  if (rc < 0)
    conn_drop(c, rove_error_message());
}

static void on_connection(uv_stream_t *srv, int status) {
  rove_hub *h = srv->data;
  if (status < 0)
    return;
  rove_hub_conn *c = calloc(1, sizeof *c);
  if (!c)
    return;
  c->h = h;
  uv_tcp_init(&h->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  rove_ep_reader_init(&c->rd, ROVE_EP_MAX_PREAUTH);
  struct sockaddr_storage sa;
  int len = sizeof sa;
  snprintf(c->peer, sizeof c->peer, "?");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &len) == 0) {
    char ip[48] = "?";
    int port = 0;
    if (sa.ss_family == AF_INET) {
      uv_ip4_name((struct sockaddr_in *)&sa, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in *)&sa)->sin_port);
    } else if (sa.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&sa, ip, sizeof ip);
      port = ntohs(((struct sockaddr_in6 *)&sa)->sin6_port);
    }
    snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
  }
  c->t_connect = c->t_rx = now_s(h);
  c->next = h->conns;
  h->conns = c;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* Drops clients that never authenticate or stall mid-frame: a slow or
 * silent client must not hold a slot (or requests) forever. */
static void on_tick(uv_timer_t *t) {
  rove_hub *h = t->data;
  double now = now_s(h);
  rove_hub_conn *c = h->conns;
  while (c) {
    rove_hub_conn *next = c->next;
    if (c->state != 2 && now - c->t_connect > h->cfg.auth_timeout_s)
      conn_drop(c, "not authenticated in time");
    else if (c->rd.len > 0 && now - c->t_rx > h->cfg.frame_timeout_s)
      conn_drop(c, "too slow: a frame stalled half-sent");
    c = next;
  }
  schedule(h);
}

/* ---- life cycle ---------------------------------------------------------- */

/* Who listens on TCP port `port` on this machine: from /proc/net/tcp[6]
 * the socket's inode, then the process whose descriptors hold it. Writes
 * "pid N (command line)" or "" when it cannot tell (another user's
 * process, another network namespace). Linux only; best effort. */
static void port_holder(int port, char *out, size_t cap) {
  out[0] = '\0';
  unsigned long inode = 0;
  const char *tabs[2] = {"/proc/net/tcp", "/proc/net/tcp6"};
  for (int t = 0; t < 2 && !inode; t++) {
    FILE *f = fopen(tabs[t], "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
      char local[128];
      unsigned st;
      unsigned long ino;
      /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
      if (sscanf(line, "%*s %127s %*s %x %*s %*s %*s %*s %*s %lu", local, &st,
                 &ino) != 3)
        continue;
      const char *colon = strrchr(local, ':');
      if (colon && st == 0x0A && strtol(colon + 1, NULL, 16) == port) {
        inode = ino;
        break;
      }
    }
    if (f)
      fclose(f);
  }
  if (!inode)
    return;
  char want[64];
  snprintf(want, sizeof want, "socket:[%lu]", inode);
  DIR *proc = opendir("/proc");
  struct dirent *pe;
  while (proc && (pe = readdir(proc)) && !out[0]) {
    if (pe->d_name[0] < '1' || pe->d_name[0] > '9')
      continue;
    char fdd[300];
    snprintf(fdd, sizeof fdd, "/proc/%s/fd", pe->d_name);
    DIR *fds = opendir(fdd);
    struct dirent *fe;
    while (fds && (fe = readdir(fds))) {
      char lp[600], tgt[64];
      snprintf(lp, sizeof lp, "%s/%s", fdd, fe->d_name);
      ssize_t n = readlink(lp, tgt, sizeof tgt - 1);
      if (n <= 0)
        continue;
      tgt[n] = '\0';
      if (strcmp(tgt, want))
        continue;
      char cl[256] = "", cp[300];
      snprintf(cp, sizeof cp, "/proc/%s/cmdline", pe->d_name);
      FILE *c = fopen(cp, "r");
      size_t k = c ? fread(cl, 1, sizeof cl - 1, c) : 0;
      if (c)
        fclose(c);
      for (size_t j = 0; j + 1 < k; j++)
        if (!cl[j])
          cl[j] = ' ';
      cl[k] = '\0';
      snprintf(out, cap, "pid %s (%s)", pe->d_name, cl);
      break;
    }
    if (fds)
      closedir(fds);
  }
  if (proc)
    closedir(proc);
}

int rove_hub_init(rove_hub *h, const rove_hub_config *cfg) {
  memset(h, 0, sizeof *h);
  h->cfg = *cfg;
  rove_energy_table_init(&h->results);
  int rc = rove_ep_token_create(cfg->token_file);
  if (rc > 0)
    fprintf(stderr,
            "hub: created the token file %s (agents need the same file: "
            "rove-agent --token-file %s)\n",
            cfg->token_file, cfg->token_file);
  if (rc >= 0)
    rc = rove_ep_token_load(&h->token, cfg->token_file);
  if (rc < 0)
    goto fail;
  if ((rc = rove_ep_mconf_check(&cfg->conf)) < 0)
    goto fail;
  char path[1100];
  snprintf(path, sizeof path, "%s/energy.journal", cfg->dir);
  size_t torn = 0;
  if ((rc = rove_energy_journal_open(&h->journal, path, &h->results, &torn)) <
      0)
    goto fail;
  if (torn && !cfg->quiet)
    fprintf(stderr, "rove hub: %s: cut a torn last record of %zu bytes\n", path,
            torn);
  if (uv_loop_init(&h->loop) != 0) {
    rc = ROVE_ERR(ROVE_ENET, "hub: cannot create the event loop");
    goto fail;
  }
  h->loop_ok = 1;
  uv_tcp_init(&h->loop, &h->server);
  h->server.data = h;
  h->server_ok = 1;
  struct sockaddr_storage sa;
  if (uv_ip4_addr(cfg->host, cfg->port, (struct sockaddr_in *)&sa) != 0 &&
      uv_ip6_addr(cfg->host, cfg->port, (struct sockaddr_in6 *)&sa) != 0) {
    rc = ROVE_ERR(ROVE_EINVAL,
                  "[energy] listen: \"%s\" is not an IPv4/IPv6 address",
                  cfg->host);
    goto fail;
  }
  int e = uv_tcp_bind(&h->server, (struct sockaddr *)&sa, 0);
  if (e == 0)
    e = uv_listen((uv_stream_t *)&h->server, 64, on_connection);
  if (e == UV_EADDRINUSE) {
    char who[400];
    port_holder(cfg->port, who, sizeof who);
    rc = ROVE_ERR(ROVE_ENET,
                  "[energy] listen %s:%d: the port is in use%s%s; two sweeps "
                  "with energy hubs on one machine need different [energy] "
                  "ports",
                  cfg->host, cfg->port, who[0] ? " by " : "", who);
    goto fail;
  }
  if (e != 0) {
    rc = ROVE_ERR(ROVE_ENET, "[energy] listen %s:%d: %s", cfg->host, cfg->port,
                  uv_strerror(e));
    goto fail;
  }
  int len = sizeof sa;
  uv_tcp_getsockname(&h->server, (struct sockaddr *)&sa, &len);
  h->bound_port = sa.ss_family == AF_INET6
                      ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                      : ntohs(((struct sockaddr_in *)&sa)->sin_port);
  uv_timer_init(&h->loop, &h->tick);
  h->tick.data = h;
  h->tick_ok = 1;
  uv_timer_start(&h->tick, on_tick, 200, 200);
  return 0;
fail:
  rove_hub_deinit(h);
  return rove_error_trace(rc, __FILE__, __LINE__, __func__);
}

/* Connections were closed by conn_drop; what is left (server, timers)
 * owns no memory. */
static void close_walk(uv_handle_t *hd, void *arg) {
  (void)arg;
  if (!uv_is_closing(hd))
    uv_close(hd, NULL);
}

void rove_hub_deinit(rove_hub *h) {
  if (h->loop_ok) {
    while (h->conns)
      conn_drop(h->conns, "hub shutting down");
    uv_walk(&h->loop, close_walk, h);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    uv_loop_close(&h->loop);
  }
  rove_energy_journal_close(&h->journal);
  rove_energy_table_deinit(&h->results);
  for (size_t i = 0; i < h->n_reqs; i++) {
    free(h->reqs[i].bytes);
    free(h->reqs[i].inputs);
  }
  free(h->reqs);
  memset(h, 0, sizeof *h);
}

int rove_hub_port(const rove_hub *h) {
  return h->bound_port;
}

int rove_hub_add_model(rove_hub *h, const char *board, const char *name,
                       const unsigned char hash[32], const void *bytes,
                       size_t len, const char *input_set, const void *inputs,
                       size_t inputs_len) {
  if (!board[0] || strlen(board) >= 64)
    return ROVE_ERR(ROVE_EINVAL, "[energy] board \"%s\": 1..63 characters",
                    board);
  for (const char *p = board; *p; p++)
    if (!isalnum((unsigned char)*p) && !strchr("-_.:@", *p))
      return ROVE_ERR(ROVE_EINVAL,
                      "[energy] board \"%s\": only letters, digits and -_.:@",
                      board);
  if (len == 0 || len > ROVE_EP_MAX_PAYLOAD / 2 ||
      inputs_len > ROVE_EP_MAX_PAYLOAD / 2)
    return ROVE_ERR(ROVE_ERANGE, "energy: model %s of %zu bytes cannot be sent",
                    name, len);
  uint64_t id = rove_ep_request_id(hash, board);
  if (rove_energy_table_find_id(&h->results, id) || find_req(h, id))
    return 0;
  if (h->n_reqs == h->cap_reqs) {
    size_t cap = h->cap_reqs ? 2 * h->cap_reqs : 8;
    rove_hub_req *r = realloc(h->reqs, cap * sizeof *r);
    if (!r)
      return ROVE_ERR(ROVE_ENOMEM, "energy hub: out of memory");
    h->reqs = r;
    h->cap_reqs = cap;
  }
  rove_hub_req *q = &h->reqs[h->n_reqs];
  memset(q, 0, sizeof *q);
  snprintf(q->board, sizeof q->board, "%s", board);
  snprintf(q->name, sizeof q->name, "%s", name);
  snprintf(q->input_set, sizeof q->input_set, "%s",
           input_set && *input_set ? input_set : "synthetic");
  memcpy(q->hash, hash, 32);
  q->id = id;
  q->bytes = malloc(len);
  q->inputs = inputs_len ? malloc(inputs_len) : NULL;
  if (!q->bytes || (inputs_len && !q->inputs)) {
    free(q->bytes);
    free(q->inputs);
    return ROVE_ERR(ROVE_ENOMEM, "energy hub: out of memory for %s", name);
  }
  memcpy(q->bytes, bytes, len);
  q->len = len;
  if (inputs_len)
    memcpy(q->inputs, inputs, inputs_len);
  q->inputs_len = inputs_len;
  h->n_reqs++;
  return 0;
}

static size_t pending(const rove_hub *h) {
  size_t n = 0;
  for (size_t i = 0; i < h->n_reqs; i++)
    n += !h->reqs[i].done;
  return n;
}

size_t rove_hub_poll(rove_hub *h) {
  schedule(h);
  uv_run(&h->loop, UV_RUN_NOWAIT);
  return pending(h);
}

static void on_deadline(uv_timer_t *t) {
  uv_stop(t->loop);
}

static void on_check_done(uv_timer_t *t) {
  if (pending(t->data) == 0)
    uv_stop(t->loop);
}

size_t rove_hub_run(rove_hub *h, double timeout_s) {
  uv_timer_t deadline, done;
  uv_timer_init(&h->loop, &deadline);
  uv_timer_init(&h->loop, &done);
  done.data = h;
  if (timeout_s > 0)
    uv_timer_start(&deadline, on_deadline, (uint64_t)(timeout_s * 1000), 0);
  uv_timer_start(&done, on_check_done, 0, 50);
  schedule(h);
  if (pending(h))
    uv_run(&h->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&deadline, NULL);
  uv_close((uv_handle_t *)&done, NULL);
  uv_run(&h->loop, UV_RUN_NOWAIT);
  return pending(h);
}

const rove_energy_table *rove_hub_results(const rove_hub *h) {
  return &h->results;
}

/* ---- the join ------------------------------------------------------------ */

static void col_board(FILE *f, const char *b) {
  for (; *b; b++)
    fputc(isalnum((unsigned char)*b) ? *b : '_', f);
}

static const char *const cols[] = {"status",    "j",     "ci_lo_j", "ci_hi_j",
                                   "dynamic_j", "scope", "sensor",  "latency_s",
                                   "power_w",   "valid", "flags"};
#define NCOLS (sizeof cols / sizeof cols[0])

void rove_energy_csv_header(FILE *f, const char *const *boards, int n_boards) {
  for (int b = 0; b < n_boards; b++)
    for (size_t k = 0; k < NCOLS; k++) {
      fputs(b || k ? ",energy_" : "energy_", f);
      col_board(f, boards[b]);
      fprintf(f, "_%s", cols[k]);
    }
}

static void csv_num(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, ",%.9g", v);
  else
    fputc(',', f);
}

/* Sensor names can hold commas (meter commands): quote them. */
static void csv_text(FILE *f, const char *s) {
  fputs(",\"", f);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

void rove_energy_csv_row(FILE *f, const rove_energy_table *t,
                         const unsigned char hash[32],
                         const char *const *boards, int n_boards) {
  for (int b = 0; b < n_boards; b++) {
    const rove_energy_result *r = rove_energy_table_find(t, hash, boards[b]);
    if (b)
      fputc(',', f);
    if (!r) {
      fputs("pending,,,,,,,,,,", f);
      continue;
    }
    char flags[256];
    rove_energy_flags_str(r->flags, flags, sizeof flags);
    fputs(rove_energy_status_name(r->status), f);
    csv_num(f, r->energy_j);
    csv_num(f, r->ci_lo_j);
    csv_num(f, r->ci_hi_j);
    csv_num(f, r->energy_dyn_j);
    fprintf(f, ",%s", rove_energy_scope_name(r->scope));
    csv_text(f, r->sensor);
    csv_num(f, r->latency_p50_s);
    csv_num(f, r->power_w);
    fprintf(f, ",%d,%s", rove_energy_result_valid(r), flags);
  }
}

static void json_num(FILE *f, const char *k, double v) {
  if (isfinite(v))
    fprintf(f, ", \"%s\": %.9g", k, v);
  else
    fprintf(f, ", \"%s\": null", k);
}

static void json_text(FILE *f, const char *k, const char *s) {
  fprintf(f, ", \"%s\": \"", k);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", *s);
    else
      fputc(*s, f);
  }
  fputc('"', f);
}

void rove_energy_json(FILE *f, const rove_energy_table *t,
                      const unsigned char hash[32], const char *const *boards,
                      int n_boards) {
  fputs("\"energy\": {", f);
  for (int b = 0; b < n_boards; b++) {
    const rove_energy_result *r = rove_energy_table_find(t, hash, boards[b]);
    fprintf(f, "%s\"%s\": {\"status\": \"%s\"", b ? ", " : "", boards[b],
            r ? rove_energy_status_name(r->status) : "pending");
    if (r) {
      char flags[256];
      rove_energy_flags_str(r->flags, flags, sizeof flags);
      json_num(f, "j", r->energy_j);
      json_num(f, "ci_lo_j", r->ci_lo_j);
      json_num(f, "ci_hi_j", r->ci_hi_j);
      json_num(f, "dynamic_j", r->energy_dyn_j);
      json_text(f, "scope", rove_energy_scope_name(r->scope));
      json_text(f, "sensor", r->sensor);
      json_num(f, "latency_s", r->latency_p50_s);
      json_num(f, "power_w", r->power_w);
      fprintf(f, ", \"valid\": %s",
              rove_energy_result_valid(r) ? "true" : "false");
      json_text(f, "flags", flags);
      json_text(f, "reason", r->reason);
    }
    fputc('}', f);
  }
  fputc('}', f);
}
