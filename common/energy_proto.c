/* energy_proto.c - frames, HMAC-SHA256 handshake, result codec and the energy
 * journal. */
#include "common/energy_proto.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "common/err.h"

static const char *const type_names[] = {"none",   "HELLO",   "CHALLENGE",
                                         "AUTH",   "AUTH_OK", "REQUEST",
                                         "RESULT", "ACK"};
_Static_assert(sizeof type_names / sizeof type_names[0] == ROVE_EP_TYPE_END_,
               "one name per energy frame type (and \"none\" for 0)");

const char *rove_ep_type_name(int type) {
  if (type <= 0 || type >= ROVE_EP_TYPE_END_)
    return "unknown";
  return type_names[type];
}

size_t rove_ep_frame_begin(rove_wbuf *w, int type) {
  size_t off = w->len;
  rove_put_u32(w, ROVE_EP_MAGIC);
  rove_put_u16(w, ROVE_EP_VERSION);
  rove_put_u16(w, (uint16_t)type);
  rove_put_u32(w, 0);
  return off;
}

int rove_ep_frame_end(rove_wbuf *w, size_t off) {
  if (w->failed)
    return ROVE_ERR(ROVE_ENOMEM,
                    "energy protocol: out of memory encoding a frame");
  size_t n = w->len - off - ROVE_EP_HEADER;
  if (n > ROVE_EP_MAX_PAYLOAD)
    return ROVE_ERR(ROVE_ERANGE,
                    "energy protocol: frame payload of %zu bytes exceeds the "
                    "maximum %u",
                    n, ROVE_EP_MAX_PAYLOAD);
  rove_patch_u32(w, off + 8, (uint32_t)n);
  return 0;
}

void rove_ep_reader_init(rove_ep_reader *r, uint32_t max_payload) {
  memset(r, 0, sizeof *r);
  r->max_payload = max_payload;
}

void rove_ep_reader_deinit(rove_ep_reader *r) {
  free(r->buf);
  memset(r, 0, sizeof *r);
}

int rove_ep_reader_feed(rove_ep_reader *r, const void *data, size_t n) {
  if (n > r->cap - r->len) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap - r->len < n)
      cap *= 2;
    unsigned char *b = realloc(r->buf, cap);
    if (!b)
      return ROVE_ERR(ROVE_ENOMEM,
                      "energy protocol: out of memory buffering %zu bytes", n);
    r->buf = b;
    r->cap = cap;
  }
  memcpy(r->buf + r->len, data, n);
  r->len += n;
  return 0;
}

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

int rove_ep_reader_next(rove_ep_reader *r, int *type,
                        const unsigned char **payload, uint32_t *len) {
  if (r->len < ROVE_EP_HEADER)
    return 0;
  uint32_t magic = le32(r->buf);
  unsigned version = (unsigned)r->buf[4] | (unsigned)r->buf[5] << 8;
  unsigned t = (unsigned)r->buf[6] | (unsigned)r->buf[7] << 8;
  uint32_t n = le32(r->buf + 8);
  if (magic != ROVE_EP_MAGIC)
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy protocol: bad frame magic 0x%08x (expected "
                    "0x%08x \"RVE1\"): not a rove peer",
                    magic, ROVE_EP_MAGIC);
  if (version != ROVE_EP_VERSION)
    return ROVE_ERR(ROVE_EVERSION,
                    "energy protocol: frame version %u, expected %d", version,
                    ROVE_EP_VERSION);
  if (t == 0 || t >= ROVE_EP_TYPE_END_)
    return ROVE_ERR(ROVE_EFORMAT, "energy protocol: unknown frame type %u", t);
  if (n > r->max_payload)
    return ROVE_ERR(ROVE_ERANGE,
                    "energy protocol: %s frame of %u bytes exceeds the limit "
                    "of %u bytes",
                    rove_ep_type_name((int)t), n, r->max_payload);
  if (r->len - ROVE_EP_HEADER < n)
    return 0;
  *type = (int)t;
  *len = n;
  *payload = r->buf + ROVE_EP_HEADER;
  return 1;
}

void rove_ep_reader_pop(rove_ep_reader *r) {
  if (r->len < ROVE_EP_HEADER)
    return;
  size_t n = ROVE_EP_HEADER + (size_t)le32(r->buf + 8);
  if (n > r->len)
    return;
  memmove(r->buf, r->buf + n, r->len - n);
  r->len -= n;
}

/* ---- Authentication --------------------------------------------------- */

int rove_ep_token_load(rove_ep_token *t, const char *path) {
  memset(t, 0, sizeof *t);
  FILE *f = fopen(path, "rb");
  if (!f)
    return ROVE_ERR(errno == ENOENT   ? ROVE_ENOENT
                    : errno == EACCES ? ROVE_EACCES
                                      : ROVE_EIO,
                    "%s: cannot open the token file: %s", path,
                    strerror(errno));
  size_t n = fread(t->key, 1, sizeof t->key, f);
  int more = fgetc(f) != EOF;
  int bad = ferror(f);
  fclose(f);
  if (bad)
    return ROVE_ERR(ROVE_EIO, "%s: read error", path);
  if (more)
    return ROVE_ERR(ROVE_ERANGE, "%s: token longer than %zu bytes", path,
                    sizeof t->key);
  while (n > 0 && isspace(t->key[n - 1]))
    n--;
  if (n < 16)
    return ROVE_ERR(ROVE_EINVAL,
                    "%s: token has %zu bytes, expected at least 16 (e.g. "
                    "`head -c 32 /dev/urandom | base64 > %s`)",
                    path, n, path);
  t->len = n;
  return 0;
}

void rove_ep_mac(const rove_ep_token *t, const char *role,
                 const unsigned char first[ROVE_EP_NONCE],
                 const unsigned char second[ROVE_EP_NONCE], const char *board,
                 const char *agent_id, unsigned char out[ROVE_EP_MAC]) {
  /* Every variable-length field is length-prefixed so that no two
   * different (role, board, agent id) triples hash the same bytes. */
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_put_str(&w, "rove-energy-v1");
  rove_put_str(&w, role);
  rove_put_bytes(&w, first, ROVE_EP_NONCE);
  rove_put_bytes(&w, second, ROVE_EP_NONCE);
  rove_put_str(&w, board);
  rove_put_str(&w, agent_id);
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, t->key, t->len);
  if (!w.failed)
    crypto_auth_hmacsha256_update(&st, w.data, w.len);
  else /* never equal to a good MAC: a fresh random key poisons it */
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)"oom", 3);
  crypto_auth_hmacsha256_final(&st, out);
  if (w.failed)
    randombytes_buf(out, ROVE_EP_MAC);
  rove_wbuf_deinit(&w);
}

int rove_ep_mac_equal(const unsigned char a[ROVE_EP_MAC],
                      const unsigned char b[ROVE_EP_MAC]) {
  return crypto_verify_32(a, b) == 0;
}

void rove_ep_random(void *p, size_t n) {
  /* sodium_init is idempotent and thread-safe; randombytes works without
   * it on Linux but initialising picks the best source once. */
  if (sodium_init() < 0)
    abort(); /* no entropy source: nothing secure can be done */
  randombytes_buf(p, n);
}

/* ---- Messages ----------------------------------------------------------- */

void rove_ep_mconf_default(rove_ep_mconf *c) {
  c->idle_s = 10.0;
  c->warmup_s = 5.0;
  c->window_s = 10.0;
  c->sample_period_s = 0.01;
  c->trials = 5;
  c->batch = 1;
}

void rove_ep_mconf_quick(rove_ep_mconf *c) {
  c->idle_s = 0.3;
  c->warmup_s = 0.1;
  c->window_s = 0.4;
  c->sample_period_s = 0.005;
  c->trials = 3;
  c->batch = 1;
}

int rove_ep_mconf_check(const rove_ep_mconf *c) {
  if (!(c->idle_s >= 0 && c->idle_s <= 3600))
    return ROVE_ERR(ROVE_ERANGE, "measurement: idle_s = %g, expected 0..3600",
                    c->idle_s);
  if (!(c->warmup_s >= 0 && c->warmup_s <= 3600))
    return ROVE_ERR(ROVE_ERANGE, "measurement: warmup_s = %g, expected 0..3600",
                    c->warmup_s);
  if (!(c->window_s >= 0.01 && c->window_s <= 3600))
    return ROVE_ERR(ROVE_ERANGE,
                    "measurement: window_s = %g, expected 0.01..3600",
                    c->window_s);
  if (!(c->sample_period_s >= 0.0005 && c->sample_period_s <= 10))
    return ROVE_ERR(ROVE_ERANGE,
                    "measurement: sample_period_s = %g, expected 0.0005..10",
                    c->sample_period_s);
  if (c->trials < 1 || c->trials > ROVE_ER_MAX_TRIALS)
    return ROVE_ERR(ROVE_ERANGE, "measurement: trials = %u, expected 1..%d",
                    c->trials, ROVE_ER_MAX_TRIALS);
  if (c->batch < 1 || c->batch > 65536)
    return ROVE_ERR(ROVE_ERANGE, "measurement: batch = %u, expected 1..65536",
                    c->batch);
  return 0;
}

static int encode_done(rove_wbuf *w, size_t off) {
  ROVE_TRY(rove_ep_frame_end(w, off));
  return 0;
}

static int decode_done(rove_rbuf *r, const char *what) {
  if (r->failed)
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy protocol: %s message is truncated or has a field "
                    "too long",
                    what);
  if (rove_rbuf_left(r) != 0)
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy protocol: %s message has %zu trailing bytes", what,
                    rove_rbuf_left(r));
  return 0;
}

int rove_ep_encode_hello(rove_wbuf *w, const rove_ep_hello *h) {
  size_t off = rove_ep_frame_begin(w, ROVE_EP_HELLO);
  rove_put_str(w, h->board);
  rove_put_str(w, h->agent_id);
  rove_put_str(w, h->sensor);
  rove_put_bytes(w, h->nonce, ROVE_EP_NONCE);
  return encode_done(w, off);
}

/* Board names and agent ids end up in file names' neighbours (CSV cells,
 * logs), so they are restricted to a safe alphabet. */
static int name_ok(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("-_.:@", *s))
      return 0;
  return 1;
}

int rove_ep_decode_hello(const unsigned char *p, uint32_t n, rove_ep_hello *h) {
  rove_rbuf r;
  rove_rbuf_init(&r, p, n);
  memset(h, 0, sizeof *h);
  rove_get_str(&r, h->board, sizeof h->board);
  rove_get_str(&r, h->agent_id, sizeof h->agent_id);
  rove_get_str(&r, h->sensor, sizeof h->sensor);
  rove_get_bytes(&r, h->nonce, ROVE_EP_NONCE);
  ROVE_TRY(decode_done(&r, "HELLO"));
  if (!name_ok(h->board))
    return ROVE_ERR(
        ROVE_EFORMAT,
        "energy protocol: HELLO board name \"%s\" must be non-empty "
        "[A-Za-z0-9-_.:@]",
        h->board);
  if (!name_ok(h->agent_id))
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy protocol: HELLO agent id must be non-empty "
                    "[A-Za-z0-9-_.:@]");
  return 0;
}

int rove_ep_encode_nonce(rove_wbuf *w, int type,
                         const unsigned char nonce[ROVE_EP_NONCE]) {
  size_t off = rove_ep_frame_begin(w, type);
  rove_put_bytes(w, nonce, ROVE_EP_NONCE);
  return encode_done(w, off);
}

int rove_ep_decode_nonce(const unsigned char *p, uint32_t n,
                         unsigned char out[ROVE_EP_NONCE]) {
  rove_rbuf r;
  rove_rbuf_init(&r, p, n);
  rove_get_bytes(&r, out, ROVE_EP_NONCE);
  return decode_done(&r, "CHALLENGE/AUTH");
}

static void put_mconf(rove_wbuf *w, const rove_ep_mconf *c) {
  rove_put_f64(w, c->idle_s);
  rove_put_f64(w, c->warmup_s);
  rove_put_f64(w, c->window_s);
  rove_put_f64(w, c->sample_period_s);
  rove_put_u32(w, c->trials);
  rove_put_u32(w, c->batch);
}

static void get_mconf(rove_rbuf *r, rove_ep_mconf *c) {
  c->idle_s = rove_get_f64(r);
  c->warmup_s = rove_get_f64(r);
  c->window_s = rove_get_f64(r);
  c->sample_period_s = rove_get_f64(r);
  c->trials = rove_get_u32(r);
  c->batch = rove_get_u32(r);
}

int rove_ep_encode_request(rove_wbuf *w, const rove_ep_request *q) {
  size_t off = rove_ep_frame_begin(w, ROVE_EP_REQUEST);
  rove_put_u64(w, q->request_id);
  rove_put_bytes(w, q->model_hash, 32);
  rove_put_str(w, q->model_name);
  rove_put_str(w, q->input_set);
  put_mconf(w, &q->conf);
  rove_put_u32(w, q->model_len);
  rove_put_bytes(w, q->model, q->model_len);
  rove_put_u32(w, q->inputs_len);
  rove_put_bytes(w, q->inputs, q->inputs_len);
  return encode_done(w, off);
}

int rove_ep_decode_request(const unsigned char *p, uint32_t n,
                           rove_ep_request *q) {
  rove_rbuf r;
  rove_rbuf_init(&r, p, n);
  memset(q, 0, sizeof *q);
  q->request_id = rove_get_u64(&r);
  rove_get_bytes(&r, q->model_hash, 32);
  rove_get_str(&r, q->model_name, sizeof q->model_name);
  rove_get_str(&r, q->input_set, sizeof q->input_set);
  get_mconf(&r, &q->conf);
  q->model_len = rove_get_u32(&r);
  q->model = rove_get_view(&r, q->model_len);
  q->inputs_len = rove_get_u32(&r);
  q->inputs = q->inputs_len ? rove_get_view(&r, q->inputs_len) : NULL;
  ROVE_TRY(decode_done(&r, "REQUEST"));
  if (q->model_len == 0)
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy protocol: REQUEST has no model bytes");
  if (q->inputs_len % 4)
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy protocol: REQUEST inputs of %u bytes are not whole "
                    "float32 values",
                    q->inputs_len);
  ROVE_TRY(rove_ep_mconf_check(&q->conf));
  return 0;
}

void rove_energy_result_put(rove_wbuf *w, const rove_energy_result *r) {
  rove_put_u64(w, r->request_id);
  rove_put_bytes(w, r->model_hash, 32);
  rove_put_str(w, r->model_name);
  rove_put_str(w, r->board);
  rove_put_str(w, r->agent_id);
  rove_put_str(w, r->sensor);
  rove_put_str(w, r->input_set);
  rove_put_i32(w, r->scope);
  rove_put_i32(w, r->status);
  rove_put_str(w, r->reason);
  rove_put_u32(w, r->flags);
  rove_put_u32(w, r->batch);
  rove_put_u32(w, r->n_trials);
  for (uint32_t i = 0; i < r->n_trials && i < ROVE_ER_MAX_TRIALS; i++)
    rove_put_f64(w, r->trial_j[i]);
  const double d[] = {
      r->energy_j,     r->energy_dyn_j,  r->ci_lo_j,       r->ci_hi_j,
      r->cv,           r->power_w,       r->idle_power_w,  r->idle_before_w,
      r->idle_after_w, r->latency_p50_s, r->latency_p99_s, r->sample_period_s,
      r->jitter_s};
  for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
    rove_put_f64(w, d[i]);
  rove_put_u64(w, r->n_inferences);
  rove_put_u64(w, r->n_samples);
}

int rove_energy_result_get(rove_rbuf *rb, rove_energy_result *r) {
  memset(r, 0, sizeof *r);
  r->request_id = rove_get_u64(rb);
  rove_get_bytes(rb, r->model_hash, 32);
  rove_get_str(rb, r->model_name, sizeof r->model_name);
  rove_get_str(rb, r->board, sizeof r->board);
  rove_get_str(rb, r->agent_id, sizeof r->agent_id);
  rove_get_str(rb, r->sensor, sizeof r->sensor);
  rove_get_str(rb, r->input_set, sizeof r->input_set);
  r->scope = rove_get_i32(rb);
  r->status = rove_get_i32(rb);
  rove_get_str(rb, r->reason, sizeof r->reason);
  r->flags = rove_get_u32(rb);
  r->batch = rove_get_u32(rb);
  r->n_trials = rove_get_u32(rb);
  if (r->n_trials > ROVE_ER_MAX_TRIALS)
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy result: n_trials = %u, expected <= %d", r->n_trials,
                    ROVE_ER_MAX_TRIALS);
  for (uint32_t i = 0; i < r->n_trials; i++)
    r->trial_j[i] = rove_get_f64(rb);
  double *d[] = {&r->energy_j,
                 &r->energy_dyn_j,
                 &r->ci_lo_j,
                 &r->ci_hi_j,
                 &r->cv,
                 &r->power_w,
                 &r->idle_power_w,
                 &r->idle_before_w,
                 &r->idle_after_w,
                 &r->latency_p50_s,
                 &r->latency_p99_s,
                 &r->sample_period_s,
                 &r->jitter_s};
  for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
    *d[i] = rove_get_f64(rb);
  r->n_inferences = rove_get_u64(rb);
  r->n_samples = rove_get_u64(rb);
  if (rb->failed)
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy result: truncated or a field too long");
  if (r->scope < 0 || r->scope > ROVE_SCOPE_ESTIMATE)
    return ROVE_ERR(ROVE_EFORMAT, "energy result: scope = %d, expected 0..%d",
                    r->scope, ROVE_SCOPE_ESTIMATE);
  if (r->status < 0 || r->status > ROVE_ER_FAILED)
    return ROVE_ERR(ROVE_EFORMAT, "energy result: status = %d, expected 0..2",
                    r->status);
  if (!name_ok(r->board))
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy result: board name \"%s\" is not valid", r->board);
  if (r->request_id != rove_ep_request_id(r->model_hash, r->board))
    return ROVE_ERR(ROVE_EFORMAT,
                    "energy result: request id does not match (model hash, "
                    "board \"%s\")",
                    r->board);
  return 0;
}

int rove_ep_encode_result(rove_wbuf *w, const rove_energy_result *r) {
  size_t off = rove_ep_frame_begin(w, ROVE_EP_RESULT);
  rove_energy_result_put(w, r);
  return encode_done(w, off);
}

int rove_ep_decode_result(const unsigned char *p, uint32_t n,
                          rove_energy_result *r) {
  rove_rbuf rb;
  rove_rbuf_init(&rb, p, n);
  ROVE_TRY(rove_energy_result_get(&rb, r));
  return decode_done(&rb, "RESULT");
}

int rove_ep_encode_ack(rove_wbuf *w, uint64_t request_id) {
  size_t off = rove_ep_frame_begin(w, ROVE_EP_ACK);
  rove_put_u64(w, request_id);
  return encode_done(w, off);
}

int rove_ep_decode_ack(const unsigned char *p, uint32_t n, uint64_t *id) {
  rove_rbuf r;
  rove_rbuf_init(&r, p, n);
  *id = rove_get_u64(&r);
  return decode_done(&r, "ACK");
}

uint64_t rove_ep_request_id(const unsigned char model_hash[32],
                            const char *board) {
  crypto_generichash_state st;
  unsigned char out[16];
  crypto_generichash_init(&st, NULL, 0, sizeof out);
  crypto_generichash_update(&st, model_hash, 32);
  crypto_generichash_update(&st, (const unsigned char *)board, strlen(board));
  crypto_generichash_final(&st, out, sizeof out);
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= (uint64_t)out[i] << (8 * i);
  return v;
}

/* ---- Names ------------------------------------------------------------ */

const char *rove_energy_scope_name(int scope) {
  switch (scope) {
  case ROVE_SCOPE_BOARD_INPUT: return "board_input";
  case ROVE_SCOPE_MODULE_RAILS: return "module_rails";
  case ROVE_SCOPE_CPU_PACKAGE: return "cpu_package";
  case ROVE_SCOPE_EXTERNAL: return "external_meter";
  case ROVE_SCOPE_SENSOR: return "sensor";
  case ROVE_SCOPE_ESTIMATE: return "estimate";
  default: return "unknown";
  }
}

const char *rove_energy_status_name(int status) {
  switch (status) {
  case ROVE_ER_OK: return "ok";
  case ROVE_ER_UNMEASURABLE: return "unmeasurable";
  case ROVE_ER_FAILED: return "failed";
  default: return "unknown";
  }
}

const char *rove_energy_flag_name(unsigned bit_index) {
  static const char *const names[ROVE_EF_COUNT_] = {
      "idle_drift", "few_samples",    "short_window", "high_cv",
      "jitter",     "not_above_idle", "few_trials",   "estimate",
      "quick",      "counter_wrap"};
  return bit_index < ROVE_EF_COUNT_ ? names[bit_index] : "unknown";
}

void rove_energy_flags_str(uint32_t flags, char *buf, size_t cap) {
  size_t k = 0;
  if (cap)
    buf[0] = 0;
  for (unsigned i = 0; i < ROVE_EF_COUNT_; i++) {
    if (!(flags & (1u << i)))
      continue;
    int n = snprintf(buf + k, cap > k ? cap - k : 0, "%s%s", k ? "|" : "",
                     rove_energy_flag_name(i));
    if (n < 0 || (size_t)n >= cap - k)
      return;
    k += (size_t)n;
  }
}

int rove_energy_result_valid(const rove_energy_result *r) {
  return r->status == ROVE_ER_OK && !(r->flags & ROVE_EF_INVALIDATING) &&
         isfinite(r->energy_j);
}

/* ---- Table ------------------------------------------------------------ */

void rove_energy_table_init(rove_energy_table *t) {
  memset(t, 0, sizeof *t);
}

void rove_energy_table_deinit(rove_energy_table *t) {
  free(t->r);
  memset(t, 0, sizeof *t);
}

const rove_energy_result *rove_energy_table_find_id(const rove_energy_table *t,
                                                    uint64_t request_id) {
  for (size_t i = 0; i < t->n; i++)
    if (t->r[i].request_id == request_id)
      return &t->r[i];
  return NULL;
}

const rove_energy_result *
rove_energy_table_find(const rove_energy_table *t,
                       const unsigned char model_hash[32], const char *board) {
  return rove_energy_table_find_id(t, rove_ep_request_id(model_hash, board));
}

int rove_energy_table_add(rove_energy_table *t, const rove_energy_result *r,
                          int *added) {
  if (added)
    *added = 0;
  if (rove_energy_table_find_id(t, r->request_id))
    return 0;
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 16;
    rove_energy_result *p = realloc(t->r, cap * sizeof *p);
    if (!p)
      return ROVE_ERR(ROVE_ENOMEM, "energy table: out of memory");
    t->r = p;
    t->cap = cap;
  }
  t->r[t->n++] = *r;
  if (added)
    *added = 1;
  return 0;
}

/* ---- Journal ---------------------------------------------------------- */

static const char journal_magic[8] = {'R', 'O', 'V', 'E', 'E', 'J', '1', '\n'};
#define JOURNAL_MAX_RECORD (1u << 20)

/* Scans a journal. Returns 0 with *good_end = offset after the last good
 * record and *torn = bytes after it that form a torn tail. */
static int journal_scan(FILE *f, const char *path, rove_energy_table *t,
                        long *good_end, size_t *torn) {
  *torn = 0;
  *good_end = 0;
  if (fseek(f, 0, SEEK_END) != 0)
    return ROVE_ERR(ROVE_EIO, "%s: cannot seek: %s", path, strerror(errno));
  long size = ftell(f);
  rewind(f);
  if (size == 0)
    return 0;
  char magic[8];
  if (size < 8 || fread(magic, 1, 8, f) != 8 || memcmp(magic, journal_magic, 8))
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: not an energy journal (expected the header "
                    "\"ROVEEJ1\")",
                    path);
  long pos = 8;
  unsigned char *buf = NULL;
  int rc = 0;
  while (pos < size) {
    unsigned char hdr[8];
    if (size - pos < 8 || fread(hdr, 1, 8, f) != 8) {
      *torn = (size_t)(size - pos);
      break;
    }
    uint32_t n = le32(hdr), crc = le32(hdr + 4);
    if ((long)n > size - pos - 8) {
      *torn = (size_t)(size - pos);
      break;
    }
    if (n > JOURNAL_MAX_RECORD) {
      rc = ROVE_ERR(ROVE_EFORMAT,
                    "%s: record at byte %ld claims %u bytes (max %u): the "
                    "journal is corrupt",
                    path, pos, n, JOURNAL_MAX_RECORD);
      break;
    }
    unsigned char *b = realloc(buf, n ? n : 1);
    if (!b) {
      rc = ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", path);
      break;
    }
    buf = b;
    if (fread(buf, 1, n, f) != n) {
      rc = ROVE_ERR(ROVE_EIO, "%s: read error at byte %ld", path, pos);
      break;
    }
    uint32_t got = (uint32_t)crc32(0L, buf, n);
    if (got != crc) {
      if (pos + 8 + (long)n == size) { /* torn last record */
        *torn = (size_t)(size - pos);
        break;
      }
      rc = ROVE_ERR(ROVE_ECRC,
                    "%s: record at byte %ld has a bad CRC32 and is not the "
                    "last one: the journal is corrupt",
                    path, pos);
      break;
    }
    rove_energy_result r;
    rove_rbuf rb;
    rove_rbuf_init(&rb, buf, n);
    rc = rove_energy_result_get(&rb, &r);
    if (rc < 0) {
      rc = ROVE_ERR(ROVE_EFORMAT, "%s: record at byte %ld: %s", path, pos,
                    rove_error_message());
      break;
    }
    rc = rove_energy_table_add(t, &r, NULL);
    if (rc < 0)
      break;
    pos += 8 + (long)n;
  }
  free(buf);
  *good_end = pos;
  return rc;
}

int rove_energy_journal_read(const char *path, rove_energy_table *t,
                             size_t *torn_bytes) {
  size_t torn = 0;
  long end;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT) {
      if (torn_bytes)
        *torn_bytes = 0;
      return 0;
    }
    return ROVE_ERR(ROVE_EIO, "%s: cannot open: %s", path, strerror(errno));
  }
  int rc = journal_scan(f, path, t, &end, &torn);
  fclose(f);
  if (torn_bytes)
    *torn_bytes = torn;
  return rc;
}

int rove_energy_journal_open(rove_energy_journal *j, const char *path,
                             rove_energy_table *t, size_t *torn_bytes) {
  memset(j, 0, sizeof *j);
  if (strlen(path) >= sizeof j->path)
    return ROVE_ERR(ROVE_EINVAL, "%s: path too long", path);
  snprintf(j->path, sizeof j->path, "%s", path);
  FILE *f = fopen(path, "r+b");
  if (!f && errno == ENOENT)
    f = fopen(path, "w+b");
  if (!f)
    return ROVE_ERR(ROVE_EIO, "%s: cannot open the energy journal: %s", path,
                    strerror(errno));
  size_t torn = 0;
  long end = 0;
  int rc = journal_scan(f, path, t, &end, &torn);
  if (rc < 0) {
    fclose(f);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  if (end == 0) {
    if (fwrite(journal_magic, 1, 8, f) != 8 || fflush(f) != 0) {
      fclose(f);
      return ROVE_ERR(ROVE_EIO, "%s: cannot write: %s", path, strerror(errno));
    }
    end = 8;
  } else if (torn) {
    fflush(f);
    if (ftruncate(fileno(f), end) != 0) {
      fclose(f);
      return ROVE_ERR(ROVE_EIO, "%s: cannot cut the torn tail: %s", path,
                      strerror(errno));
    }
  }
  if (fseek(f, end, SEEK_SET) != 0) {
    fclose(f);
    return ROVE_ERR(ROVE_EIO, "%s: cannot seek: %s", path, strerror(errno));
  }
  j->f = f;
  if (torn_bytes)
    *torn_bytes = torn;
  return 0;
}

int rove_energy_journal_append(rove_energy_journal *j,
                               const rove_energy_result *r) {
  if (!j->f)
    return ROVE_ERR(ROVE_ESTATE, "energy journal: not open");
  rove_wbuf w;
  rove_wbuf_init(&w);
  rove_put_u32(&w, 0);
  rove_put_u32(&w, 0);
  rove_energy_result_put(&w, r);
  if (w.failed) {
    rove_wbuf_deinit(&w);
    return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory", j->path);
  }
  uint32_t n = (uint32_t)(w.len - 8);
  rove_patch_u32(&w, 0, n);
  rove_patch_u32(&w, 4, (uint32_t)crc32(0L, w.data + 8, n));
  int ok = fwrite(w.data, 1, w.len, j->f) == w.len && fflush(j->f) == 0 &&
           fsync(fileno(j->f)) == 0;
  rove_wbuf_deinit(&w);
  if (!ok)
    return ROVE_ERR(ROVE_EIO, "%s: cannot append a record: %s", j->path,
                    strerror(errno));
  return 0;
}

void rove_energy_journal_close(rove_energy_journal *j) {
  if (j->f)
    fclose(j->f);
  j->f = NULL;
}
