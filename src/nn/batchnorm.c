/* batchnorm.c: batch normalisation over the channels of rows (BatchNorm2d with rows = N*H*W, BatchNorm1d with
 * rows = N), optionally fused with the ReLU that follows it, or with the residual add and ReLU that end a ResNet
 * block (relu(BN(x) + res): the fused operators of src/ops/batchnorm.h). Training mode normalises with the batch
 * statistics and moves the running averages as PyTorch does (running = (1-momentum)*running + momentum*batch,
 * running_var from the unbiased variance); evaluation mode normalises with the running statistics. The loops are
 * the sc_batchnorm_* operators; this file must not duplicate them. A BN without shift (the last BN of SimCLR's
 * head) is expressed by the caller passing a beta of zeros and a throw-away dbeta.
 *
 * Synchronised BN (sc_nn_batchnorm_set_sync): the dist layer installs a reducer; this file knows nothing of how
 * replicas talk. The forward turns each replica's local mean and variance (from sc_batchnorm_stats, accumulated in
 * double around a shift) into exact sums n*mean and n*(var + mean^2), adds them up in double and takes the global
 * moments; the cancellation in var = E[x^2] - mean^2 then happens in double, harmless unless |mean|/std nears 1e4.
 * The backward runs its operator once (local dx and the local sums of g and g*xhat), adds the local sums to
 * dgamma/dbeta (the gradient all-reduce adds the replicas), and corrects dx from the local to the global means. */
#include <math.h>
#include <string.h>

#include "../core/error.h"
#include "../ops/batchnorm.h"
#include "nn.h"

/* Per thread, so a model trained without synchronisation on another thread is unaffected. */
static _Thread_local const sc_nn_bn_sync *bn_sync;

void sc_nn_batchnorm_set_sync(const sc_nn_bn_sync *sync) { bn_sync = sync; }

static sc_status sync_usable(const sc_nn_bn_sync *s, int64_t c) {
  if (!s->sum || !s->dbuf || !s->fbuf || c > s->max_c)
    return sc_error(SC_EINVAL, "batchnorm: synchronisation scratch is missing or holds %lld channels, not %lld",
                    (long long)s->max_c, (long long)c);
  return SC_OK;
}

/* The batch statistics of the global batch: mean/var[C] in, global values out; *count gets the global rows. */
static sc_status sync_stats(const sc_nn_bn_sync *s, int64_t rows, int64_t c, float *mean, float *var,
                            double *count) {
  SC_TRY(sync_usable(s, c));
  double *b = s->dbuf;
  for (int64_t j = 0; j < c; j++) {
    const double m = mean[j], v = var[j];
    b[j] = (double)rows * m;
    b[c + j] = (double)rows * (v + m * m);
  }
  b[2 * c] = (double)rows;
  SC_TRY(s->sum(s->ctx, b, 2 * c + 1));
  const double n = b[2 * c];
  if (!(n >= 2)) return sc_error(SC_EINTERNAL, "batchnorm: global count %g after synchronisation", n);
  for (int64_t j = 0; j < c; j++) {
    const double m = b[j] / n, v = b[c + j] / n - m * m;
    mean[j] = (float)m;
    var[j] = (float)(v > 0 ? v : 0);
  }
  *count = n;
  return SC_OK;
}

/* Training: the batch statistics of x into st->save_mean/save_var (global ones under synchronisation), and the
 * running averages moved by momentum. */
static sc_status batch_stats(int64_t rows, int64_t c, const float *x, sc_nn_bn_state *st, float momentum) {
  if (rows < 2)
    return sc_error(SC_EINVAL, "batchnorm: training needs more than one value per channel (rows=%lld)",
                    (long long)rows);
  if (!st->save_mean || !st->save_var) return sc_error(SC_EINVAL, "batchnorm: null statistics buffers");
  SC_TRY(sc_batchnorm_stats(rows, c, x, st->save_mean, st->save_var));
  double count = (double)rows;
  if (bn_sync) SC_TRY(sync_stats(bn_sync, rows, c, st->save_mean, st->save_var, &count));
  const double unbias = count / (count - 1);
  for (int64_t j = 0; j < c; j++) {
    st->running_mean[j] = (float)((1.0 - momentum) * st->running_mean[j] + momentum * (double)st->save_mean[j]);
    st->running_var[j] =
        (float)((1.0 - momentum) * st->running_var[j] + momentum * (double)st->save_var[j] * unbias);
  }
  return SC_OK;
}

/* x[rows][C] -> y[rows][C] (y may equal x); gamma, beta[C]. Training: st->save_mean/save_var receive the batch
 * mean and biased variance (kept for the backward); st->running_* move by momentum. */
sc_status sc_nn_batchnorm_forward(int64_t rows, int64_t c, const float *x, const float *gamma, const float *beta,
                                  sc_nn_bn_state *st, int training, int relu, float eps, float momentum, float *y) {
  if (!st || !st->running_mean || !st->running_var) return sc_error(SC_EINVAL, "batchnorm: null state");
  if (!training)
    return sc_batchnorm_apply(rows, c, x, st->running_mean, st->running_var, eps, gamma, beta, relu, y);
  SC_TRY(batch_stats(rows, c, x, st, momentum));
  return sc_batchnorm_apply(rows, c, x, st->save_mean, st->save_var, eps, gamma, beta, relu, y);
}

/* The end of a ResNet block: y = relu(BN(x) + res), the BN as above. y may not overwrite res, nor x in training
 * (the backward reads x). */
sc_status sc_nn_batchnorm_add_relu_forward(int64_t rows, int64_t c, const float *x, const float *res,
                                           const float *gamma, const float *beta, sc_nn_bn_state *st, int training,
                                           float eps, float momentum, float *y) {
  if (!st || !st->running_mean || !st->running_var) return sc_error(SC_EINVAL, "batchnorm: null state");
  if (!training)
    return sc_batchnorm_add_relu_forward(rows, c, x, res, st->running_mean, st->running_var, eps, gamma, beta, y);
  SC_TRY(batch_stats(rows, c, x, st, momentum));
  return sc_batchnorm_add_relu_forward(rows, c, x, res, st->save_mean, st->save_var, eps, gamma, beta, y);
}

/* Under synchronisation the backward's operator runs on local statistics, with the local sums of g*xhat and g
 * going to fbuf (local_sums); sync_finish adds them to dgamma/dbeta (the gradient all-reduce adds the replicas),
 * sums them over the replicas and corrects dx from the local to the global means. */
static float *local_sums(const sc_nn_bn_sync *s, int64_t c) {
  memset(s->fbuf, 0, sizeof(float) * 2 * (size_t)c);
  return s->fbuf;
}

static sc_status sync_finish(const sc_nn_bn_sync *s, int64_t rows, int64_t c, float *dx, float *dgamma,
                             float *dbeta, const float *x, const sc_nn_bn_state *st, const float *gamma, float eps) {
  float *s2 = s->fbuf, *s1 = s->fbuf + c; /* the local sum of g*xhat, then of g */
  double *b = s->dbuf;
  for (int64_t j = 0; j < c; j++) {
    if (dgamma) dgamma[j] += s2[j];
    if (dbeta) dbeta[j] += s1[j];
    b[j] = s1[j], b[c + j] = s2[j];
  }
  b[2 * c] = (double)rows;
  SC_TRY(s->sum(s->ctx, b, 2 * c + 1));
  if (!dx) return SC_OK;
  /* dx_global - dx_local = gamma*invstd*((S1/n - G1/N) + xhat*(S2/n - G2/N)), affine in x per channel:
   * a[j] + k[j]*(x - mean[j]). The coefficients overwrite the local sums. */
  const double n = (double)rows, ng = b[2 * c];
  for (int64_t j = 0; j < c; j++) {
    const double invstd = 1.0 / sqrt((double)st->save_var[j] + (double)eps), gi = (double)gamma[j] * invstd;
    const double a = gi * ((double)s1[j] / n - b[j] / ng), k = gi * invstd * ((double)s2[j] / n - b[c + j] / ng);
    s1[j] = (float)a, s2[j] = (float)k;
  }
  for (int64_t r = 0; r < rows; r++) {
    float *d = dx + r * c;
    const float *xr = x + r * c;
    for (int64_t j = 0; j < c; j++) d[j] += s1[j] + s2[j] * (xr[j] - st->save_mean[j]);
  }
  return SC_OK;
}

/* Training-mode backward. dy[rows][C] -> dx[rows][C] += or = (skipped when NULL), dgamma[C] +=, dbeta[C] +=.
 * x is the forward's input; with relu, the ReLU's mask is recomputed from x, gamma and beta (the forward's output
 * is not read). */
sc_status sc_nn_batchnorm_backward(int64_t rows, int64_t c, float *dx, sc_grad_write dxw, float *dgamma,
                                   float *dbeta, const float *dy, const float *x, const sc_nn_bn_state *st,
                                   const float *gamma, const float *beta, int relu, float eps) {
  if (!st) return sc_error(SC_EINVAL, "batchnorm: null state");
  if (!bn_sync)
    return sc_batchnorm_backward(rows, c, dx, dxw, dgamma, dbeta, dy, x, st->save_mean, st->save_var, eps, gamma,
                                 beta, relu);
  SC_TRY(sync_usable(bn_sync, c));
  float *sums = local_sums(bn_sync, c);
  SC_TRY(sc_batchnorm_backward(rows, c, dx, dxw, sums, sums + c, dy, x, st->save_mean, st->save_var, eps, gamma,
                               beta, relu));
  return sync_finish(bn_sync, rows, c, dx, dgamma, dbeta, x, st, gamma, eps);
}

/* The block end's backward: dy and the forward's output y -> dres[rows][C] (as dresw says; skipped when NULL), and
 * the BN's dx, dgamma, dbeta as above. */
sc_status sc_nn_batchnorm_add_relu_backward(int64_t rows, int64_t c, float *dx, sc_grad_write dxw, float *dres,
                                            sc_grad_write dresw, float *dgamma, float *dbeta, const float *dy,
                                            const float *y, const float *x, const sc_nn_bn_state *st,
                                            const float *gamma, float eps) {
  if (!st) return sc_error(SC_EINVAL, "batchnorm: null state");
  if (!bn_sync)
    return sc_batchnorm_add_relu_backward(rows, c, dx, dxw, dres, dresw, dgamma, dbeta, dy, y, x, st->save_mean,
                                          st->save_var, eps, gamma);
  SC_TRY(sync_usable(bn_sync, c));
  float *sums = local_sums(bn_sync, c);
  SC_TRY(sc_batchnorm_add_relu_backward(rows, c, dx, dxw, dres, dresw, sums, sums + c, dy, y, x, st->save_mean,
                                        st->save_var, eps, gamma));
  return sync_finish(bn_sync, rows, c, dx, dgamma, dbeta, x, st, gamma, eps);
}
