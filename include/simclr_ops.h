/* simclr_ops.h: the engine's compute kernels as a public C API, for programs that call them directly and for
 * the benchmark suite.
 *
 * All tensors are fp32, row-major; activations are NHWC and convolution weights [K][kh][kw][C]. Sizes are int64_t
 * so that a negative size is reported (SC_EINVAL) rather than wrapped. Every function validates its arguments
 * (null pointers, negative or overflowing sizes, leading dimensions smaller than a row) and returns a status
 * without touching memory when they are bad. Each call uses the kernel table chosen by sc_init()/sc_set_max_isa()
 * and sc_num_threads() threads. Backward functions take the gradients they produce first. Weight gradients (dw,
 * dgamma, dbeta, a bias's db) are accumulated into (+=); how an activation gradient (dx, or da and db) is written
 * is the caller's choice, an sc_grad_write passed right after it.
 */
#ifndef SIMCLR_OPS_H
#define SIMCLR_OPS_H

#include "simclr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a backward writes the activation gradient it produces. SC_GRAD_ADD adds into it (+=), so that the branches
 * of a network sum without copies. SC_GRAD_SET overwrites it and never reads its old contents (NaN included): the
 * first writer of a gradient sets it, which spares a zeroing pass over memory and a read. */
typedef enum sc_grad_write { SC_GRAD_ADD = 0, SC_GRAD_SET = 1 } sc_grad_write;

/* ---- GEMM ---------------------------------------------------------------------------------------------------- */

typedef enum sc_trans { SC_NO_TRANS = 0, SC_TRANS = 1 } sc_trans;

/* C[m x n] = alpha * op(A) * op(B) + beta * C, row-major. op(A) is m x k: A is m x k (lda >= k) when ta is
 * SC_NO_TRANS, k x m (lda >= m) when SC_TRANS; likewise op(B) is k x n. ldc >= n. beta == 0 ignores C's contents
 * (NaN in C does not propagate), as BLAS does. */
sc_status sc_sgemm(sc_trans ta, sc_trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* ---- Convolution (NHWC, no bias) ---------------------------------------------------------------------------- */

typedef struct sc_conv2d_shape {
  int64_t n, h, w, c;                 /* input: N x H x W x C */
  int64_t k;                          /* output channels */
  int64_t kh, kw;                     /* kernel size */
  int64_t stride_h, stride_w;         /* >= 1 */
  int64_t pad_h, pad_w;               /* zero padding on each side, >= 0 */
} sc_conv2d_shape;

/* Output spatial size: oh = (h + 2*pad_h - kh) / stride_h + 1 (likewise ow); SC_EINVAL if the shape is bad. */
sc_status sc_conv2d_out_size(const sc_conv2d_shape *s, int64_t *oh, int64_t *ow);

/* y[N][OH][OW][K] = conv(x[N][H][W][C], w[K][kh][kw][C]). Overwrites y. */
sc_status sc_conv2d_forward(const sc_conv2d_shape *s, const float *x, const float *w, float *y);
/* dx[N][H][W][C] += (or =, per dxw) conv_transpose(dy[N][OH][OW][K], w). */
sc_status sc_conv2d_backward_data(const sc_conv2d_shape *s, float *dx, sc_grad_write dxw, const float *dy,
                                  const float *w);
/* dw[K][kh][kw][C] += sum over n, pixels of dy x im2col(x). */
sc_status sc_conv2d_backward_weights(const sc_conv2d_shape *s, float *dw, const float *dy, const float *x);

/* ---- NT-Xent softmax-similarity ----------------------------------------------------------------------------- */

/* The fused core of SimCLR's NT-Xent loss. z holds 2N rows of d floats: rows i and i+N are the two views of
 * sample i (the positive of row i is row (i + N) mod 2N). Rows are L2-normalised, S = Zn Zn^T / tau, the diagonal
 * is excluded, and loss = mean over the 2N rows of -log softmax(S_i)[pos(i)]. If dz is not NULL it receives
 * dloss/dz (overwritten, 2N x d). Uses O((2N)^2) floats of scratch, allocated once and reused. */
sc_status sc_ntxent(int64_t two_n, int64_t d, float tau, const float *z, float *loss, float *dz);

/* ---- Element-wise and pooling layers (NHWC) ----------------------------------------------------------------- */
/* Shapes: N images of H x W pixels with C channels, stored x[N][H][W][C]; "rows" is N*H*W (a pixel is a row of C
 * contiguous floats) and "count" is N*H*W*C. Where an output may alias an input it is said so; otherwise the
 * buffers must not overlap. */

/* y[count] = max(x, 0). y may equal x (in place). NaN becomes 0. */
sc_status sc_relu_forward(int64_t count, const float *x, float *y);
/* dx[count] += (or =, per dxw) dy where y > 0, 0 elsewhere. The mask is taken from the forward's output y (so an
 * in-place forward loses nothing); passing the forward's input x instead gives the same mask. */
sc_status sc_relu_backward(int64_t count, float *dx, sc_grad_write dxw, const float *dy, const float *y);

/* y[rows][C] += b[C] (a bias per channel, in place). */
sc_status sc_bias_add_forward(int64_t rows, int64_t c, const float *b, float *y);
/* db[C] += sum over the rows of dy[rows][C] (accumulated in double). */
sc_status sc_bias_add_backward(int64_t rows, int64_t c, float *db, const float *dy);

/* y[count] = a + b (the residual add). y may equal a or b. Its backward sends dy unchanged to both branches:
 * sc_accumulate(count, da, dy) and sc_accumulate(count, db, dy). */
sc_status sc_add(int64_t count, const float *a, const float *b, float *y);
/* dst[count] += src. */
sc_status sc_accumulate(int64_t count, float *dst, const float *src);
/* y[count] = max(a + b, 0): a residual add and the ReLU after it, in one pass over memory. y may equal a or b. Its
 * backward sends dy where y > 0 (0 elsewhere) to both branches: into da as daw says, into db as dbw says (either
 * may be NULL). */
sc_status sc_add_relu_forward(int64_t count, const float *a, const float *b, float *y);
sc_status sc_add_relu_backward(int64_t count, float *da, sc_grad_write daw, float *db, sc_grad_write dbw,
                               const float *dy, const float *y);

/* Batch statistics per channel over the rows of x[rows][C]: mean[C] and the biased variance var[C] (divided by
 * rows, as the normalisation uses; the layer rescales by rows/(rows-1) for its running average). Accumulated in
 * double around a per-channel shift, so a large mean does not swamp the variance. rows >= 1. */
sc_status sc_batchnorm_stats(int64_t rows, int64_t c, const float *x, float *mean, float *var);
/* y[rows][C] = gamma * (x - mean) / sqrt(var + eps) + beta, then max(y, 0) if relu != 0 (the fused BN+ReLU).
 * mean, var, gamma, beta have C entries (batch statistics in training, running ones in evaluation); eps > 0.
 * y may equal x. */
sc_status sc_batchnorm_apply(int64_t rows, int64_t c, const float *x, const float *mean, const float *var,
                             float eps, const float *gamma, const float *beta, int relu, float *y);
/* Backward of the training-mode normalisation (mean and var are the batch statistics of x, so their own
 * gradients are included). With invstd = 1/sqrt(var + eps), xhat = (x-mean)*invstd and g = dy[rows][C], set to
 * 0 where the fused ReLU passed nothing if relu != 0 (the forward was sc_batchnorm_apply with relu: its mask,
 * gamma*xhat + beta > 0, is recomputed from x exactly as the apply computed it, so the forward's output is not
 * needed; beta may be NULL when relu == 0):
 *   dgamma[C] += sum g*xhat,  dbeta[C] += sum g,
 *   dx[rows][C] += (or =, per dxw) gamma*invstd*(g - mean(g) - xhat*mean(g*xhat))   (skipped when dx is NULL). */
sc_status sc_batchnorm_backward(int64_t rows, int64_t c, float *dx, sc_grad_write dxw, float *dgamma, float *dbeta,
                                const float *dy, const float *x, const float *mean, const float *var, float eps,
                                const float *gamma, const float *beta, int relu);

typedef struct sc_pool2d_shape {
  int64_t n, h, w, c;         /* input: N x H x W x C */
  int64_t kh, kw;             /* window, >= 1 */
  int64_t stride_h, stride_w; /* >= 1 */
  int64_t pad_h, pad_w;       /* implicit -infinity padding on each side, 0 <= pad < window, so no window is empty */
} sc_pool2d_shape;

/* Output spatial size: oh = (h + 2*pad_h - kh) / stride_h + 1 (likewise ow); SC_EINVAL if the shape is bad. */
sc_status sc_pool2d_out_size(const sc_pool2d_shape *s, int64_t *oh, int64_t *ow);
/* y[N][OH][OW][C] = max of x[N][H][W][C] over each window (ResNet's stem: 3x3, stride 2, pad 1). */
sc_status sc_maxpool2d_forward(const sc_pool2d_shape *s, const float *x, float *y);
/* dx[N][H][W][C] += (or =, per dxw) dy[N][OH][OW][C] routed to the maximum of each window. The maximum is
 * recomputed from x and the forward's y (no index is stored): the first window element, in row-major window order,
 * equal to y. */
sc_status sc_maxpool2d_backward(const sc_pool2d_shape *s, float *dx, sc_grad_write dxw, const float *dy,
                                const float *x, const float *y);

/* y[N][C] = mean over H*W of x[N][H][W][C] (accumulated in double). */
sc_status sc_avgpool_global_forward(int64_t n, int64_t h, int64_t w, int64_t c, const float *x, float *y);
/* y[N][GH][GW][C] = mean of x[N][H][W][C] over each cell of a GH x GW grid (1 <= GH <= H, 1 <= GW <= W), the cells
 * as PyTorch's adaptive_avg_pool2d draws them: cell i of G over n pixels spans [i*n/G, ceil((i+1)*n/G)); image i's
 * output starts at y + i*ldy (ldy >= GH*GW*C), so several maps can be pooled side by side into one row. */
sc_status sc_avgpool_grid_forward(int64_t n, int64_t h, int64_t w, int64_t c, int64_t gh, int64_t gw, const float *x,
                                  float *y, int64_t ldy);
/* dx[N][H][W][C] += (or =, per dxw) dy[N][C] / (H*W). */
sc_status sc_avgpool_global_backward(int64_t n, int64_t h, int64_t w, int64_t c, float *dx, sc_grad_write dxw,
                                     const float *dy);

#ifdef __cplusplus
}
#endif
#endif
