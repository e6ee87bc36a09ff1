/* data.c (bench): the data pipeline's throughput, in images per second (items_per_second).
 *   data/decode_augment/<isa>/<shape>   one thread decodes a JPEG and makes the two pretraining views, per
 *                                       image: 28x28 gray, 32x32 RGB, 224x224 RGB (from 500x375 JPEGs, the
 *                                       typical ImageNet size). The harness's thread count does not apply:
 *                                       these are per-thread rates.
 *   data/loader/<shape>                 a whole epoch through the prefetching loader with T worker threads, the
 *                                       trainer side only taking batches (an upper bound for training).
 * The JPEGs are made in setup with tjCompress2 (quality 90, 4:2:0), from smooth synthetic pictures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "bench.h"
#include "data/augment.h"
#include "data/loader.h"

enum { NIMG = 32 };

typedef struct data_state {
  int w, h, c, size;
  unsigned char *jpg[NIMG];
  unsigned long len[NIMG];
  sc_decoder *dec;
  sc_image im;
  sc_augment_scratch as;
  float *view;
  int next;
  /* loader cases */
  char dir[256];
  sc_dataset *ds;
  sc_loader *loader;
  int64_t epoch;
} data_state;

static unsigned char *make_jpeg(int w, int h, int c, int seed, unsigned long *len) {
  unsigned char *px = malloc((size_t)w * h * c), *out = NULL;
  if (!px) return NULL;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int k = 0; k < c; k++) /* gradients plus a texture: compresses like a photo, not like noise */
        px[((size_t)y * w + x) * c + k] =
            (unsigned char)((x * (k + 1) * 255 / w + y * 128 / h + seed * 40 + ((x / 5 + y / 3) % 7) * 9) & 255);
  tjhandle t = tjInitCompress();
  *len = 0;
  int rc = t ? tjCompress2(t, px, w, 0, h, c == 1 ? TJPF_GRAY : TJPF_RGB, &out, len, c == 1 ? TJSAMP_GRAY : TJSAMP_420,
                           90, 0)
             : -1;
  if (t) tjDestroy(t);
  free(px);
  return rc ? NULL : out;
}

static void data_teardown(void *p) {
  data_state *s = p;
  for (int i = 0; i < NIMG; i++) tjFree(s->jpg[i]);
  sc_decoder_destroy(s->dec);
  sc_image_free(&s->im);
  sc_augment_scratch_free(&s->as);
  free(s->view);
  sc_loader_destroy(s->loader);
  sc_dataset_close(s->ds);
  if (s->dir[0]) {
    for (int i = 0; i < NIMG; i++) {
      char p[300];
      snprintf(p, sizeof p, "%s/%02d.jpg", s->dir, i);
      unlink(p);
    }
    rmdir(s->dir);
  }
  free(s);
}

static void *common_setup(const sc_bench_case *c, const char **err) {
  data_state *s = calloc(1, sizeof *s);
  if (!s) return *err = "out of memory", NULL;
  s->w = (int)c->params[0], s->h = (int)c->params[1], s->c = (int)c->params[2], s->size = (int)c->params[3];
  for (int i = 0; i < NIMG; i++)
    if (!(s->jpg[i] = make_jpeg(s->w, s->h, s->c, i, &s->len[i]))) {
      data_teardown(s);
      return *err = "tjCompress2 failed", NULL;
    }
  return s;
}

static void *decode_setup(const sc_bench_case *c, int threads, const char **err) {
  (void)threads;
  data_state *s = common_setup(c, err);
  if (!s) return NULL;
  s->view = malloc(sizeof(float) * (size_t)s->size * s->size * s->c);
  if (!s->view || sc_decoder_create(&s->dec) != SC_OK) {
    data_teardown(s);
    return *err = "out of memory", NULL;
  }
  return s;
}

static int decode_run(void *p) {
  data_state *s = p;
  int i = s->next++ % NIMG;
  sc_augment_options o = sc_augment_defaults(s->size, s->c, -1);
  if (sc_image_decode(s->dec, "bench.jpg", s->jpg[i], s->len[i], s->c, s->size, NULL, &s->im) != SC_OK) return 1;
  for (int v = 0; v < 2; v++) {
    sc_rng r;
    sc_rng_init_data(&r, 1, 0, (uint64_t)s->next, (uint32_t)v);
    if (sc_augment_view(&o, SC_VIEW_PRETRAIN, &s->im, &r, &s->as, s->view, NULL) != SC_OK) return 1;
  }
  return 0;
}

static void *loader_setup(const sc_bench_case *c, int threads, const char **err) {
  data_state *s = common_setup(c, err);
  if (!s) return NULL;
  snprintf(s->dir, sizeof s->dir, "/tmp/simclr_bench_data_XXXXXX");
  if (!mkdtemp(s->dir)) {
    s->dir[0] = 0;
    data_teardown(s);
    return *err = "mkdtemp failed", NULL;
  }
  for (int i = 0; i < NIMG; i++) {
    char path[300];
    snprintf(path, sizeof path, "%s/%02d.jpg", s->dir, i);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(s->jpg[i], 1, s->len[i], f) != s->len[i] || fclose(f)) {
      data_teardown(s);
      return *err = "cannot write the benchmark JPEGs", NULL;
    }
  }
  sc_dataset_options d = sc_dataset_options_default();
  d.path = s->dir, d.cache = 0, d.channels = s->c, d.min_short = s->size; /* decoded every epoch, as big data */
  /* an epoch of params[4] images cycling over the files, long enough for the workers to overlap */
  int64_t n = c->params[4], *sub = malloc(sizeof *sub * (size_t)n);
  for (int64_t i = 0; sub && i < n; i++) sub[i] = i % NIMG;
  sc_loader_options o = {.batch_size = 16,
                         .threads = threads,
                         .seed = 1,
                         .mode = SC_VIEW_PRETRAIN,
                         .subset = sub,
                         .nsubset = n,
                         .aug = sc_augment_defaults(s->size, s->c, -1)};
  sc_status st = sub ? sc_dataset_open(&d, &s->ds) : SC_ENOMEM;
  if (st == SC_OK) st = sc_loader_create(s->ds, &o, &s->loader);
  free(sub);
  if (st != SC_OK) {
    data_teardown(s);
    return *err = "loader setup failed", NULL;
  }
  return s;
}

static int loader_run(void *p) {
  data_state *s = p;
  if (sc_loader_start_epoch(s->loader, s->epoch++) != SC_OK) return 1;
  const sc_batch *b;
  do
    if (sc_loader_next(s->loader, &b) != SC_OK) return 1;
  while (b);
  return 0;
}

__attribute__((constructor)) static void register_data(void) {
  static const char *const isas[] = {"scalar", "neon", "avx2", "avx512"};
  static const struct {
    const char *name;
    int w, h, c, size;
  } shapes[] = {{"28x28_gray", 28, 28, 1, 28}, {"32x32_rgb", 32, 32, 3, 32}, {"224x224_rgb", 500, 375, 3, 224}};
  for (int sh = 0; sh < 3; sh++) {
    for (int isa = 0; isa < SC_ISA_COUNT; isa++) {
      if (isa == SC_ISA_NEON) continue; /* listed as skipped by the harness on x86 anyway */
      sc_bench_case c = {.isa = isa,
                         .items = 1,
                         .setup = decode_setup,
                         .run = decode_run,
                         .teardown = data_teardown,
                         .params = {shapes[sh].w, shapes[sh].h, shapes[sh].c, shapes[sh].size}};
      snprintf(c.name, sizeof c.name, "data/decode_augment/%s/%s", isas[isa], shapes[sh].name);
      sc_bench_add(&c);
    }
    const int epoch = sh == 2 ? 128 : 2048;
    sc_bench_case c = {.isa = -1,
                       .items = epoch,
                       .setup = loader_setup,
                       .run = loader_run,
                       .teardown = data_teardown,
                       .params = {shapes[sh].w, shapes[sh].h, shapes[sh].c, shapes[sh].size, epoch}};
    snprintf(c.name, sizeof c.name, "data/loader/%s", shapes[sh].name);
    sc_bench_add(&c);
  }
}
