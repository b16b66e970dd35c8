/* wire.h - explicit-width little-endian encoding for everything that crosses
 * MPI, TCP or a file. Nothing with a pointer in it is ever sent raw. */
#ifndef ROVE_COMMON_WIRE_H
#define ROVE_COMMON_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* A writer appends to a growable buffer it owns (free with
 * rove_wbuf_deinit). A failed allocation sets `failed`; later puts are
 * no-ops, so callers check once at the end. */
typedef struct rove_wbuf {
  unsigned char *data;
  size_t len, cap;
  int failed;
} rove_wbuf;

void rove_wbuf_init(rove_wbuf *w);
void rove_wbuf_deinit(rove_wbuf *w);
void rove_put_u8(rove_wbuf *w, uint8_t v);
void rove_put_u16(rove_wbuf *w, uint16_t v);
void rove_put_u32(rove_wbuf *w, uint32_t v);
void rove_put_u64(rove_wbuf *w, uint64_t v);
void rove_put_i32(rove_wbuf *w, int32_t v);
void rove_put_i64(rove_wbuf *w, int64_t v);
void rove_put_f32(rove_wbuf *w, float v);
void rove_put_f64(rove_wbuf *w, double v);
void rove_put_bytes(rove_wbuf *w, const void *p, size_t n);
/* u32 length then the bytes (no NUL). */
void rove_put_str(rove_wbuf *w, const char *s);
/* Overwrites 4 bytes at `off` (for back-patching a length). */
void rove_patch_u32(rove_wbuf *w, size_t off, uint32_t v);

/* A reader borrows a buffer. Reading past the end sets `failed` and yields
 * zeros, so a decoder checks `failed` once and reports ROVE_EFORMAT. */
typedef struct rove_rbuf {
  const unsigned char *data;
  size_t len, pos;
  int failed;
} rove_rbuf;

void rove_rbuf_init(rove_rbuf *r, const void *data, size_t len);
uint8_t rove_get_u8(rove_rbuf *r);
uint16_t rove_get_u16(rove_rbuf *r);
uint32_t rove_get_u32(rove_rbuf *r);
uint64_t rove_get_u64(rove_rbuf *r);
int32_t rove_get_i32(rove_rbuf *r);
int64_t rove_get_i64(rove_rbuf *r);
float rove_get_f32(rove_rbuf *r);
double rove_get_f64(rove_rbuf *r);
/* Copies n bytes into p. */
void rove_get_bytes(rove_rbuf *r, void *p, size_t n);
/* Borrows n bytes (NULL and failed when short). */
const void *rove_get_view(rove_rbuf *r, size_t n);
/* Reads a rove_put_str string into buf (NUL-terminated); fails when it
 * does not fit in cap - 1 bytes or contains a NUL. */
void rove_get_str(rove_rbuf *r, char *buf, size_t cap);
static inline size_t rove_rbuf_left(const rove_rbuf *r) {
  return r->len - r->pos;
}

#endif
