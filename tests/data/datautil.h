/* datautil.h: helpers the data-pipeline tests share to build their inputs on the fly: a temporary folder removed
 * afterwards, synthetic pictures, and files written with the real encoders (TurboJPEG, libpng, zlib) so the
 * readers are tested on genuine JPEG/PNG/IDX/CIFAR bytes. Header-only, test code only: it aborts on setup
 * failures instead of reporting them, which is fine outside the library. */
#ifndef SC_TEST_DATAUTIL_H
#define SC_TEST_DATAUTIL_H

#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zlib.h>

static inline void tu_die(const char *what) {
  fprintf(stderr, "test setup failed: %s\n", what);
  abort();
}

/* A fresh folder under $TMPDIR (or /tmp). */
static inline char *tu_tempdir(void) {
  const char *base = getenv("TMPDIR");
  char *p = malloc(4096);
  snprintf(p, 4096, "%s/simclr_data_XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(p)) tu_die("mkdtemp");
  return p;
}

static inline void tu_rmtree(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char sub[4096];
      if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub) continue;
      struct stat st;
      if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
        tu_rmtree(sub);
      else
        unlink(sub);
    }
    closedir(d);
  }
  rmdir(path);
}

static inline char *tu_path(const char *dir, const char *name) {
  char *p = malloc(4096);
  snprintf(p, 4096, "%s/%s", dir, name);
  return p;
}

static inline void tu_write(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f)) tu_die(path);
}

static inline unsigned char *tu_read(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) tu_die(path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *p = malloc((size_t)n + 1);
  if (fread(p, 1, (size_t)n, f) != (size_t)n) tu_die(path);
  fclose(f);
  *len = (size_t)n;
  return p;
}

/* A smooth picture with some structure: channel c of pixel (x, y), seeded so images differ. */
static inline unsigned char tu_pixel(int x, int y, int c, int seed) {
  return (unsigned char)((x * (3 + c) + y * (5 + 2 * c) + seed * 37 + ((x / 8 + y / 8) % 2) * 40) & 255);
}
static inline unsigned char *tu_picture(int w, int h, int c, int seed) {
  unsigned char *p = malloc((size_t)w * h * c);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < c; k++) p[((size_t)y * w + x) * c + k] = tu_pixel(x, y, k, seed);
  return p;
}

/* JPEG bytes of a w x h picture; pf is TJPF_RGB, TJPF_GRAY or TJPF_CMYK; progressive via flags. */
static inline unsigned char *tu_jpeg_bytes(int w, int h, int pf, int seed, int flags, unsigned long *len) {
  int c = tjPixelSize[pf];
  unsigned char *px = tu_picture(w, h, c, seed), *out = NULL;
  tjhandle t = tjInitCompress();
  *len = 0;
  if (tjCompress2(t, px, w, 0, h, pf, &out, len, pf == TJPF_GRAY ? TJSAMP_GRAY : TJSAMP_444, 95, flags))
    tu_die(tjGetErrorStr2(t));
  tjDestroy(t);
  free(px);
  return out; /* free with tjFree */
}
static inline void tu_write_jpeg(const char *path, int w, int h, int pf, int seed) {
  unsigned long len;
  unsigned char *j = tu_jpeg_bytes(w, h, pf, seed, 0, &len);
  tu_write(path, j, len);
  tjFree(j);
}

/* PNG of a w x h picture with the given colour type and bit depth (8 or 16; palette images use 8). */
static inline void tu_write_png(const char *path, int w, int h, int color_type, int depth, int seed) {
  FILE *f = fopen(path, "wb");
  if (!f) tu_die(path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) tu_die("png write");
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  int ch = color_type == PNG_COLOR_TYPE_GRAY         ? 1
           : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
           : color_type == PNG_COLOR_TYPE_RGB        ? 3
           : color_type == PNG_COLOR_TYPE_RGBA       ? 4
                                                     : 1;
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_color pal[256];
    for (int i = 0; i < 256; i++)
      pal[i].red = (png_byte)i, pal[i].green = (png_byte)(255 - i), pal[i].blue = (png_byte)(i / 2);
    png_set_PLTE(png, info, pal, 256);
  }
  png_write_info(png, info);
  int bpc = depth / 8;
  unsigned char *row = malloc((size_t)w * ch * bpc);
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++)
      for (int k = 0; k < ch; k++) {
        unsigned char v = tu_pixel(x, y, k, seed);
        if (bpc == 2)
          row[(x * ch + k) * 2] = v, row[(x * ch + k) * 2 + 1] = 0x80;
        else
          row[x * ch + k] = v;
      }
    png_write_row(png, row);
  }
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(row);
  fclose(f);
}

/* An Adam7-interlaced 8-bit RGB PNG of the same picture as tu_write_png. */
static inline void tu_write_png_interlaced(const char *path, int w, int h, int seed) {
  FILE *f = fopen(path, "wb");
  if (!f) tu_die(path);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) tu_die("png write");
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  unsigned char *px = tu_picture(w, h, 3, seed);
  png_bytep *rows = malloc(sizeof *rows * (size_t)h);
  for (int y = 0; y < h; y++) rows[y] = px + (size_t)y * w * 3;
  png_write_image(png, rows); /* writes every Adam7 pass */
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(rows), free(px);
  fclose(f);
}

static inline void tu_be32(unsigned char *p, unsigned v) {
  p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
  p[3] = (unsigned char)v;
}

/* IDX images (n x rows x cols, pixel = (i * 7 + y * cols + x) & 255) and labels (i % nclasses); gzip if gz. */
static inline void tu_write_idx(const char *img_path, const char *lab_path, int n, int rows, int cols, int nclasses,
                                int gz) {
  size_t ilen = 16 + (size_t)n * rows * cols, llen = 8 + (size_t)n;
  unsigned char *im = malloc(ilen), *lb = malloc(llen);
  tu_be32(im, 0x803), tu_be32(im + 4, (unsigned)n), tu_be32(im + 8, (unsigned)rows), tu_be32(im + 12, (unsigned)cols);
  for (int i = 0; i < n; i++)
    for (int p = 0; p < rows * cols; p++) im[16 + (size_t)i * rows * cols + p] = (unsigned char)((i * 7 + p) & 255);
  tu_be32(lb, 0x801), tu_be32(lb + 4, (unsigned)n);
  for (int i = 0; i < n; i++) lb[8 + i] = (unsigned char)(i % nclasses);
  for (int k = 0; k < 2; k++) {
    const char *path = k ? lab_path : img_path;
    unsigned char *data = k ? lb : im;
    size_t len = k ? llen : ilen;
    if (!path) continue;
    if (gz) {
      gzFile g = gzopen(path, "wb");
      if (!g || gzwrite(g, data, (unsigned)len) != (int)len || gzclose(g) != Z_OK) tu_die(path);
    } else
      tu_write(path, data, len);
  }
  free(im), free(lb);
}

/* A CIFAR batch of n records; record i has label i % nlabels and pixel values (i + plane * 1024 + p) & 255. */
static inline void tu_write_cifar(const char *path, int n, int cifar100) {
  size_t rec = cifar100 ? 3074 : 3073;
  unsigned char *b = malloc(rec * n);
  for (int i = 0; i < n; i++) {
    unsigned char *r = b + rec * i;
    if (cifar100)
      r[0] = (unsigned char)(i % 20), r[1] = (unsigned char)(i % 100);
    else
      r[0] = (unsigned char)(i % 10);
    for (int p = 0; p < 3072; p++) r[rec - 3072 + p] = (unsigned char)((i + p) & 255);
  }
  tu_write(path, b, rec * n);
  free(b);
}

#endif
