/* train_util.h: what the training commands (pretrain, probe, finetune, supervised, demo) share: option parsing
 * helpers, opening the train and test data, frozen-feature extraction, evaluation of a classifier, supervised
 * training on a labelled subset, and the pretraining run itself (so that the demo runs exactly what `simclr
 * pretrain` runs). Functions return sc_status with an sc_error() message; only progress and log lines go to stderr.
 * Nothing here writes to stdout or exits. */
#ifndef SC_CLI_TRAIN_UTIL_H
#define SC_CLI_TRAIN_UTIL_H

#include <stdint.h>

#include "data/augment.h"
#include "data/dataset.h"
#include "model/model.h"
#include "optim/optim.h"
#include "progress.h"
#include "train/logreg.h"

/* ---- data ---- */
/* Opens path (train split unless test); channels 0 = the source's own. */
sc_status sc_open_data(const char *path, int test, int channels, sc_bad_policy bad, sc_dataset **out);
/* The evaluation data for a labelled run: test_path when given; else the test split of an array dataset (IDX,
 * CIFAR) at train_path; else NULL (*held_out = 1: evaluate on the training images outside the labelled subset). */
sc_status sc_open_eval_data(const char *train_path, const char *test_path, const sc_dataset *train, int channels,
                            sc_bad_policy bad, sc_dataset **out, int *held_out);
/* The labelled subset: --labels FILE or a balanced fraction chosen by seed. */
sc_status sc_pick_labelled(const sc_dataset *ds, const char *labels_file, double fraction, uint64_t seed,
                           int64_t **idx, int64_t *n);
/* The indices of [0, n) not in sorted idx[0..k). */
sc_status sc_complement(int64_t n, const int64_t *idx, int64_t k, int64_t **out, int64_t *nout);
/* The view size for a dataset: array formats their own size, otherwise 224 (image folders held in memory with one
 * common size use it too). */
int sc_default_size(const sc_dataset *ds);

/* ---- frozen features and evaluation ---- */
/* Which maps of the encoder make the frozen features: the output of each stage in `stages` (bit s-1: stage s,
 * torchvision's layer<s>), average-pooled onto at most grid x grid cells (fewer on a smaller map), side by side per
 * image in stage order, each cells row-major with channels innermost. Stage 4 on one cell is the pooled feature
 * vector h that SimCLR evaluates (SC_FEATURES_H). */
typedef struct sc_feature_spec {
  unsigned stages;
  int grid;
} sc_feature_spec;
#define SC_FEATURES_H ((sc_feature_spec){.stages = 8u, .grid = 1})
enum { SC_FEATURE_GRID_MAX = 16 };
/* Parses a comma-separated list of stages (1..4) such as "3,4" into a stage mask; 0 if it is not one. */
unsigned sc_parse_stages(const char *s);
/* Features [n][*dim] (malloc'd, as fs says) of images idx[0..n) (all images when idx is NULL) through the
 * evaluation view and the BN-folded inference encoder of m (src/model/fold.h), in batches of cap images (at most
 * 256). m itself need not be planned. */
sc_status sc_extract_features(sc_model *m, int64_t cap, const sc_dataset *ds, const int64_t *idx, int64_t n,
                              const sc_augment_options *aug, sc_feature_spec fs, sc_progress *pg, float **feat,
                              int64_t *dim);
/* Top-1/top-5 accuracy of a model with a classifier on images idx[0..n) (all when NULL). */
sc_status sc_eval_classifier(sc_model *m, int64_t cap, const sc_dataset *ds, const int64_t *idx, int64_t n,
                             const sc_augment_options *aug, double *top1, double *top5);
/* Labels of images idx[0..n) (all when NULL), malloc'd. */
sc_status sc_gather_labels(const sc_dataset *ds, const int64_t *idx, int64_t n, int32_t **out);
/* Raw pixels in [0,1] of images idx[0..n) (all when NULL) at their stored size, [n][h*w*c] (malloc'd); all images
 * must share one size. */
sc_status sc_gather_pixels(const sc_dataset *ds, const int64_t *idx, int64_t n, float **out, int64_t *dim);

/* ---- supervised training on a labelled subset (fine-tuning and the from-scratch baseline) ---- */
typedef struct sc_sup_options {
  int epochs, batch;
  double lr;          /* peak (cosine schedule with a warm-up of a tenth of the run, at most 5 epochs) */
  float weight_decay; /* SGD with Nesterov momentum 0.9 */
  double crop_min, crop_max;
  uint64_t seed;
  int only_fc;
  int quiet;
  double max_seconds; /* > 0: stop after the epoch that would let the next one end past this (the demo's budget) */
  int min_epochs;     /* ... but never before this many epochs */
} sc_sup_options;
/* Trains m (planned here for o->batch) on images idx[0..n) with crop + flip; *loss gets the last epoch's mean and
 * *epochs (may be NULL) the epochs done (fewer than o->epochs when max_seconds stopped it). */
sc_status sc_train_supervised(sc_model *m, const sc_dataset *ds, const int64_t *idx, int64_t n,
                              const sc_sup_options *o, double *loss, int *epochs);

/* ---- pretraining ---- */
typedef struct sc_pretrain_options {
  const char *data, *out;
  int depth;
  float width;
  int head, proj_dim;
  int epochs;
  int64_t steps; /* > 0: total steps instead of epochs * batches per epoch */
  int batch;
  int lr_rule; /* sc_lr_scaling */
  double lr;   /* > 0: the peak learning rate itself */
  int optimizer; /* sc_optim_kind */
  double temperature;   /* <= 0: 0.5 at 32 px or less, else 0.1 */
  uint64_t seed;
  int64_t ckpt_every;   /* steps; 0: at the end of each epoch */
  double crop_min, crop_max;
  double jitter;        /* < 0: 0.5 at 32 px or less, else 1.0 */
  double blur;          /* < 0: 0 at 32 px or less, else 0.5 */
  double warmup_epochs; /* < 0: 10, or a tenth of the run when that is shorter */
  double weight_decay;  /* < 0: 1e-6 (LARS, SGD) or 1e-2 (AdamW) */
  int bad_skip;
  int size; /* 0: sc_default_size */
  int knn_bank, knn_queries, knn_k;
  double knn_temperature;
  double max_minutes;       /* > 0: stop (with a checkpoint) once this much time has passed */
  int64_t kill_after_steps; /* testing: SIGKILL itself right after the checkpoint at this step */
  int resume;
  int overwrite; /* start afresh even if out already holds a checkpoint (the demo) */
  int quiet;
  int loader_threads;
  struct sc_dist *dist; /* under mpirun: the communicator (data-parallel run, --batch global), else NULL */
} sc_pretrain_options;

void sc_pretrain_defaults(sc_pretrain_options *o);

typedef struct sc_pretrain_result {
  int64_t steps, epochs_done, start_step;
  double final_loss;   /* mean loss of the last logged epoch (or of the steps since the last epoch) */
  double knn_acc;      /* last kNN accuracy, or -1 */
  double wall_s, img_per_s;
  int diverged, stopped_early;
  char checkpoint[4096];
} sc_pretrain_result;

/* Runs (or resumes) a pretraining run into o->out. SC_ENUMERIC if it diverged (the last good checkpoint stays). */
sc_status sc_pretrain_run(const sc_pretrain_options *o, sc_pretrain_result *r);

/* The seconds one SimCLR step takes for this model, batch and view size (o->size, which must be set) on synthetic
 * data of `channels` channels (the demo's time budget). */
sc_status sc_pretrain_calibrate(const sc_pretrain_options *o, int channels, double *sec_per_step);

/* ---- linear probe and supervised runs (shared by their commands and the demo) ---- */
typedef struct sc_probe_options {
  const char *ckpt, *data, *test_data, *labels;
  double fraction;
  uint64_t seed;
  double l2;       /* 0: chosen by cross-validation on the labelled images */
  int batch, bad_skip, quiet;
  sc_feature_spec features; /* {0}: SC_FEATURES_H */
  int keep_test_features;   /* hand the test features and labels back in the result (the demo's kNN picture) */
} sc_probe_options;

typedef struct sc_eval_result {
  double train_top1, train_top5, test_top1, test_top5, loss;
  double l2, cv_top1; /* probes: the L2 weight used; its cross-validated accuracy when it was chosen so */
  int64_t ntrain, ntest, dim;
  int held_out; /* the test images are the training images outside the labelled subset */
  double wall_s;
  int epochs;            /* supervised runs: epochs done */
  float *test_features;  /* [ntest][dim], only with keep_test_features (free it) */
  int32_t *test_labels;  /* [ntest], likewise */
} sc_eval_result;

/* The probe's classifier on x [n][d] with labels y: logistic regression with L2 weight l2, or with l2 <= 0 the
 * weight chosen by 5-fold cross-validation on x, y (sc_logreg_choose_l2, grid 1e-4 .. 0.3). *l2_used is the weight
 * used, *cv_top1 its cross-validated accuracy (0 when l2 was given). */
sc_status sc_probe_fit(const float *x, const int32_t *y, int64_t n, int64_t d, int k, double l2, sc_logreg *out,
                       double *l2_used, double *cv_top1);
/* Linear evaluation: frozen features (extracted once, BN in inference mode) and logistic regression. */
sc_status sc_probe_run(const sc_probe_options *o, sc_eval_result *r);

typedef struct sc_sup_run_options {
  const char *ckpt; /* NULL: a new network (depth, width, seed) trained from scratch */
  const char *data, *test_data, *labels, *out;
  double fraction;
  int depth;
  float width;
  int size, bad_skip;
  sc_sup_options train;
} sc_sup_run_options;

/* Fine-tunes (ckpt given) or trains from scratch on the labelled subset, evaluates, and writes out (if non-NULL)
 * as a checkpoint with the classifier and the class names. */
sc_status sc_sup_run(const sc_sup_run_options *o, sc_eval_result *r);
/* The command-line side of supervised and finetune: parsing (returns -1 to go on, else an exit code) and the
 * report on stdout. */
int sc_sup_parse(const char *cmd, int finetune, int argc, char **argv, sc_sup_run_options *o, int *json);
int sc_sup_report(const char *cmd, const sc_sup_run_options *o, const sc_eval_result *r, int json);

#endif
