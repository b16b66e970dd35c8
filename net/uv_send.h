/* uv_send.h - sending an encoded message on a libuv stream, shared by the
 * energy hub (coordinator/hub.c) and the agent's client
 * (energy_agents/client.c). */
#ifndef ROVE_NET_UV_SEND_H
#define ROVE_NET_UV_SEND_H

#include <uv.h>

#include "common/wire.h"

/* Queues w's bytes on stream s and takes ownership of them (w is left
 * empty either way; the bytes are freed when the write completes). A
 * buffer whose encoding failed is dropped and 0 returned: its error was
 * the encoder's to report. Returns a negative code when the write cannot
 * be queued (out of memory, uv_write refused): the caller drops the
 * connection. A failed write that was queued shows up as a read error. */
int rove_uv_send(uv_stream_t *s, rove_wbuf *w);

#endif
