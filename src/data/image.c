/* image.c: JPEG (TurboJPEG) and PNG (libpng) decoding from memory, with size limits checked on the header before
 * any pixel buffer is allocated. libpng reports errors by longjmp; everything it touches between setjmp and the
 * jump is kept in volatile or heap state so that no path leaks or reads an indeterminate value. Must not print,
 * exit, or share a TurboJPEG handle between threads. */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "image.h"

struct sc_decoder {
  tjhandle tj;   /* created on first JPEG */
  uint8_t *cmyk; /* scratch for CMYK JPEGs */
  size_t cmyk_cap;
};

sc_decode_limits sc_decode_limits_default(void) {
  return (sc_decode_limits){.max_w = 8192, .max_h = 8192, .max_file_bytes = (size_t)64 << 20};
}

void sc_image_free(sc_image *im) {
  if (!im) return;
  if (im->cap) free(im->px);
  *im = (sc_image){0};
}

sc_status sc_image_reserve(sc_image *im, int w, int h, int c) {
  size_t need = (size_t)w * (size_t)h * (size_t)c;
  if (w <= 0 || h <= 0 || (c != 1 && c != 3)) return sc_error(SC_EINVAL, "image of %dx%dx%d", w, h, c);
  if (im->cap < need) {
    uint8_t *p = im->cap ? realloc(im->px, need) : malloc(need);
    if (!p) return sc_error(SC_ENOMEM, "out of memory for a %dx%dx%d image", w, h, c);
    im->px = p, im->cap = need;
  }
  im->w = w, im->h = h, im->c = c;
  return SC_OK;
}

sc_status sc_decoder_create(sc_decoder **out) {
  *out = calloc(1, sizeof **out);
  return *out ? SC_OK : sc_error(SC_ENOMEM, "out of memory for a decoder");
}

void sc_decoder_destroy(sc_decoder *d) {
  if (!d) return;
  if (d->tj) tjDestroy(d->tj);
  free(d->cmyk);
  free(d);
}

static sc_status check_dims(const char *name, int w, int h, const sc_decode_limits *lim) {
  if (w <= 0 || h <= 0) return sc_error(SC_EFORMAT, "%s: image has zero size (%dx%d)", name, w, h);
  if (w > lim->max_w || h > lim->max_h)
    return sc_error(SC_EFORMAT, "%s: image is %dx%d, over the %dx%d limit", name, w, h, lim->max_w, lim->max_h);
  return SC_OK;
}

static int is_jpeg(const uint8_t *p, size_t n) { return n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF; }
static int is_png(const uint8_t *p, size_t n) { return n >= 8 && !png_sig_cmp(p, 0, 8); }

/* ---- JPEG ---------------------------------------------------------------------------------------------------- */

static sc_status tj_ready(sc_decoder *d, const char *name) {
  if (!d->tj && !(d->tj = tjInitDecompress()))
    return sc_error(SC_ENOMEM, "%s: cannot create a JPEG decoder: %s", name, tjGetErrorStr2(NULL));
  return SC_OK;
}

/* After a failure the handle is replaced: a stream that ends inside its headers makes TurboJPEG 2.1 report
 * success without filling the outputs (libjpeg sees an abbreviated "tables only" stream) and leaves the handle
 * in a state where the next header read on it misbehaves. A fresh handle costs microseconds. */
static void tj_reset(sc_decoder *d) {
  if (d->tj) tjDestroy(d->tj);
  d->tj = NULL;
}

static sc_status jpeg_header(sc_decoder *d, const char *name, const uint8_t *p, size_t len, int *w, int *h, int *cs) {
  SC_TRY(tj_ready(d, name));
  int sub = -1;
  *w = *h = *cs = -1;
  if (len > (unsigned long)-1 || tjDecompressHeader3(d->tj, p, (unsigned long)len, w, h, &sub, cs) != 0) {
    sc_status st = sc_error(SC_EFORMAT, "%s: not a valid JPEG: %s", name, tjGetErrorStr2(d->tj));
    tj_reset(d);
    return st;
  }
  if (*w <= 0 || *h <= 0 || sub < 0 || *cs < 0) {
    tj_reset(d);
    return sc_error(SC_EFORMAT, "%s: not a valid JPEG: no frame header before the end of the data", name);
  }
  return SC_OK;
}

static sc_status decode_jpeg(sc_decoder *d, const char *name, const uint8_t *p, size_t len, int channels, int min_short,
                             const sc_decode_limits *lim, sc_image *out) {
  int w, h, cs;
  SC_TRY(jpeg_header(d, name, p, len, &w, &h, &cs));
  SC_TRY(check_dims(name, w, h, lim));
  tjscalingfactor best = {1, 1};
  if (min_short > 0) {
    int nsf;
    tjscalingfactor *sf = tjGetScalingFactors(&nsf);
    for (int i = 0; sf && i < nsf; i++) {
      if (sf[i].num > sf[i].denom) continue; /* never upscale in the decoder */
      int sw = TJSCALED(w, sf[i]), sh = TJSCALED(h, sf[i]);
      if ((sw < sh ? sw : sh) >= min_short && (long)sw * sh < (long)TJSCALED(w, best) * TJSCALED(h, best)) best = sf[i];
    }
  }
  int sw = TJSCALED(w, best), sh = TJSCALED(h, best);
  int cmyk = cs == TJCS_CMYK || cs == TJCS_YCCK;
  const int flags = TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE | TJFLAG_LIMITSCANS;
  SC_TRY(sc_image_reserve(out, sw, sh, channels));
  uint8_t *dst = out->px;
  if (cmyk) { /* libjpeg has no CMYK -> RGB conversion: decode CMYK and convert below */
    size_t need = (size_t)sw * sh * 4;
    if (d->cmyk_cap < need) {
      uint8_t *q = realloc(d->cmyk, need);
      if (!q) return sc_error(SC_ENOMEM, "%s: out of memory for a %dx%d CMYK image", name, sw, sh);
      d->cmyk = q, d->cmyk_cap = need;
    }
    dst = d->cmyk;
  }
  int pf = cmyk ? TJPF_CMYK : (channels == 1 ? TJPF_GRAY : TJPF_RGB);
  if (tjDecompress2(d->tj, p, (unsigned long)len, dst, sw, 0, sh, pf, flags) != 0) {
    int fatal = tjGetErrorCode(d->tj) == TJERR_FATAL;
    sc_status st = sc_error(SC_EFORMAT, "%s: %s JPEG: %s", name, fatal ? "cannot decode" : "corrupt or truncated",
                            tjGetErrorStr2(d->tj));
    tj_reset(d);
    return st;
  }
  if (cmyk) {
    /* Adobe-style JPEGs (what libjpeg returns) store inverted CMYK: 255 means no ink, so R = C' K' / 255 */
    size_t npix = (size_t)sw * sh;
    for (size_t i = 0; i < npix; i++) {
      const uint8_t *q = dst + 4 * i;
      unsigned k = q[3];
      unsigned r = (q[0] * k + 127) / 255, g = (q[1] * k + 127) / 255, b = (q[2] * k + 127) / 255;
      if (channels == 3)
        out->px[3 * i] = (uint8_t)r, out->px[3 * i + 1] = (uint8_t)g, out->px[3 * i + 2] = (uint8_t)b;
      else
        out->px[i] = (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000);
    }
  }
  return SC_OK;
}

/* ---- PNG ----------------------------------------------------------------------------------------------------- */

typedef struct png_src {
  const uint8_t *p;
  size_t len, pos;
  char msg[256], warning[128]; /* libpng explains some errors (limits) only in a preceding warning */
} png_src;

static void png_on_error(png_structp png, png_const_charp msg) {
  png_src *s = png_get_error_ptr(png);
  snprintf(s->msg, sizeof s->msg, "%s", msg);
  png_longjmp(png, 1);
}
static void png_on_warning(png_structp png, png_const_charp msg) {
  png_src *s = png_get_error_ptr(png);
  snprintf(s->warning, sizeof s->warning, "%s", msg);
}
static void png_on_read(png_structp png, png_bytep out, size_t n) {
  png_src *s = png_get_io_ptr(png);
  if (n > s->len - s->pos) png_error(png, "file is truncated");
  memcpy(out, s->p + s->pos, n);
  s->pos += n;
}

/* Decodes (rows != NULL) or only reads the header. Everything that must survive a longjmp lives in *s or in
 * volatile locals. */
static sc_status png_run(const char *name, png_src *s, int channels, const sc_decode_limits *lim, sc_image *out,
                         int *pw, int *ph) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, png_on_error, png_on_warning);
  if (!png) return sc_error(SC_ENOMEM, "%s: cannot create a PNG decoder", name);
  png_infop info = png_create_info_struct(png);
  png_bytep *volatile rows = NULL;
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return sc_error(SC_ENOMEM, "%s: cannot create a PNG decoder", name);
  }
  if (setjmp(png_jmpbuf(png))) {
    free((void *)rows);
    png_destroy_read_struct(&png, &info, NULL);
    return sc_error(SC_EFORMAT, "%s: invalid PNG: %s%s%s%s", name, s->msg[0] ? s->msg : "unknown error",
                    s->warning[0] ? " (" : "", s->warning, s->warning[0] ? ")" : "");
  }
  png_set_user_limits(png, (png_uint_32)lim->max_w, (png_uint_32)lim->max_h);
  png_set_chunk_malloc_max(png, (png_alloc_size_t)8 << 20); /* text and other ancillary chunks */
  png_set_read_fn(png, s, png_on_read);
  png_read_info(png, info);
  png_uint_32 w, h;
  int depth, ctype, interlace;
  png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
  *pw = (int)w, *ph = (int)h;
  if (!out) {
    png_destroy_read_struct(&png, &info, NULL);
    return SC_OK;
  }
  if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  if (depth == 16) png_set_strip_16(png);
  if ((ctype & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
  /* colour to gray is done below with the same luma as the JPEG path (libpng's own depends on gamma and alpha
   * handling); libpng only expands gray to RGB */
  int color = (ctype & PNG_COLOR_MASK_COLOR) != 0, dc = color ? 3 : channels;
  if (dc == 3 && !color) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_channels(png, info) != dc || png_get_rowbytes(png, info) != (size_t)w * dc)
    png_error(png, "unexpected pixel layout after conversion");
  if (sc_image_reserve(out, (int)w, (int)h, dc) != SC_OK) png_error(png, "out of memory for the pixels");
  rows = malloc(sizeof *rows * h);
  if (!rows) png_error(png, "out of memory for the row table");
  for (png_uint_32 y = 0; y < h; y++) rows[y] = out->px + (size_t)y * w * dc;
  png_read_image(png, (png_bytepp)rows);
  if (dc != channels) { /* in place: pixel i's gray value lands at or before its RGB bytes */
    size_t npix = (size_t)w * h;
    for (size_t i = 0; i < npix; i++) {
      const uint8_t *q = out->px + 3 * i;
      out->px[i] = (uint8_t)((299u * q[0] + 587u * q[1] + 114u * q[2] + 500u) / 1000u);
    }
    out->c = 1;
  }
  free((void *)rows);
  png_destroy_read_struct(&png, &info, NULL);
  return SC_OK;
}

/* ---- entry points -------------------------------------------------------------------------------------------- */

static sc_status not_an_image(const char *name, const uint8_t *p, size_t len) {
  if (len == 0) return sc_error(SC_EFORMAT, "%s: empty file", name);
  if (len == 1) return sc_error(SC_EFORMAT, "%s: not a JPEG or PNG file (1 byte)", name);
  return sc_error(SC_EFORMAT, "%s: not a JPEG or PNG file (starts with 0x%02x 0x%02x)", name, p[0], p[1]);
}

sc_status sc_image_decode(sc_decoder *d, const char *name, const void *data, size_t len, int channels, int min_short,
                          const sc_decode_limits *lim, sc_image *out) {
  const uint8_t *p = data;
  sc_decode_limits def = sc_decode_limits_default();
  if (!lim) lim = &def;
  if (!name) name = "(memory)";
  if (!d || !out || (len && !p)) return sc_error(SC_EINVAL, "%s: decode without decoder, output or data", name);
  if (channels != 1 && channels != 3) return sc_error(SC_EINVAL, "%s: %d channels requested (1 or 3)", name, channels);
  if (len > lim->max_file_bytes)
    return sc_error(SC_EFORMAT, "%s: %zu bytes, over the %zu-byte limit", name, len, lim->max_file_bytes);
  if (is_jpeg(p, len)) return decode_jpeg(d, name, p, len, channels, min_short, lim, out);
  if (is_png(p, len)) {
    png_src s = {.p = p, .len = len};
    int w, h;
    return png_run(name, &s, channels, lim, out, &w, &h);
  }
  return not_an_image(name, p, len);
}

sc_status sc_image_probe(sc_decoder *d, const char *name, const void *data, size_t len, const sc_decode_limits *lim,
                         int *w, int *h) {
  const uint8_t *p = data;
  sc_decode_limits def = sc_decode_limits_default();
  if (!lim) lim = &def;
  if (!name) name = "(memory)";
  if (len > lim->max_file_bytes)
    return sc_error(SC_EFORMAT, "%s: %zu bytes, over the %zu-byte limit", name, len, lim->max_file_bytes);
  if (is_jpeg(p, len)) {
    int cs;
    SC_TRY(jpeg_header(d, name, p, len, w, h, &cs));
    return check_dims(name, *w, *h, lim);
  }
  if (is_png(p, len)) {
    png_src s = {.p = p, .len = len};
    SC_TRY(png_run(name, &s, 3, lim, NULL, w, h));
    return check_dims(name, *w, *h, lim);
  }
  return not_an_image(name, p, len);
}

sc_status sc_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *len) {
  *data = NULL, *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sc_error(SC_EIO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    sc_status s = sc_error(SC_EIO, "%s: cannot stat: %s", path, strerror(errno));
    close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return sc_error(SC_EIO, "%s: not a regular file", path);
  }
  if (st.st_size == 0) {
    close(fd);
    return sc_error(SC_EFORMAT, "%s: empty file", path);
  }
  if ((unsigned long long)st.st_size > max_bytes) {
    close(fd);
    return sc_error(SC_EFORMAT, "%s: %lld bytes, over the %zu-byte limit", path, (long long)st.st_size, max_bytes);
  }
  size_t n = (size_t)st.st_size, got = 0;
  uint8_t *buf = malloc(n);
  if (!buf) {
    close(fd);
    return sc_error(SC_ENOMEM, "%s: out of memory for %zu bytes", path, n);
  }
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      sc_status s = r < 0 ? sc_error(SC_EIO, "%s: read failed: %s", path, strerror(errno))
                          : sc_error(SC_EIO, "%s: file shrank while being read", path);
      free(buf), close(fd);
      return s;
    }
    got += (size_t)r;
  }
  close(fd);
  *data = buf, *len = n;
  return SC_OK;
}

sc_status sc_image_load(sc_decoder *d, const char *path, int channels, int min_short, const sc_decode_limits *lim,
                        sc_image *out) {
  sc_decode_limits def = sc_decode_limits_default();
  if (!lim) lim = &def;
  uint8_t *buf;
  size_t len;
  SC_TRY(sc_read_file(path, lim->max_file_bytes, &buf, &len));
  sc_status st = sc_image_decode(d, path, buf, len, channels, min_short, lim, out);
  free(buf);
  return st;
}

/* ---- writing ---- */

typedef struct png_job {
  const uint8_t *px;
  int w, h, c;
  const char *path;
} png_job;

static sc_status write_png(FILE *f, void *ctx) {
  png_job *j = ctx;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return sc_error(SC_ENOMEM, "%s: cannot create a PNG encoder", j->path);
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return sc_error(SC_EIO, "%s: PNG encoding failed", j->path);
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)j->w, (png_uint_32)j->h, 8, j->c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < j->h; y++) png_write_row(png, (png_const_bytep)(j->px + (size_t)y * j->w * j->c));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return SC_OK;
}

sc_status sc_png_write(const char *path, const uint8_t *px, int w, int h, int channels) {
  if (!path || !px || w < 1 || h < 1 || (channels != 1 && channels != 3))
    return sc_error(SC_EINVAL, "png: bad image %d x %d x %d", w, h, channels);
  png_job j = {px, w, h, channels, path};
  return sc_atomic_write(path, write_png, &j);
}
