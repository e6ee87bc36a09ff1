/* cmd_knn.c: `simclr knn`: the k images of a dataset nearest to a query image by cosine similarity of their
 * embeddings (encoder features by default), listed on stdout and drawn as a PNG grid: the query first, then the
 * neighbours from nearest to farthest, each tile the model's evaluation view (enlarged for small models). What
 * SimCLR's representation has learned shows directly: neighbours of a good encoder share the query's content. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/infer.h"
#include "cli.h"
#include "core/error.h"
#include "data/image.h"
#include "infer_util.h"
#include "train/checkpoint.h"

static void help(void) {
  printf("Usage: simclr knn --ckpt CKPT --query IMAGE --data DIR|IDX --png OUT.png [options]\n\n"
         "Finds the K images of the data nearest to the query by cosine similarity of their embeddings, prints\n"
         "them (rank, similarity, image) and writes a PNG row: the query, a gap, then the neighbours in order.\n\n"
         "  --ckpt FILE       checkpoint (.safetensors)\n"
         "  --query IMAGE     JPEG or PNG to search for\n"
         "  --data PATH       image folder, IDX file or folder, CIFAR batch(es) to search in\n"
         "  --png FILE        PNG grid to write (replaced atomically)\n"
         "  --k K             neighbours (default 8)\n"
         "  --layer L         features (encoder output h, default) or head (projection z)\n"
         "  --size S          input size (default: the checkpoint's)\n"
         "  --batch B         images per forward pass (default 64)\n"
         "  --test            search the test split of IDX/CIFAR data\n"
         "  --threads N       worker threads (default: SIMCLR_THREADS or all cores)\n"
         "  --json            print the neighbours as JSON\n"
         "  -q, --quiet       no progress on stderr\n"
         "  -h, --help        this help\n");
}

static void normalise(float *v, int64_t d) {
  double s = 0.0;
  for (int64_t i = 0; i < d; i++) s += (double)v[i] * v[i];
  const float inv = s > 0.0 ? (float)(1.0 / sqrt(s)) : 0.0f;
  for (int64_t i = 0; i < d; i++) v[i] *= inv;
}

/* Draws the evaluation view of im, scaled by `zoom` (nearest), at (x0, y0) of the grid. */
static sc_status draw_tile(const sc_augment_options *ao, const sc_image *im, sc_augment_scratch *as, float *view,
                           uint8_t *grid, int gw, int x0, int y0, int zoom) {
  SC_TRY(sc_infer_view(ao, im, as, view));
  const int S = ao->size, C = ao->channels;
  for (int y = 0; y < S * zoom; y++)
    for (int x = 0; x < S * zoom; x++)
      for (int c = 0; c < C; c++) {
        float v = view[((size_t)(y / zoom) * S + (size_t)(x / zoom)) * C + c];
        v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        grid[((size_t)(y0 + y) * gw + (size_t)(x0 + x)) * C + c] = (uint8_t)(v * 255.0f + 0.5f);
      }
  return SC_OK;
}

int sc_cmd_knn(int argc, char **argv) {
  static const struct option opts[] = {
      {"ckpt", required_argument, 0, 'c'},  {"query", required_argument, 0, 'Q'},  {"data", required_argument, 0, 'd'},
      {"png", required_argument, 0, 'p'},   {"k", required_argument, 0, 'k'},      {"layer", required_argument, 0, 'l'},
      {"size", required_argument, 0, 's'},  {"batch", required_argument, 0, 'b'},  {"test", no_argument, 0, 't'},
      {"threads", required_argument, 0, 'T'}, {"json", no_argument, 0, 'j'},       {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
  const char *ckpt = NULL, *query = NULL, *data = NULL, *png = NULL;
  int64_t k = 8, size = 0, batch = 64, threads = 0;
  sc_cli_layer layer = SC_CLI_FEATURES;
  int test = 0, json = 0, quiet = 0, rc = sc_cli_common_init("knn");
  if (rc >= 0) return rc;
  optind = 1;
  for (int c; (c = getopt_long(argc, argv, "hq", opts, NULL)) != -1;) {
    switch (c) {
    case 'c': ckpt = optarg; break;
    case 'Q': query = optarg; break;
    case 'd': data = optarg; break;
    case 'p': png = optarg; break;
    case 'k':
      if (!sc_parse_i64(optarg, 1, 256, &k))
        return sc_cli_usage_error("knn", "--k '%s' is not a count from 1 to 256", optarg);
      break;
    case 'l':
      if (!sc_cli_parse_layer(optarg, &layer))
        return sc_cli_usage_error("knn", "--layer '%s' must be 'features' or 'head'", optarg);
      break;
    case 's':
      if (!sc_parse_i64(optarg, 8, 4096, &size))
        return sc_cli_usage_error("knn", "--size '%s' is not from 8 to 4096", optarg);
      break;
    case 'b':
      if (!sc_parse_i64(optarg, 1, 4096, &batch))
        return sc_cli_usage_error("knn", "--batch '%s' is not a count from 1 to 4096", optarg);
      break;
    case 'T':
      if (!sc_parse_i64(optarg, 1, 1024, &threads))
        return sc_cli_usage_error("knn", "--threads '%s' is not a count from 1 to 1024", optarg);
      break;
    case 't': test = 1; break;
    case 'j': json = 1; break;
    case 'q': quiet = 1; break;
    case 'h': help(); return SC_EXIT_OK;
    default: return sc_cli_usage_error("knn", "unknown option");
    }
  }
  if (optind < argc) return sc_cli_usage_error("knn", "unexpected argument '%s'", argv[optind]);
  if (!ckpt) return sc_cli_usage_error("knn", "--ckpt is required");
  if (!query) return sc_cli_usage_error("knn", "--query is required");
  if (!data) return sc_cli_usage_error("knn", "--data is required");
  if (!png) return sc_cli_usage_error("knn", "--png is required");
  if (threads && sc_set_num_threads((int)threads) != SC_OK) return sc_cli_fail("knn", "--threads", SC_EINVAL);

  sc_model_config ov = {0};
  ov.image_size = (int)size;
  sc_model *m = NULL;
  sc_status st = sc_checkpoint_load_model(ckpt, &ov, &m);
  if (st != SC_OK) return sc_cli_fail("knn", "loading the checkpoint", st == SC_EINVAL ? SC_EFORMAT : st);
  int64_t dim;
  if ((st = sc_cli_layer_dim(m, layer, &dim)) != SC_OK) {
    sc_model_free(m);
    return sc_cli_fail("knn", "choosing the layer", st);
  }
  const sc_augment_options ao = sc_infer_transform(m);
  sc_decoder *dec = NULL;
  sc_image qimg = {0}, scratch = {0}, view;
  sc_augment_scratch as = {0};
  sc_dataset *ds = NULL;
  float *emb = NULL, *q = malloc(sizeof(float) * (size_t)dim), *sim = NULL, *tile = NULL;
  int64_t *nn = NULL;
  uint8_t *grid = NULL;
  const char *what = "reading the query";
  if (!q) st = sc_error(SC_ENOMEM, "out of memory");
  if (st == SC_OK) st = sc_decoder_create(&dec);
  if (st == SC_OK) st = sc_image_load(dec, query, ao.channels, 0, NULL, &qimg);
  if (st == SC_OK) {
    what = "reading the data";
    sc_dataset_options dopt = sc_dataset_options_default();
    dopt.path = data, dopt.channels = ao.channels, dopt.test_split = test;
    st = sc_dataset_open(&dopt, &ds);
    if (st == SC_EINVAL) st = SC_EIO;
  }
  if (st == SC_OK) {
    what = "embedding the data";
    sc_progress pg;
    sc_progress_begin(&pg, "knn", ds->n, quiet);
    st = sc_cli_embed_dataset(m, ds, batch, layer, &pg, &emb, &dim);
    if (st == SC_OK) sc_progress_end(&pg, ds->n, NULL);
  }
  if (st == SC_OK) {
    const sc_image *one = &qimg;
    what = "embedding the query";
    st = sc_cli_run_images(m, &ao, &one, 1, layer, &as, q);
  }
  const int64_t K = st == SC_OK ? (k < ds->n ? k : ds->n) : 0;
  if (st == SC_OK) {
    what = "searching";
    sim = malloc(sizeof(float) * (size_t)ds->n), nn = malloc(sizeof(int64_t) * (size_t)K);
    if (!sim || !nn) st = sc_error(SC_ENOMEM, "out of memory");
  }
  if (st == SC_OK) {
    normalise(q, dim);
    for (int64_t i = 0; i < ds->n; i++) {
      float *e = emb + (size_t)(i * dim);
      normalise(e, dim);
      double s = 0.0;
      for (int64_t j = 0; j < dim; j++) s += (double)e[j] * q[j];
      sim[i] = (float)s;
    }
    /* partial selection: K is small, so insertion into a sorted list of K is enough */
    int64_t have = 0;
    for (int64_t i = 0; i < ds->n; i++) {
      int64_t pos = have < K ? have : K;
      while (pos > 0 && sim[i] > sim[nn[pos - 1]]) pos--;
      if (pos >= K) continue;
      int64_t last = have < K ? have : K - 1;
      memmove(nn + pos + 1, nn + pos, sizeof *nn * (size_t)(last - pos));
      nn[pos] = i;
      if (have < K) have++;
    }
  }
  if (st == SC_OK) {
    what = "drawing the grid";
    const int S = ao.size, C = ao.channels, zoom = S >= 96 ? 1 : (96 + S - 1) / S, T = S * zoom, pad = 4;
    const int gw = (int)(K + 1) * T + (int)(K + 2) * pad + 2 * pad, gh = T + 2 * pad;
    grid = malloc((size_t)gw * gh * C), tile = malloc(sizeof(float) * (size_t)S * S * C);
    if (!grid || !tile) st = sc_error(SC_ENOMEM, "out of memory for the grid");
    else memset(grid, 255, (size_t)gw * gh * C);
    if (st == SC_OK) st = draw_tile(&ao, &qimg, &as, tile, grid, gw, pad, pad, zoom);
    for (int64_t r = 0; st == SC_OK && r < K; r++) {
      st = sc_dataset_image(ds, dec, nn[r], &scratch, &view);
      const int x0 = pad + (int)(r + 1) * (T + pad) + 2 * pad; /* a wider gap after the query */
      if (st == SC_OK) st = draw_tile(&ao, &view, &as, tile, grid, gw, x0, pad, zoom);
    }
    if (st == SC_OK) what = "writing the PNG", st = sc_png_write(png, grid, gw, gh, C);
  }
  if (st == SC_OK) {
    char name[4096];
    json_t *arr = json ? json_array() : NULL;
    for (int64_t r = 0; r < K; r++) {
      sc_cli_image_name(ds, nn[r], name, sizeof name);
      if (arr)
        json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:f}", "rank", (json_int_t)(r + 1), "index",
                                             (json_int_t)nn[r], "image", name, "similarity", (double)sim[nn[r]]));
      else
        printf("%2" PRId64 "  %.4f  %s\n", r + 1, sim[nn[r]], name);
    }
    if (arr) {
      json_t *o = json_pack("{s:s, s:s, s:o}", "query", query, "png", png, "neighbours", arr);
      json_dumpf(o, stdout, JSON_INDENT(2)), printf("\n");
      json_decref(o);
    } else {
      fprintf(stderr, "simclr knn: wrote %s (query, then %" PRId64 " neighbours)\n", png, K);
    }
  }
  free(emb), free(q), free(sim), free(nn), free(grid), free(tile);
  sc_image_free(&qimg), sc_image_free(&scratch), sc_augment_scratch_free(&as), sc_decoder_destroy(dec);
  sc_dataset_close(ds);
  sc_model_free(m);
  if (st != SC_OK) return sc_cli_fail("knn", what, st == SC_EINVAL ? SC_EFORMAT : st);
  return SC_EXIT_OK;
}
