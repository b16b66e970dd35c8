/* energy_proto.c - frames, the HMAC-SHA256 handshake and the protocol
 * messages. */
#include "common/energy_proto.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/fileio.h"

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

int rove_ep_token_create(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0)
    return 0;
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = '\0';
    ROVE_TRY(rove_mkdirs(dir));
  }
  if (sodium_init() < 0)
    return ROVE_ERR(ROVE_EIO, "%s: libsodium failed to initialise", path);
  unsigned char key[32];
  char b64[64];
  randombytes_buf(key, sizeof key);
  sodium_bin2base64(b64, sizeof b64, key, sizeof key,
                    sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(key, sizeof key);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return 0; /* made meanwhile by someone else: theirs holds */
    return ROVE_ERR(ROVE_EIO, "%s: cannot create the token file: %s", path,
                    strerror(errno));
  }
  size_t n = strlen(b64);
  b64[n++] = '\n';
  int ok = write(fd, b64, n) == (ssize_t)n && fsync(fd) == 0;
  int e = errno;
  sodium_memzero(b64, sizeof b64);
  if (close(fd) != 0)
    ok = 0;
  if (!ok) {
    unlink(path);
    return ROVE_ERR(ROVE_EIO, "%s: writing the token file failed: %s", path,
                    strerror(e));
  }
  return 1;
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

int rove_ep_decode_hello(const unsigned char *p, uint32_t n, rove_ep_hello *h) {
  rove_rbuf r;
  rove_rbuf_init(&r, p, n);
  memset(h, 0, sizeof *h);
  rove_get_str(&r, h->board, sizeof h->board);
  rove_get_str(&r, h->agent_id, sizeof h->agent_id);
  rove_get_str(&r, h->sensor, sizeof h->sensor);
  rove_get_bytes(&r, h->nonce, ROVE_EP_NONCE);
  ROVE_TRY(decode_done(&r, "HELLO"));
  if (!rove_energy_name_ok(h->board))
    return ROVE_ERR(
        ROVE_EFORMAT,
        "energy protocol: HELLO board name \"%s\" must be non-empty "
        "[A-Za-z0-9-_.:@]",
        h->board);
  if (!rove_energy_name_ok(h->agent_id))
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
