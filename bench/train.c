/* train.c (bench): one whole SimCLR step (both views through ResNet-18 with the CIFAR stem and head v1, NT-Xent,
 * backward, LARS update) as images per second, where an image is one sample of the batch (its two views count
 * once, as SimCLR counts batch size). Shapes: 3x32x32 at batch 128 (CIFAR-10) and 1x28x28 at batch 256 (MNIST
 * sized); the harness runs each at the thread counts of its --threads flag (default 1 and all cores). The input is
 * filled once with fixed pseudo-random views; the step's numerics are the tests' business.
 *
 * Memory: after each case one line on stderr gives the engine's own accounting (parameters, gradients and BN
 * buffers; optimiser state; the two activation arenas of the plan) and the peak resident set of the process during
 * the case (VmHWM of /proc/self/status, reset through /proc/self/clear_refs before the case's setup, so earlier
 * cases do not count; where the reset is refused, the line says the figure is the process's peak so far). The
 * difference between the two is the operators' scratch (GEMM packing, NT-Xent's similarity matrix), the thread
 * stacks and the harness itself.
 *
 * Also here, for the inference path: feature extraction through the model's evaluation-mode forward and through the
 * BN-folded encoder (src/model/fold.h) on the same network and batch, in images per second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "model/fold.h"
#include "model/model.h"
#include "train/simclr.h"

typedef struct train_state {
  sc_model *m;
  sc_simclr *s;
  const sc_bench_case *c;
  int threads;
  int hwm_reset; /* the peak resident set was reset before setup */
} train_state;

/* Resets the kernel's peak-RSS mark of this process (Linux 4.0+); 1 on success. */
static int reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return 0;
  int ok = fputs("5", f) >= 0;
  return fclose(f) == 0 && ok;
}

/* Peak resident set (VmHWM) in kB, or -1. */
static long peak_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

static void report_memory(const train_state *t) {
  size_t np, nb;
  sc_model_params(t->m, &np);
  sc_model_buffers(t->m, &nb);
  const sc_optim *o = sc_simclr_optim(t->s);
  const double mb = 1.0 / (1 << 20);
  const double model = (double)(2 * np + nb) * sizeof(float) * mb;
  const double optim = (double)((o->m ? o->n : 0) + (o->v ? o->n : 0)) * sizeof(float) * mb;
  const double arena = (double)sc_model_arena_bytes(t->m) * mb;
  fprintf(stderr, "memory %s/threads:%d: params+grads+buffers %.1f MB, optimiser %.1f MB, activation arenas %.1f MB "
          "(engine total %.1f MB); peak resident set %.1f MB%s\n", t->c->name, t->threads, model, optim, arena,
          model + optim + arena, (double)peak_rss_kb() / 1024.0,
          t->hwm_reset ? " during the case" : " of the process so far (reset refused)");
}

static void train_teardown(void *p) {
  train_state *t = p;
  if (!t) return;
  if (t->m && t->s) report_memory(t);
  sc_simclr_free(t->s);
  sc_model_free(t->m);
  free(t);
}

static void *train_setup(const sc_bench_case *c, int threads, const char **err) {
  const int reset = reset_peak_rss();
  train_state *t = calloc(1, sizeof *t);
  if (!t) return *err = "out of memory", NULL;
  t->c = c, t->threads = threads, t->hwm_reset = reset;
  sc_model_config mc = sc_model_defaults();
  mc.in_channels = (int)c->params[0], mc.image_size = (int)c->params[1];
  int64_t pairs = c->params[2];
  sc_simclr_config sc = sc_simclr_defaults();
  sc.total_steps = 1000000, sc.warmup_steps = 10;
  if (sc_model_create(&mc, &t->m) != SC_OK || sc_simclr_create(t->m, pairs, &sc, &t->s) != SC_OK) {
    *err = sc_last_error();
    sc_simclr_free(t->s), t->s = NULL; /* no memory line for a case that never ran */
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
    sc_simclr_free(t->s), t->s = NULL;
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

/* Feature extraction for comparison: the model's evaluation-mode forward (conv, then a BN pass) against the
 * BN-folded encoder (conv + bias), ResNet-18 CIFAR stem on 3x32x32, 256 images per call. params[3]: 1 = folded. */
typedef struct infer_state {
  sc_model *m;
  sc_folded *f;
} infer_state;

static void infer_teardown(void *p) {
  infer_state *t = p;
  if (!t) return;
  sc_folded_free(t->f);
  sc_model_free(t->m);
  free(t);
}

static int infer_run(void *p) {
  infer_state *t = p;
  return (t->f ? sc_folded_forward(t->f, 256) : sc_model_forward(t->m, 0)) != SC_OK;
}

static void *infer_setup(const sc_bench_case *c, int threads, const char **err) {
  (void)threads;
  infer_state *t = calloc(1, sizeof *t);
  if (!t) return *err = "out of memory", NULL;
  sc_model_config mc = sc_model_defaults();
  mc.head = SC_HEAD_NONE, mc.in_channels = (int)c->params[0], mc.image_size = (int)c->params[1];
  const int64_t batch = c->params[2];
  sc_status st = sc_model_create(&mc, &t->m);
  if (st == SC_OK && c->params[3]) st = sc_folded_create(t->m, &t->f);
  if (st == SC_OK) st = t->f ? sc_folded_plan(t->f, batch) : sc_model_plan(t->m, batch);
  if (st == SC_OK) {
    float *x = t->f ? sc_folded_input(t->f) : sc_model_input(t->m);
    size_t n = (size_t)(batch * mc.image_size * mc.image_size * mc.in_channels);
    uint32_t r = 777u;
    for (size_t i = 0; i < n; i++) r = r * 1664525u + 1013904223u, x[i] = (float)(r >> 8) / 16777216.0f - 0.5f;
    if (infer_run(t)) st = SC_EINTERNAL; /* one call untimed, as for the step */
  }
  if (st != SC_OK) {
    *err = sc_last_error();
    infer_teardown(t);
    return NULL;
  }
  return t;
}

static void add_infer_case(int channels, int size, int batch, int folded) {
  static const char *const isas[] = {"scalar", "neon", "avx2", "avx512"};
  for (int isa = SC_ISA_NEON; isa < SC_ISA_COUNT; isa++) {
    sc_bench_case c = {.isa = isa, .items = batch, .setup = infer_setup, .run = infer_run,
                       .teardown = infer_teardown, .params = {channels, size, batch, folded}};
    snprintf(c.name, sizeof c.name, "infer/%s/%s/resnet18_cifar_%dx%dx%d_b%d", folded ? "features_folded" :
             "features_eval", isas[isa], channels, size, size, batch);
    sc_bench_add(&c);
  }
}

__attribute__((constructor)) static void register_train(void) {
  add_case(3, 32, 128);
  add_case(1, 28, 256);
  add_infer_case(3, 32, 256, 0);
  add_infer_case(3, 32, 256, 1);
}
