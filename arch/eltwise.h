/* eltwise.h: per-ISA element-wise and pooling kernels on NHWC tensors (ReLU, bias and residual add, batch-norm
 * statistics, apply and backward, max-pool, global average pool; forward and backward).
 *
 * These are the inner loops only: they run on one thread over a block the driver (src/ops/eltwise.c,
 * batchnorm.c, pool.c) hands them, never validate arguments, never allocate. "rows" are pixels (N*H*W of them,
 * or a slice), "c" is the number of channels the kernel touches and "ld" the distance in floats between two rows
 * (the tensor's full channel count, so that a driver can work on a block of channels). Per-channel arrays (bias,
 * mean, scale, accumulators) hold c entries. Pointers need no particular alignment. Sums that decide a statistic or
 * a parameter gradient accumulate in double.
 */
#ifndef SC_ARCH_ELTWISE_H
#define SC_ARCH_ELTWISE_H

#include <stddef.h>

/* y[i] = max(x[i], 0) for i < n; y may equal x. NaN gives 0. */
typedef void (*sc_f32_relu_fn)(size_t n, const float *x, float *y);
/* For i < n, where y[i] > 0 (y is the ReLU's output; its input gives the same mask): dx[i] += dy[i] if accumulate,
 * else dx[i] = dy[i]. Elsewhere dx[i] is kept if accumulate, else set to 0 (its old value is never read). */
typedef void (*sc_f32_relu_backward_fn)(size_t n, const float *y, const float *dy, float *dx, int accumulate);
/* y[i] = a[i] + b[i] for i < n; y may equal a or b. */
typedef void (*sc_f32_add_fn)(size_t n, const float *a, const float *b, float *y);
/* A layer's epilogue, in place: for r < rows, j < c, v = y[r*ld + j], then v += res[r*ldr + j] (res NULL: skipped),
 * then v += b[j] (b NULL: skipped), then v = max(v, 0) (relu nonzero; NaN gives 0), and y[r*ld + j] = v. Each step
 * rounds as the separate add, bias and ReLU kernels would, and a skipped step is not an addition of 0 (-0 stays).
 * res may equal y (ldr == ld); otherwise it does not overlap y. */
typedef void (*sc_f32_add_bias_relu_fn)(size_t rows, size_t c, size_t ld, float *y, const float *res, size_t ldr,
                                        const float *b, int relu);
/* acc[j] += sum over r < rows of x[r*ld + j], in double. */
typedef void (*sc_f32_col_sum_fn)(size_t rows, size_t c, size_t ld, const float *x, double *acc);
/* With d = (double)x[r*ld + j] - shift[j]: sum[j] += sum_r d, sumsq[j] += sum_r d*d. The shift (any value near
 * the mean, e.g. the channel's first element) keeps the variance from cancelling when the mean is large. */
typedef void (*sc_f32_bn_stats_fn)(size_t rows, size_t c, size_t ld, const float *x, const float *shift,
                                   double *sum, double *sumsq);
/* y[r*ld + j] = (x[r*ld + j] - mean[j]) * scale[j] + beta[j], then max(., 0) if relu; y may equal x. */
typedef void (*sc_f32_bn_apply_fn)(size_t rows, size_t c, size_t ld, const float *x, const float *mean,
                                   const float *scale, const float *beta, float *y, int relu);
/* With g = dy[r*ld + j], set to 0 where scale != NULL and the pre-activation (x[r*ld + j] - mean[j]) * scale[j] +
 * beta[j] is not > 0: the ReLU fused into the forward, whose mask the backward recomputes from x rather than
 * reading the forward's output. The pre-activation is computed exactly as the same ISA's bn_apply computes it, so
 * the mask is the forward's bit for bit. sum_dy[j] += sum_r g, sum_dyx[j] += sum_r g * (x[r*ld + j] - mean[j]),
 * in double. */
typedef void (*sc_f32_bn_backward_reduce_fn)(size_t rows, size_t c, size_t ld, const float *x, const float *dy,
                                             const float *mean, const float *scale, const float *beta,
                                             double *sum_dy, double *sum_dyx);
/* With g masked as above and t = a[j]*g + b[j]*(x[r*ld + j] - mean[j]) + d[j]: dx[r*ld + j] += t if accumulate,
 * else dx[r*ld + j] = t (its old value is never read). */
typedef void (*sc_f32_bn_backward_dx_fn)(size_t rows, size_t c, size_t ld, const float *x, const float *dy,
                                         const float *mean, const float *scale, const float *beta, const float *a,
                                         const float *b, const float *d, float *dx, int accumulate);
/* One max-pool output pixel: y[j] = max over i < kh, k < kw of x[i*rs + k*cs + j], j < c. The driver clips the
 * window to the image, so kh, kw >= 1 and every element read is real. */
typedef void (*sc_f32_maxpool_fn)(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs, float *y);
/* Backward of one output pixel, by recomputation: for each j, dy[j] is added to dx at the first window element
 * (row-major window order) whose x equals y[j], the element the forward chose. dx has x's strides. */
typedef void (*sc_f32_maxpool_backward_fn)(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs,
                                           const float *y, const float *dy, float *dx);

typedef struct sc_eltwise_config {
  sc_f32_relu_fn relu;
  sc_f32_relu_backward_fn relu_backward;
  sc_f32_add_fn add;
  sc_f32_add_bias_relu_fn add_bias_relu;
  sc_f32_col_sum_fn col_sum;
  sc_f32_bn_stats_fn bn_stats;
  sc_f32_bn_apply_fn bn_apply;
  sc_f32_bn_backward_reduce_fn bn_backward_reduce;
  sc_f32_bn_backward_dx_fn bn_backward_dx;
  sc_f32_maxpool_fn maxpool;
  sc_f32_maxpool_backward_fn maxpool_backward;
} sc_eltwise_config;

/* Declares the kernels of one ISA (the names every arch/<isa>/f32_{eltwise,batchnorm,maxpool}__<isa>.c defines),
 * so that kernel files and the config table are checked against the same signatures. */
#define SC_ELTWISE_DECLARE(isa)                                                                                   \
  void sc_f32_relu_forward__##isa(size_t n, const float *x, float *y);                                            \
  void sc_f32_relu_backward__##isa(size_t n, const float *y, const float *dy, float *dx, int accumulate);         \
  void sc_f32_add__##isa(size_t n, const float *a, const float *b, float *y);                                     \
  void sc_f32_add_bias_relu__##isa(size_t rows, size_t c, size_t ld, float *y, const float *res, size_t ldr,       \
                                   const float *b, int relu);                                                     \
  void sc_f32_col_sum__##isa(size_t rows, size_t c, size_t ld, const float *x, double *acc);                      \
  void sc_f32_bn_stats__##isa(size_t rows, size_t c, size_t ld, const float *x, const float *shift, double *sum,   \
                              double *sumsq);                                                                     \
  void sc_f32_bn_apply__##isa(size_t rows, size_t c, size_t ld, const float *x, const float *mean,                \
                              const float *scale, const float *beta, float *y, int relu);                         \
  void sc_f32_bn_backward_reduce__##isa(size_t rows, size_t c, size_t ld, const float *x, const float *dy,        \
                                        const float *mean, const float *scale, const float *beta, double *sum_dy, \
                                        double *sum_dyx);                                                         \
  void sc_f32_bn_backward_dx__##isa(size_t rows, size_t c, size_t ld, const float *x, const float *dy,            \
                                    const float *mean, const float *scale, const float *beta, const float *a,     \
                                    const float *b, const float *d, float *dx, int accumulate);                   \
  void sc_f32_maxpool_forward__##isa(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs,        \
                                     float *y);                                                                   \
  void sc_f32_maxpool_backward__##isa(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs,       \
                                      const float *y, const float *dy, float *dx);

/* Defines sc_f32_add_bias_relu__<isa> for a kernel file that has a static inline (always inlined)
 * add_bias_relu_rows(rows, c, ld, y, res, ldr, b, has_res, has_b, relu): one call per combination of steps present,
 * with the three flags as constants, so that each combination compiles to a loop of its own with no test inside. */
#define SC_ADD_BIAS_RELU_DEFINE(isa)                                                                              \
  void sc_f32_add_bias_relu__##isa(size_t rows, size_t c, size_t ld, float *y, const float *res, size_t ldr,      \
                                   const float *b, int relu) {                                                    \
    switch ((res ? 4 : 0) | (b ? 2 : 0) | (relu ? 1 : 0)) {                                                       \
    case 0: return;                                                                                               \
    case 1: add_bias_relu_rows(rows, c, ld, y, res, ldr, b, 0, 0, 1); return;                                     \
    case 2: add_bias_relu_rows(rows, c, ld, y, res, ldr, b, 0, 1, 0); return;                                     \
    case 3: add_bias_relu_rows(rows, c, ld, y, res, ldr, b, 0, 1, 1); return;                                     \
    case 4: add_bias_relu_rows(rows, c, ld, y, res, ldr, b, 1, 0, 0); return;                                     \
    case 5: add_bias_relu_rows(rows, c, ld, y, res, ldr, b, 1, 0, 1); return;                                     \
    case 6: add_bias_relu_rows(rows, c, ld, y, res, ldr, b, 1, 1, 0); return;                                     \
    default: add_bias_relu_rows(rows, c, ld, y, res, ldr, b, 1, 1, 1); return;                                    \
    }                                                                                                             \
  }

/* The table of one ISA's kernels, in the field order above. */
#define SC_ELTWISE_CONFIG(isa)                                                                                    \
  {                                                                                                               \
    .relu = sc_f32_relu_forward__##isa, .relu_backward = sc_f32_relu_backward__##isa, .add = sc_f32_add__##isa,   \
    .add_bias_relu = sc_f32_add_bias_relu__##isa, .col_sum = sc_f32_col_sum__##isa,                               \
    .bn_stats = sc_f32_bn_stats__##isa, .bn_apply = sc_f32_bn_apply__##isa,                                       \
    .bn_backward_reduce = sc_f32_bn_backward_reduce__##isa, .bn_backward_dx = sc_f32_bn_backward_dx__##isa,       \
    .maxpool = sc_f32_maxpool_forward__##isa,                                                                     \
    .maxpool_backward = sc_f32_maxpool_backward__##isa,                                                           \
  }

#endif
