/* wire.c - little-endian put/get with overflow-safe bounds checks. */
#include "common/wire.h"

#include <stdlib.h>
#include <string.h>

void rove_wbuf_init(rove_wbuf *w) {
  memset(w, 0, sizeof *w);
}

void rove_wbuf_deinit(rove_wbuf *w) {
  free(w->data);
  memset(w, 0, sizeof *w);
}

static unsigned char *reserve(rove_wbuf *w, size_t n) {
  if (w->failed)
    return NULL;
  if (n > w->cap - w->len) {
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n) {
      if (cap > SIZE_MAX / 2) {
        w->failed = 1;
        return NULL;
      }
      cap *= 2;
    }
    unsigned char *d = realloc(w->data, cap);
    if (!d) {
      w->failed = 1;
      return NULL;
    }
    w->data = d;
    w->cap = cap;
  }
  unsigned char *p = w->data + w->len;
  w->len += n;
  return p;
}

static void put_le(rove_wbuf *w, uint64_t v, int n) {
  unsigned char *p = reserve(w, (size_t)n);
  if (p)
    for (int i = 0; i < n; i++)
      p[i] = (unsigned char)(v >> (8 * i));
}

void rove_put_u8(rove_wbuf *w, uint8_t v) {
  put_le(w, v, 1);
}
void rove_put_u16(rove_wbuf *w, uint16_t v) {
  put_le(w, v, 2);
}
void rove_put_u32(rove_wbuf *w, uint32_t v) {
  put_le(w, v, 4);
}
void rove_put_u64(rove_wbuf *w, uint64_t v) {
  put_le(w, v, 8);
}
void rove_put_i32(rove_wbuf *w, int32_t v) {
  put_le(w, (uint32_t)v, 4);
}
void rove_put_i64(rove_wbuf *w, int64_t v) {
  put_le(w, (uint64_t)v, 8);
}

void rove_put_f32(rove_wbuf *w, float v) {
  uint32_t u;
  memcpy(&u, &v, 4);
  put_le(w, u, 4);
}

void rove_put_f64(rove_wbuf *w, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  put_le(w, u, 8);
}

void rove_put_bytes(rove_wbuf *w, const void *p, size_t n) {
  unsigned char *d = reserve(w, n);
  if (d && n)
    memcpy(d, p, n);
}

void rove_put_str(rove_wbuf *w, const char *s) {
  size_t n = strlen(s);
  rove_put_u32(w, (uint32_t)n);
  rove_put_bytes(w, s, n);
}

void rove_patch_u32(rove_wbuf *w, size_t off, uint32_t v) {
  if (w->failed || off > w->len || w->len - off < 4)
    return;
  for (int i = 0; i < 4; i++)
    w->data[off + (size_t)i] = (unsigned char)(v >> (8 * i));
}

void rove_rbuf_init(rove_rbuf *r, const void *data, size_t len) {
  r->data = data;
  r->len = len;
  r->pos = 0;
  r->failed = 0;
}

static const unsigned char *take(rove_rbuf *r, size_t n) {
  if (r->failed || n > r->len - r->pos) {
    r->failed = 1;
    return NULL;
  }
  const unsigned char *p = r->data + r->pos;
  r->pos += n;
  return p;
}

static uint64_t get_le(rove_rbuf *r, int n) {
  const unsigned char *p = take(r, (size_t)n);
  uint64_t v = 0;
  if (p)
    for (int i = 0; i < n; i++)
      v |= (uint64_t)p[i] << (8 * i);
  return v;
}

uint8_t rove_get_u8(rove_rbuf *r) {
  return (uint8_t)get_le(r, 1);
}
uint16_t rove_get_u16(rove_rbuf *r) {
  return (uint16_t)get_le(r, 2);
}
uint32_t rove_get_u32(rove_rbuf *r) {
  return (uint32_t)get_le(r, 4);
}
uint64_t rove_get_u64(rove_rbuf *r) {
  return get_le(r, 8);
}
int32_t rove_get_i32(rove_rbuf *r) {
  return (int32_t)get_le(r, 4);
}
int64_t rove_get_i64(rove_rbuf *r) {
  return (int64_t)get_le(r, 8);
}

float rove_get_f32(rove_rbuf *r) {
  uint32_t u = (uint32_t)get_le(r, 4);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

double rove_get_f64(rove_rbuf *r) {
  uint64_t u = get_le(r, 8);
  double d;
  memcpy(&d, &u, 8);
  return d;
}

void rove_get_bytes(rove_rbuf *r, void *p, size_t n) {
  const unsigned char *s = take(r, n);
  if (s && n)
    memcpy(p, s, n);
  else if (!s && n)
    memset(p, 0, n);
}

const void *rove_get_view(rove_rbuf *r, size_t n) {
  return take(r, n);
}

void rove_get_str(rove_rbuf *r, char *buf, size_t cap) {
  uint32_t n = rove_get_u32(r);
  buf[0] = '\0';
  if (r->failed)
    return;
  if ((size_t)n >= cap) {
    r->failed = 1;
    return;
  }
  const unsigned char *s = take(r, n);
  if (!s)
    return;
  if (memchr(s, 0, n)) {
    r->failed = 1;
    return;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
}
