/* arena.c - bump allocator with 64-byte alignment. */
#include "common/arena.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define ARENA_ALIGN 64

size_t rove_arena_need(size_t bytes) {
  return (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

int rove_arena_init(rove_arena *a, size_t bytes) {
  memset(a, 0, sizeof *a);
  bytes = rove_arena_need(bytes ? bytes : ARENA_ALIGN);
  a->base = aligned_alloc(ARENA_ALIGN, bytes);
  if (!a->base)
    return ROVE_ERR(ROVE_ENOMEM, "cannot allocate a %zu-byte arena", bytes);
  a->cap = bytes;
  return 0;
}

void rove_arena_deinit(rove_arena *a) {
  free(a->base);
  memset(a, 0, sizeof *a);
}

void *rove_arena_alloc(rove_arena *a, size_t bytes) {
  size_t need = rove_arena_need(bytes);
  if (need > a->cap - a->used)
    return NULL;
  void *p = a->base + a->used;
  a->used += need;
  if (a->used > a->peak)
    a->peak = a->used;
  return p;
}

void *rove_arena_calloc(rove_arena *a, size_t bytes) {
  void *p = rove_arena_alloc(a, bytes);
  if (p)
    memset(p, 0, bytes);
  return p;
}

void rove_arena_reset(rove_arena *a) {
  a->used = 0;
}
