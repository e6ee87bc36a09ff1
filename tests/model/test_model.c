/* test_model.c: the model's structure against torchvision (parameter counts, key names and order, shapes), its
 * initialisation (Kaiming-normal statistics, zero-initialised last BN of each block, independence from threads),
 * the per-batch arena plan, and its wiring: the gradient of a whole small network against finite differences.
 *
 * Reference figures are torchvision's: resnet18 has 11,689,512 parameters with a 1000-class fc, 62 parameter
 * tensors and 60 buffers (122 state_dict keys); resnet34 21,797,672 (218 keys); resnet50 25,557,032 (320 keys). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/model.h"
#include "test.h"
#include "testutil.h"

static sc_model *build(sc_model_config c) {
  sc_model *m = NULL;
  SC_ASSERT(sc_model_create(&c, &m) == SC_OK, "create depth=%d width=%g: %s", c.depth, c.width, sc_last_error());
  return m;
}

static void count(const sc_model *m, size_t *params, size_t *ptensors, size_t *buffers) {
  size_t n;
  const sc_tensor_info *t = sc_model_tensors(m, &n);
  *params = *ptensors = *buffers = 0;
  for (size_t i = 0; i < n; i++) {
    if (t[i].role == SC_TENSOR_PARAM) *params += t[i].count, ++*ptensors;
    else ++*buffers;
  }
}

static void expect_shape(const sc_model *m, const char *name, int ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
  const sc_tensor_info *t = sc_model_find(m, name);
  SC_ASSERT(t, "no tensor named %s", name);
  int64_t want[4] = {a, b, c, d};
  SC_ASSERT(t->ndim == ndim, "%s has %d dimensions, want %d", name, t->ndim, ndim);
  for (int i = 0; i < ndim; i++)
    SC_ASSERT(t->shape[i] == want[i], "%s: dimension %d is %lld, want %lld", name, i, (long long)t->shape[i],
              (long long)want[i]);
}

static sc_model_config torchvision(int depth) {
  sc_model_config c = sc_model_defaults();
  c.depth = depth, c.image_size = 224, c.head = SC_HEAD_NONE, c.classes = 1000;
  return c;
}

SC_TEST(model, resnet18_matches_torchvision) {
  sc_model *m = build(torchvision(18));
  size_t params, ptensors, buffers, n;
  count(m, &params, &ptensors, &buffers);
  SC_ASSERT(params == 11689512 && ptensors == 62 && buffers == 60,
            "resnet18: %zu parameters in %zu tensors, %zu buffers; want 11689512, 62, 60", params, ptensors, buffers);
  const sc_tensor_info *t = sc_model_tensors(m, &n);
  /* state_dict order for the first keys, and the layout flags */
  static const char *first[] = {"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                                "bn1.num_batches_tracked", "layer1.0.conv1.weight", "layer1.0.bn1.weight"};
  for (int i = 0; i < 8; i++) SC_ASSERT(strcmp(t[i].name, first[i]) == 0, "key %d is %s, want %s", i, t[i].name,
                                        first[i]);
  SC_ASSERT(strcmp(t[n - 1].name, "fc.bias") == 0 && strcmp(t[n - 2].name, "fc.weight") == 0, "last keys %s, %s",
            t[n - 2].name, t[n - 1].name);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) SC_ASSERT(strcmp(t[i].name, t[j].name) != 0, "duplicate key %s", t[i].name);
  expect_shape(m, "conv1.weight", 4, 64, 3, 7, 7);
  expect_shape(m, "layer2.0.downsample.0.weight", 4, 128, 64, 1, 1);
  expect_shape(m, "layer2.0.downsample.1.running_var", 1, 128, 0, 0, 0);
  expect_shape(m, "layer4.1.conv2.weight", 4, 512, 512, 3, 3);
  expect_shape(m, "layer4.1.bn2.num_batches_tracked", 0, 0, 0, 0, 0);
  expect_shape(m, "fc.weight", 2, 1000, 512, 0, 0);
  SC_ASSERT(!sc_model_find(m, "layer1.0.downsample.0.weight"), "layer1.0 of resnet18 has no downsample");
  SC_ASSERT(sc_model_find(m, "conv1.weight")->ohwi && !sc_model_find(m, "fc.weight")->ohwi,
            "conv weights are stored OHWI, linear ones as PyTorch");
  /* exclusions: biases and BN parameters only */
  for (size_t i = 0; i < n; i++) {
    int want = strstr(t[i].name, "bn") || strstr(t[i].name, "downsample.1") || strstr(t[i].name, ".bias");
    if (t[i].role == SC_TENSOR_PARAM)
      SC_ASSERT(t[i].excluded == want, "%s: excluded=%d, want %d", t[i].name, t[i].excluded, want);
  }
  /* parameters tile the flat buffer without holes */
  size_t segs, off = 0, total;
  const sc_optim_seg *s = sc_model_segments(m, &segs);
  sc_model_params(m, &total);
  SC_ASSERT(segs == 62 && total == params, "%zu segments over %zu floats", segs, total);
  for (size_t i = 0; i < segs; i++) {
    SC_ASSERT(s[i].offset == off, "segment %zu starts at %zu, want %zu", i, s[i].offset, off);
    off += s[i].count;
  }
  sc_model_free(m);
}

SC_TEST(model, resnet34_and_50_match_torchvision) {
  static const struct { int depth; size_t params, keys; } want[] = {{34, 21797672, 218}, {50, 25557032, 320}};
  for (int i = 0; i < 2; i++) {
    sc_model *m = build(torchvision(want[i].depth));
    size_t params, ptensors, buffers;
    count(m, &params, &ptensors, &buffers);
    SC_ASSERT(params == want[i].params && ptensors + buffers == want[i].keys,
              "resnet%d: %zu parameters, %zu keys; want %zu, %zu", want[i].depth, params, ptensors + buffers,
              want[i].params, want[i].keys);
    if (want[i].depth == 50) {
      /* Bottleneck, stride on the 3x3 (ResNet v1.5), downsample in every stage */
      expect_shape(m, "layer1.0.downsample.0.weight", 4, 256, 64, 1, 1);
      expect_shape(m, "layer3.5.conv3.weight", 4, 1024, 256, 1, 1);
      expect_shape(m, "fc.weight", 2, 1000, 2048, 0, 0);
      SC_ASSERT(sc_model_feature_dim(m) == 2048, "resnet50 features %lld", (long long)sc_model_feature_dim(m));
    }
    sc_model_free(m);
  }
}

SC_TEST(model, heads_width_and_stems) {
  sc_model_config c = sc_model_defaults(); /* ResNet-18, CIFAR stem at 32 px, head v1 */
  c.width = 0.25f, c.in_channels = 1;
  sc_model *m = build(c);
  expect_shape(m, "conv1.weight", 4, 16, 1, 3, 3);
  SC_ASSERT(sc_model_feature_dim(m) == 128, "width 0.25 features %lld", (long long)sc_model_feature_dim(m));
  expect_shape(m, "head.0.weight", 2, 128, 128, 0, 0);
  expect_shape(m, "head.1.bias", 1, 128, 0, 0, 0);
  expect_shape(m, "head.3.weight", 2, 128, 128, 0, 0);
  expect_shape(m, "head.4.running_var", 1, 128, 0, 0, 0);
  SC_ASSERT(!sc_model_find(m, "head.0.bias") && !sc_model_find(m, "head.4.bias"),
            "SimCLR's head has no linear bias and no shift on the last BN");
  sc_model_free(m);
  c.head = SC_HEAD_PROJ_V2, c.proj_dim = 64, c.width = 0.5f, c.image_size = 64; /* ImageNet stem above 32 px */
  m = build(c);
  expect_shape(m, "conv1.weight", 4, 32, 1, 7, 7);
  expect_shape(m, "head.6.weight", 2, 64, 256, 0, 0);
  expect_shape(m, "head.7.weight", 1, 64, 0, 0, 0);
  sc_model_free(m);
  c.stem = SC_STEM_CIFAR; /* overridable */
  m = build(c);
  expect_shape(m, "conv1.weight", 4, 32, 1, 3, 3);
  sc_model_free(m);
  c.depth = 50, c.width = 0.25f, c.head = SC_HEAD_NONE, c.classes = 10; /* narrow Bottleneck: 2048/4 features */
  m = build(c);
  SC_ASSERT(sc_model_feature_dim(m) == 512, "resnet50 width 0.25: features %lld", (long long)sc_model_feature_dim(m));
  expect_shape(m, "layer1.0.conv1.weight", 4, 16, 16, 1, 1);
  expect_shape(m, "layer1.0.downsample.0.weight", 4, 64, 16, 1, 1);
  expect_shape(m, "fc.weight", 2, 10, 512, 0, 0);
  sc_model_free(m);
  sc_model *bad = NULL;
  c = sc_model_defaults(), c.depth = 20;
  SC_ASSERT(sc_model_create(&c, &bad) == SC_EINVAL && !bad, "depth 20 accepted");
  c = sc_model_defaults(), c.width = 3.0f;
  SC_ASSERT(sc_model_create(&c, &bad) == SC_EINVAL, "width 3 accepted");
  c = sc_model_defaults(), c.classes = 10;
  SC_ASSERT(sc_model_create(&c, &bad) == SC_EINVAL, "classifier and projection head together accepted");
}

SC_TEST(model, initialisation) {
  sc_model_config c = sc_model_defaults();
  c.seed = 42, c.width = 0.5f;
  sc_model *a = build(c);
  SC_ASSERT(sc_set_num_threads(1) == SC_OK, "threads");
  sc_model *b = build(c);
  SC_ASSERT(sc_set_num_threads(2) == SC_OK, "threads");
  size_t n;
  float *pa = sc_model_params(a, &n), *pb = sc_model_params(b, NULL);
  SC_ASSERT(memcmp(pa, pb, n * sizeof(float)) == 0, "same seed, different parameters");
  /* Kaiming normal, fan_out: layer3's 3x3 convs (128 channels at width 0.5) have std sqrt(2 / (128*9)); 147k
   * samples estimate it to about 0.2%, the mean to 0.3% of the std: 1% bounds are ~4 standard errors */
  const sc_tensor_info *t = sc_model_find(a, "layer3.1.conv1.weight");
  double s = 0, ss = 0;
  for (size_t i = 0; i < t->count; i++) s += pa[t->offset + i], ss += (double)pa[t->offset + i] * pa[t->offset + i];
  double mean = s / t->count, sd = sqrt(ss / t->count - mean * mean), want = sqrt(2.0 / (128 * 9));
  SC_ASSERT(fabs(sd / want - 1) < 0.01 && fabs(mean) < 0.01 * want, "layer3.1.conv1 seed=42: mean %g std %g, want 0,"
            " %g", mean, sd, want);
  /* two tensors of the same shape draw from different streams */
  const sc_tensor_info *u = sc_model_find(a, "layer3.1.conv2.weight");
  SC_ASSERT(memcmp(pa + t->offset, pa + u->offset, 64) != 0, "two tensors got the same values");
  /* zero-initialised residual gamma (default), ones elsewhere; running_var 1 */
  const sc_tensor_info *g2 = sc_model_find(a, "layer2.1.bn2.weight"), *g1 = sc_model_find(a, "layer2.1.bn1.weight");
  const sc_tensor_info *rv = sc_model_find(a, "layer2.1.bn1.running_var");
  float *buf = sc_model_buffers(a, NULL);
  for (size_t i = 0; i < g2->count; i++)
    SC_ASSERT(pa[g2->offset + i] == 0.0f && pa[g1->offset + i] == 1.0f && buf[rv->offset + i] == 1.0f,
              "BN init at channel %zu: bn2 gamma %g, bn1 gamma %g, running_var %g", i, pa[g2->offset + i],
              pa[g1->offset + i], buf[rv->offset + i]);
  c.seed = 43;
  sc_model *d = build(c);
  SC_ASSERT(memcmp(pa, sc_model_params(d, NULL), 256) != 0, "seeds 42 and 43 gave the same parameters");
  c.zero_init_residual = 0;
  sc_model *e = build(c);
  SC_ASSERT(sc_model_params(e, NULL)[sc_model_find(e, "layer2.1.bn2.weight")->offset] == 1.0f,
            "zero_init_residual=0 must leave gamma at 1");
  sc_model_free(a), sc_model_free(b), sc_model_free(d), sc_model_free(e);
}

SC_TEST(model, plan_shares_memory) {
  sc_model_config c = sc_model_defaults();
  sc_model *m = build(c);
  SC_ASSERT(sc_model_plan(m, 8) == SC_OK, "plan: %s", sc_last_error());
  /* per image, ResNet-18 CIFAR has ~1.5M activation floats if every value had its own storage and gradient
   * (12 MB); in-place adds and ReLUs and gradient reuse must bring both arenas well under that */
  size_t per_image = sc_model_arena_bytes(m) / 8;
  SC_ASSERT(per_image < 7u << 20, "%zu bytes of arena per image", per_image);
  SC_LOG("ResNet-18 CIFAR: %.2f MB of activations and gradients per image", per_image / 1048576.0);
  int64_t rows, cols;
  SC_ASSERT(sc_model_output(m, &rows, &cols) && rows == 8 && cols == 128, "output %lldx%lld", (long long)rows,
            (long long)cols);
  sc_model_free(m);
}

/* The whole network's gradient against finite differences: width 0.25 ResNet-18 (CIFAR stem) + head v1 on
 * 4 images of 16x16x3, L = sum r*z. Residual gammas start at 1 so every branch carries gradient. Each probe moves
 * one weight by h = 3e-4 through ~40 fp32 layers with batch statistics; ReLU kinks crossed by the step and fp32
 * rounding make single probes near the stem off by a few percent of the tensor's gradient scale, so the check is
 * per tensor over 6 probes: ||analytic - fd|| <= 0.1 * ||fd||. A miswired layer (wrong value read, a lost branch,
 * a gradient buffer shared while live) gives errors of the order of the gradient itself. */
static double objective(sc_model *m, const float *x, const float *r, size_t nx) {
  memcpy(sc_model_input(m), x, nx * sizeof(float));
  SC_ASSERT(sc_model_forward(m, 1) == SC_OK, "forward: %s", sc_last_error());
  int64_t rows, cols;
  const float *z = sc_model_output(m, &rows, &cols);
  double s = 0;
  for (int64_t i = 0; i < rows * cols; i++) s += (double)z[i] * r[i];
  return s;
}

SC_TEST(model, whole_network_gradient_matches_finite_differences) {
  sc_model_config c = sc_model_defaults();
  c.width = 0.25f, c.image_size = 16, c.zero_init_residual = 0, c.seed = 5;
  sc_model *m = build(c);
  const int64_t B = 4;
  SC_ASSERT(sc_model_plan(m, B) == SC_OK, "plan: %s", sc_last_error());
  size_t nx = (size_t)(B * 16 * 16 * 3), nz = (size_t)(B * 128), np;
  float x[4 * 16 * 16 * 3], r[4 * 128];
  sc_test_rng rng = {77};
  sc_test_fill(&rng, x, nx, -1, 1), sc_test_fill(&rng, r, nz, -1, 1);
  objective(m, x, r, nx);
  sc_model_zero_grad(m);
  memcpy(sc_model_output_grad(m), r, nz * sizeof(float));
  SC_ASSERT(sc_model_backward(m) == SC_OK, "backward: %s", sc_last_error());
  float *p = sc_model_params(m, &np), *g = sc_model_grads(m, NULL);
  static const char *probe[] = {"conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer1.1.bn2.bias",
                                "layer2.0.conv2.weight", "layer2.0.downsample.0.weight", "layer3.1.bn1.weight",
                                "layer4.1.conv1.weight", "head.0.weight", "head.1.bias", "head.3.weight",
                                "head.4.weight"};
  enum { PROBES = 6 };
  for (int i = 0; i < 12; i++) {
    const sc_tensor_info *t = sc_model_find(m, probe[i]);
    SC_ASSERT(t, "no tensor %s", probe[i]);
    double fd[PROBES], an[PROBES], err = 0, ref = 0;
    for (int j = 0; j < PROBES; j++) {
      size_t at = t->offset + ((size_t)j * t->count / PROBES + (size_t)j * 5) % t->count;
      float keep = p[at];
      p[at] = keep + 3e-4f;
      double up = objective(m, x, r, nx);
      p[at] = keep - 3e-4f;
      double down = objective(m, x, r, nx);
      p[at] = keep;
      fd[j] = (up - down) / 6e-4, an[j] = g[at];
      err += (an[j] - fd[j]) * (an[j] - fd[j]), ref += fd[j] * fd[j];
    }
    SC_ASSERT(ref > 0 && sqrt(err) <= 0.1 * sqrt(ref),
              "isa=%s resnet18 w0.25 16x16 B=4 seed=5: d%s off by %.3g relative over %d probes (first: analytic "
              "%.6g, finite difference %.6g)", sc_isa_name(sc_active_isa()), probe[i], sqrt(err / ref), PROBES,
              an[0], fd[0]);
  }
  sc_model_free(m);
}

SC_TEST(model, training_and_evaluation_modes) {
  sc_model_config c = sc_model_defaults();
  c.width = 0.25f, c.image_size = 8, c.seed = 9;
  sc_model *m = build(c);
  SC_ASSERT(sc_model_forward(m, 1) == SC_EINVAL, "forward before plan accepted");
  SC_ASSERT(sc_model_plan(m, 4) == SC_OK, "plan: %s", sc_last_error());
  sc_test_rng rng = {9};
  sc_test_fill(&rng, sc_model_input(m), 4 * 8 * 8 * 3, -1, 1);
  size_t nb, nc;
  float *buf = sc_model_buffers(m, &nb);
  int64_t *cnt = sc_model_counters(m, &nc);
  const sc_tensor_info *rm = sc_model_find(m, "layer2.1.bn1.running_mean");
  const sc_tensor_info *nbt = sc_model_find(m, "head.4.num_batches_tracked");
  SC_ASSERT(sc_model_forward(m, 1) == SC_OK, "training forward: %s", sc_last_error());
  SC_ASSERT(cnt[nbt->offset] == 1 && buf[rm->offset] != 0.0f, "training forward: num_batches_tracked %lld, "
            "running_mean[0] %g (both must move)", (long long)cnt[nbt->offset], buf[rm->offset]);
  float before[64];
  memcpy(before, buf + rm->offset, sizeof before);
  int64_t rows, cols;
  const float *z = sc_model_output(m, &rows, &cols);
  float train_out[16];
  memcpy(train_out, z, sizeof train_out);
  float eval1[4 * 128];
  SC_ASSERT(sc_model_forward(m, 0) == SC_OK, "evaluation forward: %s", sc_last_error());
  memcpy(eval1, z, sizeof eval1);
  SC_ASSERT(sc_model_forward(m, 0) == SC_OK, "evaluation forward: %s", sc_last_error());
  SC_ASSERT(memcmp(eval1, z, sizeof eval1) == 0, "two evaluation forwards differ");
  SC_ASSERT(memcmp(before, buf + rm->offset, sizeof before) == 0 && cnt[nbt->offset] == 1,
            "evaluation mode moved the running statistics");
  SC_ASSERT(memcmp(train_out, eval1, sizeof train_out) != 0, "evaluation output equals the batch-statistics one");
  sc_model_free(m);
}
