/* atomic_file.c: temporary file + fsync + rename + fsync of the folder (see atomic_file.h). POSIX only. Must not
 * leave the temporary file behind on any failure path. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "error.h"

static sc_status sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash)
    strcpy(dir, ".");
  else if (slash == path)
    strcpy(dir, "/");
  else {
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir) return sc_error(SC_EINVAL, "%s: path too long", path);
    memcpy(dir, path, n), dir[n] = 0;
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return sc_error(SC_EIO, "%s: cannot open folder to sync: %s", dir, strerror(errno));
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  /* some file systems cannot fsync a folder (EINVAL); the rename is then as durable as they allow */
  if (rc != 0 && err != EINVAL) return sc_error(SC_EIO, "%s: fsync of folder failed: %s", dir, strerror(err));
  return SC_OK;
}

sc_status sc_atomic_write(const char *path, sc_status (*write)(FILE *f, void *ctx), void *ctx) {
  if (!path || !*path || !write) return sc_error(SC_EINVAL, "atomic write: no path or writer");
  size_t n = strlen(path);
  char *tmp = malloc(n + 16);
  if (!tmp) return sc_error(SC_ENOMEM, "%s: out of memory", path);
  memcpy(tmp, path, n);
  memcpy(tmp + n, ".tmp.XXXXXX", 12);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    sc_status st = sc_error(SC_EIO, "%s: cannot create temporary file: %s", path, strerror(errno));
    free(tmp);
    return st;
  }
  /* mkstemp creates 0600; outputs are meant to be shared like any written file (reading the umask would
   * need umask(), which is not thread-safe) */
  (void)fchmod(fd, 0644);
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    sc_status st = sc_error(SC_EIO, "%s: fdopen failed: %s", path, strerror(errno));
    close(fd), unlink(tmp), free(tmp);
    return st;
  }
  sc_status st = write(f, ctx);
  if (st == SC_OK && (fflush(f) != 0 || ferror(f)))
    st = sc_error(SC_EIO, "%s: write failed: %s", path, strerror(errno));
  if (st == SC_OK && fsync(fileno(f)) != 0) st = sc_error(SC_EIO, "%s: fsync failed: %s", path, strerror(errno));
  if (fclose(f) != 0 && st == SC_OK) st = sc_error(SC_EIO, "%s: close failed: %s", path, strerror(errno));
  if (st == SC_OK && rename(tmp, path) != 0)
    st = sc_error(SC_EIO, "%s: cannot rename temporary file into place: %s", path, strerror(errno));
  if (st != SC_OK) unlink(tmp);
  free(tmp);
  if (st == SC_OK) st = sync_dir(path);
  return st;
}

typedef struct buffer_ctx {
  const void *data;
  size_t len;
  const char *path;
} buffer_ctx;

static sc_status write_buffer(FILE *f, void *p) {
  buffer_ctx *b = p;
  if (b->len && fwrite(b->data, 1, b->len, f) != b->len)
    return sc_error(SC_EIO, "%s: write failed: %s", b->path, strerror(errno));
  return SC_OK;
}

sc_status sc_atomic_write_buffer(const char *path, const void *data, size_t len) {
  if (len && !data) return sc_error(SC_EINVAL, "%s: no data to write", path ? path : "(null)");
  buffer_ctx b = {data, len, path};
  return sc_atomic_write(path, write_buffer, &b);
}
