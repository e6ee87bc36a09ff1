/* simclr_ops.h: the engine's compute kernels as a public C API, for programs that call them directly and for
 * the benchmark suite.
 *
 * All tensors are fp32, row-major; activations are NHWC and convolution weights [K][kh][kw][C]. Sizes are int64_t
 * so that a negative size is reported (SC_EINVAL) rather than wrapped. Every function validates its arguments
 * (null pointers, negative or overflowing sizes, leading dimensions smaller than a row) and returns a status
 * without touching memory when they are bad. Each call uses the kernel table chosen by sc_init()/sc_set_max_isa()
 * and sc_num_threads() threads. Backward functions take the gradients they produce first and accumulate into
 * them (+=), so that branches of a network add up without extra copies.
 */
#ifndef SIMCLR_OPS_H
#define SIMCLR_OPS_H

#include "simclr.h"

#ifdef __cplusplus
extern "C" {
#endif

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
/* dx[N][H][W][C] += conv_transpose(dy[N][OH][OW][K], w). */
sc_status sc_conv2d_backward_data(const sc_conv2d_shape *s, float *dx, const float *dy, const float *w);
/* dw[K][kh][kw][C] += sum over n, pixels of dy x im2col(x). */
sc_status sc_conv2d_backward_weights(const sc_conv2d_shape *s, float *dw, const float *dy, const float *x);

/* ---- NT-Xent softmax-similarity ----------------------------------------------------------------------------- */

/* The fused core of SimCLR's NT-Xent loss. z holds 2N rows of d floats: rows i and i+N are the two views of
 * sample i (the positive of row i is row (i + N) mod 2N). Rows are L2-normalised, S = Zn Zn^T / tau, the diagonal
 * is excluded, and loss = mean over the 2N rows of -log softmax(S_i)[pos(i)]. If dz is not NULL it receives
 * dloss/dz (overwritten, 2N x d). Uses O((2N)^2) floats of scratch, allocated once and reused. */
sc_status sc_ntxent(int64_t two_n, int64_t d, float tau, const float *z, float *loss, float *dz);

/* ---- Element-wise and pooling layers (NHWC) ----------------------------------------------------------------- */
/* (declared by the element-wise kernels: ReLU, bias and residual add, batch-norm statistics and apply,
 *  max-pool, global average pool; each with its backward) */

#ifdef __cplusplus
}
#endif
#endif
