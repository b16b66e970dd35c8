/* client.c - libuv client of the energy hub: handshake, request queue,
 * measurement on the thread pool, re-delivery until ACK. */
#include "energy_agents/client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "common/err.h"
#include "energy_agents/measure.h"
#include "energy_agents/sensor.h"
#include "energy_agents/workload.h"
#include "net/uv_send.h"

int rove_agent_measure(const char *sysfs_root, const char *sensor_spec,
                       int quick, const rove_ep_request *q, int n,
                       rove_energy_result *out) {
  rove_sensor s;
  int rc = rove_sensor_open(&s, sysfs_root, sensor_spec);
  if (rc < 0) {
    rove_sensor_deinit(&s);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  rove_infer *inf = calloc((size_t)n, sizeof *inf);
  rove_workload *w = calloc((size_t)n, sizeof *w);
  rove_workload *ok = calloc((size_t)n, sizeof *ok);
  rove_energy_result *tmp = calloc((size_t)n, sizeof *tmp);
  int *idx = calloc((size_t)n, sizeof *idx);
  if (!inf || !w || !ok || !tmp || !idx) {
    rc = ROVE_ERR(ROVE_ENOMEM, "agent: out of memory");
    goto done;
  }
  rove_ep_mconf c = q[0].conf;
  if (quick) {
    uint32_t batch = c.batch;
    rove_ep_mconf_quick(&c);
    c.batch = batch;
  }
  int m = 0;
  for (int i = 0; i < n; i++) {
    memset(&out[i], 0, sizeof out[i]);
    memcpy(out[i].model_hash, q[i].model_hash, 32);
    snprintf(out[i].model_name, sizeof out[i].model_name, "%s",
             q[i].model_name);
    snprintf(out[i].input_set, sizeof out[i].input_set, "%s", q[i].input_set);
    snprintf(out[i].sensor, sizeof out[i].sensor, "%s", s.name);
    out[i].scope = s.scope;
    int r =
        rove_infer_init(&inf[i], q[i].model, q[i].model_len, q[i].model_name,
                        (int)c.batch, q[i].inputs, q[i].inputs_len);
    if (r < 0) {
      out[i].status = ROVE_ER_FAILED;
      snprintf(out[i].reason, sizeof out[i].reason, "%s", rove_error_message());
      continue;
    }
    rove_infer_workload(&inf[i], q[i].model_name, q[i].input_set, &w[i]);
    /* the hash is the one the hub asked about (the join key), even if a
     * decoder ever canonicalised differently */
    memcpy(w[i].model_hash, q[i].model_hash, 32);
    ok[m] = w[i];
    idx[m++] = i;
  }
  if (m > 0) {
    rc = rove_measure(&s, &c, quick, ok, m, tmp);
    for (int k = 0; k < m; k++)
      out[idx[k]] = tmp[k];
    rc = rc < 0 ? 0 : rc; /* a broken sensor is reported per result */
  }
done:
  if (inf)
    for (int i = 0; i < n; i++)
      rove_infer_deinit(&inf[i]);
  free(inf);
  free(w);
  free(ok);
  free(tmp);
  free(idx);
  rove_sensor_deinit(&s);
  return rc;
}

/* ---- the client ------------------------------------------------------- */

typedef struct job {
  rove_ep_request q;
  unsigned char *model, *inputs; /* owned copies */
} job;

typedef struct agent {
  const rove_agent_cfg *cfg;
  uv_loop_t loop;
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_timer_t timer;
  uv_signal_t sigint, sigterm;
  uv_work_t work;
  int tcp_open, authed, stopping, working;
  double backoff;
  rove_ep_reader rd;
  unsigned char cnonce[ROVE_EP_NONCE], snonce[ROVE_EP_NONCE];
  char agent_id[64];
  job *pending;
  int n_pending, cap_pending;
  job *batch; /* being measured */
  int n_batch;
  rove_energy_result *batch_out;
  rove_energy_result *unacked; /* measured, not yet acknowledged */
  int n_unacked, cap_unacked;
} agent;

static void log_msg(agent *a, const char *fmt, const char *arg) {
  fprintf(stderr, "rove-agent %s: ", a->agent_id);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
}

static void drop(agent *a, const char *why);

/* Takes ownership of the encoded buffer. */
static void send_buf(agent *a, rove_wbuf *w) {
  if (!a->tcp_open) {
    rove_wbuf_deinit(w);
    return;
  }
  if (rove_uv_send((uv_stream_t *)&a->tcp, w) < 0) {
    char why[256];
    snprintf(why, sizeof why, "%s", rove_error_message());
    rove_error_clear();
    drop(a, why);
  }
}

static void connect_now(agent *a);

static void on_timer(uv_timer_t *t) {
  connect_now(t->data);
}

static void on_closed(uv_handle_t *h) {
  agent *a = h->data;
  a->tcp_open = 0;
  if (a->stopping)
    return;
  /* exponential back-off with jitter, so agents restarted together do
   * not reconnect in lock step */
  double d = a->backoff * (0.75 + 0.5 * (double)(rand() % 1000) / 1000.0);
  a->backoff *= 2;
  if (a->backoff > a->cfg->backoff_max_s)
    a->backoff = a->cfg->backoff_max_s;
  uv_timer_start(&a->timer, on_timer, (uint64_t)(d * 1000) + 1, 0);
}

static void drop(agent *a, const char *why) {
  if (!a->tcp_open || uv_is_closing((uv_handle_t *)&a->tcp))
    return;
  log_msg(a, "disconnected: %s", why);
  a->authed = 0;
  uv_close((uv_handle_t *)&a->tcp, on_closed);
}

static void send_result(agent *a, const rove_energy_result *r) {
  rove_wbuf w;
  rove_wbuf_init(&w);
  if (rove_ep_encode_result(&w, r) < 0) {
    rove_wbuf_deinit(&w);
    return;
  }
  send_buf(a, &w);
}

static void after_work(uv_work_t *req, int status);

static void work_main(uv_work_t *req) {
  agent *a = req->data;
  rove_ep_request *q = malloc((size_t)a->n_batch * sizeof *q);
  if (!q) {
    for (int i = 0; i < a->n_batch; i++) {
      memset(&a->batch_out[i], 0, sizeof a->batch_out[i]);
      a->batch_out[i].status = ROVE_ER_FAILED;
      snprintf(a->batch_out[i].reason, sizeof a->batch_out[i].reason,
               "agent: out of memory");
    }
    return;
  }
  for (int i = 0; i < a->n_batch; i++)
    q[i] = a->batch[i].q;
  if (rove_agent_measure(a->cfg->sysfs_root, a->cfg->sensor, a->cfg->quick, q,
                         a->n_batch, a->batch_out) < 0)
    for (int i = 0; i < a->n_batch; i++) {
      a->batch_out[i].status = ROVE_ER_FAILED;
      snprintf(a->batch_out[i].reason, sizeof a->batch_out[i].reason, "%s",
               rove_error_message());
    }
  free(q);
}

/* Starts measuring everything queued, all models of the batch interleaved
 * in one protocol run. */
static void kick(agent *a) {
  if (a->working || a->n_pending == 0 || a->stopping)
    return;
  a->batch = a->pending;
  a->n_batch = a->n_pending;
  a->pending = NULL;
  a->n_pending = a->cap_pending = 0;
  a->batch_out = calloc((size_t)a->n_batch, sizeof *a->batch_out);
  if (!a->batch_out) {
    log_msg(a, "%s", "out of memory");
    return;
  }
  a->working = 1;
  a->work.data = a;
  uv_queue_work(&a->loop, &a->work, work_main, after_work);
}

static void after_work(uv_work_t *req, int status) {
  agent *a = req->data;
  (void)status;
  for (int i = 0; i < a->n_batch; i++) {
    rove_energy_result *r = &a->batch_out[i];
    memcpy(r->model_hash, a->batch[i].q.model_hash, 32);
    snprintf(r->board, sizeof r->board, "%s", a->cfg->board);
    snprintf(r->agent_id, sizeof r->agent_id, "%s", a->agent_id);
    r->request_id = rove_ep_request_id(r->model_hash, r->board);
    if (a->n_unacked == a->cap_unacked) {
      int cap = a->cap_unacked ? 2 * a->cap_unacked : 8;
      rove_energy_result *p = realloc(a->unacked, (size_t)cap * sizeof *p);
      if (!p)
        continue; /* the hub hands the request out again */
      a->unacked = p;
      a->cap_unacked = cap;
    }
    a->unacked[a->n_unacked++] = *r;
    fprintf(stderr, "rove-agent %s: measured %s: %s %.6g J/inference (%s)\n",
            a->agent_id, r->model_name, rove_energy_status_name(r->status),
            r->energy_j, r->reason[0] ? r->reason : r->sensor);
    if (a->authed)
      send_result(a, r);
    free(a->batch[i].model);
    free(a->batch[i].inputs);
  }
  free(a->batch);
  free(a->batch_out);
  a->batch = NULL;
  a->batch_out = NULL;
  a->n_batch = 0;
  a->working = 0;
  if (a->stopping)
    uv_stop(&a->loop);
  kick(a);
}

static int known_request(agent *a, uint64_t id) {
  for (int i = 0; i < a->n_pending; i++)
    if (a->pending[i].q.request_id == id)
      return 1;
  for (int i = 0; i < a->n_batch; i++)
    if (a->batch[i].q.request_id == id)
      return 1;
  for (int i = 0; i < a->n_unacked; i++)
    if (a->unacked[i].request_id == id)
      return 1;
  return 0;
}

static int on_request(agent *a, const unsigned char *p, uint32_t n) {
  rove_ep_request q;
  ROVE_TRY(rove_ep_decode_request(p, n, &q));
  if (known_request(a, q.request_id)) {
    /* the hub re-sent it (we reconnected): re-send a result if we have it */
    for (int i = 0; i < a->n_unacked; i++)
      if (a->unacked[i].request_id == q.request_id)
        send_result(a, &a->unacked[i]);
    return 0;
  }
  if (a->n_pending == a->cap_pending) {
    int cap = a->cap_pending ? 2 * a->cap_pending : 4;
    job *j = realloc(a->pending, (size_t)cap * sizeof *j);
    if (!j)
      return ROVE_ERR(ROVE_ENOMEM, "agent: out of memory");
    a->pending = j;
    a->cap_pending = cap;
  }
  job *j = &a->pending[a->n_pending];
  j->q = q;
  j->model = malloc(q.model_len);
  j->inputs = q.inputs_len ? malloc(q.inputs_len) : NULL;
  if (!j->model || (q.inputs_len && !j->inputs)) {
    free(j->model);
    free(j->inputs);
    return ROVE_ERR(ROVE_ENOMEM, "agent: out of memory for a model");
  }
  memcpy(j->model, q.model, q.model_len);
  if (q.inputs_len)
    memcpy(j->inputs, q.inputs, q.inputs_len);
  j->q.model = j->model;
  j->q.inputs = j->inputs;
  a->n_pending++;
  fprintf(stderr, "rove-agent %s: request for %s (%u bytes)\n", a->agent_id,
          q.model_name, q.model_len);
  kick(a);
  return 0;
}

static int on_frame(agent *a, int type, const unsigned char *p, uint32_t n) {
  unsigned char mac[ROVE_EP_MAC], want[ROVE_EP_MAC];
  if (!a->authed) {
    if (type == ROVE_EP_CHALLENGE) {
      ROVE_TRY(rove_ep_decode_nonce(p, n, a->snonce));
      rove_ep_mac(&a->cfg->token, "agent", a->snonce, a->cnonce, a->cfg->board,
                  a->agent_id, mac);
      rove_wbuf w;
      rove_wbuf_init(&w);
      rove_ep_encode_nonce(&w, ROVE_EP_AUTH, mac);
      send_buf(a, &w);
      return 0;
    }
    if (type == ROVE_EP_AUTH_OK) {
      ROVE_TRY(rove_ep_decode_nonce(p, n, mac));
      rove_ep_mac(&a->cfg->token, "hub", a->cnonce, a->snonce, a->cfg->board,
                  a->agent_id, want);
      if (!rove_ep_mac_equal(mac, want))
        return ROVE_ERR(ROVE_EAUTH,
                        "the hub's proof is wrong: it does not hold our token");
      a->authed = 1;
      a->rd.max_payload = ROVE_EP_MAX_PAYLOAD;
      a->backoff = 0.1;
      log_msg(a, "authenticated to %s", a->cfg->host);
      for (int i = 0; i < a->n_unacked; i++)
        send_result(a, &a->unacked[i]);
      return 0;
    }
    return ROVE_ERR(ROVE_EFORMAT, "unexpected %s before authentication",
                    rove_ep_type_name(type));
  }
  if (type == ROVE_EP_REQUEST)
    return on_request(a, p, n);
  if (type == ROVE_EP_ACK) {
    uint64_t id;
    ROVE_TRY(rove_ep_decode_ack(p, n, &id));
    for (int i = 0; i < a->n_unacked; i++)
      if (a->unacked[i].request_id == id) {
        a->unacked[i] = a->unacked[--a->n_unacked];
        break;
      }
    return 0;
  }
  return ROVE_ERR(ROVE_EFORMAT, "unexpected %s from the hub",
                  rove_ep_type_name(type));
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  (void)h;
  b->base = malloc(sz);
  b->len = b->base ? sz : 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  agent *a = s->data;
  if (nread < 0) {
    free(b->base);
    drop(a, nread == UV_EOF ? "the hub closed the connection"
                            : uv_strerror((int)nread));
    return;
  }
  int rc = rove_ep_reader_feed(&a->rd, b->base, (size_t)nread);
  free(b->base);
  int type;
  const unsigned char *p;
  uint32_t n;
  while (rc >= 0 && (rc = rove_ep_reader_next(&a->rd, &type, &p, &n)) == 1) {
    rc = on_frame(a, type, p, n);
    rove_ep_reader_pop(&a->rd);
  }
  if (rc < 0)
    drop(a, rove_error_message());
}

static void on_connect(uv_connect_t *c, int status) {
  agent *a = c->data;
  if (status < 0) {
    log_msg(a, "cannot connect: %s", uv_strerror(status));
    uv_close((uv_handle_t *)&a->tcp, on_closed);
    return;
  }
  rove_ep_reader_deinit(&a->rd);
  rove_ep_reader_init(&a->rd, ROVE_EP_MAX_PREAUTH);
  rove_ep_random(a->cnonce, sizeof a->cnonce);
  rove_ep_hello h;
  memset(&h, 0, sizeof h);
  snprintf(h.board, sizeof h.board, "%s", a->cfg->board);
  snprintf(h.agent_id, sizeof h.agent_id, "%s", a->agent_id);
  snprintf(h.sensor, sizeof h.sensor, "%.120s", a->cfg->sensor);
  memcpy(h.nonce, a->cnonce, sizeof h.nonce);
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_ep_encode_hello(&w, &h);
  send_buf(a, &w);
  uv_read_start((uv_stream_t *)&a->tcp, on_alloc, on_read);
}

static void connect_now(agent *a) {
  if (a->stopping)
    return;
  struct sockaddr_storage addr;
  int rc = uv_ip4_addr(a->cfg->host, a->cfg->port, (struct sockaddr_in *)&addr);
  if (rc != 0)
    rc = uv_ip6_addr(a->cfg->host, a->cfg->port, (struct sockaddr_in6 *)&addr);
  if (rc != 0) {
    /* a host name: resolve synchronously, it is rare and short */
    uv_getaddrinfo_t gai;
    struct addrinfo hints = {0};
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof port, "%d", a->cfg->port);
    rc = uv_getaddrinfo(&a->loop, &gai, NULL, a->cfg->host, port, &hints);
    if (rc == 0) {
      memcpy(&addr, gai.addrinfo->ai_addr, gai.addrinfo->ai_addrlen);
      uv_freeaddrinfo(gai.addrinfo);
    }
  }
  uv_tcp_init(&a->loop, &a->tcp);
  a->tcp.data = a;
  a->tcp_open = 1;
  if (rc != 0) {
    log_msg(a, "cannot resolve the hub address: %s", uv_strerror(rc));
    uv_close((uv_handle_t *)&a->tcp, on_closed);
    return;
  }
  a->conn.data = a;
  rc = uv_tcp_connect(&a->conn, &a->tcp, (struct sockaddr *)&addr, on_connect);
  if (rc != 0) {
    log_msg(a, "cannot connect: %s", uv_strerror(rc));
    uv_close((uv_handle_t *)&a->tcp, on_closed);
  }
}

static void on_signal(uv_signal_t *s, int sig) {
  agent *a = s->data;
  (void)sig;
  a->stopping = 1;
  uv_timer_stop(&a->timer);
  if (a->tcp_open && !uv_is_closing((uv_handle_t *)&a->tcp))
    uv_close((uv_handle_t *)&a->tcp, on_closed);
  /* a measurement in flight cannot be cancelled: exit once it ends (its
   * request goes back to the hub's queue when the connection drops) */
  if (!a->working)
    uv_stop(&a->loop);
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

int rove_agent_run(const rove_agent_cfg *cfg) {
  agent *a = calloc(1, sizeof *a);
  if (!a)
    return ROVE_ERR(ROVE_ENOMEM, "agent: out of memory");
  a->cfg = cfg;
  a->backoff = 0.1;
  if (cfg->agent_id[0]) {
    snprintf(a->agent_id, sizeof a->agent_id, "%s", cfg->agent_id);
  } else {
    unsigned char r[4];
    rove_ep_random(r, sizeof r);
    snprintf(a->agent_id, sizeof a->agent_id, "%.40s-%d-%02x%02x%02x%02x",
             cfg->board, (int)getpid(), r[0], r[1], r[2], r[3]);
  }
  srand((unsigned)getpid());
  /* check the sensor spec before connecting: a typo is a usage error */
  rove_sensor s;
  int rc = rove_sensor_open(&s, cfg->sysfs_root, cfg->sensor);
  if (rc == 0 && s.reason[0])
    log_msg(a, "warning: the sensor is unmeasurable: %s", s.reason);
  rove_sensor_deinit(&s);
  if (rc < 0) {
    free(a);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  rove_ep_reader_init(&a->rd, ROVE_EP_MAX_PREAUTH);
  uv_loop_init(&a->loop);
  uv_timer_init(&a->loop, &a->timer);
  a->timer.data = a;
  uv_signal_init(&a->loop, &a->sigint);
  uv_signal_init(&a->loop, &a->sigterm);
  a->sigint.data = a->sigterm.data = a;
  uv_signal_start(&a->sigint, on_signal, SIGINT);
  uv_signal_start(&a->sigterm, on_signal, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  connect_now(a);
  uv_run(&a->loop, UV_RUN_DEFAULT);
  uv_walk(&a->loop, close_walk, NULL);
  uv_run(&a->loop, UV_RUN_DEFAULT);
  uv_loop_close(&a->loop);
  rove_ep_reader_deinit(&a->rd);
  for (int i = 0; i < a->n_pending; i++) {
    free(a->pending[i].model);
    free(a->pending[i].inputs);
  }
  free(a->pending);
  free(a->unacked);
  free(a);
  return 0;
}
