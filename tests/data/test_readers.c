/* test_readers.c: the image decoders, the IDX and CIFAR readers and the dataset front ends, on files written by
 * the real encoders in a temporary folder; every kind of bad input (zero-byte, truncated, corrupt, not an image,
 * wrong IDX magic or sizes, huge declared dimensions, over-size files, progressive scan bombs) must give the
 * right status and a message naming the file; the real Fashion-MNIST files when installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/readers.h"
#include "datautil.h"
#include "test.h"

#define FASHION "/usr/share/datasets/fashion-mnist"

/* Decodes path, expecting failure with status want and a message naming the file. */
static void expect_bad(const char *path, sc_status want, const char *also, const sc_decode_limits *lim) {
  sc_decoder *d;
  SC_ASSERT(sc_decoder_create(&d) == SC_OK, "decoder");
  sc_image im = {0};
  sc_status st = sc_image_load(d, path, 3, 0, lim, &im);
  const char *msg = sc_last_error();
  SC_ASSERT(st == want, "%s: status %s, want %s (%s)", path, sc_status_name(st), sc_status_name(want), msg);
  SC_ASSERT(strstr(msg, path) != NULL, "message does not name the file %s: '%s'", path, msg);
  SC_ASSERT(!also || strstr(msg, also), "message for %s lacks '%s': '%s'", path, also, msg);
  sc_image_free(&im);
  sc_decoder_destroy(d);
}

static double mean_abs_diff(const unsigned char *a, const unsigned char *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += abs((int)a[i] - (int)b[i]);
  return s / (double)n;
}

SC_TEST(readers, jpeg_rgb_gray_cmyk) {
  char *dir = tu_tempdir();
  static const int pfs[] = {TJPF_RGB, TJPF_GRAY, TJPF_CMYK};
  sc_decoder *d;
  SC_ASSERT(sc_decoder_create(&d) == SC_OK, "decoder");
  sc_image im = {0};
  for (int k = 0; k < 3; k++) {
    char name[32];
    snprintf(name, sizeof name, "img%d.jpg", k);
    char *p = tu_path(dir, name);
    tu_write_jpeg(p, 64, 48, pfs[k], k);
    for (int ch = 1; ch <= 3; ch += 2) {
      sc_status st = sc_image_load(d, p, ch, 0, NULL, &im);
      SC_ASSERT(st == SC_OK, "pf=%d ch=%d: %s", pfs[k], ch, sc_last_error());
      SC_ASSERT(im.w == 64 && im.h == 48 && im.c == ch, "pf=%d ch=%d: got %dx%dx%d", pfs[k], ch, im.w, im.h, im.c);
      /* reference: the source picture converted to ch channels the documented way */
      int sc = tjPixelSize[pfs[k]];
      unsigned char *src = tu_picture(64, 48, sc, k), *ref = malloc(64 * 48 * 3);
      for (int i = 0; i < 64 * 48; i++) {
        int r, g, b;
        if (sc == 1)
          r = g = b = src[i];
        else if (sc == 3)
          r = src[3 * i], g = src[3 * i + 1], b = src[3 * i + 2];
        else {
          int kk = src[4 * i + 3];
          r = (src[4 * i] * kk + 127) / 255, g = (src[4 * i + 1] * kk + 127) / 255,
          b = (src[4 * i + 2] * kk + 127) / 255;
        }
        if (ch == 3)
          ref[3 * i] = (unsigned char)r, ref[3 * i + 1] = (unsigned char)g, ref[3 * i + 2] = (unsigned char)b;
        else
          ref[i] = (unsigned char)((299 * r + 587 * g + 114 * b + 500) / 1000);
      }
      /* quality 95, 4:4:4: the mean error stays small; 10 levels would mean a wrong conversion */
      double e = mean_abs_diff(im.px, ref, (size_t)64 * 48 * ch);
      SC_ASSERT(e < 10.0, "pf=%d ch=%d: mean |decoded - source| = %.2f levels", pfs[k], ch, e);
      free(src), free(ref);
    }
    free(p);
  }
  sc_image_free(&im);
  sc_decoder_destroy(d);
  tu_rmtree(dir), free(dir);
}

SC_TEST(readers, jpeg_dct_scaling) {
  unsigned long len;
  unsigned char *j = tu_jpeg_bytes(640, 480, TJPF_RGB, 1, 0, &len);
  sc_decoder *d;
  SC_ASSERT(sc_decoder_create(&d) == SC_OK, "decoder");
  sc_image im = {0};
  static const int want[][3] = {{0, 640, 480}, {224, 320, 240}, {300, 400, 300}, {480, 640, 480}, {60, 80, 60}};
  for (int i = 0; i < 5; i++) {
    SC_ASSERT(sc_image_decode(d, "x.jpg", j, len, 3, want[i][0], NULL, &im) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(im.w == want[i][1] && im.h == want[i][2], "640x480, min_short %d: got %dx%d, want %dx%d", want[i][0],
              im.w, im.h, want[i][1], want[i][2]);
  }
  sc_image_free(&im);
  sc_decoder_destroy(d);
  tjFree(j);
}

SC_TEST(readers, png_all_colour_types) {
  char *dir = tu_tempdir();
  static const int types[][2] = {{PNG_COLOR_TYPE_GRAY, 8}, {PNG_COLOR_TYPE_GRAY_ALPHA, 8}, {PNG_COLOR_TYPE_RGB, 8},
                                 {PNG_COLOR_TYPE_RGBA, 8}, {PNG_COLOR_TYPE_PALETTE, 8},    {PNG_COLOR_TYPE_GRAY, 16},
                                 {PNG_COLOR_TYPE_RGB, 16}, {PNG_COLOR_TYPE_RGBA, 16}};
  sc_decoder *d;
  SC_ASSERT(sc_decoder_create(&d) == SC_OK, "decoder");
  sc_image im = {0};
  for (int t = 0; t < 8; t++) {
    char *p = tu_path(dir, "x.png");
    int ct = types[t][0], depth = types[t][1], w = 13, h = 7;
    tu_write_png(p, w, h, ct, depth, t);
    for (int ch = 1; ch <= 3; ch += 2) {
      SC_ASSERT(sc_image_load(d, p, ch, 0, NULL, &im) == SC_OK, "type %d depth %d ch %d: %s", ct, depth, ch,
                sc_last_error());
      SC_ASSERT(im.w == w && im.h == h && im.c == ch, "type %d: %dx%dx%d", ct, im.w, im.h, im.c);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
          int r, g, b;
          int v0 = tu_pixel(x, y, 0, t), v1 = tu_pixel(x, y, 1, t), v2 = tu_pixel(x, y, 2, t);
          if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA)
            r = g = b = v0;
          else if (ct == PNG_COLOR_TYPE_PALETTE)
            r = v0, g = 255 - v0, b = v0 / 2;
          else
            r = v0, g = v1, b = v2;
          const unsigned char *q = im.px + ((size_t)y * w + x) * ch;
          if (ch == 3)
            SC_ASSERT(q[0] == r && q[1] == g && q[2] == b, "type %d depth %d at (%d,%d): %d %d %d, want %d %d %d", ct,
                      depth, x, y, q[0], q[1], q[2], r, g, b);
          else { /* libpng's fixed-point luma: within 2 levels of ours */
            int want = (299 * r + 587 * g + 114 * b + 500) / 1000;
            SC_ASSERT(abs(q[0] - want) <= 2, "type %d depth %d gray at (%d,%d): %d, want %d", ct, depth, x, y, q[0],
                      want);
          }
        }
    }
    free(p);
  }
  /* Adam7 interlacing */
  char *p = tu_path(dir, "adam7.png");
  tu_write_png_interlaced(p, 23, 17, 5);
  SC_ASSERT(sc_image_load(d, p, 3, 0, NULL, &im) == SC_OK && im.w == 23 && im.h == 17, "interlaced: %s",
            sc_last_error());
  unsigned char *want = tu_picture(23, 17, 3, 5);
  SC_ASSERT(!memcmp(im.px, want, 23 * 17 * 3), "interlaced PNG decoded to different pixels");
  free(want), free(p);
  sc_image_free(&im);
  sc_decoder_destroy(d);
  tu_rmtree(dir), free(dir);
}

/* Offset of the first SOS marker and the offset just past its entropy-coded data. */
static void find_first_scan(const unsigned char *j, size_t len, size_t *start, size_t *end) {
  size_t i = 2;
  while (i + 4 < len) {
    unsigned m = j[i + 1], seg = (unsigned)j[i + 2] << 8 | j[i + 3];
    if (m == 0xDA) {
      *start = i;
      size_t k = i + 2 + seg;
      while (k + 1 < len && !(j[k] == 0xFF && j[k + 1] != 0 && (j[k + 1] < 0xD0 || j[k + 1] > 0xD7))) k++;
      *end = k;
      return;
    }
    i += 2 + seg;
  }
  SC_ASSERT(0, "no SOS marker in the test JPEG");
}

SC_TEST(readers, bad_images_are_rejected_with_the_file_name) {
  char *dir = tu_tempdir();
  unsigned long len;
  unsigned char *j = tu_jpeg_bytes(64, 64, TJPF_RGB, 3, 0, &len);
  char *p;

  p = tu_path(dir, "empty.jpg"), tu_write(p, "", 0), expect_bad(p, SC_EFORMAT, "empty", NULL), free(p);
  p = tu_path(dir, "half.jpg"), tu_write(p, j, len / 2), expect_bad(p, SC_EFORMAT, "JPEG", NULL), free(p);
  p = tu_path(dir, "text.jpg"), tu_write(p, "hello, world\n", 13), expect_bad(p, SC_EFORMAT, "not a JPEG or PNG", NULL),
  free(p);
  p = tu_path(dir, "missing.jpg"), expect_bad(p, SC_EIO, "cannot open", NULL), free(p);
  p = tu_path(dir, "onlymagic.jpg"), tu_write(p, "\xff\xd8\xff", 3), expect_bad(p, SC_EFORMAT, "JPEG", NULL), free(p);

  /* one decoder survives every kind of failure: each bad stream, then the good one again */
  {
    sc_decoder *d;
    SC_ASSERT(sc_decoder_create(&d) == SC_OK, "decoder");
    sc_image im = {0};
    const unsigned long cuts[] = {3, 20, len / 2, len - 2};
    for (int i = 0; i < 4; i++) {
      SC_ASSERT(sc_image_decode(d, "cut.jpg", j, cuts[i], 3, 0, NULL, &im) == SC_EFORMAT, "cut at %lu accepted", cuts[i]);
      SC_ASSERT(sc_image_decode(d, "ok.jpg", j, len, 3, 0, NULL, &im) == SC_OK && im.w == 64 && im.h == 64,
                "good JPEG after one cut at %lu: %s", cuts[i], sc_last_error());
    }
    sc_image_free(&im);
    sc_decoder_destroy(d);
  }

  /* the scan data replaced by junk: libjpeg warns or fails; either way the image is rejected */
  unsigned char *junk = malloc(len);
  memcpy(junk, j, len);
  size_t s0, s1;
  find_first_scan(j, len, &s0, &s1);
  for (size_t i = s0 + 14; i + 2 < s1; i++) junk[i] = (unsigned char)(i * 131 % 251 == 255 ? 0 : i * 131 % 251);
  p = tu_path(dir, "junk.jpg"), tu_write(p, junk, len), expect_bad(p, SC_EFORMAT, "JPEG", NULL), free(p);
  free(junk);

  /* SOF dimensions patched to 60000 x 60000: refused from the header, before any allocation */
  unsigned char *big = malloc(len);
  memcpy(big, j, len);
  for (size_t i = 2; i + 8 < len; i++)
    if (big[i] == 0xFF && big[i + 1] == 0xC0) {
      big[i + 5] = 0xEA, big[i + 6] = 0x60, big[i + 7] = 0xEA, big[i + 8] = 0x60;
      break;
    }
  p = tu_path(dir, "huge.jpg"), tu_write(p, big, len), expect_bad(p, SC_EFORMAT, "limit", NULL), free(p);
  free(big);

  /* a smaller configured cap on dimensions and on the file size */
  sc_decode_limits lim = sc_decode_limits_default();
  lim.max_w = 32;
  p = tu_path(dir, "wide.jpg"), tu_write(p, j, len), expect_bad(p, SC_EFORMAT, "32x8192 limit", &lim);
  lim = sc_decode_limits_default(), lim.max_file_bytes = 100;
  expect_bad(p, SC_EFORMAT, "100-byte limit", &lim), free(p);

  /* PNG: truncated, corrupt CRC, IHDR claiming 100000 x 100000 */
  p = tu_path(dir, "ok.png");
  tu_write_png(p, 40, 30, PNG_COLOR_TYPE_RGB, 8, 1);
  size_t plen;
  unsigned char *png = tu_read(p, &plen);
  free(p);
  p = tu_path(dir, "cut.png"), tu_write(p, png, plen / 2), expect_bad(p, SC_EFORMAT, "PNG", NULL), free(p);
  p = tu_path(dir, "sigonly.png"), tu_write(p, png, 8), expect_bad(p, SC_EFORMAT, "PNG", NULL), free(p);
  unsigned char *bad = malloc(plen);
  memcpy(bad, png, plen);
  bad[plen / 2] ^= 0x55;
  p = tu_path(dir, "flip.png"), tu_write(p, bad, plen), expect_bad(p, SC_EFORMAT, "PNG", NULL), free(p);
  memcpy(bad, png, plen);
  tu_be32(bad + 16, 100000), tu_be32(bad + 20, 100000);
  unsigned long crc = crc32(0, bad + 12, 17); /* keep the IHDR CRC valid so only the size is wrong */
  tu_be32(bad + 29, (unsigned)crc);
  p = tu_path(dir, "hugepng.png"), tu_write(p, bad, plen), expect_bad(p, SC_EFORMAT, "limit", NULL), free(p);
  free(bad), free(png);
  tjFree(j);
  tu_rmtree(dir), free(dir);
}

SC_TEST(readers, progressive_scan_bomb_is_stopped) {
  unsigned long len;
  unsigned char *j = tu_jpeg_bytes(32, 32, TJPF_RGB, 4, TJFLAG_PROGRESSIVE, &len);
  size_t s0, s1;
  find_first_scan(j, len, &s0, &s1);
  const int copies = 700; /* well over libjpeg-turbo's limit of 500 scans */
  size_t scan = s1 - s0, blen = len + scan * copies;
  unsigned char *bomb = malloc(blen);
  memcpy(bomb, j, s1);
  for (int c = 0; c < copies; c++) memcpy(bomb + s1 + scan * c, j + s0, scan);
  memcpy(bomb + s1 + scan * copies, j + s1, len - s1);
  char *dir = tu_tempdir(), *p = tu_path(dir, "bomb.jpg");
  tu_write(p, bomb, blen);
  expect_bad(p, SC_EFORMAT, "scans", NULL);
  free(p), free(bomb), tjFree(j);
  tu_rmtree(dir), free(dir);
}

SC_TEST(readers, idx_plain_and_gzip) {
  char *dir = tu_tempdir();
  for (int gz = 0; gz < 2; gz++) {
    char *im = tu_path(dir, gz ? "train-images-idx3-ubyte.gz" : "train-images-idx3-ubyte");
    char *lb = tu_path(dir, gz ? "train-labels-idx1-ubyte.gz" : "train-labels-idx1-ubyte");
    tu_write_idx(im, lb, 50, 5, 6, 10, gz);
    sc_dataset_options o = sc_dataset_options_default();
    o.path = im;
    sc_dataset *ds;
    SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK, "gz=%d: %s", gz, sc_last_error());
    SC_ASSERT(ds->format == SC_DATA_IDX && ds->n == 50 && ds->c == 1 && ds->nclasses == 10, "gz=%d: n=%lld c=%d k=%d",
              gz, (long long)ds->n, ds->c, ds->nclasses);
    for (int i = 0; i < 50; i++) {
      SC_ASSERT(ds->labels[i] == i % 10 && ds->w[i] == 6 && ds->h[i] == 5, "gz=%d image %d", gz, i);
      for (int q = 0; q < 30; q++)
        SC_ASSERT(ds->px[ds->off[i] + q] == ((i * 7 + q) & 255), "gz=%d image %d pixel %d", gz, i, q);
    }
    sc_dataset_close(ds);
    /* the same with 3 channels asked for: gray replicated */
    o.channels = 3;
    SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(ds->c == 3 && ds->px[ds->off[3] + 5 * 3 + 1] == ((3 * 7 + 5) & 255), "gz=%d 3-channel copy", gz);
    sc_dataset_close(ds);
    unlink(im), unlink(lb), free(im), free(lb);
  }
  tu_rmtree(dir), free(dir);
}

static void expect_idx_bad(const char *path, const char *also) {
  sc_dataset_options o = sc_dataset_options_default();
  o.path = path, o.format = SC_DATA_IDX;
  sc_dataset *ds = NULL;
  sc_status st = sc_dataset_open(&o, &ds);
  const char *msg = sc_last_error();
  SC_ASSERT(st == SC_EFORMAT && !ds, "%s: status %s (%s)", path, sc_status_name(st), msg);
  SC_ASSERT(strstr(msg, path) && strstr(msg, also), "%s: message '%s' should name the file and say '%s'", path, msg,
            also);
}

SC_TEST(readers, idx_bad_files) {
  char *dir = tu_tempdir();
  char *im = tu_path(dir, "x-images-idx3-ubyte"), *lb = tu_path(dir, "x-labels-idx1-ubyte");
  tu_write_idx(im, NULL, 20, 4, 4, 10, 0);
  size_t len;
  unsigned char *good = tu_read(im, &len), *b = malloc(len + 64);

  memcpy(b, good, len), b[3] = 0x02, tu_write(im, b, len), expect_idx_bad(im, "magic");
  memcpy(b, good, len), tu_write(im, b, len - 5), expect_idx_bad(im, "holds");
  memcpy(b, good, len), tu_write(im, b, len + 7), expect_idx_bad(im, "holds");
  memcpy(b, good, len), tu_be32(b + 4, 0xFFFFFFFFu), tu_write(im, b, len), expect_idx_bad(im, "holds");
  memcpy(b, good, len), tu_be32(b + 8, 100000), tu_write(im, b, len), expect_idx_bad(im, "limit");
  tu_write(im, good, 10), expect_idx_bad(im, "too short");
  tu_write(im, "", 0), expect_idx_bad(im, "empty");
  /* labels disagreeing in count with the images */
  tu_write(im, good, len);
  tu_write_idx(lb, NULL, 1, 1, 1, 1, 0); /* placeholder, replaced below */
  unsigned char lab[8 + 19];
  tu_be32(lab, 0x801), tu_be32(lab + 4, 19);
  memset(lab + 8, 1, 19);
  tu_write(lb, lab, sizeof lab);
  expect_idx_bad(im, "labels");
  unlink(lb);
  /* gzip: corrupt body and truncated stream */
  gzFile g = gzopen(im, "wb");
  gzwrite(g, good, (unsigned)len);
  gzclose(g);
  size_t glen;
  unsigned char *gz = tu_read(im, &glen);
  tu_write(im, gz, glen / 2), expect_idx_bad(im, "truncated");
  for (size_t i = 12; i < glen - 8; i++) gz[i] ^= 0xA5;
  tu_write(im, gz, glen), expect_idx_bad(im, "gzip");
  /* a small gzip file that inflates past the configured cap (a decompression bomb) */
  g = gzopen(im, "wb9");
  unsigned char *zeros = calloc(1, 1 << 20);
  for (int i = 0; i < 4; i++) gzwrite(g, zeros, 1 << 20);
  gzclose(g);
  free(zeros);
  sc_dataset_options o = sc_dataset_options_default();
  o.path = im, o.format = SC_DATA_IDX, o.max_array_bytes = (size_t)1 << 20;
  sc_dataset *ds = NULL;
  SC_ASSERT(sc_dataset_open(&o, &ds) == SC_EFORMAT && strstr(sc_last_error(), im) &&
                strstr(sc_last_error(), "1048576-byte limit"),
            "4 MiB of zeros under a 1 MiB cap: '%s'", sc_last_error());
  free(gz), free(good), free(b), free(im), free(lb);
  tu_rmtree(dir), free(dir);
}

SC_TEST(readers, cifar10_and_100) {
  char *dir = tu_tempdir();
  for (int hundred = 0; hundred < 2; hundred++) {
    char *p = tu_path(dir, hundred ? "train.bin" : "data_batch_1.bin");
    tu_write_cifar(p, 12, hundred);
    if (!hundred) {
      char *p2 = tu_path(dir, "data_batch_2.bin");
      tu_write_cifar(p2, 12, 0);
      free(p2);
    }
    sc_dataset_options o = sc_dataset_options_default();
    o.path = p;
    o.format = hundred ? SC_DATA_CIFAR100 : SC_DATA_CIFAR10;
    sc_dataset *ds;
    SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK, "%s", sc_last_error());
    SC_ASSERT(ds->n == 12 && ds->c == 3 && ds->nclasses == (hundred ? 100 : 10), "cifar%d: n=%lld", hundred ? 100 : 10,
              (long long)ds->n);
    for (int i = 0; i < 12; i++) {
      SC_ASSERT(ds->labels[i] == (hundred ? i % 100 : i % 10), "label %d", i);
      const unsigned char *q = ds->px + ds->off[i];
      for (int k = 0; k < 1024; k += 97)
        for (int c = 0; c < 3; c++)
          SC_ASSERT(q[3 * k + c] == ((i + c * 1024 + k) & 255), "cifar%d image %d pixel %d channel %d: %d",
                    hundred ? 100 : 10, i, k, c, q[3 * k + c]);
    }
    sc_dataset_close(ds);
    if (!hundred) { /* the folder form reads every data_batch_N.bin */
      o.path = dir;
      o.format = SC_DATA_AUTO;
      SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK && ds->n == 24 && ds->format == SC_DATA_CIFAR10,
                "folder of two CIFAR-10 batches: %s", sc_last_error());
      sc_dataset_close(ds);
    }
    /* a partial record and an out-of-range label */
    size_t len;
    unsigned char *b = tu_read(p, &len);
    tu_write(p, b, len - 100);
    o.path = p;
    SC_ASSERT(sc_dataset_open(&o, &ds) == SC_EFORMAT && strstr(sc_last_error(), p), "partial record: %s",
              sc_last_error());
    b[hundred ? 1 : 0] = 200;
    tu_write(p, b, len);
    SC_ASSERT(sc_dataset_open(&o, &ds) == SC_EFORMAT && strstr(sc_last_error(), "label"), "bad label: %s",
              sc_last_error());
    free(b);
    unlink(p), free(p);
  }
  tu_rmtree(dir), free(dir);
}

SC_TEST(readers, image_folders) {
  char *dir = tu_tempdir();
  static const char *const cls[] = {"zebra", "ant", "moth"};
  for (int c = 0; c < 3; c++) {
    char sub[4096];
    if (snprintf(sub, sizeof sub, "%s/%s", dir, cls[c]) >= (int)sizeof sub) continue;
    mkdir(sub, 0755);
    for (int i = 0; i < 3 + c; i++) {
      char f[4200];
      if (snprintf(f, sizeof f, "%s/%c%d.%s", sub, 'a' + i, c, i % 2 ? "png" : "JPG") >= (int)sizeof f) continue;
      if (i % 2)
        tu_write_png(f, 20 + i, 16, PNG_COLOR_TYPE_RGB, 8, i);
      else
        tu_write_jpeg(f, 24, 20 + i, TJPF_RGB, i);
    }
  }
  char *txt = tu_path(dir, "ant/readme.txt");
  tu_write(txt, "not an image", 12);
  for (int cache = 0; cache < 2; cache++) {
    sc_dataset_options o = sc_dataset_options_default();
    o.path = dir, o.cache = cache;
    sc_dataset *ds;
    SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK, "cache=%d: %s", cache, sc_last_error());
    SC_ASSERT(ds->format == SC_DATA_FOLDER && ds->n == 12 && ds->nclasses == 3, "cache=%d: n=%lld classes=%d", cache,
              (long long)ds->n, ds->nclasses);
    SC_ASSERT(!strcmp(ds->class_names[0], "ant") && !strcmp(ds->class_names[2], "zebra"), "classes not sorted");
    SC_ASSERT(ds->labels[0] == 0 && ds->labels[11] == 2 && strstr(ds->paths[0], "ant/a1.JPG"), "first %s label %d",
              ds->paths[0], ds->labels[0]);
    sc_decoder *d;
    sc_decoder_create(&d);
    sc_image scratch = {0}, v;
    for (int64_t i = 0; i < ds->n; i++)
      SC_ASSERT(sc_dataset_image(ds, d, i, &scratch, &v) == SC_OK && v.c == 3 && v.w >= 20, "cache=%d image %lld: %s",
                cache, (long long)i, sc_last_error());
    sc_image_free(&scratch);
    sc_decoder_destroy(d);
    sc_dataset_close(ds);
  }
  /* a corrupt file: the stop policy names it, the skip policy counts it */
  char *badf = tu_path(dir, "moth/zz.jpg");
  tu_write(badf, "\xff\xd8\xff\xe0garbage", 11);
  for (int cache = 0; cache < 2; cache++) {
    sc_dataset_options o = sc_dataset_options_default();
    o.path = dir, o.cache = cache;
    sc_dataset *ds = NULL;
    SC_ASSERT(sc_dataset_open(&o, &ds) == SC_EFORMAT && strstr(sc_last_error(), badf), "stop policy, cache=%d: '%s'",
              cache, sc_last_error());
    o.bad = SC_BAD_SKIP;
    SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK && ds->n == 12 && ds->nbad == 1, "skip policy, cache=%d: %s", cache,
              sc_last_error());
    sc_dataset_close(ds);
  }
  /* a flat folder: no labels */
  char *flat = tu_path(dir, "zebra");
  sc_dataset_options o = sc_dataset_options_default();
  o.path = flat;
  sc_dataset *ds;
  SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK && ds->format == SC_DATA_FLAT && !ds->labels && ds->n == 3,
            "flat folder: %s", sc_last_error());
  sc_dataset_close(ds);
  free(flat), free(badf), free(txt);
  tu_rmtree(dir), free(dir);
}

SC_TEST(readers, header_after_a_large_metadata_block) {
  /* an APP1 segment of 65000 bytes pushes the frame header past the 64 KiB the folder probe reads first */
  unsigned long len;
  unsigned char *j = tu_jpeg_bytes(30, 20, TJPF_RGB, 1, 0, &len);
  size_t app = 65000, blen = len + 2 + app;
  unsigned char *big = malloc(blen);
  memcpy(big, j, 2);
  big[2] = 0xFF, big[3] = 0xE1, big[4] = (unsigned char)(app >> 8), big[5] = (unsigned char)app;
  memset(big + 6, 'x', app - 2);
  memcpy(big + 2 + 2 + app, j + 2, len - 2);
  char *dir = tu_tempdir(), *p = tu_path(dir, "exif.jpg");
  tu_write(p, big, blen);
  sc_dataset_options o = sc_dataset_options_default();
  o.path = dir, o.cache = 0;
  sc_dataset *ds;
  SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK && ds->n == 1 && ds->nbad == 0, "JPEG with a 65000-byte APP1: %s",
            sc_last_error());
  sc_dataset_close(ds);
  free(big), free(p), tjFree(j);
  tu_rmtree(dir), free(dir);
}

SC_TEST(readers, fashion_mnist_when_installed) {
  if (access(FASHION "/train-images-idx3-ubyte.gz", R_OK) != 0) SC_SKIP("Fashion-MNIST is not installed at " FASHION);
  for (int test = 0; test < 2; test++) {
    sc_dataset_options o = sc_dataset_options_default();
    o.path = FASHION, o.test_split = test;
    sc_dataset *ds;
    SC_ASSERT(sc_dataset_open(&o, &ds) == SC_OK, "%s", sc_last_error());
    int64_t want = test ? 10000 : 60000, count[10] = {0};
    SC_ASSERT(ds->n == want && ds->c == 1 && ds->w[0] == 28 && ds->h[0] == 28 && ds->nclasses == 10,
              "split %d: n=%lld %dx%dx%d", test, (long long)ds->n, ds->w[0], ds->h[0], ds->c);
    for (int64_t i = 0; i < ds->n; i++) count[ds->labels[i]]++;
    for (int c = 0; c < 10; c++)
      SC_ASSERT(count[c] == want / 10, "split %d class %d: %lld", test, c, (long long)count[c]);
    double mean = 0;
    for (size_t i = 0; i < (size_t)ds->n * 784; i++) mean += ds->px[i];
    mean /= (double)ds->n * 784 * 255;
    SC_ASSERT(mean > 0.2 && mean < 0.4, "split %d: mean pixel %.3f (Fashion-MNIST's is about 0.286)", test, mean);
    sc_dataset_close(ds);
  }
}
