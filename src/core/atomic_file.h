/* atomic_file.h: replacing a file so that readers see either the old content or the complete new one, never a
 * half-written file, even after a crash: write a temporary file in the same folder, fsync it, rename it over the
 * target, then fsync the folder so the rename itself is durable. Used for images the tools write and for
 * checkpoints. Never prints; on failure the temporary file is removed and the target is left untouched. */
#ifndef SC_CORE_ATOMIC_FILE_H
#define SC_CORE_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "simclr.h"

/* Writes path through write(f, ctx), which returns SC_OK or a status it recorded with sc_error(). Stream write
 * errors (disk full) are caught at flush time. */
sc_status sc_atomic_write(const char *path, sc_status (*write)(FILE *f, void *ctx), void *ctx);
/* Writes len bytes of data to path atomically. */
sc_status sc_atomic_write_buffer(const char *path, const void *data, size_t len);

#endif
