/* cmd_augment.c: `simclr augment`: shows what the pretraining pipeline feeds the model. Picks N images of a
 * dataset (by seed), makes the two SimCLR views of each exactly as the loader would for the given epoch, and
 * writes a PNG grid, one row per image: the evaluation view, view 1, view 2. The PNG goes through the atomic
 * writer, so an interrupted run never leaves a half-written file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "data/image.h"

static void help(void) {
  printf("Usage: simclr augment [--data PATH] --out FILE.png [options]\n\n"
         "Writes a PNG grid with one row per image: the evaluation view, then the two random views used for\n"
         "SimCLR pretraining, as the loader makes them for the given seed and epoch.\n\n"
         "  --data PATH       image folder (root/<class>/*.jpg|png or flat), IDX file or folder, CIFAR batch(es)\n"
         "                    (default: " SC_DEFAULT_DATASET ")\n"
         "  --out FILE        PNG to write (replaced atomically)\n"
         "  --n N             number of images (default 8)\n"
         "  --size S          view size in pixels (default: 28/32 for IDX/CIFAR, else 224)\n"
         "  --seed N          random seed (default 0)\n"
         "  --epoch N         epoch whose views to show (default 0)\n"
         "  --channels C      1 or 3 (default: the dataset's own)\n"
         "  --strength S      colour-jitter strength (default 1.0, or 0.5 for sizes <= 32)\n"
         "  --bicubic         bicubic instead of bilinear resizing\n"
         "  --test            use the test split of IDX/CIFAR data\n"
         "  -h, --help        this help\n");
}

int sc_cmd_augment(int argc, char **argv) {
  static const struct option opts[] = {{"data", required_argument, 0, 'd'},     {"out", required_argument, 0, 'o'},
                                       {"n", required_argument, 0, 'n'},        {"size", required_argument, 0, 's'},
                                       {"seed", required_argument, 0, 'S'},     {"epoch", required_argument, 0, 'e'},
                                       {"channels", required_argument, 0, 'c'}, {"strength", required_argument, 0, 'j'},
                                       {"bicubic", no_argument, 0, 'b'},        {"test", no_argument, 0, 't'},
                                       {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
  const char *data = NULL, *out = NULL;
  int64_t n = 8, size = 0, seed = 0, epoch = 0, channels = 0;
  float strength = -1.0f;
  int bicubic = 0, test = 0, rc = sc_cli_common_init("augment");
  if (rc >= 0) return rc;
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
    switch (c) {
    case 'd': data = optarg; break;
    case 'o': out = optarg; break;
    case 'n':
      if (!sc_parse_i64(optarg, 1, 1024, &n))
        return sc_cli_usage_error("augment", "--n '%s' is not a count from 1 to 1024", optarg);
      break;
    case 's':
      if (!sc_parse_i64(optarg, 8, 1024, &size))
        return sc_cli_usage_error("augment", "--size '%s' is not from 8 to 1024", optarg);
      break;
    case 'S':
      if (!sc_parse_i64(optarg, 0, 0x7fffffffL, &seed))
        return sc_cli_usage_error("augment", "--seed '%s' is not a number", optarg);
      break;
    case 'e':
      if (!sc_parse_i64(optarg, 0, 0x7fffffffL, &epoch))
        return sc_cli_usage_error("augment", "--epoch '%s' is not a number", optarg);
      break;
    case 'c':
      if (!sc_parse_i64(optarg, 1, 3, &channels) || channels == 2)
        return sc_cli_usage_error("augment", "--channels '%s' must be 1 or 3", optarg);
      break;
    case 'j': {
      char *end;
      strength = strtof(optarg, &end);
      if (*end || !(strength >= 0.0f && strength <= 2.0f))
        return sc_cli_usage_error("augment", "--strength '%s' is not a number from 0 to 2", optarg);
      break;
    }
    case 'b': bicubic = 1; break;
    case 't': test = 1; break;
    case 'h': help(); return SC_EXIT_OK;
    default: return sc_cli_usage_error("augment", "unknown option");
    }
  }
  if (optind < argc) return sc_cli_usage_error("augment", "unexpected argument '%s'", argv[optind]);
  if (!data) data = SC_DEFAULT_DATASET;
  if (!out) return sc_cli_usage_error("augment", "--out is required");

  sc_dataset_options dopt = sc_dataset_options_default();
  dopt.path = data, dopt.channels = (int)channels, dopt.test_split = test, dopt.bad = SC_BAD_SKIP;
  sc_dataset *ds;
  sc_status st = sc_dataset_open(&dopt, &ds);
  if (st != SC_OK) return sc_cli_fail("augment", "reading the data", st);
  if (!size) size = ds->px && ds->format != SC_DATA_FOLDER && ds->format != SC_DATA_FLAT ? ds->w[0] : 224;
  sc_augment_options ao = sc_augment_defaults((int)size, ds->c, strength);
  ao.interp = bicubic ? SC_INTERP_BICUBIC : SC_INTERP_BILINEAR;

  const int S = (int)size, C = ds->c, pad = 2, cols = 3;
  struct { int w, h; unsigned char *px; } g = {.w = cols * S + (cols + 1) * pad, .h = (int)n * S + ((int)n + 1) * pad};
  g.px = malloc((size_t)g.w * g.h * C);
  float *view = malloc(sizeof(float) * (size_t)S * S * C);
  sc_decoder *dec = NULL;
  sc_image scratch = {0};
  sc_augment_scratch as = {0};
  if (!g.px || !view || sc_decoder_create(&dec) != SC_OK)
    st = sc_error(SC_ENOMEM, "out of memory for the grid");
  else
    memset(g.px, 255, (size_t)g.w * g.h * C);
  sc_rng pick;
  sc_rng_init_stream(&pick, (uint64_t)seed, 0x4155474d454e54ull); /* "AUGMENT": which images to show */
  for (int r = 0; r < n && st == SC_OK; r++) {
    int64_t idx = (int64_t)sc_rng_below(&pick, (uint64_t)ds->n);
    sc_image im;
    st = sc_dataset_image(ds, dec, idx, &scratch, &im);
    for (int v = 0; v < cols && st == SC_OK; v++) {
      sc_rng rng;
      sc_rng_init_data(&rng, (uint64_t)seed, (uint64_t)epoch, (uint64_t)idx, (uint32_t)(v ? v - 1 : 0));
      st = sc_augment_view(&ao, v ? SC_VIEW_PRETRAIN : SC_VIEW_EVAL, &im, &rng, &as, view, NULL);
      for (int y = 0; y < S && st == SC_OK; y++)
        for (int x = 0; x < S * C; x++) {
          size_t gy = (size_t)pad + (size_t)r * (S + pad) + y, gx = ((size_t)pad + (size_t)v * (S + pad)) * C + x;
          g.px[gy * g.w * C + gx] = (unsigned char)(view[(size_t)y * S * C + x] * 255.0f + 0.5f);
        }
    }
  }
  if (st == SC_OK) st = sc_png_write(out, g.px, g.w, g.h, C);
  int64_t nbad = ds->nbad;
  free(g.px), free(view), sc_image_free(&scratch), sc_augment_scratch_free(&as), sc_decoder_destroy(dec);
  sc_dataset_close(ds);
  if (st != SC_OK) return sc_cli_fail("augment", "writing the grid", st);
  printf("wrote %s: %ld rows (evaluation view, view 1, view 2) of %dx%dx%d, seed %ld, epoch %ld\n", out, n, S, S, C,
         seed, epoch);
  if (nbad) fprintf(stderr, "simclr augment: skipped %lld unreadable files\n", (long long)nbad);
  return SC_EXIT_OK;
}
