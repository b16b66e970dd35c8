/* energy_proto.h - the rove-agent <-> energy hub protocol: frames, the
 * HMAC handshake and the messages (the result they carry is in
 * energy_result.h, its journal in energy_journal.h). */
#ifndef ROVE_COMMON_ENERGY_PROTO_H
#define ROVE_COMMON_ENERGY_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/energy_result.h"
#include "common/wire.h"

/* ---- Frames ----------------------------------------------------------
 * Every message is one frame: a 12-byte header (u32 magic "RVE1", u16
 * protocol version, u16 type, u32 payload length, little-endian) followed
 * by the payload encoded with common/wire.h. A peer that sends a bad
 * magic, an unknown version or type, or a length above the receiver's
 * maximum is dropped: the header alone tells, before any payload is
 * buffered, so a garbage or hostile client costs at most 12 bytes. */
#define ROVE_EP_MAGIC 0x31455652u /* "RVE1" */
#define ROVE_EP_VERSION 1
#define ROVE_EP_HEADER 12
/* Model bytes travel inside a REQUEST, so the cap is generous; before a
 * peer has authenticated the receiver uses ROVE_EP_MAX_PREAUTH instead. */
#define ROVE_EP_MAX_PAYLOAD (256u << 20)
#define ROVE_EP_MAX_PREAUTH 4096u
#define ROVE_EP_NONCE 32
#define ROVE_EP_MAC 32

enum rove_ep_type {
  ROVE_EP_HELLO = 1,     /* agent -> hub: who I am + client nonce */
  ROVE_EP_CHALLENGE = 2, /* hub -> agent: server nonce */
  ROVE_EP_AUTH = 3,      /* agent -> hub: HMAC over both nonces */
  ROVE_EP_AUTH_OK = 4,   /* hub -> agent: HMAC proving the hub has the token */
  ROVE_EP_REQUEST = 5,   /* hub -> agent: measure this model */
  ROVE_EP_RESULT = 6,    /* agent -> hub: one measurement result */
  ROVE_EP_ACK = 7,       /* hub -> agent: result journaled (u64 request id) */
  ROVE_EP_TYPE_END_
};

/* Returns the type's name ("HELLO", ...) or "unknown". */
const char *rove_ep_type_name(int type);

/* Appends a frame header for `type` to w and returns the offset to pass
 * to rove_ep_frame_end once the payload has been appended. */
size_t rove_ep_frame_begin(rove_wbuf *w, int type);
/* Patches the payload length. Returns ROVE_ENOMEM if w failed, ROVE_ERANGE
 * if the payload exceeds ROVE_EP_MAX_PAYLOAD. */
int rove_ep_frame_end(rove_wbuf *w, size_t off);

/* Incremental frame reader for a byte stream: feed what the socket
 * delivered, then take frames out one by one. It owns its buffer. */
typedef struct rove_ep_reader {
  unsigned char *buf;
  size_t len, cap;
  uint32_t max_payload; /* may be raised after authentication */
} rove_ep_reader;

void rove_ep_reader_init(rove_ep_reader *r, uint32_t max_payload);
void rove_ep_reader_deinit(rove_ep_reader *r);
/* Buffers n bytes (copied). Returns 0 or ROVE_ENOMEM. */
int rove_ep_reader_feed(rove_ep_reader *r, const void *data, size_t n);
/* When a whole frame is buffered: returns 1 with *type and a borrowed
 * payload view (valid until the next feed/next call). 0: need more bytes.
 * Negative: the stream is bad (ROVE_EFORMAT bad magic or type,
 * ROVE_EVERSION, ROVE_ERANGE too long) with a message saying which;
 * the connection must be dropped. Calling it again without a pop returns
 * the same frame. */
int rove_ep_reader_next(rove_ep_reader *r, int *type,
                        const unsigned char **payload, uint32_t *len);
/* Drops the frame rove_ep_reader_next returned (call once handled). */
void rove_ep_reader_pop(rove_ep_reader *r);

/* ---- Authentication --------------------------------------------------
 * The shared token is the HMAC-SHA256 key. The agent proves it holds it
 * with mac("agent", server nonce, client nonce, board, agent id); the hub
 * answers with mac("hub", client nonce, server nonce, board, agent id), so
 * an agent never uploads results to an impostor. Nonces are fresh per
 * connection, so a recorded handshake cannot be replayed. */
typedef struct rove_ep_token {
  unsigned char key[256];
  size_t len;
} rove_ep_token;

/* Reads a token file: the token is the file's bytes without trailing
 * whitespace, at least 16 bytes. Errors name the file. */
int rove_ep_token_load(rove_ep_token *t, const char *path);
/* Creates a token file that does not exist yet: 32 random bytes
 * (libsodium), base64, mode 0600, its directory made if needed; never
 * overwrites (O_EXCL). Returns 1 when it created the file, 0 when one
 * exists. The hub calls it so a first sweep needs no set-up step; the
 * agents are given the same file. */
int rove_ep_token_create(const char *path);
void rove_ep_mac(const rove_ep_token *t, const char *role,
                 const unsigned char first[ROVE_EP_NONCE],
                 const unsigned char second[ROVE_EP_NONCE], const char *board,
                 const char *agent_id, unsigned char out[ROVE_EP_MAC]);
/* Constant-time comparison: 1 when equal. */
int rove_ep_mac_equal(const unsigned char a[ROVE_EP_MAC],
                      const unsigned char b[ROVE_EP_MAC]);
/* Fills n bytes from the OS random source (libsodium). */
void rove_ep_random(void *p, size_t n);

/* ---- Messages --------------------------------------------------------- */
typedef struct rove_ep_hello {
  char board[64];    /* board class, e.g. "jetson-nano" */
  char agent_id[64]; /* unique per agent process instance */
  char sensor[128];  /* what it measures with, for the hub's log */
  unsigned char nonce[ROVE_EP_NONCE];
} rove_ep_hello;

/* How a board measures (defaults in rove_ep_mconf_default). */
typedef struct rove_ep_mconf {
  double idle_s;          /* idle power window, before and after */
  double warmup_s;        /* unmeasured inference before the first trial */
  double window_s;        /* length of one measured trial */
  double sample_period_s; /* sampler period */
  uint32_t trials;        /* trials per model, interleaved across models */
  uint32_t batch;         /* inference batch size */
} rove_ep_mconf;

void rove_ep_mconf_default(rove_ep_mconf *c);
/* Short windows for tests and a first look at a board. */
void rove_ep_mconf_quick(rove_ep_mconf *c);
/* Checks ranges; errors name the field. */
int rove_ep_mconf_check(const rove_ep_mconf *c);

/* A request borrows its model and input bytes from the frame it was
 * decoded from (or from the caller that encodes it). */
typedef struct rove_ep_request {
  uint64_t request_id;
  unsigned char model_hash[32];
  char model_name[128];
  char input_set[64]; /* "synthetic" (no inputs sent), "clean", "adversarial" */
  rove_ep_mconf conf;
  const unsigned char *model;
  uint32_t model_len;
  const unsigned char *inputs; /* float32 little-endian, whole examples */
  uint32_t inputs_len;         /* bytes */
} rove_ep_request;

/* Encoders append one whole frame to w; check w->failed or the return
 * value. Decoders take a frame payload and return 0 or ROVE_EFORMAT with a
 * message naming the message type and field. */
int rove_ep_encode_hello(rove_wbuf *w, const rove_ep_hello *h);
int rove_ep_decode_hello(const unsigned char *p, uint32_t n, rove_ep_hello *h);
int rove_ep_encode_nonce(rove_wbuf *w, int type,
                         const unsigned char nonce[ROVE_EP_NONCE]);
/* CHALLENGE (nonce), AUTH and AUTH_OK (mac) share this layout. */
int rove_ep_decode_nonce(const unsigned char *p, uint32_t n,
                         unsigned char out[ROVE_EP_NONCE]);
int rove_ep_encode_request(rove_wbuf *w, const rove_ep_request *q);
int rove_ep_decode_request(const unsigned char *p, uint32_t n,
                           rove_ep_request *q);
int rove_ep_encode_result(rove_wbuf *w, const rove_energy_result *r);
int rove_ep_decode_result(const unsigned char *p, uint32_t n,
                          rove_energy_result *r);
int rove_ep_encode_ack(rove_wbuf *w, uint64_t request_id);
int rove_ep_decode_ack(const unsigned char *p, uint32_t n, uint64_t *id);

#endif
