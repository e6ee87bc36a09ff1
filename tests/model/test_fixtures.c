/* test_fixtures.c: the engine against PyTorch. tools/make_fixtures.py (run by hand) builds the same network in
 * float64 torch (ResNet-18 at width 0.25, CIFAR stem, SimCLR head v1, 1 and 3 input channels) and records, for a
 * batch of 2N = 8 views of 16x16 images, the NT-Xent loss (tau 0.5), gradients, and weights after 3 SGD-momentum
 * and 3 LARS steps. Weights and images are not stored: both sides compute them from the same hash of the tensor's
 * torchvision name (fixture_value, mirrored from the script), in torchvision's layout; this test converts
 * convolution weights OIHW -> OHWI, runs the engine in fp32 and compares. Skipped when the files are absent.
 *
 * Tolerances: the loss within 1e-4 relative (fp32 forward through ~40 layers against float64). Gradients per
 * tensor: max |g - ref| <= 1e-3 * max |ref| (fp32 rounding through the backward, relative to the tensor's scale,
 * so tiny elements are not held to a relative bound they cannot meet; observed: ~1e-5). After 3 steps, the updates
 * w3 - w0 are compared in L2 at 1e-2 (observed: up to 3.3e-3, see compare_trajectory): each step's fp32 gradient
 * error feeds the next
 * step's weights and batch statistics; a wrong rule (decay where it must not be, trust on a bias) changes an update
 * by far more. Learning rates are small (SGD 0.01, LARS 0.1) because with large steps BN networks on 8 images
 * amplify rounding differences chaotically and the comparison would measure that instead of the rules. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "test.h"
#include "train/simclr.h"

typedef struct record {
  char name[96];
  int ndim;
  int64_t dims[4];
  size_t count;
  float *data;
} record;

typedef struct fixture {
  record *r;
  size_t n;
} fixture;

static int read_fixture(const char *path, fixture *fx) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  char magic[4];
  uint32_t version, count;
  SC_ASSERT(fread(magic, 1, 4, f) == 4 && memcmp(magic, "SCFX", 4) == 0 && fread(&version, 4, 1, f) == 1 &&
            version == 1 && fread(&count, 4, 1, f) == 1 && count < 100000, "%s: bad header", path);
  fx->r = calloc(count, sizeof *fx->r), fx->n = count;
  for (uint32_t i = 0; i < count; i++) {
    record *r = &fx->r[i];
    uint32_t len, ndim;
    SC_ASSERT(fread(&len, 4, 1, f) == 1 && len < sizeof r->name && fread(r->name, 1, len, f) == len &&
              fread(&ndim, 4, 1, f) == 1 && ndim <= 4, "%s: bad record %u", path, i);
    r->ndim = (int)ndim, r->count = 1;
    for (uint32_t d = 0; d < ndim; d++) {
      SC_ASSERT(fread(&r->dims[d], 8, 1, f) == 1 && r->dims[d] >= 0, "%s: bad dims in %s", path, r->name);
      r->count *= (size_t)r->dims[d];
    }
    r->data = malloc(r->count * sizeof(float) + 1);
    SC_ASSERT(fread(r->data, sizeof(float), r->count, f) == r->count, "%s: %s truncated", path, r->name);
  }
  fclose(f);
  return 1;
}

static void free_fixture(fixture *fx) {
  for (size_t i = 0; i < fx->n; i++) free(fx->r[i].data);
  free(fx->r);
}

static const record *find(const fixture *fx, const char *prefix, const char *key) {
  char name[128];
  snprintf(name, sizeof name, "%s%s", prefix, key);
  for (size_t i = 0; i < fx->n; i++)
    if (strcmp(fx->r[i].name, name) == 0) return &fx->r[i];
  return NULL;
}

/* tools/make_fixtures.py's fixture_value: element i of tensor `name` from SplitMix64's finaliser of
 * fnv1a(name) + (i+1)*golden (top 24 bits, in [-1, 1)), scaled per kind of tensor, rounded to fp32. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void fixture_value(const char *name, int ndim, const int64_t *shape, size_t n, float *out) {
  uint64_t key = 0xcbf29ce484222325ull;
  for (const char *c = name; *c; c++) key = (key ^ (unsigned char)*c) * 0x100000001b3ull;
  size_t len = strlen(name);
  int suffix_var = len > 11 && strcmp(name + len - 11, "running_var") == 0;
  int suffix_weight = len > 7 && strcmp(name + len - 7, ".weight") == 0;
  for (size_t i = 0; i < n; i++) {
    double u = (double)(mix64(key + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull) >> 40) / 16777216.0 * 2.0 - 1.0, v;
    if (ndim == 4) v = u * sqrt(6.0 / (double)(shape[0] * shape[2] * shape[3]));
    else if (ndim == 2) v = u / sqrt((double)shape[1]);
    else if (suffix_var) v = 0.75 + 0.25 * u;
    else if (suffix_weight) v = 1.0 + 0.2 * u;
    else v = 0.1 * u;
    out[i] = (float)v;
  }
}

/* Copies the fixture's tensor (torchvision layout) into the engine's layout at dst. */
static void to_engine(const sc_tensor_info *t, const record *r, float *dst) {
  SC_ASSERT(r->count == t->count, "%s: fixture has %zu values, engine %zu", t->name, r->count, t->count);
  if (!t->ohwi) {
    memcpy(dst, r->data, t->count * sizeof(float));
    return;
  }
  int64_t o = t->shape[0], i = t->shape[1], kh = t->shape[2], kw = t->shape[3];
  for (int64_t a = 0; a < o; a++)
    for (int64_t b = 0; b < i; b++)
      for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++)
          dst[((a * kh + y) * kw + x) * i + b] = r->data[((a * i + b) * kh + y) * kw + x];
}

static sc_model *load_model(int cin, float *scratch) {
  sc_model_config c = sc_model_defaults();
  c.width = 0.25f, c.in_channels = cin, c.image_size = 16, c.stem = SC_STEM_CIFAR;
  sc_model *m = NULL;
  SC_ASSERT(sc_model_create(&c, &m) == SC_OK, "model: %s", sc_last_error());
  size_t n;
  const sc_tensor_info *t = sc_model_tensors(m, &n);
  float *params = sc_model_params(m, NULL), *buffers = sc_model_buffers(m, NULL);
  for (size_t i = 0; i < n; i++) {
    if (t[i].role == SC_TENSOR_COUNTER) continue;
    fixture_value(t[i].name, t[i].ndim, t[i].shape, t[i].count, scratch);
    record r = {.count = t[i].count, .data = scratch};
    to_engine(&t[i], &r, (t[i].role == SC_TENSOR_PARAM ? params : buffers) + t[i].offset);
  }
  return m;
}

/* max |got - want| <= tol * max |want| over the tensor (got, want in the engine's layout; base subtracted). */
static void compare(const char *what, const sc_tensor_info *t, const float *got, const float *want,
                    const float *base, double tol, int cin) {
  double worst = 0, scale = 0;
  size_t at = 0;
  for (size_t i = 0; i < t->count; i++) {
    double w = want[i] - (base ? base[i] : 0), g = got[i] - (base ? base[i] : 0);
    scale = fmax(scale, fabs(w));
    if (fabs(g - w) > worst) worst = fabs(g - w), at = i;
  }
  SC_ASSERT(worst <= tol * scale, "isa=%s cin=%d %s of %s: max error %.3g at [%zu] (got %.7g, want %.7g), scale "
            "%.3g, tolerance %.1g relative", sc_isa_name(sc_active_isa()), cin, what, t->name, worst, at, got[at],
            want[at], scale, tol);
}

/* For 3-step trajectories: ||got - want|| <= tol * ||want|| (L2 over the tensor, base subtracted). Only the
 * three-channel net's trajectory is compared: the fixtures' ReLU inputs come within 5e-8 of zero relative to their
 * layer's largest, below fp32's resolution, so after the first update fp32 rounding flips ReLUs that PyTorch's
 * float64 run does not. In the three-channel net that moves nothing measurably (PyTorch itself in float32 ends 5e-6
 * (L2) from its float64 run), but the one-channel stem is ill-conditioned: PyTorch's own float32 run ends 0.38% away
 * on conv1.weight and ours 0.8-3.7% depending on the summation order of the ISA, so there only the step-0 loss and
 * gradients (well conditioned, compared element-wise above) are checked. Even the three-channel trajectory depends
 * on summation order at the 1e-3 level: on the scalar ISA, reversing the order in which backward-data sums the taps
 * of a kernel row moved its largest error from 0.95e-3 to 3.3e-3 (layer1.1.bn2.weight). tol = 1e-2 sits above that
 * and still fails a missing momentum term or a wrong LARS trust ratio (tens of percent); the update rules
 * themselves are checked exactly in tests/optim. */
static void compare_trajectory(const char *what, const sc_tensor_info *t, const float *got, const float *want,
                               const float *base, double tol, int cin) {
  double err2 = 0, ref2 = 0;
  for (size_t i = 0; i < t->count; i++) {
    double w = want[i] - base[i], g = got[i] - base[i];
    err2 += (g - w) * (g - w), ref2 += w * w;
  }
  SC_ASSERT(sqrt(err2) <= tol * sqrt(ref2), "isa=%s cin=%d %s of %s: L2 error %.3g of norm %.3g (tolerance %.1g "
            "relative)", sc_isa_name(sc_active_isa()), cin, what, t->name, sqrt(err2), sqrt(ref2), tol);
}

static const char *const selected[] = {
    "conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer1.1.bn2.weight",
    "layer2.0.conv1.weight", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.bias",
    "layer3.0.downsample.0.weight", "layer4.0.downsample.0.weight", "layer4.1.bn2.bias", "head.0.weight",
    "head.1.weight", "head.1.bias", "head.3.weight", "head.4.weight"};
enum { NSEL = sizeof selected / sizeof selected[0] };

static void check_fixture(int cin) {
  char path[512];
  snprintf(path, sizeof path, "%s", __FILE__);
  char *slash = strrchr(path, '/');
  snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0),
           "fixtures/resnet18w025_c%d.bin", cin);
  fixture fx = {0};
  if (!read_fixture(path, &fx)) SC_SKIP("no fixture %s (run tools/make_fixtures.py)", path);
  const record *loss_ref = find(&fx, "", "loss");
  SC_ASSERT(loss_ref, "fixture lacks the loss");
  float *scratch = malloc(1u << 22), *w0 = malloc(1u << 22), *input = malloc(1u << 16);
  const int64_t in_shape[4] = {8, 16, 16, cin};
  const size_t in_count = (size_t)(8 * 16 * 16 * cin);
  fixture_value("input", 4, in_shape, in_count, input); /* NHWC; its "conv" scaling does not matter */

  /* loss and gradients at the initial weights: one plain forward/backward through the step's pieces */
  sc_model *m = load_model(cin, scratch);
  sc_simclr_config sc = sc_simclr_defaults();
  sc.optim = sc_optim_defaults(SC_OPTIM_SGD), sc.tau = 0.5f, sc.lr_peak = 1e-30, sc.warmup_steps = 0;
  sc.total_steps = 1000000000;
  sc_simclr *s = NULL;
  SC_ASSERT(sc_simclr_create(m, 4, &sc, &s) == SC_OK, "simclr: %s", sc_last_error());
  memcpy(sc_simclr_views(s), input, in_count * sizeof(float));
  float loss;
  SC_ASSERT(sc_simclr_step(s, &loss, NULL) == SC_OK, "step: %s", sc_last_error()); /* lr 1e-30: w unchanged */
  SC_ASSERT(fabs(loss - loss_ref->data[0]) <= 1e-4 * fabs(loss_ref->data[0]), "isa=%s cin=%d: loss %.7g, PyTorch "
            "%.7g", sc_isa_name(sc_active_isa()), cin, loss, loss_ref->data[0]);
  for (int i = 0; i < NSEL; i++) {
    const sc_tensor_info *t = sc_model_find(m, selected[i]);
    const record *r = find(&fx, "grad/", selected[i]);
    SC_ASSERT(t && r, "missing %s", selected[i]);
    to_engine(t, r, scratch);
    compare("gradient", t, sc_model_grads(m, NULL) + t->offset, scratch, NULL, 1e-3, cin);
  }
  sc_simclr_free(s), sc_model_free(m);

  /* 3 steps of SGD with momentum (PyTorch: decay on every parameter) and of LARS (SimCLR's exclusions) */
  for (int kind = 0; kind < 2 && cin == 3; kind++) {
    m = load_model(cin, scratch);
    sc = sc_simclr_defaults();
    sc.tau = 0.5f, sc.warmup_steps = 0, sc.total_steps = 1000000000;
    if (kind == 0) {
      sc.optim = sc_optim_defaults(SC_OPTIM_SGD);
      sc.optim.momentum = 0.9f, sc.optim.weight_decay = 5e-4f, sc.optim.exclude_from_decay = 0, sc.lr_peak = 0.01;
    } else {
      sc.optim = sc_optim_defaults(SC_OPTIM_LARS);
      sc.optim.momentum = 0.9f, sc.optim.weight_decay = 1e-4f, sc.optim.eta = 1e-3f, sc.lr_peak = 0.1;
    }
    SC_ASSERT(sc_simclr_create(m, 4, &sc, &s) == SC_OK, "simclr: %s", sc_last_error());
    for (int step = 0; step < 3; step++) {
      memcpy(sc_simclr_views(s), input, in_count * sizeof(float));
      SC_ASSERT(sc_simclr_step(s, &loss, NULL) == SC_OK, "step: %s", sc_last_error());
    }
    for (int i = 0; i < NSEL + 2; i++) {
      const char *key = i < NSEL ? selected[i] : i == NSEL ? "bn1.running_mean" : "bn1.running_var";
      const sc_tensor_info *t = sc_model_find(m, key);
      const record *r = find(&fx, kind ? "lars3/" : "sgd3/", key);
      SC_ASSERT(t && r, "missing %s", key);
      to_engine(t, r, scratch);
      fixture_value(t->name, t->ndim, t->shape, t->count, w0);
      record r0 = {.count = t->count, .data = w0};
      float *w0e = malloc(t->count * sizeof(float));
      to_engine(t, &r0, w0e);
      const float *got = (t->role == SC_TENSOR_PARAM ? sc_model_params(m, NULL) : sc_model_buffers(m, NULL)) +
                         t->offset;
      compare_trajectory(kind ? "update after 3 LARS steps" : "update after 3 SGD steps", t, got, scratch, w0e,
                         1e-2, cin);
      free(w0e);
    }
    sc_simclr_free(s), sc_model_free(m);
  }
  free(scratch), free(w0), free(input);
  free_fixture(&fx);
}

SC_ISA_TEST(fixtures, pytorch_resnet18_w025_three_channels) {
  (void)k;
  check_fixture(3);
}
SC_ISA_TEST(fixtures, pytorch_resnet18_w025_one_channel) {
  (void)k;
  check_fixture(1);
}
