/* fileio.h - reading a whole file into memory, with errors that name it. */
#ifndef ROVE_COMMON_FILEIO_H
#define ROVE_COMMON_FILEIO_H

#include <stddef.h>

/* Reads all of `path` into a malloc'd buffer: *buf (caller frees) holds
 * *len bytes followed by a NUL that *len does not count, so text parsers
 * may treat it as a string. Errors: ROVE_ENOENT (missing), ROVE_EACCES,
 * ROVE_EINVAL (a directory), ROVE_EIO, ROVE_ENOMEM, each with a message
 * naming the file; `what` ("model file", "journal", ...; may be NULL)
 * prefixes it. On error *buf is NULL and *len 0. */
int rove_file_read(const char *path, const char *what, unsigned char **buf,
                   size_t *len);

#endif
