/* fold.h (src/model): a ResNet encoder for inference only, with every BatchNorm folded into the convolution before
 * it, for fast feature extraction. For a convolution with weights w followed by a BN (gamma, beta, running mean mu,
 * running variance var) the folded layer is
 *   w'[o] = w[o] * s[o],  b'[o] = beta[o] - mu[o] * s[o],  s[o] = gamma[o] / sqrt(var[o] + eps)
 * (computed in double, rounded once), and the forward is convolution (+ residual add) + bias (+ ReLU) with no BN
 * pass: the same function as the model's evaluation-mode forward, up to rounding. The residual add, bias and ReLU
 * are the convolution's epilogue (src/ops/conv2d.h), applied to each block of its output while that is in cache.
 *
 * The folded weights are a snapshot taken by sc_folded_create (or sc_folded_refresh): later changes to the
 * model's parameters or running statistics are not seen until a refresh. The encoder ends at the pooled features
 * (or the pooled maps of chosen stages); projection head and classifier are not part of it. It owns its memory and
 * never touches the model's arenas, so the model may keep training while a folded copy serves features. Like the
 * model, its forward allocates nothing once planned (the convolution operators keep their own packing buffers).
 */
#ifndef SC_MODEL_FOLD_H
#define SC_MODEL_FOLD_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef struct sc_folded sc_folded;

/* Folds the encoder of m (any depth, width, stem and input channels sc_model_create accepts). SC_EINVAL if a tensor
 * the architecture needs is missing from m's table (a model built elsewhere). */
sc_status sc_folded_create(const sc_model *m, sc_folded **out);
/* As sc_folded_create, with other features: the output maps of the stages in `stages` (bit s-1: stage s,
 * torchvision's layer<s>), each average-pooled onto at most grid x grid cells (fewer on a smaller map), side by side
 * per image in stage order, cells row-major, channels innermost. sc_folded_create is stages 8 (stage 4), grid 1. */
sc_status sc_folded_create_maps(const sc_model *m, unsigned stages, int grid, sc_folded **out);
/* Recomputes the folded weights from m, which must have the architecture f was created from. */
sc_status sc_folded_refresh(sc_folded *f, const sc_model *m);
void sc_folded_free(sc_folded *f);

/* Plans the activation buffers for batches of up to `batch` images (re-planning to another size reallocates). */
sc_status sc_folded_plan(sc_folded *f, int64_t batch);
/* The input batch [B][H][W][C] (B the planned batch) to fill before a forward; NULL before planning. */
float *sc_folded_input(sc_folded *f);
/* Runs the first n images of the input (1 <= n <= planned batch) through the encoder. */
sc_status sc_folded_forward(sc_folded *f, int64_t n);
/* The features [n][f] of the last forward (*rows = its n, *cols = f). */
const float *sc_folded_features(const sc_folded *f, int64_t *rows, int64_t *cols);

/* Image size and channels the encoder takes, its feature width, and the bytes of its weights and activations. */
int sc_folded_image_size(const sc_folded *f);
int sc_folded_in_channels(const sc_folded *f);
int64_t sc_folded_feature_dim(const sc_folded *f);
size_t sc_folded_bytes(const sc_folded *f);

#endif
