/* train_util.c: the shared pieces of the training commands (see train_util.h). Never writes to stdout, never
 * exits; progress lines go to stderr through progress.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "data/loader.h"
#include "data/subset.h"
#include "model/fold.h"
#include "train/supervised.h"
#include "train_util.h"

sc_status sc_open_data(const char *path, int test, int channels, sc_bad_policy bad, sc_dataset **out) {
  struct stat sb;
  if (stat(path, &sb) != 0) return sc_error(SC_EIO, "%s: %s", path, strerror(errno));
  sc_dataset_options o = sc_dataset_options_default();
  o.path = path, o.test_split = test, o.channels = channels, o.bad = bad;
  /* JPEGs of 512 px or more on their short side decode with DCT scaling (1/2, 1/4, ...) to a short side still >= 256:
   * several times faster, and enough for the default 224 px views */
  o.min_short = 256;
  return sc_dataset_open(&o, out);
}

static int is_array(const sc_dataset *ds) {
  return ds->format == SC_DATA_IDX || ds->format == SC_DATA_CIFAR10 || ds->format == SC_DATA_CIFAR100;
}

sc_status sc_open_eval_data(const char *train_path, const char *test_path, const sc_dataset *train, int channels,
                            sc_bad_policy bad, sc_dataset **out, int *held_out) {
  *out = NULL, *held_out = 0;
  if (test_path) return sc_open_data(test_path, 0, channels, bad, out);
  if (is_array(train)) {
    /* an IDX or CIFAR file named directly is the train split itself: its test split, if any, sits beside it */
    if (sc_open_data(train_path, 1, channels, bad, out) == SC_OK && (*out)->n > 0 && (*out)->n != train->n)
      return SC_OK;
    if (*out) sc_dataset_close(*out), *out = NULL;
  }
  *held_out = 1;
  return SC_OK;
}

sc_status sc_pick_labelled(const sc_dataset *ds, const char *labels_file, double fraction, uint64_t seed,
                           int64_t **idx, int64_t *n) {
  if (!ds->labels) return sc_error(SC_EINVAL, "%s: the data has no labels (use class folders, IDX or CIFAR)", ds->root);
  if (labels_file) return sc_subset_from_file(ds, labels_file, idx, n);
  return sc_subset_balanced(ds, fraction, seed, idx, n);
}

sc_status sc_complement(int64_t n, const int64_t *idx, int64_t k, int64_t **out, int64_t *nout) {
  int64_t *r = malloc(sizeof *r * (size_t)(n > 0 ? n : 1));
  if (!r) return sc_error(SC_ENOMEM, "out of memory");
  int64_t m = 0, j = 0;
  for (int64_t i = 0; i < n; i++) {
    while (j < k && idx[j] < i) j++;
    if (j < k && idx[j] == i) continue;
    r[m++] = i;
  }
  *out = r, *nout = m;
  return SC_OK;
}

int sc_default_size(const sc_dataset *ds) {
  if (ds->px && ds->w && ds->n > 0) {
    int same = 1;
    for (int64_t i = 1; i < ds->n && same; i++) same = ds->w[i] == ds->w[0] && ds->h[i] == ds->h[0];
    if (same && ds->w[0] == ds->h[0] && (is_array(ds) || ds->w[0] <= 64)) return ds->w[0];
  }
  return 224;
}

/* runs batches of images through the folded encoder f, or else through m in inference mode; calls back with the
 * rows of each batch */
typedef sc_status (*batch_fn)(void *ctx, sc_model *m, const sc_batch *b, int64_t first);

static sc_status for_each_batch(sc_model *m, sc_folded *f, int64_t cap, const sc_dataset *ds, const int64_t *idx,
                                int64_t n, const sc_augment_options *aug, sc_progress *pg, batch_fn fn, void *ctx) {
  sc_loader_options lo = {.batch_size = (int)cap, .no_shuffle = 1, .mode = SC_VIEW_EVAL, .aug = *aug,
                          .subset = idx, .nsubset = idx ? n : 0};
  sc_loader *l;
  SC_TRY(sc_loader_create(ds, &lo, &l));
  sc_status st = sc_loader_start_epoch(l, 0);
  const size_t per = (size_t)aug->size * aug->size * aug->channels;
  int64_t done = 0;
  while (st == SC_OK) {
    const sc_batch *b;
    if ((st = sc_loader_next(l, &b)) != SC_OK || !b) break;
    memcpy(f ? sc_folded_input(f) : sc_model_input(m), b->x[0], per * (size_t)b->n * sizeof(float));
    if ((st = f ? sc_folded_forward(f, b->n) : sc_model_forward(m, 0)) != SC_OK) break;
    st = fn(ctx, m, b, done);
    done += b->n;
    if (pg) {
      char f[64];
      snprintf(f, sizeof f, "images");
      sc_progress_update(pg, done, f);
    }
  }
  sc_loader_destroy(l);
  return st;
}

unsigned sc_parse_stages(const char *s) {
  unsigned mask = 0;
  for (const char *p = s; *p;) {
    if (*p < '1' || *p > '4' || (mask & 1u << (*p - '1'))) return 0;
    mask |= 1u << (*p - '1');
    if (*++p == ',' && p[1]) p++;
    else if (*p) return 0;
  }
  return mask;
}

typedef struct feat_ctx {
  float *out;
  int64_t dim;
  const sc_folded *f;
} feat_ctx;

static sc_status feat_cb(void *ctx, sc_model *m, const sc_batch *b, int64_t first) {
  (void)m;
  feat_ctx *c = ctx;
  memcpy(c->out + first * c->dim, sc_folded_features(c->f, NULL, NULL), sizeof(float) * (size_t)(b->n * c->dim));
  return SC_OK;
}

sc_status sc_extract_features(sc_model *m, int64_t cap, const sc_dataset *ds, const int64_t *idx, int64_t n,
                              const sc_augment_options *aug, sc_feature_spec fs, sc_progress *pg, float **feat,
                              int64_t *dim) {
  if (!idx) n = ds->n;
  if (!fs.stages) fs = SC_FEATURES_H;
  sc_folded *f = NULL; /* it refuses a bad stage mask or grid */
  SC_TRY(sc_folded_create_maps(m, fs.stages, fs.grid, &f));
  feat_ctx c = {NULL, sc_folded_feature_dim(f), f};
  if (cap > 256) cap = 256; /* the folded copy's buffers come on top of m's: no need for more */
  sc_status st = sc_folded_plan(f, cap);
  if (st == SC_OK && !(c.out = malloc(sizeof(float) * (size_t)(n * c.dim) + 1)))
    st = sc_error(SC_ENOMEM, "out of memory for %lld x %lld features", (long long)n, (long long)c.dim);
  if (st == SC_OK) st = for_each_batch(m, f, cap, ds, idx, n, aug, pg, feat_cb, &c);
  sc_folded_free(f);
  if (st != SC_OK) {
    free(c.out);
    return st;
  }
  *feat = c.out, *dim = c.dim;
  return SC_OK;
}

typedef struct eval_ctx {
  int64_t h1, h5, n;
} eval_ctx;

static sc_status eval_cb(void *ctx, sc_model *m, const sc_batch *b, int64_t first) {
  (void)first;
  eval_ctx *c = ctx;
  int64_t rows, k;
  const float *z = sc_model_output(m, &rows, &k);
  for (int i = 0; i < b->n; i++) {
    const float *s = z + i * k;
    int32_t y = b->labels[i];
    if (y < 0 || y >= k) return sc_error(SC_EINVAL, "evaluation: label %d outside the %lld classes", y, (long long)k);
    int64_t above = 0;
    for (int64_t j = 0; j < k; j++) above += s[j] > s[y] || (s[j] == s[y] && j < y);
    c->h1 += above == 0, c->h5 += above < 5, c->n++;
  }
  return SC_OK;
}

sc_status sc_eval_classifier(sc_model *m, int64_t cap, const sc_dataset *ds, const int64_t *idx, int64_t n,
                             const sc_augment_options *aug, double *top1, double *top5) {
  eval_ctx c = {0};
  if (!idx) n = ds->n;
  SC_TRY(for_each_batch(m, NULL, cap, ds, idx, n, aug, NULL, eval_cb, &c));
  *top1 = c.n ? (double)c.h1 / (double)c.n : 0, *top5 = c.n ? (double)c.h5 / (double)c.n : 0;
  return SC_OK;
}

sc_status sc_gather_labels(const sc_dataset *ds, const int64_t *idx, int64_t n, int32_t **out) {
  if (!ds->labels) return sc_error(SC_EINVAL, "%s: the data has no labels", ds->root);
  if (!idx) n = ds->n;
  int32_t *y = malloc(sizeof *y * (size_t)(n + 1));
  if (!y) return sc_error(SC_ENOMEM, "out of memory");
  for (int64_t i = 0; i < n; i++) y[i] = ds->labels[idx ? idx[i] : i];
  *out = y;
  return SC_OK;
}

sc_status sc_gather_pixels(const sc_dataset *ds, const int64_t *idx, int64_t n, float **out, int64_t *dim) {
  if (!idx) n = ds->n;
  if (!ds->px) return sc_error(SC_EUNSUPPORTED, "%s: raw pixels need a dataset held in memory", ds->root);
  int64_t d = (int64_t)ds->w[0] * ds->h[0] * ds->c;
  float *x = malloc(sizeof(float) * (size_t)(n * d) + 1);
  if (!x) return sc_error(SC_ENOMEM, "out of memory");
  for (int64_t i = 0; i < n; i++) {
    int64_t j = idx ? idx[i] : i;
    if (ds->w[j] != ds->w[0] || ds->h[j] != ds->h[0]) {
      free(x);
      return sc_error(SC_EUNSUPPORTED, "%s: images of different sizes", ds->root);
    }
    const uint8_t *p = ds->px + ds->off[j];
    for (int64_t t = 0; t < d; t++) x[i * d + t] = p[t] / 255.0f;
  }
  *out = x, *dim = d;
  return SC_OK;
}

sc_status sc_train_supervised(sc_model *m, const sc_dataset *ds, const int64_t *idx, int64_t n,
                              const sc_sup_options *o, double *loss, int *epochs) {
  int batch = o->batch < n ? o->batch : (int)n;
  if (batch < 2) return sc_error(SC_EINVAL, "supervised: %lld labelled images (at least 2 needed)", (long long)n);
  const sc_model_config *mc = sc_model_config_of(m);
  sc_optim_config oc = sc_optim_defaults(SC_OPTIM_SGD);
  oc.momentum = 0.9f, oc.nesterov = 1, oc.weight_decay = o->weight_decay;
  sc_supervised *s;
  SC_TRY(sc_supervised_create(m, batch, &oc, o->only_fc, &s));
  sc_loader_options lo = {.batch_size = batch, .drop_last = 1, .seed = o->seed, .mode = SC_VIEW_PROBE_TRAIN,
                          .subset = idx, .nsubset = n};
  lo.aug = sc_augment_defaults(mc->image_size, mc->in_channels, -1);
  lo.aug.crop_area_min = (float)o->crop_min, lo.aug.crop_area_max = (float)o->crop_max;
  sc_loader *l;
  sc_status st = sc_loader_create(ds, &lo, &l);
  if (st != SC_OK) {
    sc_supervised_free(s);
    return st;
  }
  const int64_t per_epoch = sc_loader_batches_per_epoch(l), total = per_epoch * o->epochs;
  int64_t warm = total / 10 < 5 * per_epoch ? total / 10 : 5 * per_epoch, step = 0;
  const size_t px = (size_t)mc->image_size * mc->image_size * mc->in_channels;
  sc_progress pg;
  sc_progress_begin(&pg, o->only_fc ? "probe" : "train", total, o->quiet);
  double sum = 0;
  const double t0 = sc_now();
  int e = 0;
  for (; e < o->epochs && st == SC_OK; e++) {
    if (e > 0 && e >= o->min_epochs && o->max_seconds > 0 && (sc_now() - t0) / e * (e + 1) > o->max_seconds) {
      sc_progress_log(&pg, "simclr: the time budget of %.0f s is spent after %d of %d epochs", o->max_seconds, e,
                      o->epochs);
      break;
    }
    sum = 0;
    if ((st = sc_loader_start_epoch(l, e)) != SC_OK) break;
    for (;;) {
      const sc_batch *b;
      if ((st = sc_loader_next(l, &b)) != SC_OK || !b) break;
      memcpy(sc_supervised_images(s), b->x[0], px * (size_t)b->n * sizeof(float));
      memcpy(sc_supervised_labels(s), b->labels, sizeof(int32_t) * (size_t)b->n);
      float lv, lr = (float)sc_lr_at(o->lr, step, warm, total);
      if ((st = sc_supervised_step(s, lr, &lv)) != SC_OK) break;
      if (!isfinite(lv)) {
        st = sc_error(SC_ENUMERIC, "supervised: loss is %g at step %lld (learning rate too high?)", lv,
                      (long long)step);
        break;
      }
      sum += lv, step++;
      char f[96];
      snprintf(f, sizeof f, "epoch %d loss %.4f lr %.4f", e + 1, lv, lr);
      sc_progress_update(&pg, step, f);
    }
  }
  char f[64];
  snprintf(f, sizeof f, "loss %.4f", per_epoch ? sum / (double)per_epoch : 0.0);
  if (st == SC_OK) sc_progress_end(&pg, step, f);
  if (loss) *loss = per_epoch ? sum / (double)per_epoch : 0.0;
  if (epochs) *epochs = e;
  sc_loader_destroy(l);
  sc_supervised_free(s);
  return st;
}
