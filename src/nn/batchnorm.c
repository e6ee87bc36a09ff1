/* batchnorm.c: batch normalisation over the channels of rows (BatchNorm2d with rows = N*H*W, BatchNorm1d with
 * rows = N), optionally fused with the ReLU that follows it. Training mode normalises with the batch statistics and
 * moves the running averages as PyTorch does (running = (1-momentum)*running + momentum*batch, running_var from the
 * unbiased variance); evaluation mode normalises with the running statistics. The loops are the sc_batchnorm_*
 * operators; this file must not duplicate them. A BN without shift (the last BN of SimCLR's head) is expressed by
 * the caller passing a beta of zeros and a throw-away dbeta. */
#include "../core/error.h"
#include "nn.h"

/* x[rows][C] -> y[rows][C] (y may equal x); gamma, beta[C]. Training: st->save_mean/save_var receive the batch
 * mean and biased variance (kept for the backward); st->running_* move by momentum. */
sc_status sc_nn_batchnorm_forward(int64_t rows, int64_t c, const float *x, const float *gamma, const float *beta,
                                  sc_nn_bn_state *st, int training, int relu, float eps, float momentum, float *y) {
  if (!st || !st->running_mean || !st->running_var) return sc_error(SC_EINVAL, "batchnorm: null state");
  if (!training)
    return sc_batchnorm_apply(rows, c, x, st->running_mean, st->running_var, eps, gamma, beta, relu, y);
  if (rows < 2)
    return sc_error(SC_EINVAL, "batchnorm: training needs more than one value per channel (rows=%lld)",
                    (long long)rows);
  if (!st->save_mean || !st->save_var) return sc_error(SC_EINVAL, "batchnorm: null statistics buffers");
  SC_TRY(sc_batchnorm_stats(rows, c, x, st->save_mean, st->save_var));
  const double unbias = (double)rows / (double)(rows - 1);
  for (int64_t j = 0; j < c; j++) {
    st->running_mean[j] = (float)((1.0 - momentum) * st->running_mean[j] + momentum * (double)st->save_mean[j]);
    st->running_var[j] =
        (float)((1.0 - momentum) * st->running_var[j] + momentum * (double)st->save_var[j] * unbias);
  }
  return sc_batchnorm_apply(rows, c, x, st->save_mean, st->save_var, eps, gamma, beta, relu, y);
}

/* Training-mode backward. dy[rows][C] -> dx[rows][C] += (skipped when NULL), dgamma[C] +=, dbeta[C] +=.
 * x is the forward's input; y its output, read only when relu was fused (to mask dy). */
sc_status sc_nn_batchnorm_backward(int64_t rows, int64_t c, float *dx, float *dgamma, float *dbeta,
                                   const float *dy, const float *x, const float *y, const sc_nn_bn_state *st,
                                   const float *gamma, int relu, float eps) {
  if (!st) return sc_error(SC_EINVAL, "batchnorm: null state");
  return sc_batchnorm_backward(rows, c, dx, dgamma, dbeta, dy, x, relu ? y : NULL, st->save_mean, st->save_var,
                               eps, gamma);
}
