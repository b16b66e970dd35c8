/* sweep_wire.h - the sweep's messages between coordinator and workers, and
 * the unit result record the journal stores (same encoding). */
#ifndef ROVE_COMMON_SWEEP_WIRE_H
#define ROVE_COMMON_SWEEP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/eval.h"
#include "common/wire.h"

/* Every message starts with magic, version and type, so a rank built from
 * a different rove refuses the conversation instead of misreading it. */
#define ROVE_SW_MAGIC 0x57535652u /* "RVSW" */
#define ROVE_SW_VERSION 1u

enum rove_sw_type {
  ROVE_SW_MODEL = 1,  /* model bytes (a .rove image) keyed by content hash */
  ROVE_SW_DATA = 2,   /* one data shard keyed by content hash */
  ROVE_SW_UNIT = 3,   /* one work unit */
  ROVE_SW_RESULT = 4, /* the result of one unit */
  ROVE_SW_STOP = 5    /* no more work: exit */
};

enum rove_unit_kind {
  ROVE_UNIT_CLEAN = 0, /* clean forward of a shard: labels, predictions */
  ROVE_UNIT_ATTACK = 1 /* one restart of a profile at one eps on a shard */
};

/* Reads the header; *type gets the message type. */
int rove_sw_peek(rove_rbuf *r, int *type);

/* MODEL: hash and the bytes (borrowed views on decode). */
void rove_sw_put_model(rove_wbuf *w, const unsigned char hash[32],
                       const void *bytes, size_t len);
int rove_sw_get_model(rove_rbuf *r, unsigned char hash[32], const void **bytes,
                      size_t *len);

/* DATA: a shard of n examples of `numel` floats each, the global index of
 * its first example, labels. Views are borrowed from the reader's buffer
 * (x and y may be unaligned there; copy with rove_get_bytes semantics). */
typedef struct rove_sw_data {
  unsigned char key[32];
  int64_t first; /* global index of example 0 of the shard */
  uint32_t n, numel;
  float *x;   /* owned after decode: n * numel */
  int32_t *y; /* owned after decode: n */
} rove_sw_data;
void rove_sw_put_data(rove_wbuf *w, const rove_sw_data *d);
/* Allocates d->x and d->y; free with rove_sw_data_deinit. */
int rove_sw_get_data(rove_rbuf *r, rove_sw_data *d);
void rove_sw_data_deinit(rove_sw_data *d);

/* UNIT: everything a worker needs to run one unit, given the cached model
 * and shard it names. `off` lists positions inside the shard. */
typedef struct rove_sw_task {
  uint32_t unit;
  uint8_t kind;
  unsigned char model_hash[32];
  unsigned char data_key[32];
  uint64_t seed;
  int norm_linf;
  double eps;
  int32_t restart;
  const void *profile; /* rove_profile_encode bytes; borrowed on decode */
  uint32_t profile_len;
  uint32_t n;
  uint32_t *off; /* owned after decode: n */
} rove_sw_task;
void rove_sw_put_task(rove_wbuf *w, const rove_sw_task *t);
int rove_sw_get_task(rove_rbuf *r, rove_sw_task *t);
void rove_sw_task_deinit(rove_sw_task *t);

/* The result of one unit: what the worker sends back and what the journal
 * stores. Arrays are owned (rove_unit_result_alloc / _deinit). */
typedef struct rove_unit_result {
  uint32_t unit;
  uint8_t kind;
  int32_t status;  /* 0, or the negative code of a failed unit */
  char error[256]; /* message of a failed unit */
  uint64_t grad_evals, forward_evals;
  double seconds; /* wall time on the worker: a timing figure only */
  unsigned char model_hash[32]; /* hash of the model the worker ran */
  uint32_t n;
  int64_t *idx; /* n global example indices, ascending */
  /* ROVE_UNIT_ATTACK */
  rove_example_result *ex; /* n */
  /* ROVE_UNIT_CLEAN */
  int32_t *label; /* n */
  int32_t *pred;  /* n argmax of the clean logits */
  double *margin; /* n clean margins z_y - max_{j!=y} z_j (double) */
} rove_unit_result;

void rove_unit_result_init(rove_unit_result *r);
/* Sizes the arrays for n examples of r->kind (zero-filled). */
int rove_unit_result_alloc(rove_unit_result *r, uint32_t n);
void rove_unit_result_deinit(rove_unit_result *r);
void rove_sw_put_result(rove_wbuf *w, const rove_unit_result *r);
/* `r` is initialised by the call; deinit it even on error. */
int rove_sw_get_result(rove_rbuf *r, rove_unit_result *res);

void rove_sw_put_stop(rove_wbuf *w);

#endif
