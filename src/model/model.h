/* model.h (src/model): ResNet-18/34/50 encoders (width multiplier, 1 or 3 input channels, ImageNet or CIFAR stem)
 * with SimCLR's projection head (v1: 2 layers, v2: 3 layers) or a classifier head, as a flat list of layers.
 *
 * Storage: every parameter lives in one flat float buffer (params), its gradient at the same offset in another
 * (grads); BN running statistics in a third (buffers) and num_batches_tracked in an int64 array (counters). Each
 * tensor has its torchvision name and an offset, so a checkpoint is a few contiguous writes. Convolution weights are
 * stored [Cout][kh][kw][Cin] (shape[] below still gives torchvision's [Cout][Cin][kh][kw]); linear weights are
 * [out][in] as PyTorch's.
 *
 * Activations and their gradients live in two arenas planned once per batch size (sc_model_plan): values the
 * backward no longer needs share memory with in-place ReLU and residual adds, and activation gradients share
 * memory by liveness. After planning, forward and backward allocate nothing themselves (the GEMM operators keep
 * their own packing buffers). The forward and backward walk the layer list; nothing else happens in them.
 */
#ifndef SC_MODEL_H
#define SC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "optim/optim.h"
#include "simclr.h"

typedef enum sc_stem { SC_STEM_AUTO = 0, SC_STEM_IMAGENET = 1, SC_STEM_CIFAR = 2 } sc_stem;
typedef enum sc_head { SC_HEAD_NONE = 0, SC_HEAD_PROJ_V1 = 1, SC_HEAD_PROJ_V2 = 2 } sc_head;

typedef struct sc_model_config {
  int depth;              /* 18, 34 (BasicBlock) or 50 (Bottleneck, stride on the 3x3 as torchvision) */
  float width;            /* channel multiplier: 0.25, 0.5, 1, 2, 4 */
  int in_channels;        /* 1 or 3 */
  int image_size;         /* H = W of the input */
  sc_stem stem;           /* AUTO: CIFAR stem (3x3/1, no max-pool) at 32 px or less, ImageNet (7x7/2 + pool) above */
  int zero_init_residual; /* gamma of each block's last BN starts at 0 (default 1) */
  sc_head head;           /* projection head (for pretraining) */
  int proj_dim;           /* projection output width (default 128) */
  int classes;            /* > 0: a classifier fc (classes outputs, with bias); not together with a head */
  uint64_t seed;          /* initialisation: parameter p draws from the stream (seed, p) */
} sc_model_config;

sc_model_config sc_model_defaults(void);

typedef enum sc_tensor_role { SC_TENSOR_PARAM = 0, SC_TENSOR_BUFFER = 1, SC_TENSOR_COUNTER = 2 } sc_tensor_role;

typedef struct sc_tensor_info {
  char name[64];       /* torchvision's key: conv1.weight, layer2.0.downsample.1.running_var, head.0.weight */
  sc_tensor_role role; /* PARAM: in params/grads; BUFFER: in buffers; COUNTER: counters[offset] (I64, shape []) */
  int excluded;        /* a bias or a BN parameter (no weight decay, no LARS scaling) */
  int ndim;
  int64_t shape[4];    /* torchvision's shape */
  int ohwi;            /* a convolution weight stored [O][kh][kw][I] */
  size_t offset, count;
} sc_tensor_info;

typedef struct sc_model sc_model;

/* Builds and initialises a model. SC_EINVAL names the bad field. */
sc_status sc_model_create(const sc_model_config *cfg, sc_model **out);
void sc_model_free(sc_model *m);
/* A model of src's architecture that reads src's parameters, buffers and counters instead of owning copies, with
 * its own activation arenas: several threads run evaluation-mode forwards of one set of weights at once, each
 * through its own view. Training forwards and backwards through a view are refused (SC_EINVAL); src must outlive
 * its views. */
sc_status sc_model_create_view(const sc_model *src, sc_model **out);
/* As sc_model_create, with every parameter, buffer and counter zero instead of initialised: for loaders that
 * overwrite them all (the random initialisation of a ResNet-50 costs seconds). */
sc_status sc_model_create_zeroed(const sc_model_config *cfg, sc_model **out);

/* Plans (or re-plans) the activation arenas for a batch of `batch` images. */
sc_status sc_model_plan(sc_model *m, int64_t batch);

/* The input batch [B][H][W][C] to fill before a forward, and the output of the last forward: the projection
 * [B][proj_dim] with a head, the logits [B][classes] with a classifier, else the features [B][f]. */
float *sc_model_input(sc_model *m);
const float *sc_model_output(const sc_model *m, int64_t *rows, int64_t *cols);
/* The encoder's pooled features [B][f] of the last forward (the representation SimCLR evaluates). */
const float *sc_model_features(const sc_model *m, int64_t *rows, int64_t *cols);
/* The output map [B][h][w][c] of ResNet stage 1..4 (torchvision's layer1..layer4) of the last forward, its size in
 * *h, *w, *c; NULL for another stage, or before planning. Stage 4's map is what the pooled features average. */
const float *sc_model_stage_map(const sc_model *m, int stage, int64_t *h, int64_t *w, int64_t *c);
/* The gradient of the output, same shape: the caller writes it (overwrite or zero-and-accumulate) before backward. */
float *sc_model_output_grad(sc_model *m);

/* training != 0: BN uses and updates batch statistics (needed before a backward); 0: running statistics. */
sc_status sc_model_forward(sc_model *m, int training);
/* Accumulates (+=) into the parameter gradients; call sc_model_zero_grad first for a fresh step. */
sc_status sc_model_backward(sc_model *m);
void sc_model_zero_grad(sc_model *m);

/* Flat storage and the tensor table. */
float *sc_model_params(sc_model *m, size_t *count);
float *sc_model_grads(sc_model *m, size_t *count);
float *sc_model_buffers(sc_model *m, size_t *count);
int64_t *sc_model_counters(sc_model *m, size_t *count);
const sc_tensor_info *sc_model_tensors(const sc_model *m, size_t *count);
const sc_tensor_info *sc_model_find(const sc_model *m, const char *name);
/* One segment per parameter tensor, for the optimiser. */
const sc_optim_seg *sc_model_segments(const sc_model *m, size_t *count);
const sc_model_config *sc_model_config_of(const sc_model *m);
/* Feature width f of the encoder, and the bytes of the two activation arenas of the current plan. */
int64_t sc_model_feature_dim(const sc_model *m);
size_t sc_model_arena_bytes(const sc_model *m);

#endif
