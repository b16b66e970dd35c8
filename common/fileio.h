/* fileio.h - reading a whole file into memory, and finishing an atomic
 * write, with errors that name the file. */
#ifndef ROVE_COMMON_FILEIO_H
#define ROVE_COMMON_FILEIO_H

#include <stddef.h>
#include <stdio.h>

/* Reads all of `path` into a malloc'd buffer: *buf (caller frees) holds
 * *len bytes followed by a NUL that *len does not count, so text parsers
 * may treat it as a string. Errors: ROVE_ENOENT (missing), ROVE_EACCES,
 * ROVE_EINVAL (a directory), ROVE_EIO, ROVE_ENOMEM, each with a message
 * naming the file; `what` ("model file", "journal", ...; may be NULL)
 * prefixes it. On error *buf is NULL and *len 0. */
int rove_file_read(const char *path, const char *what, unsigned char **buf,
                   size_t *len);

/* Finishes an atomic write: f was opened on `tmp`, a temporary next to
 * `path`. Checks f for write errors, flushes, fsyncs and closes it, then
 * renames tmp over path, so path holds either its old contents or all of
 * the new ones. On any failure tmp is removed and ROVE_EIO returned with a
 * message naming path (`what` prefixes it, as in rove_file_read). f is
 * closed in every case. */
int rove_file_commit(FILE *f, const char *tmp, const char *path,
                     const char *what);

/* mkdir -p: creates `path` and any missing parents (mode 0755); an
 * existing directory is fine. ROVE_EINVAL for an empty path or one of
 * 4096 bytes or more, ROVE_EIO naming the directory that could not be
 * made. */
int rove_mkdirs(const char *path);

#endif
