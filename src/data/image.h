/* image.h: decoded images and the decoders of the data pipeline (JPEG through TurboJPEG, PNG through libpng),
 * with the limits that keep hostile files from exhausting memory or time.
 *
 * A decoded image is uint8 HWC with C = 1 or 3, converted to the channel count the model wants (gray, gray+alpha,
 * RGB, RGBA, palette, 16-bit, CMYK/YCCK all map onto 1 or 3 channels; alpha is dropped). Every failure returns a
 * status and records a message that starts with the file's name and says why. Nothing here prints, exits, or
 * keeps global state; a sc_decoder belongs to one thread at a time (TurboJPEG handles are not thread-safe). */
#ifndef SC_DATA_IMAGE_H
#define SC_DATA_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "simclr.h"

typedef struct sc_image {
  int w, h, c;
  uint8_t *px; /* h rows of w*c bytes; owned when cap > 0 */
  size_t cap;  /* bytes allocated at px (0: borrowed) */
} sc_image;

void sc_image_free(sc_image *im);
/* Makes im an owned w x h x c image, reusing its buffer when large enough. */
sc_status sc_image_reserve(sc_image *im, int w, int h, int c);

typedef struct sc_decode_limits {
  int max_w, max_h;      /* largest accepted dimensions (default 8192 x 8192) */
  size_t max_file_bytes; /* largest accepted image file (default 64 MiB) */
} sc_decode_limits;

/* The defaults above. */
sc_decode_limits sc_decode_limits_default(void);

typedef struct sc_decoder sc_decoder;
sc_status sc_decoder_create(sc_decoder **out);
void sc_decoder_destroy(sc_decoder *d);

/* Decodes a JPEG or PNG held in memory into out (C = channels, 1 or 3). name is used in messages only. If
 * min_short > 0, JPEGs at least twice that size on their short side are decoded with DCT scaling to the smallest
 * size whose short side is still >= min_short. Truncated or corrupt data is an error (SC_EFORMAT), including the
 * JPEG conditions libjpeg only warns about, since their pixels are partly made up. */
sc_status sc_image_decode(sc_decoder *d, const char *name, const void *data, size_t len, int channels, int min_short,
                          const sc_decode_limits *lim, sc_image *out);
/* Reads only the header: dimensions, checked against the limits. */
sc_status sc_image_probe(sc_decoder *d, const char *name, const void *data, size_t len, const sc_decode_limits *lim,
                         int *w, int *h);
/* Reads path (at most max_bytes; an empty file or a folder is an error) into a malloc'd buffer. */
sc_status sc_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len);
/* sc_read_file + sc_image_decode. */
sc_status sc_image_load(sc_decoder *d, const char *path, int channels, int min_short, const sc_decode_limits *lim,
                        sc_image *out);

/* Writes an 8-bit gray (channels 1) or RGB (3) image, rows of w*channels bytes, as a PNG file, atomically. */
sc_status sc_png_write(const char *path, const uint8_t *px, int w, int h, int channels);

#endif
