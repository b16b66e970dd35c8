/* format_rove.c - encode, decode and atomically save native .rove models. */
#include "common/format_rove.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/err.h"

/* Fixed framing, the same for every version: magic, u32 version, u32
 * flags, u64 total length, ..., u32 CRC32 of everything before it. */
#define HEADER_LEN 24
#define TRAILER_LEN 4
/* The only parameter encoding so far: zlib stream of little-endian
 * float32. */
#define PARAMS_ZLIB_F32LE 1u
/* Deflate never expands data by more than about 1032:1, so a compressed
 * length bounds the parameter count a file can honestly claim; this keeps a
 * crafted count from asking for terabytes before zlib would notice. */
#define MAX_INFLATE_RATIO 1100u
/* Smallest possible encoded node: two empty strings, one input, shape,
 * attributes and counts. */
#define MIN_NODE_BYTES (4 + 4 + 4 + 4 + 20 + 4 * ROVE_ATTRS_WORDS + 16)

int rove_format_is_native(const void *buf, size_t len) {
  return len >= ROVE_FORMAT_MAGIC_LEN &&
         memcmp(buf, ROVE_FORMAT_MAGIC, ROVE_FORMAT_MAGIC_LEN) == 0;
}

static void put_shape(rove_wbuf *w, const rove_shape *s) {
  rove_put_u32(w, (uint32_t)s->rank);
  for (int i = 0; i < ROVE_MAX_RANK; i++)
    rove_put_i32(w, i < s->rank ? s->d[i] : 0);
}

static void get_shape(rove_rbuf *r, rove_shape *s) {
  memset(s, 0, sizeof *s);
  uint32_t rank = rove_get_u32(r);
  s->rank = rank > ROVE_MAX_RANK ? -1 : (int)rank;
  for (int i = 0; i < ROVE_MAX_RANK; i++)
    s->d[i] = rove_get_i32(r);
}

static int shape_eq(const rove_shape *a, const rove_shape *b) {
  if (a->rank != b->rank)
    return 0;
  for (int i = 0; i < a->rank; i++)
    if (a->d[i] != b->d[i])
      return 0;
  return 1;
}

static void shape_str(const rove_shape *s, char *buf, size_t cap) {
  size_t k = 0;
  buf[0] = '\0';
  for (int i = 0; i < s->rank && k < cap; i++)
    k += (size_t)snprintf(buf + k, cap - k, "%s%d", i ? "x" : "", s->d[i]);
  if (s->rank == 0)
    snprintf(buf, cap, "scalar");
}

/* Parameters as little-endian float32 bytes, whatever the host order. */
static unsigned char *params_le(const rove_model *m) {
  unsigned char *b = malloc(m->n_params * 4 + 1);
  if (!b)
    return NULL;
  for (size_t i = 0; i < m->n_params; i++) {
    uint32_t u;
    memcpy(&u, &m->params[i], 4);
    for (int k = 0; k < 4; k++)
      b[4 * i + (size_t)k] = (unsigned char)(u >> (8 * k));
  }
  return b;
}

int rove_model_encode(const rove_model *m, rove_wbuf *w) {
  if (!m->finalized)
    return ROVE_ERR(ROVE_ESTATE, "cannot encode a model that was not "
                                 "finalized");
  unsigned char *raw = params_le(m);
  uLongf clen = compressBound((uLong)(m->n_params * 4));
  unsigned char *z = malloc(clen);
  if (!raw || !z) {
    free(raw);
    free(z);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory encoding a model");
  }
  int zr = compress2(z, &clen, raw, (uLong)(m->n_params * 4), 6);
  free(raw);
  if (zr != Z_OK) {
    free(z);
    return ROVE_ERR(ROVE_ENOMEM,
                    "zlib could not compress the parameters "
                    "(code %d)",
                    zr);
  }

  size_t start = w->len;
  rove_put_bytes(w, ROVE_FORMAT_MAGIC, ROVE_FORMAT_MAGIC_LEN);
  rove_put_u32(w, ROVE_FORMAT_VERSION);
  rove_put_u32(w, 0); /* flags */
  rove_put_u64(w, 0); /* total length, patched below */
  put_shape(w, &m->in);
  rove_put_u32(w, (uint32_t)m->n_nodes);
  rove_put_i32(w, m->output);
  rove_put_u32(w, (uint32_t)(m->softmax_stripped != 0));
  rove_put_u64(w, (uint64_t)m->n_params);
  rove_put_u32(w, PARAMS_ZLIB_F32LE);
  rove_put_u64(w, (uint64_t)clen);
  for (int i = 0; i < m->n_nodes; i++) {
    const rove_node *n = &m->nodes[i];
    unsigned int words[ROVE_ATTRS_WORDS];
    rove_put_str(w, rove_layers[n->op]->name);
    rove_put_str(w, n->name);
    rove_put_u32(w, (uint32_t)n->n_in);
    for (int j = 0; j < n->n_in; j++)
      rove_put_i32(w, n->in[j]);
    put_shape(w, &n->out);
    rove_attrs_to_words(&n->a, words);
    for (int j = 0; j < ROVE_ATTRS_WORDS; j++)
      rove_put_u32(w, words[j]);
    rove_put_u64(w, (uint64_t)n->n_params);
    rove_put_u64(w, (uint64_t)n->n_trainable);
  }
  rove_put_bytes(w, z, clen);
  free(z);
  rove_put_bytes(w, m->hash, sizeof m->hash);
  if (w->failed)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory encoding a model");
  size_t total = w->len - start + TRAILER_LEN;
  /* The length field is a u64 at offset 16; patch it as two u32 halves. */
  rove_patch_u32(w, start + 16, (uint32_t)total);
  rove_patch_u32(w, start + 20, (uint32_t)((uint64_t)total >> 32));
  rove_put_u32(w, (uint32_t)crc32_z(0L, w->data + start, w->len - start));
  if (w->failed)
    return ROVE_ERR(ROVE_ENOMEM, "out of memory encoding a model");
  return 0;
}

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* Checks the framing: magic, length, CRC, version, flags. */
static int check_frame(const unsigned char *b, size_t len, const char *what) {
  if (!rove_format_is_native(b, len))
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: not a .rove model (the first 8 bytes are not the "
                    "magic \"ROVEMDL\\x1a\")",
                    what);
  if (len < HEADER_LEN + TRAILER_LEN)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: truncated: %zu bytes, shorter than the %d-byte "
                    ".rove header",
                    what, len, HEADER_LEN + TRAILER_LEN);
  uint64_t total = (uint64_t)le32(b + 16) | (uint64_t)le32(b + 20) << 32;
  uint32_t stored = le32(b + len - TRAILER_LEN);
  uint32_t crc = (uint32_t)crc32_z(0L, b, len - TRAILER_LEN);
  if (crc != stored) {
    if (total > len)
      return ROVE_ERR(ROVE_EFORMAT,
                      "%s: truncated: %zu bytes, but the header says the "
                      "model is %llu bytes",
                      what, len, (unsigned long long)total);
    return ROVE_ERR(ROVE_ECRC,
                    "%s: the file is corrupt: CRC32 is %08x, expected the "
                    "stored %08x",
                    what, crc, stored);
  }
  if (total != len)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: %zu bytes, but the header says the model is %llu "
                    "bytes",
                    what, len, (unsigned long long)total);
  uint32_t version = le32(b + 8);
  if (version != ROVE_FORMAT_VERSION)
    return ROVE_ERR(ROVE_EVERSION,
                    "%s: .rove format version %u; this rove reads version "
                    "%u",
                    what, version, ROVE_FORMAT_VERSION);
  if (le32(b + 12) != 0)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: header flags 0x%08x; this rove knows no flags "
                    "(expected 0)",
                    what, le32(b + 12));
  return 0;
}

/* Decodes and validates one node, then adds it to m. */
static int decode_node(rove_model *m, rove_rbuf *r, int i, uint64_t *nparams,
                       uint64_t total_params, const char *what) {
  char opname[64], name[64];
  rove_get_str(r, opname, sizeof opname);
  rove_get_str(r, name, sizeof name);
  uint32_t n_in = rove_get_u32(r);
  if (r->failed)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: node %d: malformed layer or node name (expected "
                    "strings of at most 63 bytes)",
                    what, i);
  int op = rove_layer_find(opname);
  if (op < 0)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: node %d '%s' has layer kind '%s', which this rove "
                    "does not know",
                    what, i, name, opname);
  if (n_in < 1 || n_in > ROVE_MAX_IN)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: node %d '%s': %u inputs (expected 1 to %d)", what, i,
                    name, n_in, ROVE_MAX_IN);
  rove_node t;
  memset(&t, 0, sizeof t);
  t.op = op;
  snprintf(t.name, sizeof t.name, "%s", name);
  t.n_in = (int)n_in;
  for (int j = 0; j < t.n_in; j++) {
    t.in[j] = rove_get_i32(r);
    if (t.in[j] != ROVE_INPUT && (t.in[j] < 0 || t.in[j] >= i))
      return ROVE_ERR(ROVE_EFORMAT,
                      "%s: node %d '%s': input %d refers to node %d "
                      "(expected the model input -1 or a node before it)",
                      what, i, name, j, t.in[j]);
    t.ins[j] = t.in[j] == ROVE_INPUT ? m->in : m->nodes[t.in[j]].out;
  }
  rove_shape out;
  get_shape(r, &out);
  unsigned int words[ROVE_ATTRS_WORDS];
  for (int j = 0; j < ROVE_ATTRS_WORDS; j++)
    words[j] = rove_get_u32(r);
  uint64_t np = rove_get_u64(r), nt = rove_get_u64(r);
  if (r->failed)
    return ROVE_ERR(ROVE_EFORMAT, "%s: node %d '%s' is cut short", what, i,
                    name);
  rove_attrs_from_words(&t.a, words);

  /* Run the layer's own shape check on a scratch node first, so a count
   * that disagrees with the file is caught before anything is allocated
   * for it. */
  int rc = rove_layers[op]->setup(&t);
  if (rc < 0) {
    return ROVE_WRAP(rc, "%s: node %d", what, i);
  }
  if (!shape_eq(&t.out, &out)) {
    char a[64], b[64];
    shape_str(&out, a, sizeof a);
    shape_str(&t.out, b, sizeof b);
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: node %d '%s' (%s): stored output shape %s, but "
                    "its inputs and attributes give %s",
                    what, i, name, opname, a, b);
  }
  if (np != t.n_params || nt != t.n_trainable)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: node %d '%s' (%s): stored %llu params (%llu "
                    "trainable), but the layer needs %zu (%zu)",
                    what, i, name, opname, (unsigned long long)np,
                    (unsigned long long)nt, t.n_params, t.n_trainable);
  *nparams += np;
  if (*nparams > total_params)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: nodes hold more parameters than the %llu the "
                    "header declares",
                    what, (unsigned long long)total_params);
  ROVE_TRY(rove_model_add(m, op, name, t.in, t.n_in, &t.a, NULL));
  return 0;
}

static int decode_body(rove_model *m, const unsigned char *b, size_t len,
                       const char *what) {
  rove_rbuf r;
  rove_rbuf_init(&r, b, len - TRAILER_LEN);
  r.pos = HEADER_LEN;
  rove_shape in;
  get_shape(&r, &in);
  uint32_t n_nodes = rove_get_u32(&r);
  int32_t output = rove_get_i32(&r);
  uint32_t stripped = rove_get_u32(&r);
  uint64_t total_params = rove_get_u64(&r);
  uint32_t enc = rove_get_u32(&r);
  uint64_t clen = rove_get_u64(&r);
  if (r.failed)
    return ROVE_ERR(ROVE_EFORMAT, "%s: the graph header is cut short", what);
  if (in.rank < 1)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: input rank field is out of range (expected 1 to "
                    "%d)",
                    what, ROVE_MAX_RANK);
  if (n_nodes < 1 || n_nodes > rove_rbuf_left(&r) / MIN_NODE_BYTES)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: %u nodes cannot fit in the %zu bytes that remain",
                    what, n_nodes, rove_rbuf_left(&r));
  if (output < 0 || (uint32_t)output >= n_nodes)
    return ROVE_ERR(ROVE_EFORMAT, "%s: output node %d (expected 0 to %u)", what,
                    output, n_nodes - 1);
  if (stripped > 1)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: softmax_stripped is %u (expected 0 or 1)", what,
                    stripped);
  if (enc != PARAMS_ZLIB_F32LE)
    return ROVE_ERR(ROVE_EUNSUPPORTED,
                    "%s: parameter encoding %u (expected %u, zlib "
                    "float32)",
                    what, enc, PARAMS_ZLIB_F32LE);
  if (clen > rove_rbuf_left(&r) ||
      total_params > (clen * MAX_INFLATE_RATIO + 1024) / 4)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: %llu compressed bytes cannot hold the %llu "
                    "parameters the header declares",
                    what, (unsigned long long)clen,
                    (unsigned long long)total_params);
  ROVE_TRY(rove_model_init(m, &in));
  uint64_t nparams = 0;
  for (int i = 0; i < (int)n_nodes; i++)
    ROVE_TRY(decode_node(m, &r, i, &nparams, total_params, what));
  if (nparams != total_params || m->n_params != total_params)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: nodes hold %llu parameters, the header declares "
                    "%llu",
                    what, (unsigned long long)nparams,
                    (unsigned long long)total_params);
  const unsigned char *z = rove_get_view(&r, (size_t)clen);
  unsigned char hash[32];
  rove_get_bytes(&r, hash, sizeof hash);
  if (r.failed)
    return ROVE_ERR(ROVE_EFORMAT, "%s: parameters or hash are cut short", what);
  if (rove_rbuf_left(&r) != 0)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: %zu unexpected bytes after the content hash", what,
                    rove_rbuf_left(&r));

  uLongf rawlen = (uLongf)(total_params * 4);
  unsigned char *raw = malloc(rawlen + 1);
  if (!raw)
    return ROVE_ERR(ROVE_ENOMEM, "%s: out of memory for %llu parameters", what,
                    (unsigned long long)total_params);
  uLongf got = rawlen;
  int zr = uncompress(raw, &got, z, (uLong)clen);
  if (zr != Z_OK || got != rawlen) {
    free(raw);
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: the compressed parameters do not inflate to %llu "
                    "float32 values (zlib code %d)",
                    what, (unsigned long long)total_params, zr);
  }
  for (size_t i = 0; i < m->n_params; i++) {
    uint32_t u = le32(raw + 4 * i);
    memcpy(&m->params[i], &u, 4);
  }
  free(raw);

  ROVE_TRY(rove_model_finalize(m, output));
  if (m->output != output)
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: stored output node %d ends in a Softmax that "
                    "should have been stripped",
                    what, output);
  m->softmax_stripped = (int)stripped;
  if (memcmp(hash, m->hash, sizeof hash) != 0) {
    char hex[65];
    rove_model_hash_hex(m, hex);
    return ROVE_ERR(ROVE_EFORMAT,
                    "%s: content hash mismatch: the graph and parameters "
                    "hash to %.16s..., not the stored identity "
                    "%02x%02x%02x%02x%02x%02x%02x%02x...",
                    what, hex, hash[0], hash[1], hash[2], hash[3], hash[4],
                    hash[5], hash[6], hash[7]);
  }
  return 0;
}

int rove_model_decode(rove_model *m, const void *buf, size_t len,
                      const char *what) {
  memset(m, 0, sizeof *m);
  if (!what)
    what = "model";
  int rc = check_frame(buf, len, what);
  if (rc == 0)
    rc = decode_body(m, buf, len, what);
  if (rc < 0) {
    rove_model_deinit(m);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  return 0;
}

static int errno_code(int e) {
  return e == ENOENT ? ROVE_ENOENT : e == EACCES ? ROVE_EACCES : ROVE_EIO;
}

int rove_model_save(const rove_model *m, const char *path) {
  static unsigned counter;
  rove_wbuf w;
  rove_wbuf_init(&w);
  int rc = rove_model_encode(m, &w);
  if (rc < 0) {
    rove_wbuf_deinit(&w);
    return rove_error_trace(rc, __FILE__, __LINE__, __func__);
  }
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 64);
  if (!tmp) {
    rove_wbuf_deinit(&w);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory saving '%s'", path);
  }
  int fd = -1;
  for (int tries = 0; fd < 0 && tries < 100; tries++) {
    snprintf(tmp, plen + 64, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0) {
    int e = errno;
    rc = ROVE_ERR(errno_code(e),
                  "%s: cannot create a temporary file beside it: %s", path,
                  strerror(e));
    goto out;
  }
  for (size_t off = 0; off < w.len;) {
    ssize_t k = write(fd, w.data + off, w.len - off);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0) {
      int e = errno;
      rc = ROVE_ERR(ROVE_EIO, "%s: writing '%s' failed: %s", path, tmp,
                    strerror(e));
      close(fd);
      unlink(tmp);
      goto out;
    }
    off += (size_t)k;
  }
  int synced = fsync(fd);
  int se = errno;
  if (close(fd) < 0 && synced == 0) {
    synced = -1;
    se = errno;
  }
  if (synced < 0) {
    int e = se;
    rc = ROVE_ERR(ROVE_EIO, "%s: flushing '%s' failed: %s", path, tmp,
                  strerror(e));
    unlink(tmp);
    goto out;
  }
  if (rename(tmp, path) < 0) {
    int e = errno;
    rc = ROVE_ERR(errno_code(e), "%s: renaming '%s' over it failed: %s", path,
                  tmp, strerror(e));
    unlink(tmp);
    goto out;
  }
  rc = 0;
out:
  free(tmp);
  rove_wbuf_deinit(&w);
  return rc;
}
