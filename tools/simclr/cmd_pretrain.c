/* cmd_pretrain.c: `simclr pretrain`: SimCLR pretraining of a ResNet encoder with a projection head on unlabelled
 * images, with checkpoints (RUN/checkpoint.safetensors, atomic), a run log (RUN/metrics.jsonl), a kNN monitor on
 * held-out labelled images each epoch, and a plot of loss and kNN accuracy (RUN/loss.png) at the end.
 *
 * Resuming is exact: the data order and every augmentation are functions of (seed, epoch, sample, view), the loader
 * can start mid-epoch, and the checkpoint holds parameters, BN buffers, optimiser state and the step, so a run
 * interrupted at any checkpoint and resumed ends (with the same thread count) in the same bits as one that was not.
 * A run whose loss or weights stop being finite stops with a message and never overwrites the last good checkpoint.
 * This file must not print results anywhere but stdout, nor logs anywhere but stderr. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "core/error.h"
#include "data/loader.h"
#include "data/subset.h"
#include "train/checkpoint.h"
#include "train/knn.h"
#include "train/metrics.h"
#include "train/plot.h"
#include "train/simclr.h"
#include "train_util.h"
#ifdef SC_HAVE_MPI
#include "dist/dist.h"
#endif

void sc_pretrain_defaults(sc_pretrain_options *o) {
  *o = (sc_pretrain_options){.data = SC_DEFAULT_DATASET, .depth = 18, .width = 0.5f, .head = SC_HEAD_PROJ_V1,
                             .proj_dim = 128, .epochs = 100, .batch = 256, .lr_rule = SC_LR_SQRT, .lr = 0,
                             .optimizer = SC_OPTIM_LARS, .temperature = 0, .seed = 0, .ckpt_every = 0,
                             .crop_min = 0.08, .crop_max = 1.0, .jitter = -1, .blur = -1, .warmup_epochs = -1,
                             .weight_decay = -1, .knn_bank = 2000, .knn_queries = 1000, .knn_k = 200,
                             .knn_temperature = 0.1, .loader_threads = 2};
}

static const char *const optim_names[] = {"sgd", "lars", "adamw"};

/* ---- the run's configuration as JSON (stored in the checkpoint, read back on resume) ---- */

static char *config_to_json(const sc_pretrain_options *o, const char *data_abs) {
  json_t *j = json_object();
  json_object_set_new(j, "data", json_string(data_abs));
  json_object_set_new(j, "depth", json_integer(o->depth));
  json_object_set_new(j, "width", json_real(o->width));
  json_object_set_new(j, "head", json_integer(o->head));
  json_object_set_new(j, "proj_dim", json_integer(o->proj_dim));
  json_object_set_new(j, "epochs", json_integer(o->epochs));
  json_object_set_new(j, "steps", json_integer(o->steps));
  json_object_set_new(j, "batch", json_integer(o->batch));
  json_object_set_new(j, "lr_rule", json_string(o->lr_rule == SC_LR_SQRT ? "sqrt" : "linear"));
  json_object_set_new(j, "lr", json_real(o->lr));
  json_object_set_new(j, "optimizer", json_string(optim_names[o->optimizer]));
  json_object_set_new(j, "temperature", json_real(o->temperature));
  json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
  json_object_set_new(j, "ckpt_every", json_integer(o->ckpt_every));
  json_object_set_new(j, "crop_min", json_real(o->crop_min));
  json_object_set_new(j, "crop_max", json_real(o->crop_max));
  json_object_set_new(j, "jitter", json_real(o->jitter));
  json_object_set_new(j, "blur", json_real(o->blur));
  json_object_set_new(j, "warmup_epochs", json_real(o->warmup_epochs));
  json_object_set_new(j, "weight_decay", json_real(o->weight_decay));
  json_object_set_new(j, "bad_skip", json_integer(o->bad_skip));
  json_object_set_new(j, "size", json_integer(o->size));
  json_object_set_new(j, "knn_bank", json_integer(o->knn_bank));
  json_object_set_new(j, "knn_queries", json_integer(o->knn_queries));
  json_object_set_new(j, "knn_k", json_integer(o->knn_k));
  json_object_set_new(j, "knn_temperature", json_real(o->knn_temperature));
  char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(j);
  return s;
}

static sc_status json_num(json_t *j, const char *key, const char *what, double *v) {
  json_t *x = json_object_get(j, key);
  if (!json_is_number(x)) return sc_error(SC_EFORMAT, "%s: the run configuration lacks \"%s\"", what, key);
  *v = json_number_value(x);
  return SC_OK;
}

/* fills o from the stored configuration; data_buf keeps the data path alive */
static sc_status config_from_json(const char *s, const char *what, sc_pretrain_options *o, char *data_buf,
                                  size_t data_cap) {
  json_error_t e;
  json_t *j = json_loads(s, 0, &e);
  if (!j || !json_is_object(j)) {
    json_decref(j);
    return sc_error(SC_EFORMAT, "%s: the run configuration is not a JSON object", what);
  }
  sc_status st = SC_OK;
  const char *data = json_string_value(json_object_get(j, "data"));
  const char *rule = json_string_value(json_object_get(j, "lr_rule"));
  const char *opt = json_string_value(json_object_get(j, "optimizer"));
  if (!data || !rule || !opt) st = sc_error(SC_EFORMAT, "%s: the run configuration lacks data/lr_rule/optimizer", what);
  double v[24];
  static const char *const keys[] = {"depth", "width", "head", "proj_dim", "epochs", "steps", "batch", "lr",
                                     "temperature", "seed", "ckpt_every", "crop_min", "crop_max", "jitter", "blur",
                                     "warmup_epochs", "weight_decay", "bad_skip", "size", "knn_bank", "knn_queries",
                                     "knn_k", "knn_temperature"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0] && st == SC_OK; i++) st = json_num(j, keys[i], what, &v[i]);
  if (st == SC_OK) {
    snprintf(data_buf, data_cap, "%s", data);
    o->data = data_buf;
    o->depth = (int)v[0], o->width = (float)v[1], o->head = (int)v[2], o->proj_dim = (int)v[3];
    o->epochs = (int)v[4], o->steps = (int64_t)v[5], o->batch = (int)v[6], o->lr = v[7], o->temperature = v[8];
    o->seed = (uint64_t)v[9], o->ckpt_every = (int64_t)v[10], o->crop_min = v[11], o->crop_max = v[12];
    o->jitter = v[13], o->blur = v[14], o->warmup_epochs = v[15], o->weight_decay = v[16], o->bad_skip = (int)v[17];
    o->size = (int)v[18], o->knn_bank = (int)v[19], o->knn_queries = (int)v[20], o->knn_k = (int)v[21];
    o->knn_temperature = v[22];
    o->lr_rule = !strcmp(rule, "sqrt") ? SC_LR_SQRT : SC_LR_LINEAR;
    o->optimizer = !strcmp(opt, "sgd") ? SC_OPTIM_SGD : !strcmp(opt, "adamw") ? SC_OPTIM_ADAMW : SC_OPTIM_LARS;
  }
  json_decref(j);
  return st;
}

/* ---- the kNN monitor ---- */

typedef struct knn_monitor {
  sc_dataset *test; /* NULL: queries come from the training images */
  const sc_dataset *train;
  int64_t *bank, nbank, *queries, nqueries;
  int32_t *bank_y, *query_y;
  int nclasses;
} knn_monitor;

static void knn_free(knn_monitor *k) {
  if (k->test) sc_dataset_close(k->test);
  free(k->bank), free(k->queries), free(k->bank_y), free(k->query_y);
  memset(k, 0, sizeof *k);
}

/* a bank of labelled training images and held-out queries (the test split, else training images kept out of the
 * bank); returns SC_OK with nbank = 0 when there is nothing to monitor */
static sc_status knn_setup(const sc_pretrain_options *o, const sc_dataset *ds, knn_monitor *k) {
  memset(k, 0, sizeof *k);
  k->train = ds;
  if (!ds->labels || ds->nclasses < 2 || o->knn_bank <= 0 || o->knn_queries <= 0) return SC_OK;
  int held_out;
  SC_TRY(sc_open_eval_data(o->data, NULL, ds, ds->c, o->bad_skip ? SC_BAD_SKIP : SC_BAD_STOP, &k->test, &held_out));
  const uint64_t seed = o->seed ^ 0x4b4e4e00ull; /* "KNN": not the labelled subset of a probe with the same seed */
  sc_status st;
  if (k->test) {
    double fb = fmin(1.0, (double)o->knn_bank / (double)ds->n), fq = fmin(1.0, (double)o->knn_queries / (double)k->test->n);
    st = sc_subset_balanced(ds, fb, seed, &k->bank, &k->nbank);
    if (st == SC_OK && k->test->labels) st = sc_subset_balanced(k->test, fq, seed, &k->queries, &k->nqueries);
  } else {
    double fq = fmin(0.2, (double)o->knn_queries / (double)ds->n);
    int64_t *rest = NULL, nrest = 0;
    st = sc_subset_balanced(ds, fq, seed, &k->queries, &k->nqueries);
    if (st == SC_OK) st = sc_complement(ds->n, k->queries, k->nqueries, &rest, &nrest);
    if (st == SC_OK) { /* every stride-th remaining image, up to the bank size */
      int64_t stride = nrest > o->knn_bank ? (nrest + o->knn_bank - 1) / o->knn_bank : 1, m = 0;
      for (int64_t i = 0; i < nrest; i += stride) rest[m++] = rest[i];
      k->bank = rest, k->nbank = m;
    }
  }
  if (st == SC_OK && k->nbank > 0 && k->nqueries > 0) {
    st = sc_gather_labels(ds, k->bank, k->nbank, &k->bank_y);
    if (st == SC_OK) st = sc_gather_labels(k->test ? k->test : ds, k->queries, k->nqueries, &k->query_y);
  } else if (st == SC_OK) {
    k->nbank = k->nqueries = 0;
  }
  k->nclasses = ds->nclasses;
  if (st != SC_OK) knn_free(k);
  return st;
}

static sc_status knn_eval(knn_monitor *k, const sc_pretrain_options *o, sc_model *m, int64_t cap,
                          const sc_augment_options *aug, double *acc) {
  float *fb = NULL, *fq = NULL;
  int64_t d;
  int32_t *pred = malloc(sizeof *pred * (size_t)k->nqueries);
  if (!pred) return sc_error(SC_ENOMEM, "out of memory");
  const sc_dataset *qds = k->test ? k->test : k->train;
  sc_status st = sc_extract_features(m, cap, k->train, k->bank, k->nbank, aug, SC_FEATURES_H, NULL, &fb, &d);
  if (st == SC_OK) st = sc_extract_features(m, cap, qds, k->queries, k->nqueries, aug, SC_FEATURES_H, NULL, &fq, &d);
  sc_knn_options ko = {.k = o->knn_k, .temperature = (float)o->knn_temperature};
  if (st == SC_OK)
    st = sc_knn_classify(fb, k->bank_y, k->nbank, fq, k->nqueries, d, k->nclasses, &ko, pred, k->query_y, acc);
  free(fb), free(fq), free(pred);
  return st;
}

/* ---- the run ---- */

static int params_finite(sc_model *m) {
  size_t n;
  const float *p = sc_model_params(m, &n);
  for (size_t i = 0; i < n; i++)
    if (!isfinite(p[i])) return 0;
  size_t nb;
  const float *b = sc_model_buffers(m, &nb);
  for (size_t i = 0; i < nb; i++)
    if (!isfinite(b[i])) return 0;
  return 1;
}

static sc_status write_plot(const char *run, const char *metrics) {
  char path[4200];
  snprintf(path, sizeof path, "%s/loss.png", run);
  double *ls = NULL, *lv = NULL, *ks = NULL, *kv = NULL;
  int64_t nl = 0, nk = 0;
  sc_status st = sc_metrics_series(metrics, "step", "loss", &ls, &lv, &nl);
  if (st == SC_OK) st = sc_metrics_series(metrics, "epoch", "knn_acc", &ks, &kv, &nk);
  if (st == SC_OK) {
    for (int64_t i = 0; i < nk; i++) kv[i] *= 100.0;
    sc_plot_series a = {ls, lv, nl, {31, 119, 180}}, b = {ks, kv, nk, {214, 39, 40}};
    /* both panels span the steps of the run, so an epoch's kNN point sits under its part of the loss curve */
    double x0 = nl ? ls[0] : 0, x1 = nl ? ls[nl - 1] : 0;
    if (nk && ks[nk - 1] > x1) x1 = ks[nk - 1];
    if (!(x1 > x0)) x0 = 0, x1 = x1 > 0 ? x1 : 1;
    sc_plot_panel p[2] = {{"NT-Xent loss", "step", &a, 1, x0, x1}, {"kNN accuracy (%)", "step", &b, 1, x0, x1}};
    st = sc_plot_write_png(path, p, 2, 720, 300);
  }
  free(ls), free(lv), free(ks), free(kv);
  return st;
}

static sc_status make_dir(const char *path) {
  if (mkdir(path, 0777) == 0 || errno == EEXIST) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return SC_OK;
    return sc_error(SC_EIO, "%s exists and is not a folder", path);
  }
  return sc_error(SC_EIO, "cannot create the run folder %s: %s", path, strerror(errno));
}

sc_status sc_pretrain_calibrate(const sc_pretrain_options *o, int channels, double *sec_per_step) {
  const int size = o->size;
  if (size <= 0) return sc_error(SC_EINVAL, "sc_pretrain_calibrate: the view size is not set");
  sc_model_config mc = sc_model_defaults();
  mc.depth = o->depth, mc.width = o->width, mc.in_channels = channels, mc.image_size = size;
  mc.head = (sc_head)o->head, mc.proj_dim = o->proj_dim, mc.seed = o->seed;
  sc_model *m;
  SC_TRY(sc_model_create(&mc, &m));
  sc_simclr_config sc = sc_simclr_defaults();
  sc.tau = 0.5f, sc.lr_peak = 1e-3, sc.warmup_steps = 0, sc.total_steps = 100;
  sc_simclr *s;
  sc_status st = sc_simclr_create(m, o->batch, &sc, &s);
  if (st != SC_OK) {
    sc_model_free(m);
    return st;
  }
  float *x = sc_simclr_views(s);
  size_t n = (size_t)2 * o->batch * size * size * channels;
  uint32_t r = 1u;
  for (size_t i = 0; i < n; i++) r = r * 1664525u + 1013904223u, x[i] = (float)(r >> 8) / 16777216.0f;
  float loss;
  double t[3] = {0, 0, 0};
  st = sc_simclr_step(s, &loss, NULL); /* the first step pays for first touches: not timed */
  for (int i = 0; i < 3 && st == SC_OK; i++) {
    double t0 = sc_now();
    st = sc_simclr_step(s, &loss, NULL);
    t[i] = sc_now() - t0;
  }
  /* the median of three: one step slowed by a burst of load elsewhere on the machine does not set the budget */
  double lo = fmin(t[0], fmin(t[1], t[2])), hi = fmax(t[0], fmax(t[1], t[2]));
  *sec_per_step = t[0] + t[1] + t[2] - lo - hi;
  sc_simclr_free(s);
  sc_model_free(m);
  return st;
}

sc_status sc_pretrain_run(const sc_pretrain_options *oin, sc_pretrain_result *r) {
  sc_pretrain_options o = *oin;
  memset(r, 0, sizeof *r);
  /* data-parallel under MPI: every rank runs this function on its shard (--batch is the global batch); rank 0 alone
   * writes the checkpoint, metrics and progress, since the replicas stay identical */
  int rank = 0, nranks = 1;
#ifdef SC_HAVE_MPI
  if (o.dist) rank = sc_dist_rank(o.dist), nranks = sc_dist_size(o.dist);
  sc_dist_simclr *dss = NULL;
#endif
  r->knn_acc = -1;
  const double t_start = sc_now();
  char ckpt[4000], metrics_path[4000], data_buf[PATH_MAX + 1];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o.out);
  snprintf(metrics_path, sizeof metrics_path, "%s/metrics.jsonl", o.out);
  snprintf(r->checkpoint, sizeof r->checkpoint, "%s", ckpt);

  sc_st_file *resume_file = NULL;
  if (o.resume) {
    SC_TRY(sc_st_read(ckpt, 0, &resume_file));
    const char *cfg = sc_st_meta(resume_file, "simclr.config");
    sc_status st = cfg ? config_from_json(cfg, ckpt, &o, data_buf, sizeof data_buf)
                       : sc_error(SC_EFORMAT, "%s: no run configuration (\"simclr.config\"): not a pretraining "
                                              "checkpoint", ckpt);
    if (st != SC_OK) {
      sc_st_free(resume_file);
      return st;
    }
  } else {
    struct stat sb;
    if (!o.overwrite && rank == 0 && stat(ckpt, &sb) == 0)
      return sc_error(SC_EINVAL, "%s already exists: pass --resume to continue that run, or choose another --out",
                      ckpt);
    if (!realpath(o.data, data_buf)) return sc_error(SC_EIO, "%s: %s", o.data, strerror(errno));
    o.data = data_buf;
    SC_TRY(make_dir(o.out));
  }

  /* o holds the run's settings now (a resumed run's come from its checkpoint) */
  if (o.batch % nranks != 0 || (nranks > 1 && o.max_minutes > 0)) {
    sc_st_free(resume_file);
    return o.batch % nranks != 0
               ? sc_error(SC_EINVAL, "--batch %d is not divisible by the %d ranks", o.batch, nranks)
               : sc_error(SC_EINVAL, "a time budget is not supported under MPI (the ranks must agree on the last step)");
  }
  const int pairs = o.batch / nranks;

  sc_dataset *ds = NULL;
  sc_model *m = NULL;
  sc_simclr *s = NULL;
  sc_loader *l = NULL;
  knn_monitor knn = {0};
  sc_metrics log = {0};
  char *cfg_json = NULL;
  sc_status st = sc_open_data(o.data, 0, 0, o.bad_skip ? SC_BAD_SKIP : SC_BAD_STOP, &ds);
  if (st != SC_OK) goto done;
  if (!o.size) o.size = sc_default_size(ds);
  if (ds->n < o.batch) {
    st = sc_error(SC_EINVAL, "%s holds %lld images, fewer than the batch of %d", o.data, (long long)ds->n, o.batch);
    goto done;
  }
  /* the paper's defaults that depend on the image size, fixed now so that the stored configuration is explicit */
  if (o.temperature <= 0) o.temperature = o.size <= 32 ? 0.5 : 0.1;
  if (o.weight_decay < 0) o.weight_decay = o.optimizer == SC_OPTIM_ADAMW ? 1e-2 : 1e-6;
  sc_augment_options aug = sc_augment_defaults(o.size, ds->c, (float)o.jitter);
  aug.crop_area_min = (float)o.crop_min, aug.crop_area_max = (float)o.crop_max;
  if (o.blur >= 0) aug.blur_p = (float)o.blur;
  if ((st = sc_augment_check(&aug)) != SC_OK) goto done;

  sc_loader_options lo = {.batch_size = pairs, .threads = o.loader_threads, .drop_last = 1, .seed = o.seed,
                          .mode = SC_VIEW_PRETRAIN, .aug = aug};
  if (nranks > 1) lo.shard_rank = rank, lo.shard_count = nranks;
  if ((st = sc_loader_create(ds, &lo, &l)) != SC_OK) goto done;
  const int64_t per_epoch = sc_loader_batches_per_epoch(l);
  const int64_t total = o.steps > 0 ? o.steps : per_epoch * o.epochs;
  const int64_t nepochs = (total + per_epoch - 1) / per_epoch;
  double warm_epochs = o.warmup_epochs >= 0 ? o.warmup_epochs : fmin(10.0, 0.1 * (double)total / (double)per_epoch);
  if (o.warmup_epochs < 0) o.warmup_epochs = warm_epochs;
  sc_simclr_config sc = sc_simclr_defaults();
  sc.tau = (float)o.temperature;
  sc.optim = sc_optim_defaults((sc_optim_kind)o.optimizer);
  sc.optim.weight_decay = (float)o.weight_decay;
  sc.lr_rule = (sc_lr_scaling)o.lr_rule;
  /* the scaling rules follow the global batch, whatever the number of ranks */
  sc.lr_peak = o.lr > 0 ? o.lr : o.optimizer == SC_OPTIM_ADAMW ? 1e-3 : sc_lr_peak(sc.lr_rule, o.batch);
  sc.warmup_steps = (int64_t)llround(warm_epochs * (double)per_epoch);
  sc.total_steps = total;
  if (sc.warmup_steps >= total) sc.warmup_steps = total - 1 > 0 ? total - 1 : 0;

  if (o.resume) {
    if ((st = sc_checkpoint_model_from(resume_file, ckpt, NULL, &m)) != SC_OK) goto done;
  } else {
    sc_model_config mc = sc_model_defaults();
    mc.depth = o.depth, mc.width = o.width, mc.in_channels = ds->c, mc.image_size = o.size;
    mc.head = (sc_head)o.head, mc.proj_dim = o.proj_dim, mc.seed = o.seed;
    if ((st = sc_model_create(&mc, &m)) != SC_OK) goto done;
  }
  if (sc_model_config_of(m)->in_channels != ds->c || sc_model_config_of(m)->image_size != o.size) {
    st = sc_error(SC_EFORMAT, "%s: the model takes %dx%dx%d images, the data gives %dx%dx%d", ckpt,
                  sc_model_config_of(m)->image_size, sc_model_config_of(m)->image_size,
                  sc_model_config_of(m)->in_channels, o.size, o.size, ds->c);
    goto done;
  }
  if ((st = sc_simclr_create(m, pairs, &sc, &s)) != SC_OK) goto done;
  cfg_json = config_to_json(&o, o.data);
  if (!cfg_json) {
    st = sc_error(SC_ENOMEM, "out of memory");
    goto done;
  }
  sc_run_state rs = {.step = 0, .epoch = 0, .seed = o.seed};
  if (o.resume) {
    if ((st = sc_checkpoint_load_training(ckpt, m, sc_simclr_optim(s), &rs, NULL)) != SC_OK) goto done;
    if (rs.step < 0 || rs.step > total) {
      st = sc_error(SC_EFORMAT, "%s: step %lld is outside the run's %lld steps", ckpt, (long long)rs.step,
                    (long long)total);
      goto done;
    }
    sc_simclr_set_steps_done(s, rs.step);
  } else if (rank == 0 && (st = sc_checkpoint_save(ckpt, m, sc_simclr_optim(s), &rs, cfg_json)) != SC_OK) {
    goto done; /* a checkpoint of the initial weights: there is always a good one to fall back on */
  }
  sc_st_free(resume_file), resume_file = NULL;
#ifdef SC_HAVE_MPI
  /* every rank restored the same checkpoint (or built the same seeded model); this also equalises them */
  if (o.dist && (st = sc_dist_simclr_create(o.dist, s, m, NULL, &dss)) != SC_OK) goto done;
#endif
  if (rank == 0 && (st = sc_metrics_open(metrics_path, o.resume ? rs.step : -1, &log)) != SC_OK) goto done;
  if (rank == 0 && (st = knn_setup(&o, ds, &knn)) != SC_OK) goto done;
  if (rank != 0) o.quiet = 1;

  sc_progress pg = {.quiet = o.quiet};
  sc_progress_log(&pg, "simclr pretrain: %s: %lld images %dx%dx%d, ResNet-%d width %g, batch %d, %lld steps "
                  "(%lld epochs of %lld), %s peak lr %.4g, warm-up %lld steps, tau %g, seed %llu%s",
                  o.data, (long long)ds->n, o.size, o.size, ds->c, o.depth, o.width, o.batch, (long long)total,
                  (long long)nepochs, (long long)per_epoch, optim_names[o.optimizer],
                  sc.lr_peak > 0 ? sc.lr_peak : sc_lr_peak(sc.lr_rule, o.batch), (long long)sc.warmup_steps,
                  o.temperature, (unsigned long long)o.seed, o.resume ? ", resumed" : "");
  if (o.resume) sc_progress_log(&pg, "simclr pretrain: resuming %s at step %lld", ckpt, (long long)rs.step);
  if (knn.nbank)
    sc_progress_log(&pg, "simclr pretrain: kNN monitor: %lld bank images, %lld %s queries, k %d, temperature %g",
                    (long long)knn.nbank, (long long)knn.nqueries, knn.test ? "test" : "held-out", o.knn_k,
                    o.knn_temperature);

  const size_t view_floats = (size_t)pairs * o.size * o.size * ds->c;
  float *views = sc_simclr_views(s);
  int64_t step = rs.step, last_saved = rs.step;
  r->start_step = rs.step;
  double epoch_sum = 0, last_loss = NAN;
  int64_t epoch_n = 0;
  const double t_loop = sc_now();
  while (step < total && st == SC_OK && !r->diverged && !r->stopped_early) {
    const int64_t epoch = step / per_epoch;
    if ((st = sc_loader_start_epoch_at(l, epoch, step % per_epoch)) != SC_OK) break;
    char label[64];
    snprintf(label, sizeof label, "epoch %lld/%lld", (long long)epoch + 1, (long long)nepochs);
    sc_progress_begin(&pg, label, per_epoch, o.quiet);
    pg.done0 = step % per_epoch;
    epoch_sum = 0, epoch_n = 0;
    double t_win = sc_now();
    int64_t win_steps = 0;
    float loss = 0, lr = 0;
    while (step < total && step / per_epoch == epoch) {
      const sc_batch *b;
      if ((st = sc_loader_next(l, &b)) != SC_OK) break;
      if (!b) {
        st = sc_error(SC_EINTERNAL, "loader: epoch %lld ended after %lld batches", (long long)epoch,
                      (long long)(step % per_epoch));
        break;
      }
      memcpy(views, b->x[0], view_floats * sizeof(float));
      memcpy(views + view_floats, b->x[1], view_floats * sizeof(float));
#ifdef SC_HAVE_MPI
      st = dss ? sc_dist_simclr_step(dss, &loss, &lr) : sc_simclr_step(s, &loss, &lr);
#else
      st = sc_simclr_step(s, &loss, &lr);
#endif
      if (st == SC_OK && !params_finite(m))
        st = sc_error(SC_ENUMERIC, "simclr: the weights are no longer finite after step %lld", (long long)step + 1);
      if (st == SC_ENUMERIC) {
        r->diverged = 1;
        sc_progress_break(&pg);
        char why[256];
        snprintf(why, sizeof why, "%s", sc_last_error());
        sc_metrics_line(&log, "{\"type\":\"diverged\",\"step\":%lld,\"epoch\":%lld,\"last_checkpoint_step\":%lld}",
                        (long long)step + 1, (long long)epoch, (long long)last_saved);
        st = sc_error(SC_ENUMERIC, "the run diverged at step %lld (%s; try a lower learning rate); the last good "
                      "checkpoint, %s (step %lld), is kept", (long long)step + 1, why, ckpt, (long long)last_saved);
        break;
      }
      if (st != SC_OK) break;
      step++, win_steps++;
      epoch_sum += loss, epoch_n++, last_loss = loss;
      double now = sc_now(), img_s = (double)win_steps * o.batch / fmax(now - t_win, 1e-9);
      if (now - t_win > 10) t_win = now, win_steps = 0; /* a moving window, so the rate follows the machine's load */
      sc_metrics_line(&log, "{\"type\":\"step\",\"step\":%lld,\"epoch\":%lld,\"loss\":%.6g,\"lr\":%.6g,"
                      "\"img_s\":%.1f,\"time_s\":%.3f}", (long long)step, (long long)epoch, loss, lr, img_s,
                      now - t_start);
      char f[128];
      snprintf(f, sizeof f, "loss %.4f lr %.4f %.0f img/s", loss, lr, img_s);
      sc_progress_update(&pg, step - epoch * per_epoch, f);
      const int epoch_end = step % per_epoch == 0 || step == total;
      const int want_ckpt = (o.ckpt_every > 0 && step % o.ckpt_every == 0) || (o.ckpt_every <= 0 && epoch_end) ||
                            step == total || step == o.kill_after_steps;
      const int out_of_time = o.max_minutes > 0 && now - t_start > 60.0 * o.max_minutes;
      if (want_ckpt || out_of_time) {
        sc_run_state now_rs = {.step = step, .epoch = step / per_epoch, .seed = o.seed};
        if (rank == 0 && (st = sc_checkpoint_save(ckpt, m, sc_simclr_optim(s), &now_rs, cfg_json)) != SC_OK) break;
        last_saved = step;
      }
      if (step == o.kill_after_steps) raise(SIGKILL); /* testing resume: die as a killed process would */
      if (out_of_time) {
        r->stopped_early = 1;
        sc_progress_log(&pg, "simclr pretrain: the time budget of %g minutes is spent; stopping at step %lld "
                        "(checkpoint saved)", o.max_minutes, (long long)step);
        break;
      }
    }
    if (st != SC_OK || r->diverged) break;
    char f[128];
    snprintf(f, sizeof f, "loss %.4f", epoch_n ? epoch_sum / (double)epoch_n : 0.0);
    sc_progress_end(&pg, step - epoch * per_epoch, f);
    if (step % per_epoch == 0 || step == total || r->stopped_early) {
      double acc = -1;
      if (knn.nbank && (st = knn_eval(&knn, &o, m, 2 * (int64_t)pairs, &aug, &acc)) != SC_OK) break;
      if (acc >= 0) r->knn_acc = acc;
      char accs[32];
      snprintf(accs, sizeof accs, acc >= 0 ? "%.4f" : "null", acc);
      sc_metrics_line(&log, "{\"type\":\"epoch\",\"epoch\":%lld,\"step\":%lld,\"loss\":%.6g,\"knn_acc\":%s,"
                      "\"time_s\":%.3f}", (long long)epoch + 1, (long long)step,
                      epoch_n ? epoch_sum / (double)epoch_n : 0.0, accs, sc_now() - t_start);
      if (acc >= 0)
        sc_progress_log(&pg, "simclr pretrain: epoch %lld: mean loss %.4f, kNN accuracy %.2f%%", (long long)epoch + 1,
                        epoch_n ? epoch_sum / (double)epoch_n : 0.0, 100 * acc);
      r->epochs_done = step / per_epoch;
    }
  }
  r->steps = step;
  r->final_loss = epoch_n ? epoch_sum / (double)epoch_n : isfinite(last_loss) ? last_loss : 0.0;
  r->wall_s = sc_now() - t_start;
  r->img_per_s = (double)(step - rs.step) * o.batch / fmax(sc_now() - t_loop, 1e-9); /* o.batch is global */
  if (log.f) {
    sc_status pst = write_plot(o.out, metrics_path);
    if (pst != SC_OK && st == SC_OK) st = pst;
  }
done:
#ifdef SC_HAVE_MPI
  sc_dist_simclr_free(dss);
#endif
  sc_metrics_close(&log);
  knn_free(&knn);
  free(cfg_json);
  sc_loader_destroy(l);
  sc_simclr_free(s);
  sc_model_free(m);
  sc_dataset_close(ds);
  sc_st_free(resume_file);
  return st;
}

/* ---- the command ---- */

static void help(void) {
  printf("Usage: simclr pretrain --out RUN [options]\n\n"
         "SimCLR pretraining: two augmented views of every image, a ResNet encoder and projection head, the NT-Xent\n"
         "loss. Writes RUN/checkpoint.safetensors (atomically, every --ckpt-every steps and at the end),\n"
         "RUN/metrics.jsonl (one JSON object per step and per epoch) and RUN/loss.png (loss and kNN accuracy).\n"
         "A run whose loss or weights stop being finite stops and keeps its last good checkpoint.\n\n"
         "  --data PATH          image folder (root/<class>/*.png|jpg, or flat), IDX or CIFAR (default:\n"
         "                       " SC_DEFAULT_DATASET ")\n"
         "  --out RUN            run folder (created; refused if it holds a checkpoint, unless --resume)\n"
         "  --resume             continue RUN exactly where its checkpoint stopped (same data order, augmentations,\n"
         "                       optimiser state); the run's settings come from the checkpoint\n"
         "  --arch NAME          resnet18 (default), resnet34, resnet50\n"
         "  --width W            channel multiplier 0.25, 0.5 (default), 1, 2, 4\n"
         "  --head v1|v2         projection head: 2 layers (v1, default) or 3 (v2)\n"
         "  --proj-dim D         projection width (default 128)\n"
         "  --epochs E           epochs (default 100)\n"
         "  --steps N            total steps instead of epochs\n"
         "  --batch B            images per step; each gives two views (default 256)\n"
         "  --optimizer NAME     lars (default), sgd, adamw\n"
         "  --lr-rule sqrt|linear  peak learning rate 0.075*sqrt(B) (default) or 0.3*B/256 (LARS, SGD)\n"
         "  --lr L               peak learning rate itself (AdamW default 1e-3)\n"
         "  --warmup-epochs W    linear warm-up (default 10, or a tenth of the run when that is shorter)\n"
         "  --weight-decay WD    default 1e-6 (LARS, SGD), 1e-2 (AdamW)\n"
         "  --temperature T      NT-Xent temperature (default 0.5 for images of 32 px or less, else 0.1)\n"
         "  --crop-scale a,b     random-resized-crop area fraction (default 0.08,1)\n"
         "  --jitter S           colour-jitter strength (default 0.5 at 32 px or less, else 1.0; 0 turns it off)\n"
         "  --blur P             Gaussian-blur probability (default 0 at 32 px or less, else 0.5)\n"
         "  --size S             view size in pixels (default: the images' own size for IDX/CIFAR, else 224)\n"
         "  --seed S             seed of initialisation, data order and augmentations (default 0)\n"
         "  --threads N          compute threads (default: SIMCLR_THREADS or all cores)\n"
         "  --ckpt-every K       checkpoint every K steps (default: every epoch)\n"
         "  --bad-files stop|skip  stop at an unreadable image (default) or skip it\n"
         "  --knn-bank N, --knn-queries N, --knn-k K, --knn-temperature T\n"
         "                       kNN monitor each epoch (defaults 2000, 1000, 200, 0.1; 0 turns it off); queries\n"
         "                       come from the test split when there is one, else from held-out training images\n"
         "  --minutes M          stop (with a checkpoint) after M minutes\n"
         "  --json               print the result as JSON\n"
         "  --quiet              no progress output\n"
         "  --kill-after-steps N testing: kill the process (SIGKILL) right after the checkpoint at step N\n"
         "  -h, --help           this help\n"
         "\nUnder mpirun (a build with MPI), the ranks train one model data-parallel: --batch is the global batch,\n"
         "split evenly; negatives come from the whole global batch; batch norm is synchronised; rank 0 writes the\n"
         "run folder. Resume with the same number of ranks. SIMCLR_DIST_TIMEOUT (seconds) bounds waiting on a rank.\n"
         "  mpirun -np 4 simclr pretrain --data DIR --batch 512 --out RUN/\n");
}

int sc_cmd_pretrain(int argc, char **argv) {
  enum { O_ARCH = 256, O_WIDTH, O_EPOCHS, O_STEPS, O_BATCH, O_RULE, O_LR, O_OPT, O_TEMP, O_OUT, O_RESUME, O_SEED,
         O_THREADS, O_CKPT, O_CROP, O_JITTER, O_BLUR, O_HEAD, O_PROJ, O_WARM, O_WD, O_BAD, O_SIZE, O_KBANK, O_KQ,
         O_KK, O_KT, O_MIN, O_JSON, O_QUIET, O_KILL, O_DATA };
  static const struct option opts[] = {
      {"data", required_argument, 0, O_DATA},        {"arch", required_argument, 0, O_ARCH},
      {"width", required_argument, 0, O_WIDTH},      {"epochs", required_argument, 0, O_EPOCHS},
      {"steps", required_argument, 0, O_STEPS},      {"batch", required_argument, 0, O_BATCH},
      {"lr-rule", required_argument, 0, O_RULE},     {"lr", required_argument, 0, O_LR},
      {"optimizer", required_argument, 0, O_OPT},    {"temperature", required_argument, 0, O_TEMP},
      {"out", required_argument, 0, O_OUT},          {"resume", no_argument, 0, O_RESUME},
      {"seed", required_argument, 0, O_SEED},        {"threads", required_argument, 0, O_THREADS},
      {"ckpt-every", required_argument, 0, O_CKPT},  {"crop-scale", required_argument, 0, O_CROP},
      {"jitter", required_argument, 0, O_JITTER},    {"blur", required_argument, 0, O_BLUR},
      {"head", required_argument, 0, O_HEAD},        {"proj-dim", required_argument, 0, O_PROJ},
      {"warmup-epochs", required_argument, 0, O_WARM}, {"weight-decay", required_argument, 0, O_WD},
      {"bad-files", required_argument, 0, O_BAD},    {"size", required_argument, 0, O_SIZE},
      {"knn-bank", required_argument, 0, O_KBANK},   {"knn-queries", required_argument, 0, O_KQ},
      {"knn-k", required_argument, 0, O_KK},         {"knn-temperature", required_argument, 0, O_KT},
      {"minutes", required_argument, 0, O_MIN},      {"json", no_argument, 0, O_JSON},
      {"quiet", no_argument, 0, O_QUIET},            {"kill-after-steps", required_argument, 0, O_KILL},
      {"help", no_argument, 0, 'h'},                 {0, 0, 0, 0}};
  const char *cmd = "pretrain";
  int rc = sc_cli_common_init(cmd);
  if (rc >= 0) return rc;
  sc_pretrain_options o;
  sc_pretrain_defaults(&o);
  int json = 0, settings = 0;
  int64_t v;
  double a, b;
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    settings += c != O_OUT && c != O_RESUME && c != O_THREADS && c != O_JSON && c != O_QUIET && c != O_KILL &&
                c != O_MIN && c != 'h';
    switch (c) {
    case O_DATA: o.data = optarg; break;
    case O_OUT: o.out = optarg; break;
    case O_RESUME: o.resume = 1; break;
    case O_ARCH:
      if (!strcmp(optarg, "resnet18")) o.depth = 18;
      else if (!strcmp(optarg, "resnet34")) o.depth = 34;
      else if (!strcmp(optarg, "resnet50")) o.depth = 50;
      else return sc_cli_usage_error(cmd, "--arch '%s' is not resnet18, resnet34 or resnet50", optarg);
      break;
    case O_WIDTH:
      if (!sc_parse_f64(optarg, 0.25, 4, &a) || (a != 0.25 && a != 0.5 && a != 1 && a != 2 && a != 4))
        return sc_cli_usage_error(cmd, "--width '%s' is not 0.25, 0.5, 1, 2 or 4", optarg);
      o.width = (float)a;
      break;
    case O_EPOCHS:
      if (!sc_parse_i64(optarg, 1, 1000000, &v)) return sc_cli_usage_error(cmd, "--epochs '%s' is not a count", optarg);
      o.epochs = (int)v;
      break;
    case O_STEPS:
      if (!sc_parse_i64(optarg, 1, INT64_C(1) << 40, &v))
        return sc_cli_usage_error(cmd, "--steps '%s' is not a count", optarg);
      o.steps = v;
      break;
    case O_BATCH:
      if (!sc_parse_i64(optarg, 2, 65536, &v)) return sc_cli_usage_error(cmd, "--batch '%s' is not from 2 to 65536", optarg);
      o.batch = (int)v;
      break;
    case O_RULE:
      if (!strcmp(optarg, "sqrt")) o.lr_rule = SC_LR_SQRT;
      else if (!strcmp(optarg, "linear")) o.lr_rule = SC_LR_LINEAR;
      else return sc_cli_usage_error(cmd, "--lr-rule '%s' is not sqrt or linear", optarg);
      break;
    case O_LR:
      if (!sc_parse_f64(optarg, 1e-12, 1e30, &o.lr)) return sc_cli_usage_error(cmd, "--lr '%s' is not a positive number", optarg);
      break;
    case O_OPT:
      if (!strcmp(optarg, "lars")) o.optimizer = SC_OPTIM_LARS;
      else if (!strcmp(optarg, "sgd")) o.optimizer = SC_OPTIM_SGD;
      else if (!strcmp(optarg, "adamw")) o.optimizer = SC_OPTIM_ADAMW;
      else return sc_cli_usage_error(cmd, "--optimizer '%s' is not lars, sgd or adamw", optarg);
      break;
    case O_TEMP:
      if (!sc_parse_f64(optarg, 1e-4, 100, &o.temperature))
        return sc_cli_usage_error(cmd, "--temperature '%s' is not a number from 1e-4 to 100", optarg);
      break;
    case O_SEED:
      if (!sc_parse_i64(optarg, 0, INT64_MAX, &v)) return sc_cli_usage_error(cmd, "--seed '%s' is not a number", optarg);
      o.seed = (uint64_t)v;
      break;
    case O_THREADS:
      if (!sc_parse_threads(optarg)) return sc_cli_usage_error(cmd, "--threads '%s' is not a count", optarg);
      break;
    case O_CKPT:
      if (!sc_parse_i64(optarg, 1, INT64_MAX, &v)) return sc_cli_usage_error(cmd, "--ckpt-every '%s' is not a count", optarg);
      o.ckpt_every = v;
      break;
    case O_CROP:
      if (!sc_parse_pair(optarg, 0.01, 1, &a, &b))
        return sc_cli_usage_error(cmd, "--crop-scale '%s' is not 'a,b' with 0.01 <= a <= b <= 1", optarg);
      o.crop_min = a, o.crop_max = b;
      break;
    case O_JITTER:
      if (!sc_parse_f64(optarg, 0, 2, &o.jitter)) return sc_cli_usage_error(cmd, "--jitter '%s' is not from 0 to 2", optarg);
      break;
    case O_BLUR:
      if (!sc_parse_f64(optarg, 0, 1, &o.blur)) return sc_cli_usage_error(cmd, "--blur '%s' is not a probability", optarg);
      break;
    case O_HEAD:
      if (!strcmp(optarg, "v1")) o.head = SC_HEAD_PROJ_V1;
      else if (!strcmp(optarg, "v2")) o.head = SC_HEAD_PROJ_V2;
      else return sc_cli_usage_error(cmd, "--head '%s' is not v1 or v2", optarg);
      break;
    case O_PROJ:
      if (!sc_parse_i64(optarg, 1, 65536, &v)) return sc_cli_usage_error(cmd, "--proj-dim '%s' is not a width", optarg);
      o.proj_dim = (int)v;
      break;
    case O_WARM:
      if (!sc_parse_f64(optarg, 0, 1e6, &o.warmup_epochs))
        return sc_cli_usage_error(cmd, "--warmup-epochs '%s' is not a number of epochs", optarg);
      break;
    case O_WD:
      if (!sc_parse_f64(optarg, 0, 10, &o.weight_decay))
        return sc_cli_usage_error(cmd, "--weight-decay '%s' is not from 0 to 10", optarg);
      break;
    case O_BAD:
      if (!strcmp(optarg, "stop")) o.bad_skip = 0;
      else if (!strcmp(optarg, "skip")) o.bad_skip = 1;
      else return sc_cli_usage_error(cmd, "--bad-files '%s' is not stop or skip", optarg);
      break;
    case O_SIZE:
      if (!sc_parse_i64(optarg, 8, 1024, &v)) return sc_cli_usage_error(cmd, "--size '%s' is not from 8 to 1024", optarg);
      o.size = (int)v;
      break;
    case O_KBANK:
      if (!sc_parse_i64(optarg, 0, 1000000, &v)) return sc_cli_usage_error(cmd, "--knn-bank '%s' is not a count", optarg);
      o.knn_bank = (int)v;
      break;
    case O_KQ:
      if (!sc_parse_i64(optarg, 0, 1000000, &v)) return sc_cli_usage_error(cmd, "--knn-queries '%s' is not a count", optarg);
      o.knn_queries = (int)v;
      break;
    case O_KK:
      if (!sc_parse_i64(optarg, 1, 100000, &v)) return sc_cli_usage_error(cmd, "--knn-k '%s' is not a count", optarg);
      o.knn_k = (int)v;
      break;
    case O_KT:
      if (!sc_parse_f64(optarg, 1e-4, 100, &o.knn_temperature))
        return sc_cli_usage_error(cmd, "--knn-temperature '%s' is not from 1e-4 to 100", optarg);
      break;
    case O_MIN:
      if (!sc_parse_f64(optarg, 1e-3, 1e7, &o.max_minutes))
        return sc_cli_usage_error(cmd, "--minutes '%s' is not a positive number", optarg);
      break;
    case O_JSON: json = 1; break;
    case O_QUIET: o.quiet = 1; break;
    case O_KILL:
      if (!sc_parse_i64(optarg, 1, INT64_MAX, &v)) return sc_cli_usage_error(cmd, "--kill-after-steps '%s' is not a count", optarg);
      o.kill_after_steps = v;
      break;
    case 'h': help(); return SC_EXIT_OK;
    default: return sc_cli_usage_error(cmd, "unknown option");
    }
  }
  if (optind < argc) return sc_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  if (!o.out) return sc_cli_usage_error(cmd, "--out RUN is required");
  if (o.resume && settings)
    fprintf(stderr, "simclr pretrain: --resume: the run's settings come from its checkpoint; the training options "
                    "given are ignored\n");
  sc_pretrain_result r;
#ifdef SC_HAVE_MPI
  /* launched by mpirun (Open MPI or MPICH): a data-parallel run over the job's ranks */
  if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE")) {
    sc_status ist = sc_dist_init(NULL, NULL, 0, &o.dist);
    if (ist != SC_OK) return sc_cli_fail(cmd, "MPI", ist);
  }
  const int rank = o.dist ? sc_dist_rank(o.dist) : 0;
#else
  const int rank = 0;
#endif
  sc_status st = sc_pretrain_run(&o, &r);
#ifdef SC_HAVE_MPI
  if (o.dist) {
    if (st != SC_OK) {
      fprintf(stderr, "simclr pretrain: rank %d of %d: %s\n", rank, sc_dist_size(o.dist), sc_last_error());
      sc_dist_abort(o.dist, SC_EXIT_FAIL); /* the other ranks cannot go on without this one */
    }
    sc_dist_finalize(o.dist);
  }
#endif
  if (st != SC_OK) return sc_cli_fail(cmd, "training", st);
  if (rank != 0) return SC_EXIT_OK; /* rank 0 reports for the job */
  if (json) {
    char knn[32];
    snprintf(knn, sizeof knn, r.knn_acc >= 0 ? "%.4f" : "null", r.knn_acc);
    json_t *path = json_string(r.checkpoint);
    char *ps = json_dumps(path, JSON_ENCODE_ANY);
    printf("{\"checkpoint\":%s,\"steps\":%lld,\"start_step\":%lld,\"epochs\":%lld,\"final_loss\":%.6g,"
           "\"knn_acc\":%s,\"wall_s\":%.2f,\"img_s\":%.1f,\"stopped_early\":%s}\n",
           ps ? ps : "null", (long long)r.steps, (long long)r.start_step, (long long)r.epochs_done, r.final_loss, knn,
           r.wall_s, r.img_per_s, r.stopped_early ? "true" : "false");
    free(ps), json_decref(path);
  } else {
    printf("pretrained %lld steps (%lld epochs) in %.1f s, %.0f images/s; final loss %.4f", (long long)r.steps,
           (long long)r.epochs_done, r.wall_s, r.img_per_s, r.final_loss);
    if (r.knn_acc >= 0) printf(", kNN accuracy %.2f%%", 100 * r.knn_acc);
    printf("\ncheckpoint: %s\n", r.checkpoint);
  }
  return SC_EXIT_OK;
}
