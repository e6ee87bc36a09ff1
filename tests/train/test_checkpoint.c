/* test_checkpoint.c: checkpoints (src/train/checkpoint.c): bit-exact round trips of weights, BN statistics,
 * counters, optimiser state and run state; torchvision's key counts (122 for ResNet-18, 320 for ResNet-50), dtypes
 * and OIHW layout; architecture inference from torchvision-only files; overrides; and the refusal of truncated,
 * corrupted, lying or mismatched files with a message naming the problem. When /usr/bin/python3 has torch and
 * torchvision: our files load into torchvision.models.resnet18/50 with load_state_dict(strict=True) and give our
 * features; torchvision state_dicts written as safetensors load here and give PyTorch's outputs; and
 * tools/pth_to_safetensors.py converts a {'state_dict': {'module.*': ...}} .pth into a file that loads here.
 *
 * Tolerance of the PyTorch comparisons: max |ours - torch| <= 1e-3 * max |torch| + 1e-5 per output tensor. Both
 * sides compute in fp32 with different summation orders (im2col GEMM blocks against oneDNN/THNN convolutions)
 * through up to 50 layers with random BN statistics; the observed error is ~1e-6 relative, and a wrong layout
 * (OIHW read as OHWI, a swapped BN buffer) gives errors of order 1. Models are small: ResNet-18/50 at width 1 on
 * 32x32 inputs (where the comparison must use torchvision's own classes) or width 0.25 elsewhere. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "test.h"
#include "testutil.h"
#include "train/checkpoint.h"

/* ---- helpers ------------------------------------------------------------------------------------------------ */

static char tmpdir[64];

/* the scratch folder goes when the test's process exits, passed or failed */
__attribute__((destructor)) static void remove_scratch(void) {
  char cmd[128];
  if (!tmpdir[0]) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) return;
}

static const char *tmp(const char *name) {
  static char buf[8][256];
  static int k;
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sc_ckpt_XXXXXX");
    SC_ASSERT(mkdtemp(tmpdir) != NULL, "mkdtemp failed");
  }
  char *b = buf[k++ % 8];
  snprintf(b, 256, "%s/%s", tmpdir, name);
  return b;
}

static sc_model_config small(int depth, sc_head head, int classes) {
  sc_model_config c = sc_model_defaults();
  c.depth = depth, c.width = 0.25f, c.image_size = 16, c.head = head, c.classes = classes, c.seed = 7;
  return c;
}

/* Random weights, BN statistics and counters, so that a round trip that dropped or swapped anything shows. */
static sc_model *make_model(const sc_model_config *c, uint64_t seed) {
  sc_model *m = NULL;
  /* every value is overwritten below: skip the (slow at width 1) random initialisation */
  SC_ASSERT(sc_model_create_zeroed(c, &m) == SC_OK, "create depth %d: %s", c->depth, sc_last_error());
  sc_test_rng r = {seed};
  size_t n, nt;
  float *p = sc_model_params(m, &n);
  sc_test_fill(&r, p, n, -0.5f, 0.5f);
  const sc_tensor_info *t = sc_model_tensors(m, &nt);
  float *b = sc_model_buffers(m, NULL);
  int64_t *cnt = sc_model_counters(m, NULL);
  for (size_t i = 0; i < nt; i++) {
    if (t[i].role == SC_TENSOR_COUNTER) cnt[t[i].offset] = sc_test_int(&r, 0, 1000);
    if (t[i].role != SC_TENSOR_BUFFER) continue;
    const int var = strstr(t[i].name, "running_var") != NULL;
    sc_test_fill(&r, b + t[i].offset, t[i].count, var ? 0.5f : -0.1f, var ? 1.5f : 0.1f);
  }
  /* gamma near 1 and small betas keep activations bounded through 50 layers */
  for (size_t i = 0; i < nt; i++)
    if (t[i].role == SC_TENSOR_PARAM && t[i].excluded && t[i].ndim == 1 && !strstr(t[i].name, "fc."))
      sc_test_fill(&r, p + t[i].offset, t[i].count, strstr(t[i].name, ".bias") ? -0.1f : 0.5f,
                   strstr(t[i].name, ".bias") ? 0.1f : 1.5f);
  return m;
}

static void assert_same_model(sc_model *a, sc_model *b, const char *label) {
  size_t na, nb;
  float *pa = sc_model_params(a, &na), *pb = sc_model_params(b, &nb);
  SC_ASSERT(na == nb && !memcmp(pa, pb, na * sizeof(float)), "%s: parameters differ (%zu vs %zu)", label, na, nb);
  float *ba = sc_model_buffers(a, &na), *bb = sc_model_buffers(b, &nb);
  SC_ASSERT(na == nb && !memcmp(ba, bb, na * sizeof(float)), "%s: BN buffers differ", label);
  int64_t *ca = sc_model_counters(a, &na), *cb = sc_model_counters(b, &nb);
  SC_ASSERT(na == nb && !memcmp(ca, cb, na * sizeof(int64_t)), "%s: counters differ", label);
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  SC_ASSERT(f != NULL, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*len ? *len : 1);
  SC_ASSERT(b && fread(b, 1, *len, f) == *len, "cannot read %s", path);
  fclose(f);
  return b;
}

static void spit(const char *path, const void *b, size_t len) {
  FILE *f = fopen(path, "wb");
  SC_ASSERT(f && fwrite(b, 1, len, f) == len, "cannot write %s", path);
  fclose(f);
}

/* ---- round trips ---------------------------------------------------------------------------------------------- */

static void round_trip(sc_optim_kind kind, sc_head head, int classes) {
  sc_model_config c = small(18, head, classes);
  sc_model *m = make_model(&c, 11);
  size_t np;
  sc_model_params(m, &np);
  sc_optim_config oc = sc_optim_defaults(kind);
  sc_optim o;
  SC_ASSERT(sc_optim_init(&o, &oc, np) == SC_OK, "optim: %s", sc_last_error());
  sc_test_rng r = {5};
  sc_test_fill(&r, o.m, np, -1, 1);
  if (o.v) sc_test_fill(&r, o.v, np, 0, 1);
  o.steps = 1234;
  const sc_run_state rs = {.step = 1234, .epoch = 17, .seed = 0xfedcba9876543210ull};
  const char *cfg = "{\"epochs\": 100, \"data\": \"/x/y\"}";
  const char *path = tmp("rt.safetensors");
  SC_ASSERT(sc_checkpoint_save(path, m, &o, &rs, cfg) == SC_OK, "save: %s", sc_last_error());

  sc_model *l = NULL;
  SC_ASSERT(sc_checkpoint_load_model(path, NULL, &l) == SC_OK, "load: %s", sc_last_error());
  const sc_model_config *lc = sc_model_config_of(l);
  SC_ASSERT(lc->depth == 18 && lc->width == 0.25f && lc->image_size == 16 && lc->head == head &&
                lc->classes == classes && lc->in_channels == 3 && lc->stem == SC_STEM_CIFAR && lc->seed == 7,
            "config after load: depth %d width %g size %d head %d classes %d stem %d", lc->depth, lc->width,
            lc->image_size, (int)lc->head, lc->classes, (int)lc->stem);
  assert_same_model(m, l, "load_model");

  /* training state into a fresh model and optimiser */
  sc_model *f = NULL;
  SC_ASSERT(sc_model_create(&c, &f) == SC_OK, "create: %s", sc_last_error());
  sc_optim o2;
  SC_ASSERT(sc_optim_init(&o2, &oc, np) == SC_OK, "optim: %s", sc_last_error());
  sc_run_state rs2 = {0};
  char *cfg2 = NULL;
  SC_ASSERT(sc_checkpoint_load_training(path, f, &o2, &rs2, &cfg2) == SC_OK, "load_training: %s", sc_last_error());
  assert_same_model(m, f, "load_training");
  SC_ASSERT(!memcmp(o.m, o2.m, np * sizeof(float)), "optimiser m differs (%d)", (int)kind);
  SC_ASSERT(!o.v || !memcmp(o.v, o2.v, np * sizeof(float)), "optimiser v differs");
  SC_ASSERT(o2.steps == 1234, "optimiser steps %lld", (long long)o2.steps);
  SC_ASSERT(rs2.step == rs.step && rs2.epoch == rs.epoch && rs2.seed == rs.seed, "run state %lld %lld %llx",
            (long long)rs2.step, (long long)rs2.epoch, (unsigned long long)rs2.seed);
  SC_ASSERT(cfg2 && !strcmp(cfg2, cfg), "config json '%s'", cfg2 ? cfg2 : "(null)");
  free(cfg2);

  /* an optimiser of another kind is refused, and refusal leaves the model untouched */
  sc_optim_config other = sc_optim_defaults(kind == SC_OPTIM_ADAMW ? SC_OPTIM_SGD : SC_OPTIM_ADAMW);
  sc_optim o3;
  SC_ASSERT(sc_optim_init(&o3, &other, np) == SC_OK, "optim: %s", sc_last_error());
  sc_model *g = NULL;
  SC_ASSERT(sc_model_create(&c, &g) == SC_OK, "create: %s", sc_last_error());
  float before = sc_model_params(g, NULL)[0];
  SC_ASSERT(sc_checkpoint_load_training(path, g, &o3, NULL, NULL) == SC_EFORMAT, "wrong optimiser kind accepted");
  SC_ASSERT(strstr(sc_last_error(), "optimiser"), "message: %s", sc_last_error());
  SC_ASSERT(sc_model_params(g, NULL)[0] == before, "refused load changed the model");
  sc_optim_free(&o), sc_optim_free(&o2), sc_optim_free(&o3);
  sc_model_free(m), sc_model_free(l), sc_model_free(f), sc_model_free(g);
}

SC_TEST(checkpoint, round_trip_lars_head) { round_trip(SC_OPTIM_LARS, SC_HEAD_PROJ_V1, 0); }
SC_TEST(checkpoint, round_trip_adamw_head_v2) { round_trip(SC_OPTIM_ADAMW, SC_HEAD_PROJ_V2, 0); }
SC_TEST(checkpoint, round_trip_sgd_classifier) { round_trip(SC_OPTIM_SGD, SC_HEAD_NONE, 10); }

SC_TEST(checkpoint, weights_only_file_has_no_training_state) {
  sc_model_config c = small(18, SC_HEAD_NONE, 0);
  sc_model *m = make_model(&c, 3);
  const char *path = tmp("weights.safetensors");
  SC_ASSERT(sc_checkpoint_save(path, m, NULL, NULL, NULL) == SC_OK, "save: %s", sc_last_error());
  sc_run_state rs;
  SC_ASSERT(sc_checkpoint_load_training(path, m, NULL, &rs, NULL) == SC_EFORMAT, "run state from a weights file");
  SC_ASSERT(strstr(sc_last_error(), "simclr.step"), "message: %s", sc_last_error());
  size_t np;
  sc_model_params(m, &np);
  sc_optim_config oc = sc_optim_defaults(SC_OPTIM_LARS);
  sc_optim o;
  SC_ASSERT(sc_optim_init(&o, &oc, np) == SC_OK, "optim");
  SC_ASSERT(sc_checkpoint_load_training(path, m, &o, NULL, NULL) == SC_EFORMAT, "optimiser from a weights file");
  SC_ASSERT(strstr(sc_last_error(), "no optimiser state"), "message: %s", sc_last_error());
  sc_optim_free(&o);
  sc_model_free(m);
}

/* ---- layout: torchvision's keys, dtypes and OIHW ------------------------------------------------------------ */

/* torchvision's counts include its classifier (fc.weight, fc.bias) */
static void key_count(int depth, size_t want) {
  sc_model_config c = small(depth, SC_HEAD_NONE, 1000);
  sc_model *m = make_model(&c, 1);
  const char *path = tmp("keys.safetensors");
  SC_ASSERT(sc_checkpoint_save(path, m, NULL, NULL, NULL) == SC_OK, "save: %s", sc_last_error());
  sc_st_file *f = NULL;
  SC_ASSERT(sc_st_read(path, 0, &f) == SC_OK, "read: %s", sc_last_error());
  SC_ASSERT(f->ntensors == want, "ResNet-%d: %zu keys, torchvision has %zu", depth, f->ntensors, want);
  size_t counters = 0;
  for (size_t i = 0; i < f->ntensors; i++) {
    const sc_st_tensor *t = &f->tensors[i];
    if (strstr(t->name, "num_batches_tracked")) {
      counters++;
      SC_ASSERT(t->dtype == SC_DT_I64 && t->rank == 0, "%s: %s rank %d", t->name, sc_dtype_name(t->dtype), t->rank);
    } else {
      SC_ASSERT(t->dtype == SC_DT_F32, "%s: %s", t->name, sc_dtype_name(t->dtype));
    }
  }
  /* every BN (conv1's, each block's 2 or 3, each downsample's) has one counter */
  const size_t bns = depth == 18 ? 1 + 8 * 2 + 3 : 1 + 16 * 3 + 4;
  SC_ASSERT(counters == bns, "ResNet-%d: %zu num_batches_tracked, expected %zu", depth, counters, bns);
  const sc_st_tensor *w = sc_st_find(f, depth == 18 ? "layer2.0.conv1.weight" : "layer2.0.conv2.weight");
  SC_ASSERT(w && w->rank == 4 && w->shape[0] == 32 && w->shape[1] == (depth == 18 ? 16 : 32) && w->shape[2] == 3 &&
                w->shape[3] == 3,
            "OIHW shape of the layer2 3x3 convolution");
  SC_ASSERT(sc_st_find(f, "layer2.0.downsample.0.weight") && sc_st_find(f, "layer4.1.bn2.running_var"),
            "torchvision names missing");
  sc_st_free(f);
  sc_model_free(m);
}

SC_TEST(checkpoint, resnet18_has_torchvision_122_keys) { key_count(18, 122); }
SC_TEST(checkpoint, resnet50_has_torchvision_320_keys) { key_count(50, 320); }

SC_TEST(checkpoint, convolution_weights_are_oihw_in_the_file) {
  sc_model_config c = small(18, SC_HEAD_NONE, 0);
  sc_model *m = make_model(&c, 2);
  const char *path = tmp("oihw.safetensors");
  SC_ASSERT(sc_checkpoint_save(path, m, NULL, NULL, NULL) == SC_OK, "save: %s", sc_last_error());
  sc_st_file *f = NULL;
  SC_ASSERT(sc_st_read(path, 0, &f) == SC_OK, "read: %s", sc_last_error());
  const char *names[] = {"conv1.weight", "layer3.1.conv2.weight", "layer4.0.downsample.0.weight"};
  for (int k = 0; k < 3; k++) {
    const sc_tensor_info *ti = sc_model_find(m, names[k]);
    const sc_st_tensor *t = sc_st_find(f, names[k]);
    SC_ASSERT(ti && ti->ohwi && t, "%s", names[k]);
    const int64_t O = t->shape[0], I = t->shape[1], KH = t->shape[2], KW = t->shape[3];
    const float *ours = sc_model_params(m, NULL) + ti->offset;
    const unsigned char *file = sc_st_data(f, t);
    for (int64_t o = 0; o < O; o++)
      for (int64_t i = 0; i < I; i++)
        for (int64_t y = 0; y < KH; y++)
          for (int64_t x = 0; x < KW; x++) {
            float v;
            memcpy(&v, file + 4 * (((o * I + i) * KH + y) * KW + x), 4);
            SC_ASSERT(v == ours[((o * KH + y) * KW + x) * I + i], "%s[%lld][%lld][%lld][%lld]", names[k],
                      (long long)o, (long long)i, (long long)y, (long long)x);
          }
  }
  sc_st_free(f);
  sc_model_free(m);
}

/* ---- files without our metadata (torchvision state_dicts) --------------------------------------------------- */

/* Rewrites src without the tensors matched by drop (a prefix, or NULL) and, if no_meta, without __metadata__;
 * mutate (may be NULL) may change one tensor's entry before it is added. */
typedef void (*mutate_fn)(const char *name, sc_dtype *dt, int *rank, int64_t *shape, const void **data);

static void rewrite(const char *src, const char *dst, const char *drop, int no_meta, mutate_fn mutate,
                    const char *extra_meta_key, const char *extra_meta_value) {
  sc_st_file *f = NULL;
  SC_ASSERT(sc_st_read(src, 0, &f) == SC_OK, "read %s: %s", src, sc_last_error());
  sc_st_writer *w = NULL;
  SC_ASSERT(sc_st_writer_new(&w) == SC_OK, "writer");
  for (size_t i = 0; i < f->ntensors; i++) {
    const sc_st_tensor *t = &f->tensors[i];
    if (drop && !strncmp(t->name, drop, strlen(drop))) continue;
    sc_dtype dt = t->dtype;
    int rank = t->rank;
    int64_t shape[SC_ST_MAX_RANK];
    memcpy(shape, t->shape, sizeof shape);
    const void *data = sc_st_data(f, t);
    if (mutate) mutate(t->name, &dt, &rank, shape, &data);
    SC_ASSERT(sc_st_writer_add(w, t->name, dt, rank, shape, data) == SC_OK, "add %s: %s", t->name, sc_last_error());
  }
  for (size_t i = 0; !no_meta && i < f->nmeta; i++)
    if (!extra_meta_key || strcmp(f->meta_keys[i], extra_meta_key))
      SC_ASSERT(sc_st_writer_meta(w, f->meta_keys[i], f->meta_values[i]) == SC_OK, "meta");
  if (extra_meta_key) SC_ASSERT(sc_st_writer_meta(w, extra_meta_key, extra_meta_value) == SC_OK, "meta");
  SC_ASSERT(sc_st_writer_save(w, dst) == SC_OK, "save %s: %s", dst, sc_last_error());
  sc_st_writer_free(w);
  /* the data pointers were borrowed from f until the save */
  sc_st_free(f);
}

static void infer_case(int depth, sc_head head, int classes, int image_size) {
  sc_model_config c = small(depth, head, classes);
  c.image_size = image_size;
  sc_model *m = make_model(&c, 9);
  const char *ours = tmp("ours.safetensors"), *bare = tmp("bare.safetensors");
  SC_ASSERT(sc_checkpoint_save(ours, m, NULL, NULL, NULL) == SC_OK, "save: %s", sc_last_error());
  rewrite(ours, bare, NULL, 1, NULL, NULL, NULL);
  sc_model *l = NULL;
  SC_ASSERT(sc_checkpoint_load_model(bare, NULL, &l) == SC_OK, "load without metadata (depth %d head %d classes "
            "%d size %d): %s", depth, (int)head, classes, image_size, sc_last_error());
  const sc_model_config *lc = sc_model_config_of(l);
  const int cifar = image_size <= 32;
  SC_ASSERT(lc->depth == depth && lc->width == 0.25f && lc->head == head && lc->classes == classes &&
                lc->proj_dim == (head ? c.proj_dim : lc->proj_dim) &&
                lc->stem == (cifar ? SC_STEM_CIFAR : SC_STEM_IMAGENET) && lc->image_size == (cifar ? 32 : 224),
            "inferred depth %d width %g head %d classes %d stem %d size %d (wanted depth %d head %d classes %d)",
            lc->depth, lc->width, (int)lc->head, lc->classes, (int)lc->stem, lc->image_size, depth, (int)head,
            classes);
  assert_same_model(m, l, "inferred");
  sc_model_free(m), sc_model_free(l);
}

SC_TEST(checkpoint, infers_resnet18_cifar_stem_with_head) { infer_case(18, SC_HEAD_PROJ_V1, 0, 16); }
SC_TEST(checkpoint, infers_resnet34_with_head_v2) { infer_case(34, SC_HEAD_PROJ_V2, 0, 16); }
SC_TEST(checkpoint, infers_resnet50_imagenet_stem_with_classifier) { infer_case(50, SC_HEAD_NONE, 10, 64); }

SC_TEST(checkpoint, override_attaches_a_new_classifier_or_head) {
  sc_model_config c = small(18, SC_HEAD_PROJ_V1, 0);
  sc_model *m = make_model(&c, 4);
  const char *path = tmp("pre.safetensors");
  SC_ASSERT(sc_checkpoint_save(path, m, NULL, NULL, NULL) == SC_OK, "save: %s", sc_last_error());
  sc_model_config ov = {0};
  ov.classes = 10, ov.image_size = 24, ov.seed = 99;
  sc_model *l = NULL;
  SC_ASSERT(sc_checkpoint_load_model(path, &ov, &l) == SC_OK, "classes override: %s", sc_last_error());
  const sc_model_config *lc = sc_model_config_of(l);
  SC_ASSERT(lc->classes == 10 && lc->head == SC_HEAD_NONE && lc->image_size == 24 && lc->stem == SC_STEM_CIFAR,
            "override: classes %d head %d size %d stem %d", lc->classes, (int)lc->head, lc->image_size,
            (int)lc->stem);
  const sc_tensor_info *a = sc_model_find(m, "layer4.1.conv2.weight"), *b = sc_model_find(l, "layer4.1.conv2.weight");
  SC_ASSERT(!memcmp(sc_model_params(m, NULL) + a->offset, sc_model_params(l, NULL) + b->offset,
                    a->count * sizeof(float)),
            "encoder weights not loaded under an override");
  SC_ASSERT(sc_model_find(l, "fc.weight") && !sc_model_find(l, "head.0.weight"), "fc attached, head dropped");
  sc_model_free(l);
  /* a conflicting architecture is refused with the reason */
  sc_model_config bad = {0};
  bad.depth = 50;
  SC_ASSERT(sc_checkpoint_load_model(path, &bad, &l) != SC_OK && l == NULL, "depth override accepted");
  SC_ASSERT(strstr(sc_last_error(), "ResNet-18"), "message: %s", sc_last_error());
  /* a torchvision-like file with only an encoder gets a fresh head for further pretraining */
  const char *enc = tmp("enc.safetensors");
  rewrite(path, enc, "head.", 1, NULL, NULL, NULL);
  sc_model_config want_head = {0};
  want_head.head = SC_HEAD_PROJ_V2, want_head.proj_dim = 64;
  SC_ASSERT(sc_checkpoint_load_model(enc, &want_head, &l) == SC_OK, "head override: %s", sc_last_error());
  SC_ASSERT(sc_model_config_of(l)->head == SC_HEAD_PROJ_V2 && sc_model_config_of(l)->proj_dim == 64, "head");
  sc_model_free(l);
  sc_model_free(m);
}

/* ---- refusals -------------------------------------------------------------------------------------------------- */

static void expect_refused(const char *path, sc_status want, const char *needle, const char *label) {
  sc_model *l = (sc_model *)(uintptr_t)1;
  sc_status st = sc_checkpoint_load_model(path, NULL, &l);
  SC_ASSERT(st != SC_OK && l == NULL, "%s: accepted (status %d)", label, (int)st);
  SC_ASSERT(want == SC_OK || st == want, "%s: status %d, wanted %d (%s)", label, (int)st, (int)want, sc_last_error());
  SC_ASSERT(strstr(sc_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", label, sc_last_error(), needle);
}

static const char *target_name;
static const int64_t odd_shape[4] = {3, 3, 3, 3};
static double f64_buf[4096];

static void m_shape(const char *name, sc_dtype *dt, int *rank, int64_t *shape, const void **data) {
  (void)dt, (void)data;
  if (strcmp(name, target_name)) return;
  *rank = 1, shape[0] = 2; /* bn1.weight [16] -> [2]: the byte count changes with it */
}
static void m_conv_shape(const char *name, sc_dtype *dt, int *rank, int64_t *shape, const void **data) {
  (void)dt, (void)data;
  if (strcmp(name, target_name)) return;
  *rank = 4;
  memcpy(shape, odd_shape, sizeof odd_shape);
}
static void m_dtype_i64(const char *name, sc_dtype *dt, int *rank, int64_t *shape, const void **data) {
  (void)rank, (void)shape, (void)data;
  if (!strcmp(name, target_name)) *dt = SC_DT_F64; /* 8 bytes: the count is reinterpreted */
}
static void m_dtype_f64(const char *name, sc_dtype *dt, int *rank, int64_t *shape, const void **data) {
  (void)rank;
  if (strcmp(name, target_name)) return;
  *dt = SC_DT_F64, *data = f64_buf;
  (void)shape;
}
static void m_nan(const char *name, sc_dtype *dt, int *rank, int64_t *shape, const void **data) {
  (void)dt, (void)rank, (void)shape;
  static float bad[16];
  if (strcmp(name, target_name)) return;
  for (int i = 0; i < 16; i++) bad[i] = 1.0f;
  bad[5] = NAN;
  *data = bad;
}

SC_TEST(checkpoint, refuses_bad_files_naming_the_problem) {
  sc_model_config c = small(18, SC_HEAD_PROJ_V1, 0);
  sc_model *m = make_model(&c, 8);
  const char *good = tmp("good.safetensors"), *bad = tmp("bad.safetensors");
  SC_ASSERT(sc_checkpoint_save(good, m, NULL, NULL, NULL) == SC_OK, "save: %s", sc_last_error());
  size_t len;
  uint8_t *bytes = slurp(good, &len);

  expect_refused(tmp("does-not-exist.safetensors"), SC_EIO, "does-not-exist", "missing file");
  spit(bad, bytes, len - 100);
  expect_refused(bad, SC_EFORMAT, "bad.safetensors", "truncated data");
  spit(bad, bytes, 5);
  expect_refused(bad, SC_EFORMAT, "bad.safetensors", "truncated to 5 bytes");
  uint8_t *copy = malloc(len);
  memcpy(copy, bytes, len);
  copy[0] ^= 0x40; /* header length now points past the end */
  spit(bad, copy, len);
  expect_refused(bad, SC_EFORMAT, "bad.safetensors", "lying header length");
  memcpy(copy, bytes, len);
  char *off = memmem(copy + 8, len - 8, "\"data_offsets\":[", 16);
  SC_ASSERT(off != NULL, "no data_offsets in the header");
  off[16] = off[16] == '9' ? '8' : '9'; /* a tensor's begin offset lies */
  spit(bad, copy, len);
  expect_refused(bad, SC_EFORMAT, "bad.safetensors", "lying data offsets");
  memcpy(copy, bytes, len);
  copy[8] = '['; /* the header's opening brace */
  spit(bad, copy, len);
  expect_refused(bad, SC_EFORMAT, "bad.safetensors", "corrupt JSON");
  free(copy);

  rewrite(good, bad, "layer3.1.bn2.running_mean", 0, NULL, NULL, NULL);
  expect_refused(bad, SC_EFORMAT, "missing tensor 'layer3.1.bn2.running_mean'", "missing key");
  rewrite(good, bad, "head.", 0, NULL, NULL, NULL);
  expect_refused(bad, SC_EFORMAT, "missing tensor 'head.0.weight'", "metadata says head, keys lack it");
  target_name = "bn1.weight";
  rewrite(good, bad, NULL, 0, m_shape, NULL, NULL);
  expect_refused(bad, SC_EFORMAT, "'bn1.weight' has shape [2], expected [16]", "wrong shape");
  target_name = "layer1.0.conv1.weight";
  rewrite(good, bad, NULL, 0, m_conv_shape, NULL, NULL);
  expect_refused(bad, SC_EFORMAT, "'layer1.0.conv1.weight' has shape [3, 3, 3, 3], expected [16, 16, 3, 3]",
                 "wrong conv shape");
  target_name = "bn1.num_batches_tracked";
  rewrite(good, bad, NULL, 0, m_dtype_i64, NULL, NULL);
  expect_refused(bad, SC_EFORMAT, "'bn1.num_batches_tracked' is F64, expected I64", "counter dtype");
  target_name = "bn1.running_var";
  rewrite(good, bad, NULL, 0, m_dtype_f64, NULL, NULL);
  expect_refused(bad, SC_EFORMAT, "'bn1.running_var' is F64, expected F32", "F64 weights");
  target_name = "bn1.bias";
  rewrite(good, bad, NULL, 0, m_nan, NULL, NULL);
  expect_refused(bad, SC_EFORMAT, "'bn1.bias' holds nan at element 5", "NaN");
  rewrite(good, bad, NULL, 0, NULL, "simclr.model", "{\"depth\": 18}");
  expect_refused(bad, SC_EFORMAT, "lacks \"in_channels\"", "incomplete simclr.model");
  rewrite(good, bad, NULL, 0, NULL, "simclr.model", "not json");
  expect_refused(bad, SC_EFORMAT, "simclr.model is not a JSON object", "bad simclr.model");
  /* metadata claiming another architecture than the tensors */
  char *mj = sc_model_config_to_json(&c);
  char *p = strstr(mj, "\"depth\":18");
  SC_ASSERT(p != NULL, "config json %s", mj);
  memcpy(p, "\"depth\":34", 10);
  rewrite(good, bad, NULL, 0, NULL, "simclr.model", mj);
  expect_refused(bad, SC_EFORMAT, "missing tensor 'layer1.2.conv1.weight'", "metadata lies about depth");
  free(mj);
  mj = sc_model_config_to_json(&c);
  p = strstr(mj, "\"width\":0.25");
  SC_ASSERT(p != NULL, "config json %s", mj);
  memcpy(p, "\"width\":0.75", 12);
  rewrite(good, bad, NULL, 0, NULL, "simclr.model", mj);
  expect_refused(bad, SC_EFORMAT, "width 0.75", "unsupported width in the metadata");
  free(mj);
  /* an extra tensor a ResNet-18 does not have */
  sc_st_file *f = NULL;
  SC_ASSERT(sc_st_read(good, 0, &f) == SC_OK, "read");
  sc_st_writer *w = NULL;
  SC_ASSERT(sc_st_writer_new(&w) == SC_OK, "writer");
  for (size_t i = 0; i < f->ntensors; i++)
    sc_st_writer_add(w, f->tensors[i].name, f->tensors[i].dtype, f->tensors[i].rank, f->tensors[i].shape,
                     sc_st_data(f, &f->tensors[i]));
  const int64_t one = 1;
  sc_st_writer_add(w, "layer5.0.conv1.weight", SC_DT_F32, 1, &one, f64_buf);
  SC_ASSERT(sc_st_writer_save(w, bad) == SC_OK, "save");
  sc_st_writer_free(w);
  sc_st_free(f);
  expect_refused(bad, SC_EFORMAT, "unexpected tensor 'layer5.0.conv1.weight'", "extra key");
  /* torchvision-only files that are not ResNets */
  rewrite(good, bad, "conv1.", 1, NULL, NULL, NULL);
  expect_refused(bad, SC_EFORMAT, "not a ResNet", "no conv1");
  rewrite(good, bad, "layer4.1.", 1, NULL, NULL, NULL);
  expect_refused(bad, SC_EFORMAT, "blocks per stage 2,2,2,1", "odd block count");
  free(bytes);
  sc_model_free(m);
}

SC_TEST(checkpoint, refuses_training_state_of_another_model) {
  sc_model_config c = small(18, SC_HEAD_PROJ_V1, 0);
  sc_model *m = make_model(&c, 8);
  const char *path = tmp("a.safetensors");
  sc_run_state rs = {1, 1, 1};
  SC_ASSERT(sc_checkpoint_save(path, m, NULL, &rs, NULL) == SC_OK, "save: %s", sc_last_error());
  sc_model_config c2 = small(18, SC_HEAD_PROJ_V1, 0);
  c2.proj_dim = 64;
  sc_model *m2 = NULL;
  SC_ASSERT(sc_model_create(&c2, &m2) == SC_OK, "create");
  SC_ASSERT(sc_checkpoint_load_training(path, m2, NULL, &rs, NULL) == SC_EFORMAT, "other head width accepted");
  SC_ASSERT(strstr(sc_last_error(), "head.3.weight"), "message: %s", sc_last_error());
  sc_model_free(m), sc_model_free(m2);
}

/* ---- PyTorch ----------------------------------------------------------------------------------------------------- */

static int have_torch(void) {
  static int known = -1;
  if (known < 0)
    known = system("/usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1") == 0;
  return known;
}

/* Reading and writing safetensors in a few lines (no safetensors package), and running a torchvision ResNet on
 * an NHWC float32 input file. argv: mode, model name, cifar stem (0/1), then files. */
static const char *py_prelude =
    "import json, struct, sys, torch, torchvision\n"
    "def st_read(p):\n"
    "    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n]); out = {}\n"
    "    dt = {'F32': torch.float32, 'I64': torch.int64}\n"
    "    for k, v in h.items():\n"
    "        if k == '__metadata__': continue\n"
    "        s, e = v['data_offsets']\n"
    "        t = torch.frombuffer(bytearray(b[8+n+s:8+n+e]), dtype=dt[v['dtype']]) if e > s else torch.zeros(0)\n"
    "        out[k] = t.reshape(v['shape']).clone()\n"
    "    return out\n"
    "def st_write(p, sd):\n"
    "    names = sorted(sd, key=lambda k: (-sd[k].element_size(), k)); h = {}; off = 0; blobs = []\n"
    "    for k in names:\n"
    "        t = sd[k].contiguous(); d = t.numpy().tobytes()\n"
    "        h[k] = {'dtype': {torch.float32: 'F32', torch.int64: 'I64'}[t.dtype], 'shape': list(t.shape),\n"
    "                'data_offsets': [off, off + len(d)]}; off += len(d); blobs.append(d)\n"
    "    j = json.dumps(h).encode(); j += b' ' * ((8 - len(j) % 8) % 8)\n"
    "    open(p, 'wb').write(struct.pack('<Q', len(j)) + j + b''.join(blobs))\n"
    "def net_of(name, cifar):\n"
    "    net = getattr(torchvision.models, name)()\n"
    "    if cifar:\n"
    "        net.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False); net.maxpool = torch.nn.Identity()\n"
    "    return net\n"
    "def run(net, inp, n, s):\n"
    "    x = torch.frombuffer(bytearray(open(inp, 'rb').read()), dtype=torch.float32).reshape(n, s, s, 3)\n"
    "    with torch.no_grad(): return net.eval()(x.permute(0, 3, 1, 2).contiguous())\n";

static void run_python(const char *body, const char *args) {
  const char *script = tmp("check.py");
  FILE *f = fopen(script, "w");
  SC_ASSERT(f, "cannot write %s", script);
  fprintf(f, "%s%s", py_prelude, body);
  fclose(f);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", script, args);
  SC_ASSERT(system(cmd) == 0, "python failed: %s", cmd);
}

static void compare(const float *got, const float *ref, size_t n, const char *label) {
  double mx = 0, err = 0;
  size_t worst = 0;
  for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(ref[i]));
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - ref[i]);
    if (!(d <= err)) err = d, worst = i;
  }
  SC_LOG("%s: max |diff| %.3g (max |ref| %.3g)", label, err, mx);
  SC_ASSERT(mx > 0 && err <= 1e-3 * mx + 1e-5, "%s: max |diff| %g at %zu (ours %g, torch %g), max |ref| %g", label,
            err, worst, got[worst], ref[worst], mx);
}

enum { PN = 2, PS = 32 };

static void write_input(const char *path, float *x) {
  sc_test_rng r = {42};
  sc_test_fill(&r, x, (size_t)PN * PS * PS * 3, 0, 1);
  spit(path, x, sizeof(float) * PN * PS * PS * 3);
}

static void ours_to_torch(int depth, int cifar) {
  if (!have_torch()) SC_SKIP("/usr/bin/python3 has no torch/torchvision");
  sc_model_config c = sc_model_defaults();
  c.depth = depth, c.width = 1.0f, c.image_size = PS, c.head = SC_HEAD_NONE;
  c.stem = cifar ? SC_STEM_CIFAR : SC_STEM_IMAGENET;
  sc_model *m = make_model(&c, 21);
  /* our random weights are U(-0.5, 0.5): scale convolutions to He-like sizes so activations stay O(1) */
  size_t nt;
  const sc_tensor_info *t = sc_model_tensors(m, &nt);
  for (size_t i = 0; i < nt; i++)
    if (t[i].ohwi) {
      float s = (float)sqrt(6.0 / (double)(t[i].shape[1] * t[i].shape[2] * t[i].shape[3]));
      for (size_t j = 0; j < t[i].count; j++) sc_model_params(m, NULL)[t[i].offset + j] *= s;
    }
  const char *ck = tmp("torch.safetensors"), *in = tmp("x.bin"), *out = tmp("y.bin");
  SC_ASSERT(sc_checkpoint_save(ck, m, NULL, NULL, NULL) == SC_OK, "save: %s", sc_last_error());
  float *x = malloc(sizeof(float) * PN * PS * PS * 3);
  write_input(in, x);
  char args[1024];
  snprintf(args, sizeof args, "resnet%d %d %s %s %s", depth, cifar, ck, in, out);
  run_python("net = net_of(sys.argv[1], int(sys.argv[2])); net.fc = torch.nn.Identity()\n"
             "sd = st_read(sys.argv[3])\n"
             "net.load_state_dict(sd, strict=True)\n"
             "y = run(net, sys.argv[4], 2, 32); open(sys.argv[5], 'wb').write(y.contiguous().numpy().tobytes())\n",
             args);
  SC_ASSERT(sc_model_plan(m, PN) == SC_OK, "plan");
  memcpy(sc_model_input(m), x, sizeof(float) * PN * PS * PS * 3);
  SC_ASSERT(sc_model_forward(m, 0) == SC_OK, "forward: %s", sc_last_error());
  int64_t rows, cols;
  const float *feat = sc_model_features(m, &rows, &cols);
  size_t len;
  float *ref = (float *)slurp(out, &len);
  SC_ASSERT(len == sizeof(float) * (size_t)(rows * cols), "torch gave %zu bytes, want %lld floats", len,
            (long long)(rows * cols));
  char label[64];
  snprintf(label, sizeof label, "ours -> torchvision resnet%d%s", depth, cifar ? " (CIFAR stem)" : "");
  compare(feat, ref, (size_t)(rows * cols), label);
  free(ref), free(x);
  sc_model_free(m);
}

SC_TEST(checkpoint, loads_in_torchvision_resnet18_strict_cifar_stem) { ours_to_torch(18, 1); }
SC_TEST(checkpoint, loads_in_torchvision_resnet50_strict) { ours_to_torch(50, 0); }

static void torch_to_ours(int depth) {
  if (!have_torch()) SC_SKIP("/usr/bin/python3 has no torch/torchvision");
  const char *ck = tmp("tv.safetensors"), *in = tmp("x.bin"), *out = tmp("y.bin");
  float *x = malloc(sizeof(float) * PN * PS * PS * 3);
  write_input(in, x);
  char args[1024];
  snprintf(args, sizeof args, "resnet%d %s %s %s", depth, ck, in, out);
  run_python("torch.manual_seed(3); net = net_of(sys.argv[1], 0); sd = net.state_dict()\n"
             "for k, v in sd.items():\n"
             "    if k.endswith('running_mean'): v.uniform_(-0.1, 0.1)\n"
             "    if k.endswith('running_var'): v.uniform_(0.5, 1.5)\n"
             "    if k.endswith('num_batches_tracked'): v.fill_(123)\n"
             "    if k.split('.')[-2].startswith('bn') and k.endswith('weight'): v.uniform_(0.5, 1.5)\n"
             "st_write(sys.argv[2], sd)\n"
             "y = run(net, sys.argv[3], 2, 32); open(sys.argv[4], 'wb').write(y.contiguous().numpy().tobytes())\n",
             args);
  sc_model_config ov = {0};
  ov.image_size = PS; /* torchvision files carry no input size: ours is 32 */
  sc_model *m = NULL;
  SC_ASSERT(sc_checkpoint_load_model(ck, &ov, &m) == SC_OK, "load torchvision file: %s", sc_last_error());
  const sc_model_config *c = sc_model_config_of(m);
  SC_ASSERT(c->depth == depth && c->width == 1.0f && c->classes == 1000 && c->stem == SC_STEM_IMAGENET,
            "inferred depth %d width %g classes %d stem %d", c->depth, c->width, c->classes, (int)c->stem);
  SC_ASSERT(sc_model_counters(m, NULL)[0] == 123, "num_batches_tracked %lld", (long long)sc_model_counters(m, NULL)[0]);
  SC_ASSERT(sc_model_plan(m, PN) == SC_OK, "plan");
  memcpy(sc_model_input(m), x, sizeof(float) * PN * PS * PS * 3);
  SC_ASSERT(sc_model_forward(m, 0) == SC_OK, "forward: %s", sc_last_error());
  int64_t rows, cols;
  const float *logits = sc_model_output(m, &rows, &cols);
  size_t len;
  float *ref = (float *)slurp(out, &len);
  SC_ASSERT(rows == PN && cols == 1000 && len == sizeof(float) * PN * 1000, "logits %lldx%lld, torch %zu bytes",
            (long long)rows, (long long)cols, len);
  char label[64];
  snprintf(label, sizeof label, "torchvision resnet%d -> ours (logits)", depth);
  compare(logits, ref, (size_t)(rows * cols), label);
  free(ref), free(x);
  sc_model_free(m);
}

SC_TEST(checkpoint, torchvision_resnet50_state_dict_loads_and_agrees) { torch_to_ours(50); }

SC_TEST(checkpoint, pth_to_safetensors_converts_simclr_style_pth) {
  if (!have_torch()) SC_SKIP("/usr/bin/python3 has no torch/torchvision");
  char tool[1024];
  snprintf(tool, sizeof tool, "%s", __FILE__);
  char *slash = strrchr(tool, '/');
  SC_ASSERT(slash, "source path %s", __FILE__);
  snprintf(slash, sizeof tool - (size_t)(slash - tool), "/../../tools/pth_to_safetensors.py");
  if (access(tool, R_OK) != 0) SC_SKIP("%s not found next to the sources", tool);
  const char *pth = tmp("r18.pth"), *st = tmp("r18.safetensors");
  char args[2048];
  snprintf(args, sizeof args, "%s %s", pth, tool);
  run_python("torch.manual_seed(1); net = torchvision.models.resnet18()\n"
             "sd = {'module.' + k: v for k, v in net.state_dict().items()}\n"
             "torch.save({'state_dict': sd, 'epoch': 7}, sys.argv[1])\n",
             args);
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s >/dev/null", tool, pth, st);
  SC_ASSERT(system(cmd) == 0, "converter failed: %s", cmd);
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s --help >/dev/null", tool);
  SC_ASSERT(system(cmd) == 0, "converter --help failed");
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s 2>/dev/null", tool, tmp("none.pth"), tmp("none.st"));
  SC_ASSERT(system(cmd) != 0, "converter accepted a missing input");
  sc_st_file *f = NULL;
  SC_ASSERT(sc_st_read(st, 0, &f) == SC_OK, "converted file: %s", sc_last_error());
  SC_ASSERT(f->ntensors == 122 && f->data_offset % 8 == 0, "%zu tensors, data at %zu", f->ntensors, f->data_offset);
  /* layout rule: by descending dtype size, then name */
  for (size_t i = 1; i < f->ntensors; i++) {
    const sc_st_tensor *a = &f->tensors[i - 1], *b = &f->tensors[i];
    size_t sa = sc_dtype_size(a->dtype), sb = sc_dtype_size(b->dtype);
    SC_ASSERT(a->begin < b->begin && (sa > sb || (sa == sb && strcmp(a->name, b->name) < 0)),
              "order: %s (%zu) before %s (%zu)", a->name, sa, b->name, sb);
  }
  sc_st_free(f);
  sc_model *m = NULL;
  SC_ASSERT(sc_checkpoint_load_model(st, NULL, &m) == SC_OK, "load converted: %s", sc_last_error());
  SC_ASSERT(sc_model_config_of(m)->depth == 18 && sc_model_config_of(m)->classes == 1000, "converted architecture");
  sc_model_free(m);
}
