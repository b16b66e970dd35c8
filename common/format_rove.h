/* format_rove.h - the native .rove model format (see common/FORMAT.md). */
#ifndef ROVE_COMMON_FORMAT_ROVE_H
#define ROVE_COMMON_FORMAT_ROVE_H

#include <stddef.h>

#include "common/model.h"
#include "common/wire.h"

/* The first 8 bytes of every .rove file. */
#define ROVE_FORMAT_MAGIC "ROVEMDL\x1a"
#define ROVE_FORMAT_MAGIC_LEN 8
/* The layout version this build writes and the only one it reads. */
#define ROVE_FORMAT_VERSION 1u

/* 1 when buf starts with the .rove magic (len may be anything). */
int rove_format_is_native(const void *buf, size_t len);

/* Appends the complete .rove encoding of `m` (borrowed; must be
 * finalized) to `w` (caller-owned): the same bytes rove_model_save writes,
 * so a model can be shipped over MPI or TCP and decoded on the far side.
 * Errors: ROVE_ESTATE (not finalized), ROVE_ENOMEM. */
int rove_model_encode(const rove_model *m, rove_wbuf *w);

/* Decodes one .rove image of `len` bytes at `buf` (borrowed) into `m`
 * (uninitialised on entry; finalized on success, deinitialised on error;
 * the caller frees it with rove_model_deinit). Every check a file gets is
 * made: magic, length, CRC32, version, layer names, shapes, parameter
 * counts and the content hash. `what` names the source in messages (a
 * path, "model from rank 3"). */
int rove_model_decode(rove_model *m, const void *buf, size_t len,
                      const char *what);

/* Writes `m` (borrowed; finalized) to `path` atomically: the bytes go to a
 * temporary file in the same directory, which is flushed, synced and then
 * renamed over `path`, so a crash leaves either the old file or the new
 * one, never half of one. */
int rove_model_save(const rove_model *m, const char *path);

#endif
