/* cmd_bench.c: `simclr bench`: end-to-end throughput of one configuration, as text or one JSON object (the engine
 * side of bench/pytorch_compare.py). Modes:
 *   train   one SimCLR step (2N views through encoder and head, NT-Xent, backward, LARS), on synthetic views or on
 *           batches from the prefetching loader (--data); images = samples, the two views of one counted once
 *   infer   the encoder's features in evaluation mode, through the BN-folded encoder unless --no-fold
 *   ntxent  the NT-Xent loss and its gradient on 2N x d projections
 *   loader  the prefetching loader alone (decode + two augmented views per image), needs --data
 *   probe   the linear probe's classifier (L-BFGS logistic regression, src/train/logreg.h) on structured random
 *           features or on raw float32/int32 files, with its test accuracy
 * Every step is timed on its own after untimed warm-up steps; the report gives the median, the rate, the
 * floating-point rate against the FMA peak measured here on the same threads, and the peak resident set.
 * --profile adds a breakdown of the training step by kind of work (src/train/profile.h). */
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "core/error.h"
#include "core/rng.h"
#include "data/loader.h"
#include "dispatch/dispatch.h"
#include "model/fold.h"
#include "model/model.h"
#include "nn/nn.h"
#include "train/logreg.h"
#include "core/profile.h"
#include "train/simclr.h"
#include "train_util.h"

typedef enum mode { M_TRAIN, M_INFER, M_NTXENT, M_LOADER, M_PROBE } mode;
static const char *const mode_names[] = {"train", "infer", "ntxent", "loader", "probe"};

typedef struct opts {
  mode mode;
  int depth, channels, size, threads, json, profile, fold, loader_threads;
  double width;
  int64_t batch, steps, warmup, dim, n_train, n_test, classes;
  const char *data, *features, *labels;
} opts;

typedef struct result {
  double *ms;           /* per timed step */
  int64_t nsteps;
  double images;        /* images (samples) per step */
  double flops;         /* floating-point operations per step (0: not counted) */
  double accuracy;      /* probe: test top-1; else < 0 */
  double arena_mb;      /* engine's own accounting where known */
} result;

static void help(void) {
  printf("Usage: simclr bench [options]\n\n"
         "Measures one configuration end to end: the median time of a step, images per second, GFLOP/s as a\n"
         "fraction of the FMA peak measured on the same threads, and the peak resident set.\n\n"
         "  --mode M        train (default), infer, ntxent, loader, probe\n"
         "  --arch A        resnet18 (default), resnet34, resnet50\n"
         "  --width W       channel multiplier 0.25, 0.5, 1 (default), 2, 4\n"
         "  --size S        image side (default 32; the CIFAR stem at 32 or less, ImageNet stem above)\n"
         "  --channels C    1 or 3 (default 3)\n"
         "  --batch N       train: samples (2N views, default 128); infer: images (default 256); ntxent: N of 2N\n"
         "                  (default 256); loader: samples (default 256)\n"
         "  --dim D         ntxent: projection width (default 128); probe: feature width (default 512)\n"
         "  --steps K       timed steps (default 5)\n"
         "  --warmup K      untimed steps first (default 1)\n"
         "  --threads T     engine threads (default: SIMCLR_THREADS or all cores)\n"
         "  --isa ISA       cap the instruction set: scalar, avx2, avx512, neon\n"
         "  --no-fold       infer: the model's evaluation-mode forward instead of the BN-folded encoder\n"
         "  --data PATH     train: take the views from the loader on this dataset (the wait is timed); loader: the\n"
         "                  dataset to read (required)\n"
         "  --loader-threads T  loader workers (default 2)\n"
         "  --features F --labels L   probe: raw float32 [n][dim] and int32 [n] files, the first --n-train rows\n"
         "                  for fitting and the next --n-test rows for testing (default: structured random data)\n"
         "  --n-train N --n-test N --classes K   probe sizes (default 60000, 10000, 10)\n"
         "  --profile       train: break one step down by kind of work (time, share, GFLOP/s)\n"
         "  --json          one JSON object on stdout\n"
         "  -h, --help      this help\n");
}

static double now_s(void) { return sc_prof_now(); }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(const double *v, int64_t n) {
  if (n < 1) return 0;
  double *c = malloc((size_t)n * sizeof *c);
  if (!c) return v[0];
  memcpy(c, v, (size_t)n * sizeof *c);
  qsort(c, (size_t)n, sizeof *c, cmp_double);
  double m = n % 2 ? c[n / 2] : 0.5 * (c[n / 2 - 1] + c[n / 2]);
  free(c);
  return m;
}

/* GFLOP/s of the active ISA's FMA loop on `threads` threads, best of three (each thread runs the loop). */
static double fma_peak_gflops(int threads) {
  const sc_kernels *k = sc_kernels_active();
  if (!k || !k->gemm->fma_peak) return 0;
  double best = 0;
  for (int rep = 0; rep < 3; rep++) {
    double flops = 0, t0 = now_s();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    flops += k->gemm->fma_peak(5u * 1000u * 1000u);
    double r = flops / (now_s() - t0) * 1e-9;
    if (r > best) best = r;
  }
  return best;
}

/* Peak resident set of this process: VmHWM where /proc has it (Linux carries the parent's peak into ru_maxrss
 * across fork and exec, so a child of a large process would report its parent's size), else ru_maxrss. */
static double maxrss_mb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (f) {
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
      if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    if (kb >= 0) return (double)kb / 1024.0;
  }
  struct rusage ru;
  return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : -1;
}

static void fill_random(float *x, size_t n, uint64_t seed) {
  sc_rng r;
  sc_rng_init_stream(&r, seed, 0);
  for (size_t i = 0; i < n; i++) x[i] = sc_rng_uniform(&r) - 0.5f;
}

static sc_model_config model_config(const opts *o, sc_head head) {
  sc_model_config mc = sc_model_defaults();
  mc.depth = o->depth, mc.width = (float)o->width, mc.in_channels = o->channels, mc.image_size = o->size;
  mc.head = head;
  return mc;
}

/* ---- train ---- */

static sc_status copy_batch(const sc_batch *b, float *views, int64_t pairs, size_t per_image) {
  if (b->n != pairs || b->views != 2)
    return sc_error(SC_EINVAL, "bench: the loader gave %d images of %d views for a batch of %lld", b->n, b->views,
                    (long long)pairs);
  memcpy(views, b->x[0], (size_t)pairs * per_image * sizeof(float));
  memcpy(views + (size_t)pairs * per_image, b->x[1], (size_t)pairs * per_image * sizeof(float));
  return SC_OK;
}

/* Takes the next training batch into the views (a new epoch when one ends); the wait goes to the profile. */
static sc_status next_views(sc_loader *l, int64_t *epoch, float *views, int64_t pairs, size_t per_image) {
  const double t0 = now_s();
  const sc_batch *b;
  SC_TRY(sc_loader_next(l, &b));
  if (!b) {
    SC_TRY(sc_loader_start_epoch(l, ++*epoch));
    SC_TRY(sc_loader_next(l, &b));
    if (!b) return sc_error(SC_EINVAL, "bench: the dataset holds less than one batch");
  }
  if (sc_prof_on) sc_prof_add(SC_PROF_DATA_WAIT, now_s() - t0, 0);
  return copy_batch(b, views, pairs, per_image);
}

static sc_status run_train(const opts *o, result *r) {
  sc_model_config mc = model_config(o, SC_HEAD_PROJ_V1);
  sc_model *m = NULL;
  sc_simclr *s = NULL;
  sc_dataset *ds = NULL;
  sc_loader *l = NULL;
  int64_t epoch = 0;
  const size_t per_image = (size_t)o->size * (size_t)o->size * (size_t)o->channels;
  sc_simclr_config sc = sc_simclr_defaults();
  sc.total_steps = 1000000;
  sc_status st = sc_model_create(&mc, &m);
  if (st == SC_OK) st = sc_simclr_create(m, o->batch, &sc, &s);
  if (st == SC_OK && o->data) {
    st = sc_open_data(o->data, 0, o->channels, SC_BAD_SKIP, &ds);
    sc_loader_options lo = {.batch_size = (int)o->batch, .threads = o->loader_threads, .drop_last = 1, .seed = 1,
                            .mode = SC_VIEW_PRETRAIN, .aug = sc_augment_defaults(o->size, o->channels, -1)};
    if (st == SC_OK) st = sc_loader_create(ds, &lo, &l);
    if (st == SC_OK) st = sc_loader_start_epoch(l, epoch);
  } else if (st == SC_OK) {
    fill_random(sc_simclr_views(s), 2 * (size_t)o->batch * per_image, 12345);
  }
  float loss;
  for (int64_t i = 0; st == SC_OK && i < o->warmup + o->steps; i++) {
    /* the first warm-up step is profiled only to count the step's floating-point operations */
    const int count = i == 0;
    if (count) sc_prof_reset(), sc_prof_enable(1);
    double t0 = now_s();
    if (l) st = next_views(l, &epoch, sc_simclr_views(s), o->batch, per_image);
    if (st == SC_OK) st = sc_simclr_step(s, &loss, NULL);
    double ms = (now_s() - t0) * 1e3;
    if (count) {
      sc_prof_enable(0);
      const sc_prof_entry *t = sc_prof_table();
      for (int k = 0; k < SC_PROF_COUNT; k++) r->flops += t[k].flops;
    }
    if (i >= o->warmup) r->ms[r->nsteps++] = ms;
  }
  if (st == SC_OK && o->profile) {
    sc_prof_reset();
    sc_prof_enable(1);
    for (int64_t i = 0; st == SC_OK && i < o->steps; i++) {
      if (l) st = next_views(l, &epoch, sc_simclr_views(s), o->batch, per_image);
      if (st == SC_OK) st = sc_simclr_step(s, &loss, NULL);
    }
    sc_prof_enable(0);
  }
  r->images = (double)o->batch;
  if (m) r->arena_mb = (double)sc_model_arena_bytes(m) / (1 << 20);
  sc_loader_destroy(l);
  if (ds) sc_dataset_close(ds);
  sc_simclr_free(s);
  sc_model_free(m);
  return st;
}

/* ---- infer ---- */

static sc_status run_infer(const opts *o, result *r) {
  sc_model_config mc = model_config(o, SC_HEAD_NONE);
  sc_model *m = NULL;
  sc_folded *f = NULL;
  sc_status st = sc_model_create(&mc, &m);
  /* the operation count from a one-image profiled forward (it scales with the batch) */
  if (st == SC_OK) st = sc_model_plan(m, 1);
  if (st == SC_OK) {
    fill_random(sc_model_input(m), (size_t)o->size * (size_t)o->size * (size_t)o->channels, 7);
    sc_prof_reset(), sc_prof_enable(1);
    st = sc_model_forward(m, 0);
    sc_prof_enable(0);
    const sc_prof_entry *t = sc_prof_table();
    for (int k = 0; k < SC_PROF_COUNT; k++) r->flops += t[k].flops * (double)o->batch;
  }
  if (st == SC_OK && o->fold) {
    st = sc_folded_create(m, &f); /* the model's own arenas stay planned for one image */
    if (st == SC_OK) st = sc_folded_plan(f, o->batch);
    if (st == SC_OK) r->arena_mb = (double)sc_folded_bytes(f) / (1 << 20);
  } else if (st == SC_OK) {
    st = sc_model_plan(m, o->batch);
    if (st == SC_OK) r->arena_mb = (double)sc_model_arena_bytes(m) / (1 << 20);
  }
  if (st == SC_OK)
    fill_random(f ? sc_folded_input(f) : sc_model_input(m),
                (size_t)o->batch * (size_t)o->size * (size_t)o->size * (size_t)o->channels, 7);
  for (int64_t i = 0; st == SC_OK && i < o->warmup + o->steps; i++) {
    double t0 = now_s();
    st = f ? sc_folded_forward(f, o->batch) : sc_model_forward(m, 0);
    if (i >= o->warmup) r->ms[r->nsteps++] = (now_s() - t0) * 1e3;
  }
  r->images = (double)o->batch;
  sc_folded_free(f);
  sc_model_free(m);
  return st;
}

/* ---- ntxent ---- */

static sc_status run_ntxent(const opts *o, result *r) {
  const int64_t two_n = 2 * o->batch, d = o->dim;
  float *z = malloc((size_t)(two_n * d) * sizeof(float)), *saved = malloc((size_t)(two_n * d) * sizeof(float)),
        *dz = malloc((size_t)(two_n * d) * sizeof(float));
  sc_status st = z && saved && dz ? SC_OK : sc_error(SC_ENOMEM, "bench: out of memory");
  if (st == SC_OK) fill_random(z, (size_t)(two_n * d), 3);
  for (int64_t i = 0; st == SC_OK && i < o->warmup + o->steps; i++) {
    float loss;
    double t0 = now_s();
    st = sc_nn_ntxent_forward(two_n, d, 0.5f, z, &loss, saved);
    if (st == SC_OK) memset(dz, 0, (size_t)(two_n * d) * sizeof(float));
    if (st == SC_OK) st = sc_nn_ntxent_backward(two_n, d, dz, 1.0f, saved);
    if (i >= o->warmup) r->ms[r->nsteps++] = (now_s() - t0) * 1e3;
  }
  /* similarities z z^T and the gradient G z: two (2N)^2 x d products */
  r->flops = 4.0 * (double)two_n * (double)two_n * (double)d;
  r->images = (double)two_n;
  free(z), free(saved), free(dz);
  return st;
}

/* ---- loader ---- */

static sc_status run_loader(const opts *o, result *r) {
  if (!o->data) return sc_error(SC_EINVAL, "bench: --mode loader needs --data");
  sc_dataset *ds = NULL;
  sc_loader *l = NULL;
  int64_t epoch = 0;
  const size_t per_image = (size_t)o->size * (size_t)o->size * (size_t)o->channels;
  float *views = malloc(2 * (size_t)o->batch * per_image * sizeof(float));
  sc_status st = views ? sc_open_data(o->data, 0, o->channels, SC_BAD_SKIP, &ds) : sc_error(SC_ENOMEM, "bench: oom");
  sc_loader_options lo = {.batch_size = (int)o->batch, .threads = o->loader_threads, .drop_last = 1, .seed = 1,
                          .mode = SC_VIEW_PRETRAIN, .aug = sc_augment_defaults(o->size, o->channels, -1)};
  if (st == SC_OK) st = sc_loader_create(ds, &lo, &l);
  if (st == SC_OK) st = sc_loader_start_epoch(l, epoch);
  for (int64_t i = 0; st == SC_OK && i < o->warmup + o->steps; i++) {
    double t0 = now_s();
    st = next_views(l, &epoch, views, o->batch, per_image);
    if (i >= o->warmup) r->ms[r->nsteps++] = (now_s() - t0) * 1e3;
  }
  r->images = (double)o->batch;
  sc_loader_destroy(l);
  if (ds) sc_dataset_close(ds);
  free(views);
  return st;
}

/* ---- probe ---- */

/* Structured random features: class k has a random mean direction; samples are mean + isotropic noise, through a
 * fixed ReLU-like rectification so that the features are non-negative as pooled ResNet features are. */
static void probe_data(float *x, int32_t *y, int64_t n, int64_t d, int64_t k, uint64_t seed) {
  float *mu = malloc((size_t)(k * d) * sizeof *mu);
  sc_rng r;
  sc_rng_init_stream(&r, seed, 1);
  for (int64_t i = 0; mu && i < k * d; i++) mu[i] = 2.0f * (sc_rng_uniform(&r) - 0.5f);
  for (int64_t i = 0; i < n; i++) {
    int64_t c = (int64_t)(sc_rng_u32(&r) % (uint32_t)k);
    y[i] = (int32_t)c;
    for (int64_t j = 0; j < d; j++) {
      float v = (mu ? 0.1f * mu[c * d + j] : 0) + 2.0f * (sc_rng_uniform(&r) - 0.5f);
      x[i * d + j] = v > 0 ? v : 0.1f * v;
    }
  }
  free(mu);
}

static sc_status read_file(const char *path, void *dst, size_t bytes) {
  FILE *f = fopen(path, "rb");
  if (!f) return sc_error(SC_EIO, "%s: cannot open", path);
  size_t got = fread(dst, 1, bytes, f);
  fclose(f);
  return got == bytes ? SC_OK : sc_error(SC_EIO, "%s: %zu of %zu bytes", path, got, bytes);
}

static sc_status run_probe(const opts *o, result *r) {
  const int64_t n = o->n_train + o->n_test, d = o->dim, k = o->classes;
  float *x = malloc((size_t)(n * d) * sizeof *x), *scores = malloc((size_t)(o->n_test * k) * sizeof *scores);
  int32_t *y = malloc((size_t)n * sizeof *y);
  sc_status st = x && y && scores ? SC_OK : sc_error(SC_ENOMEM, "bench: out of memory");
  if (st == SC_OK && o->features) {
    st = read_file(o->features, x, (size_t)(n * d) * sizeof *x);
    if (st == SC_OK) st = read_file(o->labels, y, (size_t)n * sizeof *y);
  } else if (st == SC_OK) {
    probe_data(x, y, n, d, k, 99);
  }
  sc_logreg_options lo = sc_logreg_defaults();
  for (int64_t i = 0; st == SC_OK && i < o->warmup + o->steps; i++) {
    sc_logreg fit = {0};
    double t0 = now_s();
    st = sc_logreg_fit(x, y, o->n_train, d, k, &lo, &fit);
    double ms = (now_s() - t0) * 1e3;
    if (st == SC_OK) st = sc_logreg_scores(&fit, x + o->n_train * d, o->n_test, scores);
    if (st == SC_OK) sc_topk_accuracy(scores, y + o->n_train, o->n_test, k, &r->accuracy, NULL);
    sc_logreg_free(&fit);
    if (i >= o->warmup) r->ms[r->nsteps++] = ms;
  }
  r->images = (double)o->n_train;
  free(x), free(y), free(scores);
  return st;
}

/* ---- report ---- */

static void print_profile_text(double steps) {
  const sc_prof_entry *t = sc_prof_table();
  double total = 0;
  for (int k = 0; k < SC_PROF_COUNT; k++) total += t[k].seconds;
  printf("\nprofile of one step (mean of %.0f):\n  %-18s %10s %7s %9s\n", steps, "kind", "ms", "share", "GFLOP/s");
  for (int k = 0; k < SC_PROF_COUNT; k++) {
    if (t[k].calls == 0) continue;
    printf("  %-18s %10.2f %6.1f%%", sc_prof_name((sc_prof_kind)k), t[k].seconds / steps * 1e3,
           total > 0 ? 100 * t[k].seconds / total : 0);
    if (t[k].flops > 0 && t[k].seconds > 0) printf(" %9.1f", t[k].flops / t[k].seconds * 1e-9);
    printf("\n");
  }
  printf("  %-18s %10.2f %6.1f%%\n", "total", total / steps * 1e3, 100.0);
}

static void print_profile_json(double steps) {
  const sc_prof_entry *t = sc_prof_table();
  double total = 0;
  for (int k = 0; k < SC_PROF_COUNT; k++) total += t[k].seconds;
  printf(",\"profile\":[");
  for (int k = 0, first = 1; k < SC_PROF_COUNT; k++) {
    if (t[k].calls == 0) continue;
    printf("%s{\"kind\":\"%s\",\"ms\":%.4f,\"share\":%.4f,\"gflops\":%.2f}", first ? "" : ",",
           sc_prof_name((sc_prof_kind)k), t[k].seconds / steps * 1e3, total > 0 ? t[k].seconds / total : 0,
           t[k].seconds > 0 ? t[k].flops / t[k].seconds * 1e-9 : 0);
    first = 0;
  }
  printf("]");
}

static int parse_opts(int argc, char **argv, opts *o) {
  static const struct option lopts[] = {
      {"mode", required_argument, 0, 'm'},    {"arch", required_argument, 0, 'a'},
      {"width", required_argument, 0, 'W'},   {"size", required_argument, 0, 's'},
      {"channels", required_argument, 0, 'c'}, {"batch", required_argument, 0, 'b'},
      {"dim", required_argument, 0, 'd'},     {"steps", required_argument, 0, 'k'},
      {"warmup", required_argument, 0, 'w'},  {"threads", required_argument, 0, 't'},
      {"isa", required_argument, 0, 'i'},     {"no-fold", no_argument, 0, 'F'},
      {"data", required_argument, 0, 'D'},    {"loader-threads", required_argument, 0, 'L'},
      {"features", required_argument, 0, 'X'}, {"labels", required_argument, 0, 'Y'},
      {"n-train", required_argument, 0, 'n'}, {"n-test", required_argument, 0, 'N'},
      {"classes", required_argument, 0, 'K'}, {"profile", no_argument, 0, 'p'},
      {"json", no_argument, 0, 'j'},          {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int64_t batch = 0, dim = 0, v;
  double f;
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "h", lopts, NULL)) != -1;) {
    switch (c) {
    case 'm': {
      int found = 0;
      for (int i = 0; i < 5; i++)
        if (!strcmp(optarg, mode_names[i])) o->mode = (mode)i, found = 1;
      if (!found) return sc_cli_usage_error("bench", "--mode '%s' (train, infer, ntxent, loader, probe)", optarg);
      break;
    }
    case 'a':
      if (!strcmp(optarg, "resnet18")) o->depth = 18;
      else if (!strcmp(optarg, "resnet34")) o->depth = 34;
      else if (!strcmp(optarg, "resnet50")) o->depth = 50;
      else return sc_cli_usage_error("bench", "--arch '%s' (resnet18, resnet34, resnet50)", optarg);
      break;
    case 'W':
      if (!sc_parse_f64(optarg, 0.25, 4, &f)) return sc_cli_usage_error("bench", "--width '%s'", optarg);
      o->width = f;
      break;
    case 's':
      if (!sc_parse_i64(optarg, 1, 4096, &v)) return sc_cli_usage_error("bench", "--size '%s'", optarg);
      o->size = (int)v;
      break;
    case 'c':
      if (!sc_parse_i64(optarg, 1, 3, &v) || v == 2) return sc_cli_usage_error("bench", "--channels '%s'", optarg);
      o->channels = (int)v;
      break;
    case 'b':
      if (!sc_parse_i64(optarg, 1, 1 << 20, &batch)) return sc_cli_usage_error("bench", "--batch '%s'", optarg);
      break;
    case 'd':
      if (!sc_parse_i64(optarg, 1, 1 << 16, &dim)) return sc_cli_usage_error("bench", "--dim '%s'", optarg);
      break;
    case 'k':
      if (!sc_parse_i64(optarg, 1, 100000, &o->steps)) return sc_cli_usage_error("bench", "--steps '%s'", optarg);
      break;
    case 'w':
      if (!sc_parse_i64(optarg, 0, 100000, &o->warmup)) return sc_cli_usage_error("bench", "--warmup '%s'", optarg);
      break;
    case 't':
      if (!sc_parse_threads(optarg)) return sc_cli_usage_error("bench", "--threads '%s' is not a count", optarg);
      break;
    case 'i': {
      sc_isa isa;
      sc_status st = sc_isa_parse(optarg, &isa);
      if (st == SC_OK) st = sc_set_max_isa(isa);
      if (st != SC_OK) return sc_cli_fail("bench", "--isa", st);
      break;
    }
    case 'F': o->fold = 0; break;
    case 'D': o->data = optarg; break;
    case 'L':
      if (!sc_parse_i64(optarg, 1, 256, &v)) return sc_cli_usage_error("bench", "--loader-threads '%s'", optarg);
      o->loader_threads = (int)v;
      break;
    case 'X': o->features = optarg; break;
    case 'Y': o->labels = optarg; break;
    case 'n':
      if (!sc_parse_i64(optarg, 1, 1LL << 31, &o->n_train)) return sc_cli_usage_error("bench", "--n-train");
      break;
    case 'N':
      if (!sc_parse_i64(optarg, 1, 1LL << 31, &o->n_test)) return sc_cli_usage_error("bench", "--n-test");
      break;
    case 'K':
      if (!sc_parse_i64(optarg, 2, 1 << 20, &o->classes)) return sc_cli_usage_error("bench", "--classes");
      break;
    case 'p': o->profile = 1; break;
    case 'j': o->json = 1; break;
    case 'h': help(); return SC_EXIT_OK;
    default: return sc_cli_usage_error("bench", "unknown option");
    }
  }
  if (optind < argc) return sc_cli_usage_error("bench", "unexpected argument '%s'", argv[optind]);
  if (!!o->features != !!o->labels) return sc_cli_usage_error("bench", "--features and --labels go together");
  if (o->profile && o->mode != M_TRAIN) return sc_cli_usage_error("bench", "--profile is for --mode train");
  if (o->mode == M_TRAIN && batch == 1) return sc_cli_usage_error("bench", "--batch 1: NT-Xent needs 2 samples");
  o->batch = batch ? batch : o->mode == M_TRAIN ? 128 : 256;
  o->dim = dim ? dim : o->mode == M_PROBE ? 512 : 128;
  return -1;
}

int sc_cmd_bench(int argc, char **argv) {
  opts o = {.mode = M_TRAIN, .depth = 18, .channels = 3, .size = 32, .fold = 1, .loader_threads = 2, .width = 1,
            .steps = 5, .warmup = 1, .n_train = 60000, .n_test = 10000, .classes = 10};
  int rc = sc_cli_common_init("bench");
  if (rc >= 0) return rc;
  if ((rc = parse_opts(argc, argv, &o)) >= 0) return rc;
  const int threads = sc_num_threads();
  double peak = fma_peak_gflops(threads); /* measured before and after: the best of the two (shared machines) */
  result r = {.ms = calloc((size_t)o.steps, sizeof(double)), .accuracy = -1, .arena_mb = -1};
  if (!r.ms) return sc_cli_fail("bench", "setup", sc_error(SC_ENOMEM, "out of memory"));
  sc_status st = SC_OK;
  switch (o.mode) {
  case M_TRAIN: st = run_train(&o, &r); break;
  case M_INFER: st = run_infer(&o, &r); break;
  case M_NTXENT: st = run_ntxent(&o, &r); break;
  case M_LOADER: st = run_loader(&o, &r); break;
  case M_PROBE: st = run_probe(&o, &r); break;
  }
  if (st != SC_OK) {
    free(r.ms);
    return sc_cli_fail("bench", mode_names[o.mode], st);
  }
  const double peak2 = fma_peak_gflops(threads);
  if (peak2 > peak) peak = peak2;
  const double med = median(r.ms, r.nsteps), rate = med > 0 ? r.images / (med * 1e-3) : 0;
  const double gflops = med > 0 ? r.flops / (med * 1e-3) * 1e-9 : 0;
  const double rss = maxrss_mb();
  const sc_kernels *k = sc_kernels_active();
  char arch[16];
  snprintf(arch, sizeof arch, "resnet%d", o.depth);
  if (o.json) {
    printf("{\"engine\":\"simclr\",\"mode\":\"%s\",\"arch\":\"%s\",\"width\":%g,\"size\":%d,\"channels\":%d,"
           "\"batch\":%lld,\"dim\":%lld,\"threads\":%d,\"isa\":\"%s\",\"folded\":%d,\"step_ms\":[",
           mode_names[o.mode], arch, o.width, o.size, o.channels, (long long)o.batch, (long long)o.dim, threads,
           k ? k->name : "?", o.mode == M_INFER && o.fold);
    for (int64_t i = 0; i < r.nsteps; i++) printf("%s%.4f", i ? "," : "", r.ms[i]);
    printf("],\"median_ms\":%.4f,\"images_per_step\":%.0f,\"images_per_s\":%.3f,\"flops_per_step\":%.6g,"
           "\"gflops\":%.3f,\"peak_gflops\":%.3f,\"peak_frac\":%.4f,\"maxrss_mb\":%.1f",
           med, r.images, rate, r.flops, gflops, peak, peak > 0 ? gflops / peak : 0, rss);
    if (r.arena_mb >= 0) printf(",\"arena_mb\":%.1f", r.arena_mb);
    if (r.accuracy >= 0) printf(",\"accuracy\":%.5f", r.accuracy);
    if (o.profile) print_profile_json((double)o.steps);
    printf("}\n");
  } else {
    printf("simclr bench: mode %s, %s width %g, %dx%dx%d, batch %lld, %d threads, %s\n", mode_names[o.mode], arch,
           o.width, o.channels, o.size, o.size, (long long)o.batch, threads, k ? k->name : "?");
    printf("step:       median %.2f ms over %lld steps (after %lld warm-up)\n", med, (long long)r.nsteps,
           (long long)o.warmup);
    printf("throughput: %.1f images/s\n", rate);
    if (r.flops > 0)
      printf("compute:    %.2f GFLOP per step, %.1f GFLOP/s = %.1f%% of the FMA peak (%.1f GFLOP/s)\n", r.flops * 1e-9,
             gflops, peak > 0 ? 100 * gflops / peak : 0, peak);
    if (r.accuracy >= 0) printf("accuracy:   %.2f%% (test top-1)\n", 100 * r.accuracy);
    printf("memory:     peak resident set %.1f MB", rss);
    if (r.arena_mb >= 0) printf(", activation arenas %.1f MB", r.arena_mb);
    printf("\n");
    if (o.profile) print_profile_text((double)o.steps);
  }
  free(r.ms);
  return SC_EXIT_OK;
}
