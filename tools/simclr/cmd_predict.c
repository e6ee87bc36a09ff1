/* cmd_predict.c: `simclr predict`: the top-k classes, with probabilities, of image files under a checkpoint with a
 * classifier (fine-tuned, linear probe, or torchvision weights with fc). Class names come from the checkpoint's
 * "simclr.classes" metadata when it has them, else classes are shown by index. Results go to stdout (text or
 * --json), one entry per image in argument order; a file that cannot be read stops the run with exit 1. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/infer.h"
#include "cli.h"
#include "core/error.h"
#include "data/image.h"
#include "infer_util.h"
#include "train/checkpoint.h"

enum { BATCH = 16 };

static void help(void) {
  printf("Usage: simclr predict --ckpt CKPT [--topk K] [--json] IMAGE...\n\n"
         "Prints the K most probable classes of each image (JPEG or PNG) under a checkpoint with a classifier.\n"
         "Images get the evaluation transform (resize, centre crop to the model's input size, values in [0,1]).\n\n"
         "  --ckpt FILE       checkpoint (.safetensors) with a classifier (fc.*)\n"
         "  --topk K          classes per image (default 5, at most the number of classes)\n"
         "  --size S          input size (default: the checkpoint's)\n"
         "  --threads N       worker threads (default: SIMCLR_THREADS or all cores)\n"
         "  --json            print a JSON array: [{\"image\", \"top\": [{\"class\", \"name\", \"prob\"}]}]\n"
         "  -h, --help        this help\n");
}

/* indices of the k largest probabilities, largest first (ties: lower index first) */
static void top_k(const float *p, int n, int k, int *idx) {
  for (int j = 0; j < k; j++) idx[j] = -1;
  for (int i = 0; i < n; i++) {
    int pos = k;
    while (pos > 0 && (idx[pos - 1] < 0 || p[i] > p[idx[pos - 1]])) pos--;
    if (pos >= k) continue;
    memmove(idx + pos + 1, idx + pos, sizeof *idx * (size_t)(k - pos - 1));
    idx[pos] = i;
  }
}

int sc_cmd_predict(int argc, char **argv) {
  static const struct option opts[] = {{"ckpt", required_argument, 0, 'c'},    {"topk", required_argument, 0, 'k'},
                                       {"size", required_argument, 0, 's'},    {"threads", required_argument, 0, 'T'},
                                       {"json", no_argument, 0, 'j'},          {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  const char *ckpt = NULL;
  int64_t topk = 5, size = 0, threads = 0;
  int json = 0, rc = sc_cli_common_init("predict");
  if (rc >= 0) return rc;
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    switch (c) {
    case 'c': ckpt = optarg; break;
    case 'k':
      if (!sc_parse_i64(optarg, 1, 1000000, &topk))
        return sc_cli_usage_error("predict", "--topk '%s' is not a positive count", optarg);
      break;
    case 's':
      if (!sc_parse_i64(optarg, 8, 4096, &size))
        return sc_cli_usage_error("predict", "--size '%s' is not from 8 to 4096", optarg);
      break;
    case 'T':
      if (!sc_parse_i64(optarg, 1, 1024, &threads))
        return sc_cli_usage_error("predict", "--threads '%s' is not a count from 1 to 1024", optarg);
      break;
    case 'j': json = 1; break;
    case 'h': help(); return SC_EXIT_OK;
    default: return sc_cli_usage_error("predict", "unknown option");
    }
  }
  if (!ckpt) return sc_cli_usage_error("predict", "--ckpt is required");
  if (optind >= argc) return sc_cli_usage_error("predict", "no image given");
  if (threads && sc_set_num_threads((int)threads) != SC_OK) return sc_cli_fail("predict", "--threads", SC_EINVAL);

  sc_model_config ov = {0};
  ov.image_size = (int)size;
  sc_model *m = NULL;
  char **names = NULL;
  int nnames = 0;
  sc_status st = sc_infer_load(ckpt, &ov, &m, &names, &nnames);
  if (st != SC_OK) return sc_cli_fail("predict", "loading the checkpoint", st == SC_EINVAL ? SC_EFORMAT : st);
  const int classes = sc_model_config_of(m)->classes;
  if (classes < 1) {
    sc_model_free(m);
    fprintf(stderr, "simclr predict: %s has no classifier (fc.*); use 'simclr embed' or 'simclr knn' with it\n",
            ckpt);
    return SC_EXIT_FAIL;
  }
  const int k = (int)(topk < classes ? topk : classes), nimg = argc - optind;
  const int cap = nimg < BATCH ? nimg : BATCH;
  const sc_augment_options ao = sc_infer_transform(m);
  sc_image imgs[BATCH] = {{0}};
  const sc_image *ptrs[BATCH];
  for (int i = 0; i < BATCH; i++) ptrs[i] = &imgs[i];
  float *logits = malloc(sizeof(float) * (size_t)cap * classes), *probs = malloc(sizeof(float) * (size_t)classes);
  int *idx = malloc(sizeof(int) * (size_t)k);
  sc_decoder *dec = NULL;
  sc_augment_scratch as = {0};
  json_t *arr = json ? json_array() : NULL;
  const char *what = "classifying";
  if (!logits || !probs || !idx || (json && !arr)) st = sc_error(SC_ENOMEM, "out of memory");
  if (st == SC_OK) st = sc_decoder_create(&dec);
  if (st == SC_OK) st = sc_model_plan(m, cap);
  for (int b0 = 0; st == SC_OK && b0 < nimg; b0 += cap) {
    const int nb = nimg - b0 < cap ? nimg - b0 : cap;
    for (int i = 0; st == SC_OK && i < nb; i++) {
      st = sc_image_load(dec, argv[optind + b0 + i], ao.channels, 0, NULL, &imgs[i]);
      if (st != SC_OK) what = "reading an image";
    }
    if (st == SC_OK) st = sc_cli_run_images(m, &ao, ptrs, nb, -1, &as, logits);
    for (int i = 0; st == SC_OK && i < nb; i++) {
      const char *path = argv[optind + b0 + i];
      sc_infer_softmax(logits + (size_t)i * classes, classes, probs);
      top_k(probs, classes, k, idx);
      if (json) {
        json_t *top = json_array();
        for (int j = 0; j < k; j++) {
          json_t *e = json_pack("{s:i, s:f}", "class", idx[j], "prob", (double)probs[idx[j]]);
          if (names && e) json_object_set_new(e, "name", json_string(names[idx[j]]));
          json_array_append_new(top, e);
        }
        json_array_append_new(arr, json_pack("{s:s, s:o}", "image", path, "top", top));
      } else {
        printf("%s:", path);
        for (int j = 0; j < k; j++) {
          if (names) printf("%s %s %.4f", j ? "," : "", names[idx[j]], probs[idx[j]]);
          else printf("%s class %d %.4f", j ? "," : "", idx[j], probs[idx[j]]);
        }
        printf("\n");
      }
    }
  }
  if (st == SC_OK && json) json_dumpf(arr, stdout, JSON_INDENT(2)), printf("\n");
  json_decref(arr);
  for (int i = 0; i < BATCH; i++) sc_image_free(&imgs[i]);
  free(logits), free(probs), free(idx), sc_decoder_destroy(dec), sc_augment_scratch_free(&as);
  sc_checkpoint_free_classes(names, nnames);
  sc_model_free(m);
  if (st != SC_OK) return sc_cli_fail("predict", what, st == SC_EINVAL ? SC_EFORMAT : st);
  return SC_EXIT_OK;
}
