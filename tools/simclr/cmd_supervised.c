/* cmd_supervised.c: `simclr supervised`: the baseline of the semi-supervised comparison: the same architecture
 * trained from scratch, with crop + flip only, on the labelled subset alone; then its train and test accuracy.
 * Also holds sc_sup_run, which `simclr finetune` shares (the only difference is where the encoder's weights come
 * from). Results on stdout, logs on stderr. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"
#include "train/checkpoint.h"
#include "train_util.h"

sc_status sc_sup_run(const sc_sup_run_options *o, sc_eval_result *r) {
  memset(r, 0, sizeof *r);
  const double t0 = sc_now();
  sc_model *m = NULL;
  sc_dataset *ds = NULL, *test = NULL;
  int64_t *idx = NULL, nidx = 0, *tidx = NULL, ntidx = 0;
  const sc_bad_policy bad = o->bad_skip ? SC_BAD_SKIP : SC_BAD_STOP;
  sc_status st = SC_OK;
  sc_model_config file_cfg = {0};
  if (o->ckpt) { /* learn the input channels first: the data is opened to match them */
    sc_st_file *f;
    if ((st = sc_st_read(o->ckpt, 0, &f)) != SC_OK) return st;
    st = sc_checkpoint_config(f, o->ckpt, &file_cfg);
    sc_st_free(f);
    if (st != SC_OK) return st;
  }
  if ((st = sc_open_data(o->data, 0, o->ckpt ? file_cfg.in_channels : 0, bad, &ds)) != SC_OK) goto done;
  if (!ds->labels || ds->nclasses < 2) {
    st = sc_error(SC_EINVAL, "%s: supervised training needs labelled data with at least 2 classes", ds->root);
    goto done;
  }
  if (o->ckpt) {
    sc_model_config ov = {0};
    ov.classes = ds->nclasses;
    if ((st = sc_checkpoint_load_model(o->ckpt, &ov, &m)) != SC_OK) goto done;
  } else {
    sc_model_config mc = sc_model_defaults();
    mc.depth = o->depth, mc.width = o->width, mc.in_channels = ds->c;
    mc.image_size = o->size ? o->size : sc_default_size(ds);
    mc.head = SC_HEAD_NONE, mc.classes = ds->nclasses, mc.seed = o->train.seed;
    if ((st = sc_model_create(&mc, &m)) != SC_OK) goto done;
  }
  const sc_model_config *mc = sc_model_config_of(m);
  if ((st = sc_pick_labelled(ds, o->labels, o->fraction, o->train.seed, &idx, &nidx)) != SC_OK) goto done;
  if ((st = sc_open_eval_data(o->data, o->test_data, ds, mc->in_channels, bad, &test, &r->held_out)) != SC_OK)
    goto done;
  if (test && (!test->labels || test->nclasses > ds->nclasses)) {
    st = sc_error(SC_EINVAL, "%s: the test data has no labels or more classes than the training data", test->root);
    goto done;
  }
  if (r->held_out && (st = sc_complement(ds->n, idx, nidx, &tidx, &ntidx)) != SC_OK) goto done;
  if ((st = sc_train_supervised(m, ds, idx, nidx, &o->train, &r->loss, &r->epochs)) != SC_OK) goto done;
  const int64_t cap = o->train.batch < nidx ? o->train.batch : nidx; /* the plan sc_train_supervised made */
  sc_augment_options aug = sc_augment_defaults(mc->image_size, mc->in_channels, -1);
  if ((st = sc_eval_classifier(m, cap, ds, idx, nidx, &aug, &r->train_top1, &r->train_top5)) != SC_OK) goto done;
  r->ntest = test ? test->n : ntidx;
  if (r->ntest > 0 && (st = sc_eval_classifier(m, cap, test ? test : ds, test ? NULL : tidx, r->ntest, &aug,
                                               &r->test_top1, &r->test_top5)) != SC_OK)
    goto done;
  r->ntrain = nidx, r->dim = sc_model_feature_dim(m);
  if (o->out)
    st = sc_checkpoint_save_ex(o->out, m, NULL, NULL, NULL, (const char *const *)ds->class_names, ds->nclasses);
done:
  r->wall_s = sc_now() - t0;
  free(idx), free(tidx);
  sc_dataset_close(test);
  sc_dataset_close(ds);
  sc_model_free(m);
  return st;
}

static void help(const char *cmd, int finetune) {
  if (finetune)
    printf("Usage: simclr finetune --ckpt CKPT [--data PATH] [--label-fraction F | --labels FILE] [options]\n\n"
           "Fine-tunes a pretrained encoder together with a new linear classifier on the labelled images (crop +\n"
           "flip only; SGD with Nesterov momentum, cosine schedule), then reports train and test accuracy.\n\n"
           "  --ckpt CKPT           pretrained checkpoint (its projection head is dropped)\n");
  else
    printf("Usage: simclr supervised [--data PATH] [--label-fraction F | --labels FILE] [options]\n\n"
           "The baseline: the same architecture trained from scratch on the labelled images only (crop + flip;\n"
           "SGD with Nesterov momentum, cosine schedule), then train and test accuracy.\n\n"
           "  --arch NAME           resnet18 (default), resnet34, resnet50\n"
           "  --width W             channel multiplier 0.25, 0.5 (default), 1, 2, 4\n"
           "  --size S              input size (default: the images' own size for IDX/CIFAR, else 224)\n");
  printf("  --data PATH           labelled data: class folders, IDX or CIFAR (default: " SC_DEFAULT_DATASET ")\n"
         "  --test-data PATH      test data (default: the test split of IDX/CIFAR data; for image folders the\n"
         "                        training images outside the labelled subset)\n"
         "  --label-fraction F    train on this fraction of each class, chosen by --seed (default 0.01)\n"
         "  --labels FILE         train on the images named in FILE (one file name per line) instead\n"
         "  --epochs E            epochs over the labelled images (default %d)\n"
         "  --batch B             batch size (default 64; the subset's size if smaller)\n"
         "  --lr L                peak learning rate (default %g)\n"
         "  --weight-decay WD     default %g\n"
         "  --crop-scale a,b      random-resized-crop area fraction (default 0.2,1)\n"
         "  --seed S              seed of the labelled subset, the data order%s (default 0)\n"
         "  --out FILE            write the trained network (with its classifier) as safetensors\n"
         "  --threads N           compute threads\n"
         "  --bad-files stop|skip stop at an unreadable image (default) or skip it\n"
         "  --json                print the result as JSON\n"
         "  --quiet               no progress output\n"
         "  -h, --help            this help\n",
         finetune ? 30 : 60, finetune ? 0.02 : 0.1, finetune ? 1e-4 : 5e-4, finetune ? "" : " and the initialisation");
  (void)cmd;
}

int sc_sup_parse(const char *cmd, int finetune, int argc, char **argv, sc_sup_run_options *o, int *json) {
  enum { O_CKPT = 256, O_DATA, O_TEST, O_FRAC, O_LABELS, O_SEED, O_EPOCHS, O_BATCH, O_LR, O_WD, O_CROP, O_OUT,
         O_THREADS, O_BAD, O_JSON, O_QUIET, O_ARCH, O_WIDTH, O_SIZE };
  static const struct option opts[] = {
      {"ckpt", required_argument, 0, O_CKPT},       {"data", required_argument, 0, O_DATA},
      {"test-data", required_argument, 0, O_TEST},  {"label-fraction", required_argument, 0, O_FRAC},
      {"labels", required_argument, 0, O_LABELS},   {"seed", required_argument, 0, O_SEED},
      {"epochs", required_argument, 0, O_EPOCHS},   {"batch", required_argument, 0, O_BATCH},
      {"lr", required_argument, 0, O_LR},           {"weight-decay", required_argument, 0, O_WD},
      {"crop-scale", required_argument, 0, O_CROP}, {"out", required_argument, 0, O_OUT},
      {"threads", required_argument, 0, O_THREADS}, {"bad-files", required_argument, 0, O_BAD},
      {"json", no_argument, 0, O_JSON},             {"quiet", no_argument, 0, O_QUIET},
      {"arch", required_argument, 0, O_ARCH},       {"width", required_argument, 0, O_WIDTH},
      {"size", required_argument, 0, O_SIZE},       {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int rc = sc_cli_common_init(cmd);
  if (rc >= 0) return rc;
  *o = (sc_sup_run_options){.data = SC_DEFAULT_DATASET, .fraction = 0.01, .depth = 18, .width = 0.5f,
                            .train = {.epochs = finetune ? 30 : 60, .batch = 64, .lr = finetune ? 0.02 : 0.1,
                                      .weight_decay = finetune ? 1e-4f : 5e-4f, .crop_min = 0.2, .crop_max = 1.0}};
  int have_frac = 0;
  int64_t v;
  double a, b;
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    if (!finetune && c == O_CKPT) return sc_cli_usage_error(cmd, "--ckpt belongs to 'simclr finetune'");
    if (finetune && (c == O_ARCH || c == O_WIDTH || c == O_SIZE))
      return sc_cli_usage_error(cmd, "the architecture comes from --ckpt; --arch, --width and --size do not apply");
    switch (c) {
    case O_CKPT: o->ckpt = optarg; break;
    case O_DATA: o->data = optarg; break;
    case O_TEST: o->test_data = optarg; break;
    case O_FRAC:
      if (!sc_parse_f64(optarg, 1e-9, 1, &o->fraction) || !(o->fraction > 0))
        return sc_cli_usage_error(cmd, "--label-fraction '%s' is not in (0, 1]", optarg);
      have_frac = 1;
      break;
    case O_LABELS: o->labels = optarg; break;
    case O_SEED:
      if (!sc_parse_i64(optarg, 0, INT64_MAX, &v)) return sc_cli_usage_error(cmd, "--seed '%s' is not a number", optarg);
      o->train.seed = (uint64_t)v;
      break;
    case O_EPOCHS:
      if (!sc_parse_i64(optarg, 1, 1000000, &v)) return sc_cli_usage_error(cmd, "--epochs '%s' is not a count", optarg);
      o->train.epochs = (int)v;
      break;
    case O_BATCH:
      if (!sc_parse_i64(optarg, 2, 65536, &v)) return sc_cli_usage_error(cmd, "--batch '%s' is not from 2 to 65536", optarg);
      o->train.batch = (int)v;
      break;
    case O_LR:
      if (!sc_parse_f64(optarg, 1e-12, 1e6, &o->train.lr)) return sc_cli_usage_error(cmd, "--lr '%s' is not a positive number", optarg);
      break;
    case O_WD:
      if (!sc_parse_f64(optarg, 0, 10, &a)) return sc_cli_usage_error(cmd, "--weight-decay '%s' is not from 0 to 10", optarg);
      o->train.weight_decay = (float)a;
      break;
    case O_CROP:
      if (!sc_parse_pair(optarg, 0.01, 1, &a, &b))
        return sc_cli_usage_error(cmd, "--crop-scale '%s' is not 'a,b' with 0.01 <= a <= b <= 1", optarg);
      o->train.crop_min = a, o->train.crop_max = b;
      break;
    case O_OUT: o->out = optarg; break;
    case O_THREADS:
      if (!sc_parse_threads(optarg)) return sc_cli_usage_error(cmd, "--threads '%s' is not a count", optarg);
      break;
    case O_BAD:
      if (!strcmp(optarg, "stop")) o->bad_skip = 0;
      else if (!strcmp(optarg, "skip")) o->bad_skip = 1;
      else return sc_cli_usage_error(cmd, "--bad-files '%s' is not stop or skip", optarg);
      break;
    case O_JSON: *json = 1; break;
    case O_QUIET: o->train.quiet = 1; break;
    case O_ARCH:
      if (!strcmp(optarg, "resnet18")) o->depth = 18;
      else if (!strcmp(optarg, "resnet34")) o->depth = 34;
      else if (!strcmp(optarg, "resnet50")) o->depth = 50;
      else return sc_cli_usage_error(cmd, "--arch '%s' is not resnet18, resnet34 or resnet50", optarg);
      break;
    case O_WIDTH:
      if (!sc_parse_f64(optarg, 0.25, 4, &a) || (a != 0.25 && a != 0.5 && a != 1 && a != 2 && a != 4))
        return sc_cli_usage_error(cmd, "--width '%s' is not 0.25, 0.5, 1, 2 or 4", optarg);
      o->width = (float)a;
      break;
    case O_SIZE:
      if (!sc_parse_i64(optarg, 8, 1024, &v)) return sc_cli_usage_error(cmd, "--size '%s' is not from 8 to 1024", optarg);
      o->size = (int)v;
      break;
    case 'h': help(cmd, finetune); return SC_EXIT_OK;
    default: return sc_cli_usage_error(cmd, "unknown option");
    }
  }
  if (optind < argc) return sc_cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
  if (finetune && !o->ckpt) return sc_cli_usage_error(cmd, "--ckpt CKPT is required");
  if (have_frac && o->labels) return sc_cli_usage_error(cmd, "--label-fraction and --labels exclude each other");
  o->train.only_fc = 0;
  return -1;
}

int sc_sup_report(const char *cmd, const sc_sup_run_options *o, const sc_eval_result *r, int json) {
  if (json)
    printf("{\"train_top1\":%.4f,\"train_top5\":%.4f,\"test_top1\":%.4f,\"test_top5\":%.4f,\"n_train\":%lld,"
           "\"n_test\":%lld,\"final_loss\":%.6g,\"epochs\":%d,\"test_is_held_out\":%s,\"wall_s\":%.2f}\n",
           r->train_top1, r->train_top5, r->test_top1, r->test_top5, (long long)r->ntrain, (long long)r->ntest,
           r->loss, r->epochs, r->held_out ? "true" : "false", r->wall_s);
  else {
    printf("%s on %lld labelled images, %d epochs, final loss %.4f, %.1f s\n", cmd, (long long)r->ntrain,
           r->epochs, r->loss, r->wall_s);
    printf("train: top-1 %.2f%%  top-5 %.2f%%\n", 100 * r->train_top1, 100 * r->train_top5);
    if (r->ntest)
      printf("%s (%lld images): top-1 %.2f%%  top-5 %.2f%%\n", r->held_out ? "held-out" : "test",
             (long long)r->ntest, 100 * r->test_top1, 100 * r->test_top5);
    if (o->out) printf("wrote %s\n", o->out);
  }
  return SC_EXIT_OK;
}

int sc_cmd_supervised(int argc, char **argv) {
  sc_sup_run_options o;
  int json = 0, rc = sc_sup_parse("supervised", 0, argc, argv, &o, &json);
  if (rc >= 0) return rc;
  sc_eval_result r;
  sc_status st = sc_sup_run(&o, &r);
  if (st != SC_OK) return sc_cli_fail("supervised", "training", st);
  return sc_sup_report("supervised", &o, &r, json);
}
