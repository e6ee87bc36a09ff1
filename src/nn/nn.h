/* nn.h (src/nn): the layers of the engine as explicit forward/backward pairs on NHWC fp32 tensors, in the style of
 * llm.c: each layer is one file, its *_forward computes outputs from inputs and parameters, its *_backward takes the
 * gradients it produces first. Parameter gradients are accumulated into (+=); the gradient of the input is added
 * into or set as its sc_grad_write says (SC_GRAD_SET for the first layer, in backward order, that writes it), so
 * that the branches of a network add up without copies or zeroing passes. The layers outside the model's graph
 * (L2 normalisation, the losses) take no sc_grad_write and add into it.
 *
 * Letters used in the shape comments: N images, H x W pixels, C input channels, K output channels (or classes),
 * F features of a fully connected layer, D embedding width. "rows" is N*H*W where a layer treats every pixel alike.
 * Layers never allocate (scratch comes from the caller's arena) and never print; they return sc_status.
 * A gradient pointer that is NULL means "not wanted" (e.g. the image input of the first convolution).
 */
#ifndef SC_NN_H
#define SC_NN_H

#include <stdint.h>

#include "simclr_ops.h"

/* ---- convolution (no bias) ---- */
sc_status sc_nn_conv2d_forward(const sc_conv2d_shape *s, const float *x, const float *w, float *y);
sc_status sc_nn_conv2d_backward(const sc_conv2d_shape *s, float *dx, sc_grad_write dxw, float *dw, const float *dy,
                                const float *x, const float *w);

/* ---- batch normalisation over rows of C channels (2-d: rows = N*H*W; 1-d: rows = N) ---- */
typedef struct sc_nn_bn_state {
  float *running_mean, *running_var; /* C each; updated in training mode */
  float *save_mean, *save_var;       /* C each: the batch statistics kept for the backward (biased variance) */
} sc_nn_bn_state;
#define SC_NN_BN_EPS 1e-5f
#define SC_NN_BN_MOMENTUM 0.1f
sc_status sc_nn_batchnorm_forward(int64_t rows, int64_t c, const float *x, const float *gamma, const float *beta,
                                  sc_nn_bn_state *st, int training, int relu, float eps, float momentum, float *y);
sc_status sc_nn_batchnorm_backward(int64_t rows, int64_t c, float *dx, sc_grad_write dxw, float *dgamma,
                                   float *dbeta, const float *dy, const float *x, const sc_nn_bn_state *st,
                                   const float *gamma, const float *beta, int relu, float eps);

/* The end of a ResNet block, y = relu(BN(x) + res) (y may not overwrite res, nor x in training); the backward
 * takes the forward's output y for the ReLU's mask and also writes the residual's gradient dres (NULL: skipped). */
sc_status sc_nn_batchnorm_add_relu_forward(int64_t rows, int64_t c, const float *x, const float *res,
                                           const float *gamma, const float *beta, sc_nn_bn_state *st, int training,
                                           float eps, float momentum, float *y);
sc_status sc_nn_batchnorm_add_relu_backward(int64_t rows, int64_t c, float *dx, sc_grad_write dxw, float *dres,
                                            sc_grad_write dresw, float *dgamma, float *dbeta, const float *dy,
                                            const float *y, const float *x, const sc_nn_bn_state *st,
                                            const float *gamma, float eps);

/* Synchronised batch norm (SimCLR's global BN in data-parallel training): while a reducer is installed on the
 * calling thread, every training-mode BN forward normalises with the statistics of the whole global batch (the
 * per-channel sum, sum of squares and count of every replica, added up in double) and its backward uses the global
 * sums of dy and dy*xhat. The reducer sums a double buffer in place over the replicas; dbuf holds at least
 * 2*max_c + 1 doubles and fbuf 2*max_c floats (scratch, so the layer still allocates nothing). NULL removes it. */
typedef struct sc_nn_bn_sync {
  sc_status (*sum)(void *ctx, double *buf, int64_t count);
  void *ctx;
  double *dbuf;
  float *fbuf;
  int64_t max_c;
} sc_nn_bn_sync;
void sc_nn_batchnorm_set_sync(const sc_nn_bn_sync *sync);

/* ---- pooling ---- */
sc_status sc_nn_maxpool_forward(const sc_pool2d_shape *s, const float *x, float *y);
sc_status sc_nn_maxpool_backward(const sc_pool2d_shape *s, float *dx, sc_grad_write dxw, const float *dy,
                                 const float *x, const float *y);
sc_status sc_nn_avgpool_forward(int64_t n, int64_t h, int64_t w, int64_t c, const float *x, float *y);
sc_status sc_nn_avgpool_backward(int64_t n, int64_t h, int64_t w, int64_t c, float *dx, sc_grad_write dxw,
                                 const float *dy);

/* ---- fully connected: weights [K][F] as PyTorch's Linear, optional bias [K] ---- */
sc_status sc_nn_linear_forward(int64_t rows, int64_t f, int64_t k, const float *x, const float *w, const float *b,
                               float *y);
sc_status sc_nn_linear_backward(int64_t rows, int64_t f, int64_t k, float *dx, sc_grad_write dxw, float *dw,
                                float *db, const float *dy, const float *x, const float *w);

/* ---- L2 normalisation of rows (F.normalize, eps 1e-12) ---- */
#define SC_NN_L2_EPS 1e-12f
sc_status sc_nn_l2norm_forward(int64_t rows, int64_t d, const float *x, float *y);
sc_status sc_nn_l2norm_backward(int64_t rows, int64_t d, float *dx, const float *dy, const float *x,
                                const float *y);

/* ---- softmax cross-entropy, mean over rows ---- */
sc_status sc_nn_xent_forward(int64_t n, int64_t k, const float *logits, const int32_t *labels, float *loss,
                             float *prob);
sc_status sc_nn_xent_backward(int64_t n, int64_t k, float *dlogits, float dloss, const float *prob,
                              const int32_t *labels);

/* ---- NT-Xent (SimCLR's loss) ---- */
sc_status sc_nn_ntxent_forward(int64_t two_n, int64_t d, float tau, const float *z, float *loss, float *saved_dz);
sc_status sc_nn_ntxent_backward(int64_t two_n, int64_t d, float *dz, float dloss, const float *saved_dz);

#endif
