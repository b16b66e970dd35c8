/* uv_send.c - queued writes of encoded messages on libuv streams. */
#include "net/uv_send.h"

#include <stdlib.h>

#include "common/err.h"

typedef struct wreq {
  uv_write_t w;
  uv_buf_t b;
} wreq;

static void on_written(uv_write_t *w, int status) {
  (void)status; /* a failed write shows up as a read error too */
  wreq *r = (wreq *)w;
  free(r->b.base);
  free(r);
}

int rove_uv_send(uv_stream_t *s, rove_wbuf *w) {
  if (w->failed) {
    rove_wbuf_deinit(w);
    return 0;
  }
  wreq *r = malloc(sizeof *r);
  if (!r) {
    rove_wbuf_deinit(w);
    return ROVE_ERR(ROVE_ENOMEM, "out of memory queuing %zu bytes", w->len);
  }
  r->b = uv_buf_init((char *)w->data, (unsigned)w->len);
  w->data = NULL;
  rove_wbuf_deinit(w);
  int e = uv_write(&r->w, s, &r->b, 1, on_written);
  if (e != 0) {
    free(r->b.base);
    free(r);
    return ROVE_ERR(ROVE_ENET, "write failed: %s", uv_strerror(e));
  }
  return 0;
}
