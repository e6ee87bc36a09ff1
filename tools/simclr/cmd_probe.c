/* cmd_probe.c: `simclr probe`: linear evaluation of a pretrained encoder. The encoder is frozen (BN in inference
 * mode); the features of the labelled training images and of the test images are extracted once through the
 * evaluation view and the BN-folded inference encoder (src/model/fold.h), then an L2-regularised multinomial
 * logistic regression (src/train/logreg) is fitted by L-BFGS on the labelled features, its L2 weight chosen by
 * cross-validation on those features unless given. Prints train and test accuracy, top-1 and top-5. Results on
 * stdout, logs on stderr. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"
#include "train/checkpoint.h"
#include "train/logreg.h"
#include "train_util.h"

/* The L2 weights tried when the probe chooses its own: a log grid wide enough for 600 images of 128 features as well
 * as 60,000 of 2048. */
static const double l2_grid[] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1};
#define L2_FOLDS 5

sc_status sc_probe_fit(const float *x, const int32_t *y, int64_t n, int64_t d, int k, double l2, sc_logreg *out,
                       double *l2_used, double *cv_top1) {
  sc_logreg_options lo = sc_logreg_defaults();
  *cv_top1 = 0;
  if (l2 > 0) {
    lo.l2 = l2;
  } else {
    const int ngrid = (int)(sizeof l2_grid / sizeof *l2_grid);
    SC_TRY(sc_logreg_choose_l2(x, y, n, d, k, l2_grid, ngrid, L2_FOLDS, &lo, &lo.l2, cv_top1));
  }
  *l2_used = lo.l2;
  return sc_logreg_fit(x, y, n, d, k, &lo, out);
}

sc_status sc_probe_run(const sc_probe_options *o, sc_eval_result *r) {
  memset(r, 0, sizeof *r);
  const double t0 = sc_now();
  sc_model *m = NULL;
  sc_dataset *ds = NULL, *test = NULL;
  int64_t *idx = NULL, nidx = 0, *tidx = NULL, ntidx = 0;
  float *ftr = NULL, *fte = NULL, *scores = NULL;
  int32_t *ytr = NULL, *yte = NULL;
  sc_logreg lr = {0};
  int64_t d = 0;
  sc_status st = sc_checkpoint_load_model(o->ckpt, NULL, &m);
  if (st != SC_OK) goto done;
  const sc_model_config *mc = sc_model_config_of(m);
  const int64_t cap = o->batch > 1 ? o->batch : 256;
  const sc_bad_policy bad = o->bad_skip ? SC_BAD_SKIP : SC_BAD_STOP;
  if ((st = sc_open_data(o->data, 0, mc->in_channels, bad, &ds)) != SC_OK) goto done;
  if ((st = sc_pick_labelled(ds, o->labels, o->fraction, o->seed, &idx, &nidx)) != SC_OK) goto done;
  if ((st = sc_open_eval_data(o->data, o->test_data, ds, mc->in_channels, bad, &test, &r->held_out)) != SC_OK)
    goto done;
  if (test && !test->labels) {
    st = sc_error(SC_EINVAL, "%s: the test data has no labels", test->root);
    goto done;
  }
  if (r->held_out && (st = sc_complement(ds->n, idx, nidx, &tidx, &ntidx)) != SC_OK) goto done;
  const sc_dataset *tds = test ? test : ds;
  if (tds->nclasses > ds->nclasses) {
    st = sc_error(SC_EINVAL, "%s has %d classes, the training data %s only %d", tds->root, tds->nclasses, ds->root,
                  ds->nclasses);
    goto done;
  }
  sc_augment_options aug = sc_augment_defaults(mc->image_size, mc->in_channels, -1);
  sc_progress pg;
  sc_progress_begin(&pg, "features (labelled)", nidx, o->quiet);
  const sc_feature_spec fs = o->features;
  if ((st = sc_extract_features(m, cap, ds, idx, nidx, &aug, fs, &pg, &ftr, &d)) != SC_OK) goto done;
  sc_progress_end(&pg, nidx, NULL);
  const int64_t nte = test ? test->n : ntidx;
  sc_progress_begin(&pg, r->held_out ? "features (held-out)" : "features (test)", nte, o->quiet);
  if (nte > 0 && (st = sc_extract_features(m, cap, tds, test ? NULL : tidx, nte, &aug, fs, &pg, &fte, &d)) != SC_OK)
    goto done;
  sc_progress_end(&pg, nte, NULL);
  if ((st = sc_gather_labels(ds, idx, nidx, &ytr)) != SC_OK) goto done;
  if ((st = sc_gather_labels(tds, test ? NULL : tidx, nte, &yte)) != SC_OK) goto done;
  double tf = sc_now();
  if ((st = sc_probe_fit(ftr, ytr, nidx, d, ds->nclasses, o->l2, &lr, &r->l2, &r->cv_top1)) != SC_OK) goto done;
  if (o->l2 <= 0)
    sc_progress_log(&pg, "simclr probe: l2 %g chosen by %d-fold cross-validation on the labelled images (top-1 %.2f%%)",
                    r->l2, L2_FOLDS, 100 * r->cv_top1);
  sc_progress_log(&pg, "simclr probe: logistic regression on %lld x %lld features, %d classes, l2 %g: %d L-BFGS "
                  "iterations, %.2f s%s", (long long)nidx, (long long)d, ds->nclasses, r->l2, lr.iters, sc_now() - tf,
                  lr.converged ? "" : " (stopped before the gradient tolerance)");
  int64_t nmax = nidx > nte ? nidx : nte;
  scores = malloc(sizeof(float) * (size_t)(nmax * ds->nclasses) + 1);
  if (!scores) {
    st = sc_error(SC_ENOMEM, "out of memory");
    goto done;
  }
  if ((st = sc_logreg_scores(&lr, ftr, nidx, scores)) != SC_OK) goto done;
  sc_topk_accuracy(scores, ytr, nidx, ds->nclasses, &r->train_top1, &r->train_top5);
  if (nte > 0) {
    if ((st = sc_logreg_scores(&lr, fte, nte, scores)) != SC_OK) goto done;
    sc_topk_accuracy(scores, yte, nte, ds->nclasses, &r->test_top1, &r->test_top5);
  }
  r->ntrain = nidx, r->ntest = nte, r->dim = d, r->loss = lr.loss;
  if (o->keep_test_features) r->test_features = fte, r->test_labels = yte, fte = NULL, yte = NULL;
done:
  r->wall_s = sc_now() - t0;
  sc_logreg_free(&lr);
  free(idx), free(tidx), free(ftr), free(fte), free(scores), free(ytr), free(yte);
  sc_dataset_close(test);
  sc_dataset_close(ds);
  sc_model_free(m);
  return st;
}

static void help(void) {
  printf("Usage: simclr probe --ckpt CKPT [--data PATH] [--test-data PATH] [--label-fraction F | --labels FILE]\n\n"
         "Linear evaluation: features of the frozen encoder (BN in inference mode, extracted once), then an\n"
         "L2-regularised multinomial logistic regression fitted by L-BFGS on the labelled images. Prints train and\n"
         "test accuracy (top-1, top-5).\n\n"
         "  --ckpt CKPT           a checkpoint (pretraining run, or torchvision-named safetensors)\n"
         "  --data PATH           labelled training data: class folders, IDX or CIFAR (default:\n"
         "                        " SC_DEFAULT_DATASET ", its train files)\n"
         "  --test-data PATH      test data (default: the test split of IDX/CIFAR data, e.g. the t10k files;\n"
         "                        for image folders the training images outside the labelled subset)\n"
         "  --label-fraction F    train on this fraction of each class, chosen by --seed (default 0.01)\n"
         "  --labels FILE         train on the images named in FILE (one file name per line) instead\n"
         "  --seed S              seed of the labelled subset (default 0)\n"
         "  --layers L[,L...]     the stages (1-4, torchvision's layer1..layer4) whose maps give the features\n"
         "                        (default 4: the encoder's output)\n"
         "  --grid G              each map average-pooled onto at most G x G cells, side by side (default 1:\n"
         "                        global average pooling; --layers 4 --grid 1 is SimCLR's representation h)\n"
         "  --l2 L|auto           weight of the L2 penalty on standardised features (default auto: chosen from\n"
         "                        1e-4 .. 0.3 by 5-fold cross-validation on the labelled images)\n"
         "  --batch B             images per forward pass (default 256)\n"
         "  --threads N           compute threads\n"
         "  --bad-files stop|skip stop at an unreadable image (default) or skip it\n"
         "  --json                print the result as JSON\n"
         "  --quiet               no progress output\n"
         "  -h, --help            this help\n");
}

int sc_cmd_probe(int argc, char **argv) {
  enum { O_CKPT = 256, O_DATA, O_TEST, O_FRAC, O_LABELS, O_SEED, O_L2, O_BATCH, O_THREADS, O_BAD, O_JSON, O_QUIET,
         O_LAYERS, O_GRID };
  static const struct option opts[] = {
      {"ckpt", required_argument, 0, O_CKPT},       {"data", required_argument, 0, O_DATA},
      {"test-data", required_argument, 0, O_TEST},  {"label-fraction", required_argument, 0, O_FRAC},
      {"labels", required_argument, 0, O_LABELS},   {"seed", required_argument, 0, O_SEED},
      {"l2", required_argument, 0, O_L2},           {"batch", required_argument, 0, O_BATCH},
      {"threads", required_argument, 0, O_THREADS}, {"bad-files", required_argument, 0, O_BAD},
      {"json", no_argument, 0, O_JSON},             {"quiet", no_argument, 0, O_QUIET},
      {"layers", required_argument, 0, O_LAYERS},   {"grid", required_argument, 0, O_GRID},
      {"help", no_argument, 0, 'h'},                {0, 0, 0, 0}};
  const char *cmd = "probe";
  int rc = sc_cli_common_init(cmd);
  if (rc >= 0) return rc;
  sc_probe_options o = {.data = SC_DEFAULT_DATASET, .fraction = 0.01, .batch = 256, .features = SC_FEATURES_H};
  int json = 0, have_frac = 0;
  int64_t v;
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    switch (c) {
    case O_CKPT: o.ckpt = optarg; break;
    case O_DATA: o.data = optarg; break;
    case O_TEST: o.test_data = optarg; break;
    case O_FRAC:
      if (!sc_parse_f64(optarg, 1e-9, 1, &o.fraction) || !(o.fraction > 0))
        return sc_cli_usage_error(cmd, "--label-fraction '%s' is not in (0, 1]", optarg);
      have_frac = 1;
      break;
    case O_LABELS: o.labels = optarg; break;
    case O_SEED:
      if (!sc_parse_i64(optarg, 0, INT64_MAX, &v)) return sc_cli_usage_error(cmd, "--seed '%s' is not a number", optarg);
      o.seed = (uint64_t)v;
      break;
    case O_L2:
      if (strcmp(optarg, "auto") && !sc_parse_f64(optarg, 1e-12, 1e6, &o.l2))
        return sc_cli_usage_error(cmd, "--l2 '%s' is not a positive number or auto", optarg);
      if (!strcmp(optarg, "auto")) o.l2 = 0;
      break;
    case O_BATCH:
      if (!sc_parse_i64(optarg, 2, 65536, &v)) return sc_cli_usage_error(cmd, "--batch '%s' is not from 2 to 65536", optarg);
      o.batch = (int)v;
      break;
    case O_THREADS:
      if (!sc_parse_threads(optarg)) return sc_cli_usage_error(cmd, "--threads '%s' is not a count", optarg);
      break;
    case O_BAD:
      if (!strcmp(optarg, "stop")) o.bad_skip = 0;
      else if (!strcmp(optarg, "skip")) o.bad_skip = 1;
      else return sc_cli_usage_error(cmd, "--bad-files '%s' is not stop or skip", optarg);
      break;
    case O_LAYERS:
      if (!(o.features.stages = sc_parse_stages(optarg)))
        return sc_cli_usage_error(cmd, "--layers '%s' is not a list of stages from 1 to 4 such as 3,4", optarg);
      break;
    case O_GRID:
      if (!sc_parse_i64(optarg, 1, SC_FEATURE_GRID_MAX, &v))
        return sc_cli_usage_error(cmd, "--grid '%s' is not from 1 to %d", optarg, SC_FEATURE_GRID_MAX);
      o.features.grid = (int)v;
      break;
    case O_JSON: json = 1; break;
    case O_QUIET: o.quiet = 1; break;
    case 'h': help(); return SC_EXIT_OK;
    default: return sc_cli_usage_error(cmd, "unknown option");
    }
  }
  if (optind < argc) return sc_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  if (!o.ckpt) return sc_cli_usage_error(cmd, "--ckpt CKPT is required");
  if (have_frac && o.labels) return sc_cli_usage_error(cmd, "--label-fraction and --labels exclude each other");
  sc_eval_result r;
  sc_status st = sc_probe_run(&o, &r);
  if (st != SC_OK) return sc_cli_fail(cmd, "linear evaluation", st);
  char layers[16] = "", *p = layers;
  for (int s = 1; s <= 4; s++)
    if (o.features.stages & 1u << (s - 1)) p += sprintf(p, "%s%d", p == layers ? "" : ",", s);
  if (json)
    printf("{\"train_top1\":%.4f,\"train_top5\":%.4f,\"test_top1\":%.4f,\"test_top5\":%.4f,\"n_train\":%lld,"
           "\"n_test\":%lld,\"feature_dim\":%lld,\"layers\":\"%s\",\"grid\":%d,\"test_is_held_out\":%s,\"l2\":%g,"
           "\"cv_top1\":%.4f,\"wall_s\":%.2f}\n",
           r.train_top1, r.train_top5, r.test_top1, r.test_top5, (long long)r.ntrain, (long long)r.ntest,
           (long long)r.dim, layers, o.features.grid, r.held_out ? "true" : "false", r.l2, r.cv_top1, r.wall_s);
  else {
    printf("linear probe on %lld labelled images, %lld features (layers %s, grid %d), l2 %g", (long long)r.ntrain,
           (long long)r.dim, layers, o.features.grid, r.l2);
    if (r.cv_top1 > 0) printf(" (cross-validated top-1 %.2f%%)", 100 * r.cv_top1);
    printf("\n");
    printf("train: top-1 %.2f%%  top-5 %.2f%%\n", 100 * r.train_top1, 100 * r.train_top5);
    if (r.ntest)
      printf("%s (%lld images): top-1 %.2f%%  top-5 %.2f%%\n", r.held_out ? "held-out" : "test", (long long)r.ntest,
             100 * r.test_top1, 100 * r.test_top5);
  }
  return SC_EXIT_OK;
}
