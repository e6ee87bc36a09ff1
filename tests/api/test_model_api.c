/* test_model_api.c: the public inference API (include/simclr_model.h, src/api): embeddings and class
 * probabilities from PNG and JPEG bytes and from raw uint8/float pixels, checked against a forward of the same
 * weights through the internal model; error statuses and messages; and one handle serving 4 threads at once with
 * results identical to serial calls.
 *
 * Tolerances: raw float pixels at the model's size go straight to the network, so the API must equal the internal
 * forward exactly. uint8 pixels at the model's size (16 px: no crop) go through the resize at scale 1, so they
 * are compared to the float path at 1e-5 relative to the largest feature (resampling arithmetic in fp32; an
 * off-by-one pixel or a channel swap moves features by far more). PNG is lossless, so PNG bytes and the same raw
 * pixels must agree exactly; JPEG bytes must agree exactly with the pixels our decoder makes of them. Concurrent
 * calls run the same arithmetic as serial ones, so they must match bit for bit. */
#include <png.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "data/image.h"
#include "simclr_model.h"
#include "test.h"
#include "testutil.h"
#include "train/checkpoint.h"

enum { S = 16, C = 3, CLASSES = 5, W = 40, H = 30 };

static char path[256], scratch_dir[64];
static const char *const names[CLASSES] = {"cat", "dog", "ship", "truck", "frog"};

/* the scratch folder goes when the test's process exits, passed or failed */
__attribute__((destructor)) static void remove_scratch(void) {
  char cmd[128];
  if (!scratch_dir[0]) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch_dir);
  if (system(cmd) != 0) return;
}

/* A ResNet-18 at width 0.25 with a 5-class classifier (or a projection head), default initialisation. */
static const char *make_checkpoint(int head) {
  if (!scratch_dir[0]) {
    snprintf(scratch_dir, sizeof scratch_dir, "/tmp/sc_api_XXXXXX");
    SC_ASSERT(mkdtemp(scratch_dir), "mkdtemp");
  }
  snprintf(path, sizeof path, "%s/%s.safetensors", scratch_dir, head ? "head" : "cls");
  sc_model_config c = sc_model_defaults();
  c.width = 0.25f, c.image_size = S, c.seed = 5;
  c.head = head ? SC_HEAD_PROJ_V1 : SC_HEAD_NONE, c.classes = head ? 0 : CLASSES, c.proj_dim = 32;
  sc_model *m = NULL;
  SC_ASSERT(sc_model_create(&c, &m) == SC_OK, "create: %s", sc_last_error());
  /* non-trivial BN statistics so evaluation mode matters */
  size_t nb;
  float *b = sc_model_buffers(m, &nb);
  sc_test_rng r = {77};
  for (size_t i = 0; i < nb; i++) b[i] += sc_test_uniform(&r, 0.0f, 0.2f);
  SC_ASSERT(sc_checkpoint_save_ex(path, m, NULL, NULL, NULL, head ? NULL : names, head ? 0 : CLASSES) == SC_OK,
            "save: %s", sc_last_error());
  sc_model_free(m);
  return path;
}

/* The reference: the internal model's evaluation forward on an S x S x C float image. */
static void reference(const char *ckpt, const float *x, float *feat, float *out, int64_t *out_n) {
  sc_model *m = NULL;
  SC_ASSERT(sc_checkpoint_load_model(ckpt, NULL, &m) == SC_OK, "load: %s", sc_last_error());
  SC_ASSERT(sc_model_plan(m, 1) == SC_OK, "plan");
  memcpy(sc_model_input(m), x, sizeof(float) * S * S * C);
  SC_ASSERT(sc_model_forward(m, 0) == SC_OK, "forward: %s", sc_last_error());
  int64_t f;
  const float *h = sc_model_features(m, NULL, &f);
  memcpy(feat, h, sizeof(float) * (size_t)f);
  const float *o = sc_model_output(m, NULL, out_n);
  memcpy(out, o, sizeof(float) * (size_t)*out_n);
  sc_model_free(m);
}

static void make_pixels(uint8_t *px, int w, int h, uint64_t seed) {
  sc_test_rng r = {seed};
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < C; c++) /* smooth content plus noise, so JPEG keeps it recognisable */
        px[(y * w + x) * C + c] = (uint8_t)((x * 255 / w + y * 97 / h + c * 60 + sc_test_int(&r, 0, 40)) % 256);
}

typedef struct membuf {
  uint8_t *p;
  size_t n, cap;
} membuf;

static void png_mem_write(png_structp png, png_bytep data, png_size_t len) {
  membuf *b = png_get_io_ptr(png);
  if (b->n + len > b->cap) {
    b->cap = (b->n + len) * 2;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, data, len);
  b->n += len;
}
static void png_mem_flush(png_structp png) { (void)png; }

static membuf encode_png(const uint8_t *px, int w, int h) {
  membuf b = {0};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  SC_ASSERT(png && info && !setjmp(png_jmpbuf(png)), "png encoder");
  png_set_write_fn(png, &b, png_mem_write, png_mem_flush);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < h; y++) png_write_row(png, (png_bytep)(px + (size_t)y * w * C));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return b;
}

static membuf encode_jpeg(const uint8_t *px, int w, int h) {
  tjhandle tj = tjInitCompress();
  unsigned char *out = NULL;
  unsigned long len = 0;
  SC_ASSERT(tj && tjCompress2(tj, px, w, 0, h, TJPF_RGB, &out, &len, TJSAMP_444, 95, 0) == 0, "jpeg encoder");
  membuf b = {malloc(len), len, len};
  memcpy(b.p, out, len);
  tjFree(out);
  tjDestroy(tj);
  return b;
}

static double max_abs(const float *v, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fabs(v[i]) > m ? fabs(v[i]) : m;
  return m;
}

SC_TEST(api, float_and_uint8_pixels_match_the_internal_forward) {
  const char *ck = make_checkpoint(0);
  sc_model_handle *h = NULL;
  SC_ASSERT(sc_model_load(ck, &h) == SC_OK, "load: %s", sc_last_error());
  sc_model_info info;
  SC_ASSERT(sc_model_info_of(h, &info) == SC_OK && info.image_size == S && info.channels == C &&
                info.feature_dim == 128 && info.head_dim == 0 && info.classes == CLASSES,
            "info: size %d ch %d feat %d head %d classes %d", info.image_size, info.channels, info.feature_dim,
            info.head_dim, info.classes);
  SC_ASSERT(sc_model_class_name(h, 2) && !strcmp(sc_model_class_name(h, 2), "ship") && !sc_model_class_name(h, 5),
            "class names");
  uint8_t px[S * S * C];
  float x[S * S * C], feat[128], ref_feat[128], logits[CLASSES], probs[CLASSES];
  make_pixels(px, S, S, 1);
  for (int i = 0; i < S * S * C; i++) x[i] = px[i] / 255.0f;
  int64_t nout;
  reference(ck, x, ref_feat, logits, &nout);
  SC_ASSERT(nout == CLASSES, "outputs %lld", (long long)nout);

  SC_ASSERT(sc_model_embed_pixels(h, x, S, S, C, SC_PIXELS_F32, SC_EMBED_FEATURES, feat, 128) == SC_OK, "embed: %s",
            sc_last_error());
  SC_ASSERT(!memcmp(feat, ref_feat, sizeof feat), "float pixels: features differ from the internal forward");
  SC_ASSERT(sc_model_classify_pixels(h, x, S, S, C, SC_PIXELS_F32, probs, CLASSES) == SC_OK, "classify: %s",
            sc_last_error());
  double mx = logits[0], sum = 0, psum = 0;
  for (int k = 1; k < CLASSES; k++) mx = logits[k] > mx ? logits[k] : mx;
  for (int k = 0; k < CLASSES; k++) sum += exp(logits[k] - mx);
  for (int k = 0; k < CLASSES; k++) {
    double want = exp(logits[k] - mx) / sum;
    SC_ASSERT(fabs(probs[k] - want) <= 1e-6, "prob %d: %g, softmax of the logits %g", k, probs[k], want);
    psum += probs[k];
  }
  SC_ASSERT(fabs(psum - 1.0) < 1e-5, "probabilities sum to %g", psum);

  float feat_u8[128];
  SC_ASSERT(sc_model_embed_pixels(h, px, S, S, C, SC_PIXELS_U8, SC_EMBED_FEATURES, feat_u8, 128) == SC_OK,
            "embed u8: %s", sc_last_error());
  size_t worst;
  double e = sc_test_max_err(feat_u8, ref_feat, 128, 0.0, 1e-5 * max_abs(ref_feat, 128), &worst);
  SC_ASSERT(e <= 1.0, "uint8 %dx%d pixels: feature %zu is %g, float path %g", S, S, worst, feat_u8[worst],
            ref_feat[worst]);
  sc_model_unload(h);
}

SC_TEST(api, png_and_jpeg_bytes_match_their_pixels) {
  const char *ck = make_checkpoint(0);
  sc_model_handle *h = NULL;
  SC_ASSERT(sc_model_load(ck, &h) == SC_OK, "load: %s", sc_last_error());
  uint8_t px[W * H * C];
  make_pixels(px, W, H, 2);
  float a[128], b[128], pa[CLASSES], pb[CLASSES];
  membuf png = encode_png(px, W, H);
  SC_ASSERT(sc_model_embed_image(h, png.p, png.n, SC_EMBED_FEATURES, a, 128) == SC_OK, "png: %s", sc_last_error());
  SC_ASSERT(sc_model_embed_pixels(h, px, W, H, C, SC_PIXELS_U8, SC_EMBED_FEATURES, b, 128) == SC_OK, "pixels: %s",
            sc_last_error());
  SC_ASSERT(!memcmp(a, b, sizeof a), "PNG %dx%d: features differ from its raw pixels", W, H);
  SC_ASSERT(sc_model_classify_image(h, png.p, png.n, pa, CLASSES) == SC_OK, "png classify: %s", sc_last_error());
  SC_ASSERT(sc_model_classify_pixels(h, px, W, H, C, SC_PIXELS_U8, pb, CLASSES) == SC_OK, "classify: %s",
            sc_last_error());
  SC_ASSERT(!memcmp(pa, pb, sizeof pa), "PNG: probabilities differ from its raw pixels");

  membuf jpg = encode_jpeg(px, W, H);
  sc_decoder *d = NULL;
  sc_image im = {0};
  SC_ASSERT(sc_decoder_create(&d) == SC_OK && sc_image_decode(d, "t.jpg", jpg.p, jpg.n, C, 0, NULL, &im) == SC_OK,
            "decode: %s", sc_last_error());
  SC_ASSERT(sc_model_embed_image(h, jpg.p, jpg.n, SC_EMBED_FEATURES, a, 128) == SC_OK, "jpeg: %s", sc_last_error());
  SC_ASSERT(sc_model_embed_pixels(h, im.px, im.w, im.h, im.c, SC_PIXELS_U8, SC_EMBED_FEATURES, b, 128) == SC_OK,
            "decoded pixels: %s", sc_last_error());
  SC_ASSERT(!memcmp(a, b, sizeof a), "JPEG %dx%d: features differ from its decoded pixels", W, H);
  /* gray input to a 3-channel model is replicated: same as a gray RGB image */
  uint8_t gray[W * H], rgb[W * H * C];
  for (int i = 0; i < W * H; i++) gray[i] = px[i * C], rgb[i * C] = rgb[i * C + 1] = rgb[i * C + 2] = gray[i];
  SC_ASSERT(sc_model_embed_pixels(h, gray, W, H, 1, SC_PIXELS_U8, SC_EMBED_FEATURES, a, 128) == SC_OK, "gray");
  SC_ASSERT(sc_model_embed_pixels(h, rgb, W, H, 3, SC_PIXELS_U8, SC_EMBED_FEATURES, b, 128) == SC_OK, "rgb");
  SC_ASSERT(!memcmp(a, b, sizeof a), "gray pixels differ from the same gray as RGB");
  sc_image_free(&im), sc_decoder_destroy(d);
  free(png.p), free(jpg.p);
  sc_model_unload(h);
}

SC_TEST(api, head_embedding_is_the_projection) {
  const char *ck = make_checkpoint(1);
  sc_model_handle *h = NULL;
  SC_ASSERT(sc_model_load(ck, &h) == SC_OK, "load: %s", sc_last_error());
  sc_model_info info;
  sc_model_info_of(h, &info);
  SC_ASSERT(info.head_dim == 32 && info.classes == 0, "head %d classes %d", info.head_dim, info.classes);
  float x[S * S * C], feat[128], z[32], ref_feat[128], ref_z[32];
  sc_test_rng r = {3};
  sc_test_fill(&r, x, S * S * C, 0, 1);
  int64_t nz;
  reference(ck, x, ref_feat, ref_z, &nz);
  SC_ASSERT(sc_model_embed_pixels(h, x, S, S, C, SC_PIXELS_F32, SC_EMBED_HEAD, z, 32) == SC_OK, "head: %s",
            sc_last_error());
  SC_ASSERT(sc_model_embed_pixels(h, x, S, S, C, SC_PIXELS_F32, SC_EMBED_FEATURES, feat, 128) == SC_OK, "feat");
  SC_ASSERT(nz == 32 && !memcmp(z, ref_z, sizeof z) && !memcmp(feat, ref_feat, sizeof feat),
            "head/features differ from the internal forward");
  float p[CLASSES];
  SC_ASSERT(sc_model_classify_pixels(h, x, S, S, C, SC_PIXELS_F32, p, CLASSES) == SC_EINVAL, "classify, no fc");
  SC_ASSERT(strstr(sc_last_error(), "no classifier"), "message: %s", sc_last_error());
  SC_ASSERT(sc_model_class_name(h, 0) == NULL, "class name without metadata");
  sc_model_unload(h);
}

SC_TEST(api, failures_have_a_status_and_a_message) {
  sc_model_handle *h = (sc_model_handle *)1;
  SC_ASSERT(sc_model_load("/nonexistent/x.safetensors", &h) == SC_EIO && h == NULL, "missing file");
  SC_ASSERT(strstr(sc_last_error(), "/nonexistent/x.safetensors"), "message: %s", sc_last_error());
  const char *ck = make_checkpoint(0);
  SC_ASSERT(sc_model_load(ck, &h) == SC_OK, "load: %s", sc_last_error());
  float out[128], small[4];
  const uint8_t junk[64] = {0xff, 0xd8, 0xff, 0xe0, 1, 2, 3};
  SC_ASSERT(sc_model_embed_image(h, junk, sizeof junk, SC_EMBED_FEATURES, out, 128) == SC_EFORMAT, "corrupt JPEG");
  SC_ASSERT(strlen(sc_last_error()) > 0, "no message for a corrupt JPEG");
  const char text[] = "hello, not an image";
  SC_ASSERT(sc_model_embed_image(h, text, sizeof text, SC_EMBED_FEATURES, out, 128) == SC_EFORMAT, "text");
  uint8_t px[S * S * C] = {0};
  SC_ASSERT(sc_model_embed_pixels(h, px, S, S, C, SC_PIXELS_U8, SC_EMBED_FEATURES, small, 4) == SC_EINVAL, "room");
  SC_ASSERT(strstr(sc_last_error(), "need 128"), "message: %s", sc_last_error());
  float fx[8 * 8 * C] = {0};
  SC_ASSERT(sc_model_embed_pixels(h, fx, 8, 8, C, SC_PIXELS_F32, SC_EMBED_FEATURES, out, 128) == SC_EINVAL, "size");
  SC_ASSERT(strstr(sc_last_error(), "16x16x3"), "message: %s", sc_last_error());
  SC_ASSERT(sc_model_embed_pixels(h, px, S, S, 2, SC_PIXELS_U8, SC_EMBED_FEATURES, out, 128) == SC_EINVAL, "c=2");
  SC_ASSERT(sc_model_embed_pixels(h, px, S, S, C, SC_PIXELS_U8, SC_EMBED_HEAD, out, 128) == SC_EINVAL, "no head");
  SC_ASSERT(strstr(sc_last_error(), "projection head"), "message: %s", sc_last_error());
  /* a failed call leaves the handle usable */
  SC_ASSERT(sc_model_embed_pixels(h, px, S, S, C, SC_PIXELS_U8, SC_EMBED_FEATURES, out, 128) == SC_OK, "after: %s",
            sc_last_error());
  sc_model_unload(h);
}

/* ---- concurrency ---------------------------------------------------------------------------------------------- */

enum { THREADS = 4, IMAGES = 8, ROUNDS = 3 };

typedef struct job {
  sc_model_handle *h;
  membuf *png;
  float (*serial)[128];
  int id, mismatches, failures;
} job;

static void *worker(void *p) {
  job *j = p;
  for (int r = 0; r < ROUNDS; r++)
    for (int k = 0; k < IMAGES; k++) {
      int i = (k + j->id * 3) % IMAGES; /* threads walk the images in different orders */
      float f[128];
      if (sc_model_embed_image(j->h, j->png[i].p, j->png[i].n, SC_EMBED_FEATURES, f, 128) != SC_OK) j->failures++;
      else if (memcmp(f, j->serial[i], sizeof f)) j->mismatches++;
    }
  return NULL;
}

SC_TEST(api, one_handle_serves_four_threads) {
  const char *ck = make_checkpoint(0);
  sc_model_handle *h = NULL;
  SC_ASSERT(sc_model_load(ck, &h) == SC_OK, "load: %s", sc_last_error());
  membuf png[IMAGES];
  float serial[IMAGES][128];
  for (int i = 0; i < IMAGES; i++) {
    uint8_t px[W * H * C];
    make_pixels(px, W, H, 100 + (uint64_t)i);
    png[i] = encode_png(px, W, H);
    SC_ASSERT(sc_model_embed_image(h, png[i].p, png[i].n, SC_EMBED_FEATURES, serial[i], 128) == SC_OK, "serial");
  }
  pthread_t t[THREADS];
  job jobs[THREADS];
  for (int k = 0; k < THREADS; k++) {
    jobs[k] = (job){.h = h, .png = png, .serial = serial, .id = k};
    SC_ASSERT(pthread_create(&t[k], NULL, worker, &jobs[k]) == 0, "pthread_create");
  }
  for (int k = 0; k < THREADS; k++) pthread_join(t[k], NULL);
  for (int k = 0; k < THREADS; k++)
    SC_ASSERT(!jobs[k].failures && !jobs[k].mismatches, "thread %d: %d failures, %d results differing from serial "
              "(%d threads x %d rounds x %d images)", k, jobs[k].failures, jobs[k].mismatches, THREADS, ROUNDS,
              IMAGES);
  for (int i = 0; i < IMAGES; i++) free(png[i].p);
  sc_model_unload(h);
}

/* The views behind the call contexts (sc_model_create_view): they read the owner's weights, evaluate like it, and
 * refuse to train, which would write the shared BN statistics. */
SC_TEST(api, model_views_share_weights_and_refuse_training) {
  sc_model_config c = sc_model_defaults();
  c.width = 0.25f, c.image_size = S, c.head = SC_HEAD_NONE, c.classes = CLASSES;
  sc_model *m = NULL, *v = NULL;
  SC_ASSERT(sc_model_create(&c, &m) == SC_OK && sc_model_create_view(m, &v) == SC_OK, "create: %s", sc_last_error());
  SC_ASSERT(sc_model_params(v, NULL) == sc_model_params(m, NULL) &&
                sc_model_buffers(v, NULL) == sc_model_buffers(m, NULL),
            "a view must read its owner's storage");
  SC_ASSERT(sc_model_plan(m, 2) == SC_OK && sc_model_plan(v, 2) == SC_OK, "plan");
  sc_test_rng r = {4};
  sc_test_fill(&r, sc_model_input(m), 2 * S * S * C, 0, 1);
  memcpy(sc_model_input(v), sc_model_input(m), sizeof(float) * 2 * S * S * C);
  SC_ASSERT(sc_model_forward(m, 0) == SC_OK && sc_model_forward(v, 0) == SC_OK, "forward: %s", sc_last_error());
  SC_ASSERT(!memcmp(sc_model_output(m, NULL, NULL), sc_model_output(v, NULL, NULL), sizeof(float) * 2 * CLASSES),
            "a view's evaluation differs from its owner's");
  SC_ASSERT(sc_model_forward(v, 1) == SC_EINVAL && sc_model_backward(v) == SC_EINVAL, "a view trained");
  sc_model_free(v);
  sc_model_free(m);
}
