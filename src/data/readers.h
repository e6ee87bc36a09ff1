/* readers.h: the array-file readers of the data pipeline: IDX (MNIST, Fashion-MNIST; plain or gzip) and the
 * CIFAR-10/CIFAR-100 binary batches. Each has a parser on a memory buffer (what the fuzzers drive) and a file
 * front end. Sizes declared by a header are checked against the bytes actually present before anything is
 * allocated from them, and gzip output is capped, so a lying or hostile file yields SC_EFORMAT with a message
 * naming the file, never a huge allocation. Nothing here prints or keeps state. */
#ifndef SC_DATA_READERS_H
#define SC_DATA_READERS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* If data starts with the gzip magic, inflates it into a malloc'd buffer of at most max_out bytes; otherwise
 * copies nothing and returns *out = NULL (the caller keeps using data). */
sc_status sc_gunzip(const char *name, const uint8_t *data, size_t len, size_t max_out, uint8_t **out, size_t *out_len);

/* IDX unsigned-byte images (magic 0x00000803, dims n, rows, cols): *px gets n*rows*cols bytes (malloc'd). */
sc_status sc_idx_parse_images(const char *name, const uint8_t *p, size_t len, const sc_decode_limits *lim, int64_t *n,
                              int *rows, int *cols, uint8_t **px);
/* IDX unsigned-byte labels (magic 0x00000801, dim n): *labels gets n int32 values (malloc'd). */
sc_status sc_idx_parse_labels(const char *name, const uint8_t *p, size_t len, int64_t *n, int32_t **labels);

/* Reads a whole file (plain or gzip) of at most max_bytes after decompression. */
sc_status sc_read_maybe_gz(const char *path, size_t max_bytes, uint8_t **data, size_t *len);

/* CIFAR binary batch: records of 1 label byte (CIFAR-10) or 2 (CIFAR-100: coarse, fine; the fine label is kept)
 * followed by 32x32 planar RGB. *px gets n*32*32*3 bytes in HWC order; labels are range-checked. */
sc_status sc_cifar_parse(const char *name, const uint8_t *p, size_t len, int cifar100, int64_t *n, uint8_t **px,
                         int32_t **labels);

#endif
