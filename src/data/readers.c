/* readers.c: IDX and CIFAR parsers and the bounded gzip inflater (see readers.h). Must never trust a header:
 * every declared size is compared with the bytes present, with overflow-checked arithmetic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "readers.h"

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

sc_status sc_gunzip(const char *name, const uint8_t *data, size_t len, size_t max_out, uint8_t **out, size_t *out_len) {
  *out = NULL, *out_len = 0;
  if (len < 2 || data[0] != 0x1f || data[1] != 0x8b) return SC_OK;
  z_stream z = {0};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return sc_error(SC_ENOMEM, "%s: cannot start gzip decoder", name);
  size_t cap = len * 4 < ((size_t)1 << 20) ? ((size_t)1 << 20) : len * 4, used = 0;
  if (cap > max_out) cap = max_out ? max_out : 1;
  uint8_t *buf = malloc(cap);
  sc_status st = SC_OK;
  if (!buf) st = sc_error(SC_ENOMEM, "%s: out of memory", name);
  const uint8_t *in = data;
  size_t in_left = len;
  while (st == SC_OK) {
    if (used == cap) {
      if (cap >= max_out) {
        st = sc_error(SC_EFORMAT, "%s: decompresses to more than the %zu-byte limit", name, max_out);
        break;
      }
      size_t ncap = cap > max_out / 2 ? max_out : cap * 2;
      uint8_t *nb = realloc(buf, ncap);
      if (!nb) {
        st = sc_error(SC_ENOMEM, "%s: out of memory for %zu bytes", name, ncap);
        break;
      }
      buf = nb, cap = ncap;
    }
    unsigned chunk_in = in_left > (1u << 30) ? (1u << 30) : (unsigned)in_left;
    size_t room = cap - used;
    unsigned chunk_out = room > (1u << 30) ? (1u << 30) : (unsigned)room;
    z.next_in = (Bytef *)in, z.avail_in = chunk_in;
    z.next_out = buf + used, z.avail_out = chunk_out;
    int rc = inflate(&z, Z_NO_FLUSH);
    in += chunk_in - z.avail_in, in_left -= chunk_in - z.avail_in;
    used += chunk_out - z.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && z.avail_out > 0)
      st = sc_error(SC_EFORMAT, "%s: truncated gzip data", name);
    else if (rc != Z_BUF_ERROR)
      st = sc_error(SC_EFORMAT, "%s: corrupt gzip data: %s", name, z.msg ? z.msg : "inflate failed");
  }
  inflateEnd(&z);
  if (st != SC_OK) {
    free(buf);
    return st;
  }
  *out = buf, *out_len = used;
  return SC_OK;
}

sc_status sc_idx_parse_images(const char *name, const uint8_t *p, size_t len, const sc_decode_limits *lim, int64_t *n,
                              int *rows, int *cols, uint8_t **px) {
  *px = NULL;
  if (len < 16) return sc_error(SC_EFORMAT, "%s: %zu bytes, too short for an IDX image header", name, len);
  uint32_t magic = be32(p);
  if (magic != 0x00000803u)
    return sc_error(SC_EFORMAT, "%s: wrong IDX magic 0x%08x (want 0x00000803: unsigned bytes, 3 dimensions)", name,
                    magic);
  uint32_t cnt = be32(p + 4), r = be32(p + 8), c = be32(p + 12);
  if (cnt == 0 || r == 0 || c == 0) return sc_error(SC_EFORMAT, "%s: IDX header declares %ux%ux%u", name, cnt, r, c);
  if (r > (uint32_t)lim->max_h || c > (uint32_t)lim->max_w)
    return sc_error(SC_EFORMAT, "%s: IDX images of %ux%u, over the %dx%d limit", name, r, c, lim->max_w, lim->max_h);
  uint64_t need = (uint64_t)cnt * r * c; /* < 2^32 * 2^26: no overflow */
  if (need != len - 16)
    return sc_error(SC_EFORMAT, "%s: IDX header declares %u images of %ux%u (%llu bytes) but the file holds %zu", name,
                    cnt, r, c, (unsigned long long)need, len - 16);
  *px = malloc((size_t)need);
  if (!*px) return sc_error(SC_ENOMEM, "%s: out of memory", name);
  memcpy(*px, p + 16, (size_t)need);
  *n = cnt, *rows = (int)r, *cols = (int)c;
  return SC_OK;
}

sc_status sc_idx_parse_labels(const char *name, const uint8_t *p, size_t len, int64_t *n, int32_t **labels) {
  *labels = NULL;
  if (len < 8) return sc_error(SC_EFORMAT, "%s: %zu bytes, too short for an IDX label header", name, len);
  uint32_t magic = be32(p);
  if (magic != 0x00000801u)
    return sc_error(SC_EFORMAT, "%s: wrong IDX magic 0x%08x (want 0x00000801: unsigned bytes, 1 dimension)", name,
                    magic);
  uint32_t cnt = be32(p + 4);
  if (cnt == 0 || (uint64_t)cnt != len - 8)
    return sc_error(SC_EFORMAT, "%s: IDX header declares %u labels but the file holds %zu", name, cnt, len - 8);
  *labels = malloc(sizeof **labels * cnt);
  if (!*labels) return sc_error(SC_ENOMEM, "%s: out of memory", name);
  for (uint32_t i = 0; i < cnt; i++) (*labels)[i] = p[8 + i];
  *n = cnt;
  return SC_OK;
}

sc_status sc_read_maybe_gz(const char *path, size_t max_bytes, uint8_t **data, size_t *len) {
  uint8_t *raw, *plain;
  size_t rawlen, plainlen;
  SC_TRY(sc_read_file(path, max_bytes, &raw, &rawlen));
  sc_status st = sc_gunzip(path, raw, rawlen, max_bytes, &plain, &plainlen);
  if (st != SC_OK || !plain) {
    if (st != SC_OK) free(raw), raw = NULL, rawlen = 0;
    *data = raw, *len = rawlen;
    return st;
  }
  free(raw);
  *data = plain, *len = plainlen;
  return SC_OK;
}

sc_status sc_cifar_parse(const char *name, const uint8_t *p, size_t len, int cifar100, int64_t *n, uint8_t **px,
                         int32_t **labels) {
  const size_t nlab = cifar100 ? 2 : 1, rec = nlab + 3072;
  *px = NULL, *labels = NULL;
  if (len == 0 || len % rec != 0)
    return sc_error(SC_EFORMAT, "%s: %zu bytes is not a whole number of %zu-byte CIFAR-%d records", name, len, rec,
                    cifar100 ? 100 : 10);
  size_t cnt = len / rec;
  *px = malloc(cnt * 3072);
  *labels = malloc(sizeof **labels * cnt);
  if (!*px || !*labels) {
    free(*px), free(*labels), *px = NULL, *labels = NULL;
    return sc_error(SC_ENOMEM, "%s: out of memory", name);
  }
  for (size_t i = 0; i < cnt; i++) {
    const uint8_t *r = p + i * rec;
    int lab = r[nlab - 1], maxlab = cifar100 ? 100 : 10;
    if (lab >= maxlab) {
      free(*px), free(*labels), *px = NULL, *labels = NULL;
      return sc_error(SC_EFORMAT, "%s: record %zu has label %d, outside 0..%d (is this CIFAR-%d?)", name, i, lab,
                      maxlab - 1, cifar100 ? 100 : 10);
    }
    (*labels)[i] = lab;
    uint8_t *o = *px + i * 3072;
    const uint8_t *pl = r + nlab;
    for (int k = 0; k < 1024; k++) o[3 * k] = pl[k], o[3 * k + 1] = pl[1024 + k], o[3 * k + 2] = pl[2048 + k];
  }
  *n = (int64_t)cnt;
  return SC_OK;
}
