/* cmd_embed.c: `simclr embed`: one embedding per image of a dataset with a trained checkpoint, written as a
 * float32 .npy array (rows in the dataset's sorted file order) plus the list of images beside it (FILE.txt, one
 * name per line, row i = line i). Both files are replaced atomically, so a failed run leaves no half-written file.
 * Default rows: the encoder's pooled features (SimCLR's h); --layer head gives the projection z. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"
#include "infer_util.h"
#include "train/checkpoint.h"

static void help(void) {
  printf("Usage: simclr embed --ckpt CKPT --data DIR|IDX --out FILE.npy [options]\n\n"
         "Writes one embedding per image as a float32 NumPy array [images][dim] (rows in sorted file order) and\n"
         "the image list beside it (FILE.txt). Images get the evaluation transform: resize, centre crop to the\n"
         "model's input size, values in [0,1].\n\n"
         "  --ckpt FILE       checkpoint (.safetensors: ours, or torchvision ResNet weights)\n"
         "  --data PATH       image folder (root/<class>/*.jpg|png or flat), IDX file or folder, CIFAR batch(es)\n"
         "  --out FILE.npy    array to write (replaced atomically); the list goes to FILE.txt\n"
         "  --size S          input size (default: the checkpoint's)\n"
         "  --layer L         features (encoder output h, default) or head (projection z)\n"
         "  --batch B         images per forward pass (default 64)\n"
         "  --test            use the test split of IDX/CIFAR data\n"
         "  --threads N       worker threads (default: SIMCLR_THREADS or all cores)\n"
         "  --json            print the summary as JSON\n"
         "  -q, --quiet       no progress on stderr\n"
         "  -h, --help        this help\n");
}

/* FILE.npy -> FILE.txt; any other name gets ".txt" appended. */
static char *list_path(const char *out) {
  size_t n = strlen(out);
  char *p = malloc(n + 5);
  if (!p) return NULL;
  if (n > 4 && !strcmp(out + n - 4, ".npy")) snprintf(p, n + 5, "%.*s.txt", (int)(n - 4), out);
  else snprintf(p, n + 5, "%s.txt", out);
  return p;
}

static sc_status write_list(const char *path, const sc_dataset *ds) {
  size_t cap = 4096, len = 0;
  char *text = malloc(cap), name[4096];
  if (!text) return sc_error(SC_ENOMEM, "out of memory for the image list");
  for (int64_t i = 0; i < ds->n; i++) {
    size_t k = strlen(sc_cli_image_name(ds, i, name, sizeof name));
    if (len + k + 2 > cap) {
      while (len + k + 2 > cap) cap *= 2;
      char *t = realloc(text, cap);
      if (!t) {
        free(text);
        return sc_error(SC_ENOMEM, "out of memory for the image list");
      }
      text = t;
    }
    memcpy(text + len, name, k);
    len += k;
    text[len++] = '\n';
  }
  sc_status st = sc_cli_write_text(path, text, len);
  free(text);
  return st;
}

int sc_cmd_embed(int argc, char **argv) {
  static const struct option opts[] = {
      {"ckpt", required_argument, 0, 'c'}, {"data", required_argument, 0, 'd'}, {"out", required_argument, 0, 'o'},
      {"size", required_argument, 0, 's'}, {"layer", required_argument, 0, 'l'}, {"batch", required_argument, 0, 'b'},
      {"test", no_argument, 0, 't'},       {"threads", required_argument, 0, 'T'}, {"json", no_argument, 0, 'j'},
      {"quiet", no_argument, 0, 'q'},      {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
  const char *ckpt = NULL, *data = NULL, *out = NULL;
  int64_t size = 0, batch = 64, threads = 0;
  sc_cli_layer layer = SC_CLI_FEATURES;
  int test = 0, json = 0, quiet = 0, rc = sc_cli_common_init("embed");
  if (rc >= 0) return rc;
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "hq", opts, NULL)) != -1;) {
    switch (c) {
    case 'c': ckpt = optarg; break;
    case 'd': data = optarg; break;
    case 'o': out = optarg; break;
    case 's':
      if (!sc_parse_i64(optarg, 8, 4096, &size))
        return sc_cli_usage_error("embed", "--size '%s' is not from 8 to 4096", optarg);
      break;
    case 'l':
      if (!sc_cli_parse_layer(optarg, &layer))
        return sc_cli_usage_error("embed", "--layer '%s' must be 'features' or 'head'", optarg);
      break;
    case 'b':
      if (!sc_parse_i64(optarg, 1, 4096, &batch))
        return sc_cli_usage_error("embed", "--batch '%s' is not a count from 1 to 4096", optarg);
      break;
    case 'T':
      if (!sc_parse_i64(optarg, 1, 1024, &threads))
        return sc_cli_usage_error("embed", "--threads '%s' is not a count from 1 to 1024", optarg);
      break;
    case 't': test = 1; break;
    case 'j': json = 1; break;
    case 'q': quiet = 1; break;
    case 'h': help(); return SC_EXIT_OK;
    default: return sc_cli_usage_error("embed", "unknown option");
    }
  }
  if (optind < argc) return sc_cli_usage_error("embed", "unexpected argument '%s'", argv[optind]);
  if (!ckpt) return sc_cli_usage_error("embed", "--ckpt is required");
  if (!data) return sc_cli_usage_error("embed", "--data is required");
  if (!out) return sc_cli_usage_error("embed", "--out is required");
  if (threads && sc_set_num_threads((int)threads) != SC_OK) return sc_cli_fail("embed", "--threads", SC_EINVAL);

  sc_model_config ov = {0};
  ov.image_size = (int)size;
  sc_model *m = NULL;
  sc_status st = sc_checkpoint_load_model(ckpt, &ov, &m);
  if (st != SC_OK) return sc_cli_fail("embed", "loading the checkpoint", st == SC_EINVAL ? SC_EFORMAT : st);
  int64_t dim;
  if ((st = sc_cli_layer_dim(m, layer, &dim)) != SC_OK) {
    sc_model_free(m);
    return sc_cli_fail("embed", "choosing the layer", st);
  }
  sc_dataset_options dopt = sc_dataset_options_default();
  dopt.path = data, dopt.channels = sc_model_config_of(m)->in_channels, dopt.test_split = test;
  sc_dataset *ds = NULL;
  if ((st = sc_dataset_open(&dopt, &ds)) != SC_OK) {
    sc_model_free(m);
    return sc_cli_fail("embed", "reading the data", st == SC_EINVAL ? SC_EIO : st);
  }
  sc_progress pg;
  sc_progress_begin(&pg, "embed", ds->n, quiet);
  float *v = NULL;
  char *list = list_path(out);
  double t0 = sc_now();
  st = list ? sc_cli_embed_dataset(m, ds, batch, layer, &pg, &v, &dim) : sc_error(SC_ENOMEM, "out of memory");
  double secs = sc_now() - t0;
  if (st == SC_OK) sc_progress_end(&pg, ds->n, NULL);
  const char *what = "embedding the images";
  if (st == SC_OK) what = "writing the array", st = sc_cli_write_npy(out, v, ds->n, dim);
  if (st == SC_OK) what = "writing the image list", st = write_list(list, ds);
  int64_t n = ds->n;
  free(v);
  sc_dataset_close(ds);
  sc_model_free(m);
  if (st != SC_OK) {
    free(list);
    return sc_cli_fail("embed", what, st == SC_EINVAL ? SC_EFORMAT : st);
  }
  const char *lname = layer == SC_CLI_HEAD ? "head" : "features";
  if (json) {
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:f}", "out", out, "list", list, "rows", (json_int_t)n, "dim",
                          (json_int_t)dim, "layer", lname, "seconds", secs);
    if (o) json_dumpf(o, stdout, JSON_COMPACT), printf("\n");
    json_decref(o);
  } else
    printf("wrote %s: %" PRId64 " x %" PRId64 " float32 (%s), images listed in %s (%.1f images/s)\n", out, n, dim,
           lname, list, secs > 0 ? (double)n / secs : 0.0);
  free(list);
  return SC_EXIT_OK;
}
