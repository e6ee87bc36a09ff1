/* test_cli_infer.c: the inference commands of the built `simclr` tool (embed, predict, knn), run as a user would,
 * on tiny checkpoints (ResNet-18 at width 0.25, 16 px; one with a 3-class classifier and class names, one with a
 * projection head) and a folder of generated PNG and JPEG images: --help of each command, exit 2 with a message on
 * bad flags, exit 1 with a message for missing or corrupt checkpoints and images, the .npy header and values
 * (against the public API on the same files), the image list, predict's JSON, and knn's neighbours and PNG.
 *
 * The binary is found beside this test's executable (both are built in the build folder's root). The embeddings
 * of `simclr embed` (batches of several images) are compared with single-image API calls at 1e-5 relative to the
 * largest value: the same weights and transform, with only the GEMM's row blocking differing between batch sizes. */
#include <jansson.h>
#include <limits.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "data/image.h"
#include "simclr_model.h"
#include "test.h"
#include "testutil.h"
#include "train/checkpoint.h"

enum { S = 16, NIMG = 6, FEAT = 128, PROJ = 32 };

static char bin[PATH_MAX], dir[64], cls_ckpt[128], head_ckpt[128], data[128], out_buf[1 << 16], err_buf[1 << 14];
static char images[NIMG][160]; /* sorted: data/a/..., data/b/... */

/* the scratch folder goes when the test's process exits, passed or failed */
__attribute__((destructor)) static void remove_scratch(void) {
  char cmd[128];
  if (!dir[0]) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) return;
}

static const char *P(const char *name) {
  static char b[8][256];
  static int k;
  char *p = b[k++ % 8];
  snprintf(p, 256, "%s/%s", dir, name);
  return p;
}

static void write_png(const char *path, const uint8_t *px, int w, int h) {
  FILE *f = fopen(path, "wb");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  SC_ASSERT(f && png && info && !setjmp(png_jmpbuf(png)), "png %s", path);
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < h; y++) png_write_row(png, (png_bytep)(px + (size_t)y * w * 3));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  fclose(f);
}

static void write_jpeg(const char *path, const uint8_t *px, int w, int h) {
  tjhandle tj = tjInitCompress();
  unsigned char *out = NULL;
  unsigned long len = 0;
  SC_ASSERT(tj && tjCompress2(tj, px, w, 0, h, TJPF_RGB, &out, &len, TJSAMP_444, 90, 0) == 0, "jpeg");
  FILE *f = fopen(path, "wb");
  SC_ASSERT(f && fwrite(out, 1, len, f) == len, "write %s", path);
  fclose(f);
  tjFree(out);
  tjDestroy(tj);
}

static void save_model(const char *path, int head) {
  static const char *const names[3] = {"circle", "square", "stripe"};
  sc_model_config c = sc_model_defaults();
  c.width = 0.25f, c.image_size = S, c.seed = 3, c.proj_dim = PROJ;
  c.head = head ? SC_HEAD_PROJ_V1 : SC_HEAD_NONE, c.classes = head ? 0 : 3;
  sc_model *m = NULL;
  SC_ASSERT(sc_model_create(&c, &m) == SC_OK, "create: %s", sc_last_error());
  SC_ASSERT(sc_checkpoint_save_ex(path, m, NULL, NULL, NULL, head ? NULL : names, head ? 0 : 3) == SC_OK, "save: %s",
            sc_last_error());
  sc_model_free(m);
}

static void setup(void) {
  ssize_t n = readlink("/proc/self/exe", bin, sizeof bin - 8);
  SC_ASSERT(n > 0, "cannot find this executable");
  bin[n] = 0;
  strcpy(strrchr(bin, '/') + 1, "simclr");
  if (access(bin, X_OK) != 0) SC_SKIP("%s is not built", bin);
  snprintf(dir, sizeof dir, "/tmp/sc_cli_XXXXXX");
  SC_ASSERT(mkdtemp(dir), "mkdtemp");
  snprintf(cls_ckpt, sizeof cls_ckpt, "%s/cls.safetensors", dir);
  snprintf(head_ckpt, sizeof head_ckpt, "%s/head.safetensors", dir);
  snprintf(data, sizeof data, "%s/data", dir);
  save_model(cls_ckpt, 0);
  save_model(head_ckpt, 1);
  mkdir(data, 0700);
  mkdir(P("data/a"), 0700);
  mkdir(P("data/b"), 0700);
  sc_test_rng r = {9};
  for (int i = 0; i < NIMG; i++) {
    const int w = 20 + 4 * i, h = 24;
    uint8_t *px = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int c = 0; c < 3; c++)
          px[(y * w + x) * 3 + c] = (uint8_t)(((x / (2 + i)) + (y / 3) * (c + 1) * 37 + sc_test_int(&r, 0, 20)) % 256);
    snprintf(images[i], sizeof images[i], "%s/%s/img%d.%s", data, i < 3 ? "a" : "b", i, i % 2 ? "jpg" : "png");
    if (i % 2) write_jpeg(images[i], px, w, h);
    else write_png(images[i], px, w, h);
    free(px);
  }
}

/* Runs simclr with args (a shell word list); captures stdout and stderr; returns the exit status. */
static int sh(const char *args) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "SIMCLR_THREADS=2 %s %s >%s 2>%s", bin, args, P("out.txt"), P("err.txt"));
  int st = system(cmd);
  FILE *f = fopen(P("out.txt"), "r");
  size_t k = f ? fread(out_buf, 1, sizeof out_buf - 1, f) : 0;
  out_buf[k] = 0;
  if (f) fclose(f);
  f = fopen(P("err.txt"), "r");
  k = f ? fread(err_buf, 1, sizeof err_buf - 1, f) : 0;
  err_buf[k] = 0;
  if (f) fclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

SC_TEST(cli_infer, help_of_each_command) {
  setup();
  const char *cmds[] = {"embed", "predict", "knn"};
  for (int i = 0; i < 3; i++) {
    char a[64], want[64];
    snprintf(a, sizeof a, "%s --help", cmds[i]);
    snprintf(want, sizeof want, "Usage: simclr %s", cmds[i]);
    int rc = sh(a);
    SC_ASSERT(rc == 0 && strstr(out_buf, want), "simclr %s: exit %d, stdout '%.200s'", a, rc, out_buf);
  }
  SC_ASSERT(sh("--help") == 0 && strstr(out_buf, "embed") && strstr(out_buf, "predict") && strstr(out_buf, "knn"),
            "the command list lacks the inference commands: %.500s", out_buf);
}

SC_TEST(cli_infer, bad_usage_exits_2_with_a_message) {
  setup();
  char a[1024];
  const char *cases[][2] = {
      {"embed --bogus", "embed"},
      {"embed --data DATA --out OUT", "--ckpt is required"},
      {"embed --ckpt CLS --data DATA", "--out is required"},
      {"embed --ckpt CLS --data DATA --out OUT --layer middle", "--layer 'middle'"},
      {"embed --ckpt CLS --data DATA --out OUT --batch 0", "--batch '0'"},
      {"predict --ckpt CLS", "no image given"},
      {"predict --ckpt CLS --topk zero IMG", "--topk 'zero'"},
      {"knn --ckpt CLS --query IMG --data DATA --png OUT --k x", "--k 'x'"},
      {"knn --ckpt CLS --data DATA --png OUT", "--query is required"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    /* placeholders: CLS the checkpoint, DATA the folder, OUT a file, IMG an image */
    char t[512];
    size_t k = 0;
    for (const char *s = cases[i][0]; *s && k < sizeof t - 200;) {
      const char *rep = NULL;
      size_t skip = 0;
      if (!strncmp(s, "CLS", 3)) rep = cls_ckpt, skip = 3;
      else if (!strncmp(s, "DATA", 4)) rep = data, skip = 4;
      else if (!strncmp(s, "OUT", 3)) rep = P("o.npy"), skip = 3;
      else if (!strncmp(s, "IMG", 3)) rep = images[0], skip = 3;
      if (rep) k += (size_t)snprintf(t + k, sizeof t - k, "%s", rep), s += skip;
      else t[k++] = *s++;
    }
    t[k] = 0;
    snprintf(a, sizeof a, "%s", t);
    int rc = sh(a);
    SC_ASSERT(rc == 2, "simclr %s: exit %d (want 2), stderr '%s'", a, rc, err_buf);
    SC_ASSERT(strstr(err_buf, cases[i][1]) && strstr(err_buf, "--help"), "simclr %s: stderr '%s' lacks '%s'", a,
              err_buf, cases[i][1]);
  }
}

SC_TEST(cli_infer, missing_or_corrupt_inputs_exit_1) {
  setup();
  char a[1024];
  snprintf(a, sizeof a, "embed --ckpt %s --data %s --out %s", P("nope.safetensors"), data, P("o.npy"));
  SC_ASSERT(sh(a) == 1 && strstr(err_buf, "nope.safetensors"), "missing checkpoint: stderr '%s'", err_buf);
  SC_ASSERT(access(P("o.npy"), F_OK) != 0, "an output was written after a failure");
  FILE *f = fopen(P("junk.safetensors"), "wb");
  fputs("this is not a checkpoint at all, just some text that is long enough", f);
  fclose(f);
  snprintf(a, sizeof a, "predict --ckpt %s %s", P("junk.safetensors"), images[0]);
  SC_ASSERT(sh(a) == 1 && strstr(err_buf, "junk.safetensors"), "corrupt checkpoint: stderr '%s'", err_buf);
  snprintf(a, sizeof a, "knn --ckpt %s --query %s --data %s --png %s", P("junk.safetensors"), images[0], data,
           P("k.png"));
  SC_ASSERT(sh(a) == 1 && strstr(err_buf, "junk.safetensors"), "knn, corrupt checkpoint: stderr '%s'", err_buf);
  snprintf(a, sizeof a, "predict --ckpt %s %s", head_ckpt, images[0]);
  SC_ASSERT(sh(a) == 1 && strstr(err_buf, "no classifier"), "predict without fc: stderr '%s'", err_buf);
  snprintf(a, sizeof a, "predict --ckpt %s %s", cls_ckpt, P("junk.safetensors"));
  SC_ASSERT(sh(a) == 1 && strstr(err_buf, "junk.safetensors"), "predict on a non-image: stderr '%s'", err_buf);
  snprintf(a, sizeof a, "embed --ckpt %s --data %s --out %s", cls_ckpt, P("no-such-folder"), P("o.npy"));
  SC_ASSERT(sh(a) == 1 && strstr(err_buf, "no-such-folder"), "missing data: stderr '%s'", err_buf);
  snprintf(a, sizeof a, "embed --ckpt %s --data %s --out %s --layer head", cls_ckpt, data, P("o.npy"));
  SC_ASSERT(sh(a) != 0 && strstr(err_buf, "no projection head"), "head of a classifier: stderr '%s'", err_buf);
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  SC_ASSERT(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  rewind(f);
  uint8_t *b = malloc(*len + 1);
  SC_ASSERT(fread(b, 1, *len, f) == *len, "read %s", path);
  b[*len] = 0;
  fclose(f);
  return b;
}

static void check_embed(const char *ckpt, const char *layer, int dim) {
  char a[1024];
  snprintf(a, sizeof a, "embed --ckpt %s --data %s --out %s --batch 4 --layer %s --json", ckpt, data, P("e.npy"),
           layer);
  int rc = sh(a);
  SC_ASSERT(rc == 0, "simclr %s: exit %d, stderr '%s'", a, rc, err_buf);
  json_error_t je;
  json_t *o = json_loads(out_buf, 0, &je);
  SC_ASSERT(o && json_integer_value(json_object_get(o, "rows")) == NIMG &&
                json_integer_value(json_object_get(o, "dim")) == dim,
            "summary '%s'", out_buf);
  json_decref(o);
  size_t len;
  uint8_t *npy = slurp(P("e.npy"), &len);
  SC_ASSERT(len > 10 && !memcmp(npy, "\x93NUMPY\x01\x00", 8), "not an NPY v1.0 file");
  const size_t hlen = npy[8] | (size_t)npy[9] << 8, off = 10 + hlen;
  char want[128];
  snprintf(want, sizeof want, "'shape': (%d, %d)", NIMG, dim);
  SC_ASSERT(off % 16 == 0 && npy[off - 1] == '\n', "header of %zu bytes not padded to 16 with a newline", hlen);
  SC_ASSERT(memmem(npy + 10, hlen, "'descr': '<f4'", 14) && memmem(npy + 10, hlen, "'fortran_order': False", 22) &&
                memmem(npy + 10, hlen, want, strlen(want)),
            "header '%.*s'", (int)hlen, npy + 10);
  SC_ASSERT(len == off + sizeof(float) * NIMG * (size_t)dim, "%zu bytes, want %zu", len,
            off + sizeof(float) * NIMG * (size_t)dim);
  /* rows in sorted file order, and equal to the API's embedding of each file */
  size_t tl;
  char *list = (char *)slurp(P("e.txt"), &tl);
  char *line = list;
  sc_model_handle *h = NULL;
  SC_ASSERT(sc_model_load(ckpt, &h) == SC_OK, "api load: %s", sc_last_error());
  for (int i = 0; i < NIMG; i++) {
    char *nl = strchr(line, '\n');
    SC_ASSERT(nl, "list has %d lines, want %d", i, NIMG);
    *nl = 0;
    SC_ASSERT(!strcmp(line, images[i]), "row %d is '%s', want '%s'", i, line, images[i]);
    line = nl + 1;
    size_t il;
    uint8_t *img = slurp(images[i], &il);
    float ref[FEAT], got[FEAT];
    SC_ASSERT(sc_model_embed_image(h, img, il, strcmp(layer, "head") ? SC_EMBED_FEATURES : SC_EMBED_HEAD, ref,
                                   FEAT) == SC_OK,
              "api embed %s: %s", images[i], sc_last_error());
    memcpy(got, npy + off + sizeof(float) * (size_t)(i * dim), sizeof(float) * (size_t)dim);
    double mx = 0;
    for (int j = 0; j < dim; j++) mx = fabs(ref[j]) > mx ? fabs(ref[j]) : mx;
    size_t worst;
    double e = sc_test_max_err(got, ref, (size_t)dim, 0.0, 1e-5 * mx + 1e-12, &worst);
    SC_ASSERT(e <= 1.0, "%s row %d (%s) value %zu: npy %g, api %g", layer, i, images[i], worst, got[worst],
              ref[worst]);
    free(img);
  }
  SC_ASSERT(*line == 0, "list longer than %d lines", NIMG);
  sc_model_unload(h);
  free(list), free(npy);
  if (system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c \"import numpy; a = numpy.load('%s'); "
             "assert a.shape == (%d, %d) and a.dtype == numpy.float32, a.shape\"", P("e.npy"), NIMG, dim);
    SC_ASSERT(system(cmd) == 0, "numpy.load refused the file: %s", cmd);
  } else {
    SC_LOG("numpy absent: the .npy header was checked by hand only");
  }
}

SC_TEST(cli_infer, embed_writes_npy_rows_equal_to_the_api) {
  setup();
  check_embed(cls_ckpt, "features", FEAT);
  check_embed(head_ckpt, "head", PROJ);
}

SC_TEST(cli_infer, predict_gives_topk_with_class_names) {
  setup();
  char a[2048];
  snprintf(a, sizeof a, "predict --ckpt %s --topk 2 --json %s %s %s", cls_ckpt, images[0], images[1], images[4]);
  int rc = sh(a);
  SC_ASSERT(rc == 0, "simclr %s: exit %d, stderr '%s'", a, rc, err_buf);
  json_error_t je;
  json_t *arr = json_loads(out_buf, 0, &je);
  SC_ASSERT(json_is_array(arr) && json_array_size(arr) == 3, "JSON: '%s'", out_buf);
  sc_model_handle *h = NULL;
  SC_ASSERT(sc_model_load(cls_ckpt, &h) == SC_OK, "api load: %s", sc_last_error());
  const int which[3] = {0, 1, 4};
  for (int i = 0; i < 3; i++) {
    json_t *e = json_array_get(arr, (size_t)i), *top = json_object_get(e, "top");
    SC_ASSERT(!strcmp(json_string_value(json_object_get(e, "image")), images[which[i]]), "image %d", i);
    SC_ASSERT(json_array_size(top) == 2, "entry %d has %zu classes", i, json_array_size(top));
    size_t il;
    uint8_t *img = slurp(images[which[i]], &il);
    float p[3];
    SC_ASSERT(sc_model_classify_image(h, img, il, p, 3) == SC_OK, "api: %s", sc_last_error());
    int best = p[1] > p[0] ? 1 : 0;
    best = p[2] > p[best] ? 2 : best;
    json_t *t0 = json_array_get(top, 0), *t1 = json_array_get(top, 1);
    double p0 = json_real_value(json_object_get(t0, "prob")), p1 = json_real_value(json_object_get(t1, "prob"));
    SC_ASSERT(json_integer_value(json_object_get(t0, "class")) == best && fabs(p0 - p[best]) < 1e-5 && p0 >= p1 &&
                  p0 + p1 <= 1.0 + 1e-6,
              "image %d: top %lld %g, %g; api best %d %g", i,
              (long long)json_integer_value(json_object_get(t0, "class")), p0, p1, best, p[best]);
    static const char *const names[3] = {"circle", "square", "stripe"};
    SC_ASSERT(!strcmp(json_string_value(json_object_get(t0, "name")), names[best]), "name of class %d", best);
    free(img);
  }
  json_decref(arr);
  sc_model_unload(h);
  snprintf(a, sizeof a, "predict --ckpt %s %s %s", cls_ckpt, images[2], images[3]);
  SC_ASSERT(sh(a) == 0, "text mode: %s", err_buf);
  int lines = 0;
  for (char *s = out_buf; (s = strchr(s, '\n')); s++) lines++;
  SC_ASSERT(lines == 2 && strstr(out_buf, images[2]) && strstr(out_buf, "circle"), "text output '%s'", out_buf);
}

SC_TEST(cli_infer, knn_finds_the_query_first_and_draws_a_grid) {
  setup();
  char a[2048];
  snprintf(a, sizeof a, "knn --ckpt %s --query %s --data %s --k 4 --png %s --json", head_ckpt, images[3], data,
           P("knn.png"));
  int rc = sh(a);
  SC_ASSERT(rc == 0, "simclr %s: exit %d, stderr '%s'", a, rc, err_buf);
  json_error_t je;
  json_t *o = json_loads(out_buf, 0, &je), *nb = json_object_get(o, "neighbours");
  SC_ASSERT(json_array_size(nb) == 4, "JSON '%s'", out_buf);
  json_t *first = json_array_get(nb, 0);
  SC_ASSERT(!strcmp(json_string_value(json_object_get(first, "image")), images[3]) &&
                json_real_value(json_object_get(first, "similarity")) > 0.9999,
            "nearest is %s (%g), want the query itself", json_string_value(json_object_get(first, "image")),
            json_real_value(json_object_get(first, "similarity")));
  double prev = 2;
  for (size_t i = 0; i < 4; i++) {
    double s = json_real_value(json_object_get(json_array_get(nb, i), "similarity"));
    SC_ASSERT(s <= prev + 1e-6 && s >= -1.0001, "similarity %zu: %g after %g", i, s, prev);
    prev = s;
  }
  json_decref(o);
  /* tiles: 16 px zoomed 6x = 96, 4 px padding; query + 4 neighbours + the gap after the query */
  sc_decoder *d = NULL;
  sc_image im = {0};
  SC_ASSERT(sc_decoder_create(&d) == SC_OK && sc_image_load(d, P("knn.png"), 3, 0, NULL, &im) == SC_OK,
            "grid PNG: %s", sc_last_error());
  SC_ASSERT(im.w == 5 * 96 + 6 * 4 + 8 && im.h == 96 + 8, "grid %dx%d", im.w, im.h);
  sc_image_free(&im), sc_decoder_destroy(d);
  snprintf(a, sizeof a, "knn --ckpt %s --query %s --data %s --k 20 --png %s", cls_ckpt, images[0], data,
           P("knn2.png"));
  SC_ASSERT(sh(a) == 0, "k above the dataset size: %s", err_buf);
  int lines = 0;
  for (char *s = out_buf; (s = strchr(s, '\n')); s++) lines++;
  SC_ASSERT(lines == NIMG, "%d neighbours listed for %d images: '%s'", lines, NIMG, out_buf);
}
