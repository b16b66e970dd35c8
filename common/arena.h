/* arena.h - bump allocator: one per unit of work, so hot loops never malloc. */
#ifndef ROVE_COMMON_ARENA_H
#define ROVE_COMMON_ARENA_H

#include <stddef.h>

/* All allocations are 64-byte aligned. An arena never grows: it is sized
 * once (planned) and rove_arena_alloc returns NULL when it is exhausted.
 * rove_arena_reset frees everything at once. */
typedef struct rove_arena {
  unsigned char *base;
  size_t cap;  /* bytes */
  size_t used; /* bytes */
  size_t peak; /* largest `used` seen */
} rove_arena;

int rove_arena_init(rove_arena *a, size_t bytes);
void rove_arena_deinit(rove_arena *a);
/* Borrowed pointer into the arena, valid until reset/deinit; NULL if full. */
void *rove_arena_alloc(rove_arena *a, size_t bytes);
/* Same, zero-filled. */
void *rove_arena_calloc(rove_arena *a, size_t bytes);
void rove_arena_reset(rove_arena *a);
/* Bytes rove_arena_alloc(a, bytes) consumes, alignment included. */
size_t rove_arena_need(size_t bytes);

#endif
