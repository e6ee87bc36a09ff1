/* infer_util.c: the helpers of infer_util.h. Images go through the same evaluation transform as the public API
 * (src/api/infer.h), so `simclr embed` rows and sc_model_embed_image() agree. Writes only through the atomic
 * writer; never prints to stdout. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/infer.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "infer_util.h"

int sc_cli_parse_layer(const char *s, sc_cli_layer *out) {
  if (!strcmp(s, "features")) *out = SC_CLI_FEATURES;
  else if (!strcmp(s, "head")) *out = SC_CLI_HEAD;
  else return 0;
  return 1;
}

sc_status sc_cli_layer_dim(const sc_model *m, sc_cli_layer layer, int64_t *dim) {
  const sc_model_config *c = sc_model_config_of(m);
  if (layer == SC_CLI_HEAD) {
    if (c->head == SC_HEAD_NONE)
      return sc_error(SC_EINVAL, "--layer head: the checkpoint has no projection head (use --layer features)");
    *dim = c->proj_dim;
  } else {
    *dim = sc_model_feature_dim(m);
  }
  return SC_OK;
}

sc_status sc_cli_run_images(sc_model *m, const sc_augment_options *ao, const sc_image *const *imgs, int64_t n,
                            int layer, sc_augment_scratch *scratch, float *out) {
  const size_t px = (size_t)ao->size * ao->size * ao->channels;
  float *in = sc_model_input(m);
  for (int64_t i = 0; i < n; i++) SC_TRY(sc_infer_view(ao, imgs[i], scratch, in + (size_t)i * px));
  SC_TRY(sc_model_forward(m, 0));
  int64_t cols;
  const float *src = layer == SC_CLI_FEATURES ? sc_model_features(m, NULL, &cols) : sc_model_output(m, NULL, &cols);
  memcpy(out, src, sizeof(float) * (size_t)(n * cols));
  return SC_OK;
}

sc_status sc_cli_embed_dataset(sc_model *m, const sc_dataset *ds, int64_t batch, sc_cli_layer layer, sc_progress *pg,
                               float **out, int64_t *dim) {
  *out = NULL;
  SC_TRY(sc_cli_layer_dim(m, layer, dim));
  if (ds->n < 1) return sc_error(SC_EINVAL, "the dataset holds no images");
  const int64_t cap = batch < ds->n ? batch : ds->n;
  SC_TRY(sc_model_plan(m, cap));
  const sc_augment_options ao = sc_infer_transform(m);
  const size_t px = (size_t)ao.size * ao.size * ao.channels;
  float *v = malloc(sizeof(float) * (size_t)(ds->n * *dim));
  sc_decoder *dec = NULL;
  sc_image scratch = {0}, view;
  sc_augment_scratch as = {0};
  sc_status st = v ? sc_decoder_create(&dec) : sc_error(SC_ENOMEM, "out of memory for %" PRId64 " embeddings", ds->n);
  for (int64_t b0 = 0; st == SC_OK && b0 < ds->n; b0 += cap) {
    const int64_t nb = ds->n - b0 < cap ? ds->n - b0 : cap;
    float *in = sc_model_input(m);
    for (int64_t i = 0; st == SC_OK && i < nb; i++) {
      st = sc_dataset_image(ds, dec, b0 + i, &scratch, &view);
      if (st == SC_OK) st = sc_infer_view(&ao, &view, &as, in + (size_t)i * px);
    }
    if (st == SC_OK) st = sc_model_forward(m, 0);
    if (st != SC_OK) break;
    const float *src = layer == SC_CLI_FEATURES ? sc_model_features(m, NULL, NULL) : sc_model_output(m, NULL, NULL);
    memcpy(v + (size_t)(b0 * *dim), src, sizeof(float) * (size_t)(nb * *dim));
    if (pg) sc_progress_update(pg, b0 + nb, NULL);
  }
  sc_decoder_destroy(dec), sc_image_free(&scratch), sc_augment_scratch_free(&as);
  if (st != SC_OK) {
    free(v);
    return st;
  }
  *out = v;
  return SC_OK;
}

/* ---- files --------------------------------------------------------------------------------------------- */

typedef struct npy_ctx {
  const float *v;
  int64_t rows, cols;
} npy_ctx;

static sc_status npy_body(FILE *f, void *p) {
  const npy_ctx *c = p;
  char dict[128];
  int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%" PRId64 ", %" PRId64
                   "), }", c->rows, c->cols);
  /* magic (6) + version (2) + length (2) + dict, padded with spaces and a final newline to a multiple of 64 */
  size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64, hlen = total - 10;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                           (unsigned char)(hlen >> 8)};
  fwrite(pre, 1, sizeof pre, f);
  fwrite(dict, 1, (size_t)n, f);
  for (size_t i = (size_t)n; i + 1 < hlen; i++) fputc(' ', f);
  fputc('\n', f);
  /* little-endian float32 on every host this builds for (x86-64, aarch64) */
  fwrite(c->v, sizeof(float), (size_t)(c->rows * c->cols), f);
  return SC_OK;
}

sc_status sc_cli_write_npy(const char *path, const float *v, int64_t rows, int64_t cols) {
  npy_ctx c = {v, rows, cols};
  return sc_atomic_write(path, npy_body, &c);
}

sc_status sc_cli_write_text(const char *path, const char *text, size_t len) {
  return sc_atomic_write_buffer(path, text, len);
}

const char *sc_cli_image_name(const sc_dataset *ds, int64_t i, char *buf, size_t n) {
  if (ds->paths) snprintf(buf, n, "%s", ds->paths[i]);
  else snprintf(buf, n, "%s#%s%" PRId64, ds->root ? ds->root : "data", ds->opt.test_split ? "test/" : "", i);
  return buf;
}
