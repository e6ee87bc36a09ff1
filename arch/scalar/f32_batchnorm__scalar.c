/* f32_batchnorm__scalar.c: the reference batch-norm kernels (statistics, apply with optional ReLU, the two
 * passes of the backward), plain C. The vectorised twins are tested against these. Sums accumulate in double so
 * that a channel of a million pixels keeps its precision; nothing here allocates or knows about threads. */
#include "eltwise.h"

SC_ELTWISE_DECLARE(scalar)

void sc_f32_bn_stats__scalar(size_t rows, size_t c, size_t ld, const float *x, const float *shift, double *sum,
                             double *sumsq) {
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < c; j++) {
      double d = (double)x[r * ld + j] - (double)shift[j];
      sum[j] += d;
      sumsq[j] += d * d;
    }
}

/* The pre-activation of the fused ReLU: apply and both backward kernels evaluate this one expression, so the
 * backward's recomputed mask is the forward's. */
static inline float pre_activation(float x, float mean, float scale, float beta) { return (x - mean) * scale + beta; }

void sc_f32_bn_apply__scalar(size_t rows, size_t c, size_t ld, const float *x, const float *mean,
                             const float *scale, const float *beta, float *y, int relu) {
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < c; j++) {
      float v = pre_activation(x[r * ld + j], mean[j], scale[j], beta[j]);
      y[r * ld + j] = relu && !(v > 0.0f) ? 0.0f : v;
    }
}

/* dy, or 0 where the fused ReLU (scale != NULL) passed nothing */
static inline float masked_dy(size_t i, size_t j, const float *x, const float *dy, const float *mean,
                              const float *scale, const float *beta) {
  return scale && !(pre_activation(x[i], mean[j], scale[j], beta[j]) > 0.0f) ? 0.0f : dy[i];
}

void sc_f32_bn_backward_reduce__scalar(size_t rows, size_t c, size_t ld, const float *x, const float *dy,
                                       const float *mean, const float *scale, const float *beta, double *sum_dy,
                                       double *sum_dyx) {
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < c; j++) {
      size_t i = r * ld + j;
      float g = masked_dy(i, j, x, dy, mean, scale, beta);
      sum_dy[j] += (double)g;
      sum_dyx[j] += (double)g * (double)(x[i] - mean[j]);
    }
}

void sc_f32_bn_backward_dx__scalar(size_t rows, size_t c, size_t ld, const float *x, const float *dy,
                                   const float *mean, const float *scale, const float *beta, const float *a,
                                   const float *b, const float *d, float *dx, int accumulate) {
  for (size_t r = 0; r < rows; r++)
    for (size_t j = 0; j < c; j++) {
      size_t i = r * ld + j;
      float g = masked_dy(i, j, x, dy, mean, scale, beta);
      float t = a[j] * g + b[j] * (x[i] - mean[j]) + d[j];
      dx[i] = accumulate ? dx[i] + t : t;
    }
}
