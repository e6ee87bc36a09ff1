/* train.c (bench): one whole SimCLR step (both views through ResNet-18 with the CIFAR stem and head v1, NT-Xent,
 * backward, LARS update) as images per second, where an image is one sample of the batch (its two views count
 * once, as SimCLR counts batch size). Shapes: 3x32x32 at batch 128 (CIFAR-10) and 1x28x28 at batch 256 (MNIST
 * sized). The input is filled once with fixed pseudo-random views; the step's numerics are the tests' business. */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "model/model.h"
#include "train/simclr.h"

typedef struct train_state {
  sc_model *m;
  sc_simclr *s;
} train_state;

static void train_teardown(void *p) {
  train_state *t = p;
  if (!t) return;
  sc_simclr_free(t->s);
  sc_model_free(t->m);
  free(t);
}

static void *train_setup(const sc_bench_case *c, int threads, const char **err) {
  (void)threads;
  train_state *t = calloc(1, sizeof *t);
  if (!t) return *err = "out of memory", NULL;
  sc_model_config mc = sc_model_defaults();
  mc.in_channels = (int)c->params[0], mc.image_size = (int)c->params[1];
  int64_t pairs = c->params[2];
  sc_simclr_config sc = sc_simclr_defaults();
  sc.total_steps = 1000000, sc.warmup_steps = 10;
  if (sc_model_create(&mc, &t->m) != SC_OK || sc_simclr_create(t->m, pairs, &sc, &t->s) != SC_OK) {
    *err = sc_last_error();
    train_teardown(t);
    return NULL;
  }
  float *x = sc_simclr_views(t->s);
  size_t n = (size_t)(2 * pairs * mc.image_size * mc.image_size * mc.in_channels);
  uint32_t r = 12345u;
  for (size_t i = 0; i < n; i++) r = r * 1664525u + 1013904223u, x[i] = (float)(r >> 8) / 16777216.0f - 0.5f;
  float loss; /* one step untimed: first touches of the arenas and the operators' scratch */
  if (sc_simclr_step(t->s, &loss, NULL) != SC_OK) {
    *err = sc_last_error();
    train_teardown(t);
    return NULL;
  }
  return t;
}

static int train_run(void *p) {
  train_state *t = p;
  float loss;
  return sc_simclr_step(t->s, &loss, NULL) != SC_OK;
}

static void add_case(int channels, int size, int pairs) {
  static const char *const isas[] = {"scalar", "neon", "avx2", "avx512"};
  for (int isa = SC_ISA_NEON; isa < SC_ISA_COUNT; isa++) {
    sc_bench_case c = {.isa = isa, .items = pairs, .setup = train_setup, .run = train_run,
                       .teardown = train_teardown, .params = {channels, size, pairs}};
    snprintf(c.name, sizeof c.name, "train/simclr_step/%s/resnet18_cifar_%dx%dx%d_b%d", isas[isa], channels, size,
             size, pairs);
    sc_bench_add(&c);
  }
}

__attribute__((constructor)) static void register_train(void) {
  add_case(3, 32, 128);
  add_case(1, 28, 256);
}
