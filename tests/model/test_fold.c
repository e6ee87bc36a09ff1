/* test_fold.c: the BN-folded inference encoder (src/model/fold) against the model's own evaluation-mode forward:
 * ResNet-18 and ResNet-50 at width 0.25, CIFAR and ImageNet stems, 1 and 3 input channels, with every BN given
 * random non-trivial gamma, beta and running statistics (so that a fold that drops a term, uses another eps or
 * reads another BN's statistics is off by the order of the features themselves). Also: partial batches, refresh
 * after the model changes, every ISA on one small network, the maps of chosen stages, and refusal of bad calls.
 *
 * Tolerance: folding changes only the rounding (w*s rounded once instead of (conv - mean)*s, and a bias added after
 * the convolution), a few fp32 ulps per layer; through up to 50 layers the worst error measured on these networks
 * is 1.3e-6 of the features' largest magnitude (logged per case). The bound, 2e-5 of that magnitude, leaves a
 * factor of ~15 for other machines and ISAs and is far below what a wrong fold gives (> 1e-2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/fold.h"
#include "model/model.h"
#include "simclr_ops.h"
#include "test.h"
#include "testutil.h"

#define FOLD_TOL 2e-5

/* Random BN parameters and running statistics everywhere (the encoder's and the head's alike). */
static void randomise_bn(sc_model *m, uint64_t seed) {
  sc_test_rng r = {seed};
  size_t n;
  const sc_tensor_info *t = sc_model_tensors(m, &n);
  float *p = sc_model_params(m, NULL), *b = sc_model_buffers(m, NULL);
  for (size_t i = 0; i < n; i++) {
    const char *suffix = strrchr(t[i].name, '.');
    int is_bn = t[i].ndim == 1 && (strstr(t[i].name, "bn") || strstr(t[i].name, "downsample.1"));
    if (!is_bn || !suffix) continue;
    float lo = 0, hi = 0, *dst = t[i].role == SC_TENSOR_PARAM ? p : b;
    if (!strcmp(suffix, ".weight")) lo = 0.5f, hi = 1.5f;
    else if (!strcmp(suffix, ".bias") || !strcmp(suffix, ".running_mean")) lo = -0.3f, hi = 0.3f;
    else if (!strcmp(suffix, ".running_var")) lo = 0.5f, hi = 2.0f;
    else continue;
    sc_test_fill(&r, dst + t[i].offset, t[i].count, lo, hi);
  }
}

typedef struct fold_case {
  int depth, in_channels, image_size;
  sc_stem stem;
  const char *what;
} fold_case;

/* A width-0.25 model of fc with random BN (seed + 1), run in evaluation mode on a random batch (seed + 2); *nx
 * gets the floats of that input. */
static sc_model *evaluated_model(const fold_case *fc, int64_t batch, uint64_t seed, size_t *nx) {
  sc_model_config c = sc_model_defaults();
  c.depth = fc->depth, c.width = 0.25f, c.in_channels = fc->in_channels, c.image_size = fc->image_size;
  c.stem = fc->stem, c.seed = seed, c.zero_init_residual = 0;
  sc_model *m = NULL;
  SC_ASSERT(sc_model_create(&c, &m) == SC_OK && sc_model_plan(m, batch) == SC_OK, "%s: %s", fc->what,
            sc_last_error());
  randomise_bn(m, seed + 1);
  *nx = (size_t)batch * (size_t)(c.image_size * c.image_size * c.in_channels);
  sc_test_rng r = {seed + 2};
  sc_test_fill(&r, sc_model_input(m), *nx, -1, 1);
  SC_ASSERT(sc_model_forward(m, 0) == SC_OK, "%s: model forward: %s", fc->what, sc_last_error());
  return m;
}

/* Worst |folded - model| / max|model| over the features of B images; *scale gets max|model|. */
static double compare(const fold_case *fc, int64_t batch, uint64_t seed, double *scale) {
  size_t nx;
  sc_model *m = evaluated_model(fc, batch, seed, &nx);
  const sc_model_config c = *sc_model_config_of(m);
  int64_t rows, cols, frows, fcols;
  const float *ref = sc_model_features(m, &rows, &cols);
  sc_folded *f = NULL;
  SC_ASSERT(sc_folded_create(m, &f) == SC_OK, "%s: fold: %s", fc->what, sc_last_error());
  SC_ASSERT(sc_folded_plan(f, batch) == SC_OK, "%s: plan: %s", fc->what, sc_last_error());
  SC_ASSERT(sc_folded_feature_dim(f) == cols && sc_folded_image_size(f) == c.image_size &&
            sc_folded_in_channels(f) == c.in_channels, "%s: folded encoder reports %lld features, %d px, %d ch",
            fc->what, (long long)sc_folded_feature_dim(f), sc_folded_image_size(f), sc_folded_in_channels(f));
  memcpy(sc_folded_input(f), sc_model_input(m), nx * sizeof(float));
  SC_ASSERT(sc_folded_forward(f, batch) == SC_OK, "%s: folded forward: %s", fc->what, sc_last_error());
  const float *got = sc_folded_features(f, &frows, &fcols);
  SC_ASSERT(got && frows == rows && fcols == cols, "%s: features %lldx%lld, model %lldx%lld", fc->what,
            (long long)frows, (long long)fcols, (long long)rows, (long long)cols);
  double mx = 0, err = 0;
  size_t worst = 0, nf = (size_t)(rows * cols);
  for (size_t i = 0; i < nf; i++) mx = fmax(mx, fabs(ref[i]));
  for (size_t i = 0; i < nf; i++) {
    double d = fabs((double)got[i] - ref[i]);
    if (!(d <= err)) err = d, worst = i;
  }
  SC_ASSERT(mx > 1e-3, "%s: the features vanish (max %g): the comparison would prove nothing", fc->what, mx);
  SC_ASSERT(err <= FOLD_TOL * mx, "isa=%s %s batch=%lld seed=%llu: folded feature %zu is %.8g, model %.8g (error "
            "%.3g of max |feature| %.4g; tolerance %g)", sc_isa_name(sc_active_isa()), fc->what, (long long)batch,
            (unsigned long long)seed, worst, got[worst], ref[worst], err / mx, mx, FOLD_TOL);
  sc_folded_free(f);
  sc_model_free(m);
  *scale = mx;
  return err / mx;
}

SC_TEST(fold, equals_evaluation_forward) {
  static const fold_case cases[] = {
      {18, 3, 16, SC_STEM_CIFAR, "resnet18 w0.25 cifar-stem 3x16x16"},
      {18, 1, 28, SC_STEM_CIFAR, "resnet18 w0.25 cifar-stem 1x28x28"},
      {18, 3, 40, SC_STEM_IMAGENET, "resnet18 w0.25 imagenet-stem 3x40x40"},
      {18, 1, 32, SC_STEM_IMAGENET, "resnet18 w0.25 imagenet-stem 1x32x32"},
      {50, 3, 16, SC_STEM_CIFAR, "resnet50 w0.25 cifar-stem 3x16x16"},
      {50, 1, 12, SC_STEM_CIFAR, "resnet50 w0.25 cifar-stem 1x12x12"},
      {50, 3, 32, SC_STEM_IMAGENET, "resnet50 w0.25 imagenet-stem 3x32x32"},
      {50, 1, 36, SC_STEM_IMAGENET, "resnet50 w0.25 imagenet-stem 1x36x36"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    double scale, e = compare(&cases[i], 3, 100 + i, &scale);
    SC_LOG("%s: worst error %.3g of max |feature| %.4g", cases[i].what, e, scale);
  }
}

/* The features of chosen stages' maps (sc_folded_create_maps) against the model's stage maps of the same forward,
 * pooled onto the same cells by sc_avgpool_grid_forward (tested on its own in test_eltwise): the fold must tap each
 * stage's output before the next stage overwrites it, at the right offset in a row. Same tolerance as above. */
SC_TEST(fold, stage_maps_equal_the_models) {
  static const struct {
    fold_case fc;
    unsigned stages;
    int grid;
  } cases[] = {
      {{18, 1, 20, SC_STEM_CIFAR, "resnet18 w0.25 cifar-stem 1x20x20, stages 2-4, grid 5"}, 0xEu, 5},
      {{18, 3, 16, SC_STEM_CIFAR, "resnet18 w0.25 cifar-stem 3x16x16, stages 1 and 3, grid 3"}, 0x5u, 3},
      {{50, 3, 40, SC_STEM_IMAGENET, "resnet50 w0.25 imagenet-stem 3x40x40, stages 1-4, grid 2"}, 0xFu, 2},
  };
  enum { B = 3 };
  for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
    const fold_case *fc = &cases[t].fc;
    size_t nx;
    sc_model *m = evaluated_model(fc, B, 40 + t, &nx);
    int64_t dim = 0, h, w, ch;
    for (int s = 1; s <= 4; s++)
      if (cases[t].stages & 1u << (s - 1)) {
        SC_ASSERT(sc_model_stage_map(m, s, &h, &w, &ch) != NULL, "%s: no map for stage %d", fc->what, s);
        dim += (h < cases[t].grid ? h : cases[t].grid) * (w < cases[t].grid ? w : cases[t].grid) * ch;
      }
    float *ref = malloc(sizeof(float) * (size_t)(B * dim));
    int64_t off = 0;
    for (int s = 1; s <= 4; s++)
      if (cases[t].stages & 1u << (s - 1)) {
        const float *x = sc_model_stage_map(m, s, &h, &w, &ch);
        const int64_t gh = h < cases[t].grid ? h : cases[t].grid, gw = w < cases[t].grid ? w : cases[t].grid;
        SC_ASSERT(sc_avgpool_grid_forward(B, h, w, ch, gh, gw, x, ref + off, dim) == SC_OK, "%s", sc_last_error());
        off += gh * gw * ch;
      }
    sc_folded *f = NULL;
    SC_ASSERT(sc_folded_create_maps(m, cases[t].stages, cases[t].grid, &f) == SC_OK && sc_folded_plan(f, B) == SC_OK,
              "%s: fold: %s", fc->what, sc_last_error());
    SC_ASSERT(sc_folded_feature_dim(f) == dim, "%s: %lld features, want %lld", fc->what,
              (long long)sc_folded_feature_dim(f), (long long)dim);
    memcpy(sc_folded_input(f), sc_model_input(m), nx * sizeof(float));
    SC_ASSERT(sc_folded_forward(f, B) == SC_OK, "%s: folded forward: %s", fc->what, sc_last_error());
    const float *got = sc_folded_features(f, NULL, NULL);
    double mx = 0, err = 0;
    size_t worst = 0;
    for (int64_t i = 0; i < B * dim; i++) mx = fmax(mx, fabs(ref[i]));
    for (int64_t i = 0; i < B * dim; i++) {
      const double d = fabs((double)got[i] - ref[i]);
      if (!(d <= err)) err = d, worst = (size_t)i;
    }
    SC_ASSERT(mx > 1e-3, "%s: the features vanish (max %g)", fc->what, mx);
    SC_ASSERT(err <= FOLD_TOL * mx, "%s: feature %zu of %lld per image is %.8g, the model's %.8g (error %.3g of %.4g)",
              fc->what, worst, (long long)dim, got[worst], ref[worst], err / mx, mx);
    SC_LOG("%s: %lld features, worst error %.3g of max |feature| %.4g", fc->what, (long long)dim, err / mx, mx);
    free(ref);
    sc_folded_free(f);
    sc_model_free(m);
  }
  sc_folded *f = NULL;
  sc_model_config c = sc_model_defaults();
  c.width = 0.25f, c.image_size = 12;
  sc_model *m = NULL;
  SC_ASSERT(sc_model_create(&c, &m) == SC_OK, "%s", sc_last_error());
  SC_ASSERT(sc_folded_create_maps(m, 0, 1, &f) == SC_EINVAL && !f, "no stage accepted");
  SC_ASSERT(sc_folded_create_maps(m, 16u, 1, &f) == SC_EINVAL && !f, "stage 5 accepted");
  SC_ASSERT(sc_folded_create_maps(m, 8u, 0, &f) == SC_EINVAL && !f, "grid 0 accepted");
  sc_model_free(m);
}

/* Every ISA's convolution and element-wise kernels through the fold on one small network. */
SC_ISA_TEST(fold, equals_evaluation_forward_isa) {
  (void)k;
  const fold_case c = {18, 3, 12, SC_STEM_CIFAR, "resnet18 w0.25 cifar-stem 3x12x12"};
  double scale;
  compare(&c, 2, 7, &scale);
}

SC_TEST(fold, partial_batch_refresh_and_errors) {
  sc_model_config c = sc_model_defaults();
  c.width = 0.25f, c.image_size = 12, c.seed = 31, c.zero_init_residual = 0;
  sc_model *m = NULL;
  SC_ASSERT(sc_model_create(&c, &m) == SC_OK && sc_model_plan(m, 4) == SC_OK, "model: %s", sc_last_error());
  randomise_bn(m, 32);
  sc_folded *f = NULL;
  SC_ASSERT(sc_folded_create(m, &f) == SC_OK, "fold: %s", sc_last_error());
  SC_ASSERT(sc_folded_forward(f, 1) == SC_EINVAL, "forward before plan accepted");
  SC_ASSERT(sc_folded_plan(f, 4) == SC_OK, "plan: %s", sc_last_error());
  SC_ASSERT(sc_folded_forward(f, 5) == SC_EINVAL && sc_folded_forward(f, 0) == SC_EINVAL,
            "forward of 5 or 0 images with a plan for 4 accepted");
  const size_t per = 12 * 12 * 3, nf = (size_t)sc_folded_feature_dim(f);
  sc_test_rng r = {33};
  sc_test_fill(&r, sc_folded_input(f), 4 * per, -1, 1);
  SC_ASSERT(sc_folded_forward(f, 4) == SC_OK, "forward: %s", sc_last_error());
  float full[4 * 128], part[2 * 128];
  SC_ASSERT(nf == 128, "features %zu", nf);
  memcpy(full, sc_folded_features(f, NULL, NULL), sizeof full);
  /* images are independent in inference: the first two alone give the same rows, bit for bit */
  int64_t rows;
  SC_ASSERT(sc_folded_forward(f, 2) == SC_OK, "forward 2: %s", sc_last_error());
  memcpy(part, sc_folded_features(f, &rows, NULL), sizeof part);
  SC_ASSERT(rows == 2 && memcmp(part, full, sizeof part) == 0, "a forward of the first 2 images (of a plan for 4) "
            "differs from the full batch's first rows (rows=%lld)", (long long)rows);
  /* the fold is a snapshot: changing the model changes nothing until a refresh, which then follows the model */
  float *p = sc_model_params(m, NULL);
  const sc_tensor_info *g = sc_model_find(m, "layer4.1.bn2.weight");
  for (size_t i = 0; i < g->count; i++) p[g->offset + i] *= 2.0f;
  SC_ASSERT(sc_folded_forward(f, 4) == SC_OK, "forward: %s", sc_last_error());
  SC_ASSERT(memcmp(full, sc_folded_features(f, NULL, NULL), sizeof full) == 0, "the fold followed the model "
            "without a refresh");
  SC_ASSERT(sc_folded_refresh(f, m) == SC_OK, "refresh: %s", sc_last_error());
  SC_ASSERT(sc_folded_forward(f, 4) == SC_OK, "forward: %s", sc_last_error());
  memcpy(sc_model_input(m), sc_folded_input(f), 4 * per * sizeof(float));
  SC_ASSERT(sc_model_forward(m, 0) == SC_OK, "model forward: %s", sc_last_error());
  const float *ref = sc_model_features(m, NULL, NULL), *got = sc_folded_features(f, NULL, NULL);
  double mx = 0, err = 0, moved = 0;
  for (size_t i = 0; i < 4 * nf; i++)
    mx = fmax(mx, fabs(ref[i])), err = fmax(err, fabs(got[i] - ref[i])), moved = fmax(moved, fabs(got[i] - full[i]));
  SC_ASSERT(err <= FOLD_TOL * mx && moved > 1e-2 * mx, "after doubling layer4.1.bn2 gamma and a refresh: error %.3g, "
            "change %.3g, max |feature| %.3g (seed 31)", err, moved, mx);
  /* another architecture is refused */
  sc_model_config c2 = c;
  c2.depth = 34;
  sc_model *m2 = NULL;
  SC_ASSERT(sc_model_create(&c2, &m2) == SC_OK, "model: %s", sc_last_error());
  SC_ASSERT(sc_folded_refresh(f, m2) == SC_EINVAL, "refresh from a ResNet-34 into a ResNet-18 fold accepted");
  SC_ASSERT(sc_folded_bytes(f) > 0, "no bytes reported");
  sc_model_free(m2);
  sc_folded_free(f);
  sc_model_free(m);
}
