/* infer_util.h: what the inference commands (embed, predict, knn) share: loading a checkpoint for inference,
 * running images through a model in batches with the evaluation transform, and writing .npy, text lists and PNG
 * grids atomically. Functions return sc_status with an sc_error() message; progress goes to stderr through
 * progress.h; nothing here writes to stdout or exits. */
#ifndef SC_CLI_INFER_UTIL_H
#define SC_CLI_INFER_UTIL_H

#include <stdint.h>

#include "data/augment.h"
#include "data/dataset.h"
#include "model/model.h"
#include "progress.h"

/* Which rows a batch produces: encoder features (h) or projection head output (z). */
typedef enum sc_cli_layer { SC_CLI_FEATURES = 0, SC_CLI_HEAD = 1 } sc_cli_layer;

/* Parses "features" or "head" (1 on success). */
int sc_cli_parse_layer(const char *s, sc_cli_layer *out);
/* Width of the rows of layer for m; SC_EINVAL when m has no head and layer is SC_CLI_HEAD. */
sc_status sc_cli_layer_dim(const sc_model *m, sc_cli_layer layer, int64_t *dim);

/* Embeds every image of ds ([ds->n][dim], malloc'd into *out) in batches of at most `batch` rows; m gets planned
 * for min(batch, n) rows. pg (may be NULL) gets progress. */
sc_status sc_cli_embed_dataset(sc_model *m, const sc_dataset *ds, int64_t batch, sc_cli_layer layer, sc_progress *pg,
                               float **out, int64_t *dim);
/* Output rows of n decoded images (n <= the model's planned batch; out: [n][dim] of the layer's width, or the
 * model output for a classifier when layer is -1). */
sc_status sc_cli_run_images(sc_model *m, const sc_augment_options *ao, const sc_image *const *imgs, int64_t n,
                            int layer, sc_augment_scratch *scratch, float *out);

/* A float32 [rows][cols] array as an NPY v1.0 file, atomically. */
sc_status sc_cli_write_npy(const char *path, const float *v, int64_t rows, int64_t cols);
/* Bytes as a file, atomically. */
sc_status sc_cli_write_text(const char *path, const char *text, size_t len);

/* A name for image i of ds: its path for image folders, else "<root>#<i>" ("<root>#test/<i>" for a test split).
 * Writes into buf. */
const char *sc_cli_image_name(const sc_dataset *ds, int64_t i, char *buf, size_t n);

#endif
