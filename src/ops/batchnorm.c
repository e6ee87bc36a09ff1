/* batchnorm.c: the public batch-norm entry points on NHWC tensors seen as rows x C: batch statistics, apply
 * (optionally fused with ReLU) and the training-mode backward. Argument checks, per-channel coefficients and the
 * split of rows between sc_num_threads() OpenMP threads live here; the loops over pixels are the active table's
 * kernels (arch/<isa>/f32_batchnorm__<isa>.c). Running averages are the layer's business, not this file's. No
 * allocation: per-channel scratch is a stack block of SC_ELT_CBLOCK channels at a time. */
#include <math.h>
#include <omp.h>

#include "../core/error.h"
#include "../core/parallel.h"
#include "../dispatch/dispatch.h"
#include "eltwise_util.h"
#include "simclr_ops.h"

static sc_status check_shape(const char *who, int64_t rows, int64_t c) {
  int64_t t, s[2] = {rows, c};
  if (!sc_elt_sizes_ok(2, s, &t))
    return sc_error(SC_EINVAL, "%s: bad shape rows=%lld c=%lld", who, (long long)rows, (long long)c);
  return SC_OK;
}

static sc_status check_eps(const char *who, float eps) {
  if (!(eps > 0.0f) || !isfinite(eps)) return sc_error(SC_EINVAL, "%s: eps must be positive and finite", who);
  return SC_OK;
}

/* 1/sqrt(var + eps) in double, rounded once: the forward and the backward must agree on it exactly. */
static float inv_std(float var, float eps) { return (float)(1.0 / sqrt((double)var + (double)eps)); }

/* What the three entry points hand to their parallel bodies (run by sc_parallel: on a team, or once on the calling
 * thread, where omp_get_thread_num() is 0, omp_get_num_threads() 1 and barriers are no-ops). */
typedef struct bn_job {
  const sc_kernels *k;
  size_t nr, nc;
  const float *x, *mean, *var, *gamma, *beta, *dy;
  float eps;
  int relu, accumulate; /* accumulate: the backward adds into dx (SC_GRAD_ADD) */
  float *out_mean, *out_var, *yout, *dx, *dgamma, *dbeta;
  double **pss, **pqs; /* per-thread partial sums, on each thread's stack */
  float *ca, *cb, *cd; /* per-channel coefficients of the backward's dx, on the caller's stack */
} bn_job;

static void stats_part(void *arg) {
  const bn_job *jb = arg;
  const sc_kernels *k = jb->k;
  const size_t nr = jb->nr, nc = jb->nc;
  const float *x = jb->x;
  float *mean = jb->out_mean, *var = jb->out_var;
  double **pss = jb->pss, **pqs = jb->pqs;
  const int t = omp_get_thread_num(), T = omp_get_num_threads();
  double ps[SC_ELT_CBLOCK], pq[SC_ELT_CBLOCK];
  pss[t] = ps, pqs[t] = pq;
  size_t lo, hi;
  sc_elt_split(nr, t, T, 1, &lo, &hi);
  for (size_t c0 = 0; c0 < nc; c0 += SC_ELT_CBLOCK) {
    const size_t cb = nc - c0 < SC_ELT_CBLOCK ? nc - c0 : SC_ELT_CBLOCK;
    for (size_t j = 0; j < cb; j++) ps[j] = pq[j] = 0.0;
    /* the shift is the channel's first value: close enough to the mean that sum((x-s)^2) does not cancel */
    if (hi > lo) k->eltwise->bn_stats(hi - lo, cb, nc, x + lo * nc + c0, x + c0, ps, pq);
#pragma omp barrier
#pragma omp single
    for (size_t j = 0; j < cb; j++) {
      double s = 0.0, q = 0.0;
      for (int u = 0; u < T; u++) s += pss[u][j], q += pqs[u][j];
      const double m = s / (double)nr, v = q / (double)nr - m * m;
      mean[c0 + j] = (float)((double)x[c0 + j] + m);
      var[c0 + j] = (float)(v > 0.0 ? v : 0.0);
    }
  }
}

/* gamma/sqrt(var + eps) of channels c0 .. c0+cb-1: the apply's scale, which the backward recomputes identically to
 * recover the fused ReLU's mask */
static void apply_scale(const bn_job *jb, size_t c0, size_t cb, float *scale) {
  for (size_t j = 0; j < cb; j++) scale[j] = jb->gamma[c0 + j] * inv_std(jb->var[c0 + j], jb->eps);
}

static void apply_part(void *arg) {
  const bn_job *jb = arg;
  const size_t nr = jb->nr, nc = jb->nc;
  size_t lo, hi;
  sc_elt_split(nr, omp_get_thread_num(), omp_get_num_threads(), 1, &lo, &hi);
  float scale[SC_ELT_CBLOCK];
  for (size_t c0 = 0; hi > lo && c0 < nc; c0 += SC_ELT_CBLOCK) {
    const size_t cb = nc - c0 < SC_ELT_CBLOCK ? nc - c0 : SC_ELT_CBLOCK;
    apply_scale(jb, c0, cb, scale);
    jb->k->eltwise->bn_apply(hi - lo, cb, nc, jb->x + lo * nc + c0, jb->mean + c0, scale, jb->beta + c0,
                             jb->yout + lo * nc + c0, jb->relu != 0);
  }
}

static void backward_part(void *arg) {
  const bn_job *jb = arg;
  const sc_kernels *k = jb->k;
  const size_t nr = jb->nr, nc = jb->nc;
  const float *x = jb->x, *dy = jb->dy, *mean = jb->mean, *var = jb->var, *gamma = jb->gamma;
  const float eps = jb->eps;
  float *dx = jb->dx, *dgamma = jb->dgamma, *dbeta = jb->dbeta, *ca = jb->ca, *cb_ = jb->cb, *cd = jb->cd;
  double **pss = jb->pss, **pqs = jb->pqs;
  const int t = omp_get_thread_num(), T = omp_get_num_threads();
  double ps[SC_ELT_CBLOCK], pq[SC_ELT_CBLOCK];
  float scale[SC_ELT_CBLOCK];
  const float *relu_scale = jb->relu ? scale : NULL, *relu_beta = NULL;
  pss[t] = ps, pqs[t] = pq;
  size_t lo, hi;
  sc_elt_split(nr, t, T, 1, &lo, &hi);
  for (size_t c0 = 0; c0 < nc; c0 += SC_ELT_CBLOCK) {
    const size_t cb = nc - c0 < SC_ELT_CBLOCK ? nc - c0 : SC_ELT_CBLOCK;
    const size_t off = lo * nc + c0;
    for (size_t j = 0; j < cb; j++) ps[j] = pq[j] = 0.0;
    if (jb->relu) apply_scale(jb, c0, cb, scale), relu_beta = jb->beta + c0;
    if (hi > lo)
      k->eltwise->bn_backward_reduce(hi - lo, cb, nc, x + off, dy + off, mean + c0, relu_scale, relu_beta, ps, pq);
#pragma omp barrier
#pragma omp single
    for (size_t j = 0; j < cb; j++) {
      double sdy = 0.0, sdyx = 0.0;
      for (int u = 0; u < T; u++) sdy += pss[u][j], sdyx += pqs[u][j];
      const double is = inv_std(var[c0 + j], eps), a = (double)gamma[c0 + j] * is;
      dgamma[c0 + j] += (float)(sdyx * is);
      dbeta[c0 + j] += (float)sdy;
      /* dx = a*(g - mean(g) - xhat*mean(g*xhat)) with xhat = (x-mean)*is, regrouped per channel as
       * a*g + b*(x-mean) + d */
      ca[j] = (float)a;
      cb_[j] = (float)(-a * is * is * sdyx / (double)nr);
      cd[j] = (float)(-a * sdy / (double)nr);
    }
    if (dx && hi > lo)
      k->eltwise->bn_backward_dx(hi - lo, cb, nc, x + off, dy + off, mean + c0, relu_scale, relu_beta, ca, cb_, cd,
                                 dx + off, jb->accumulate);
  }
}

sc_status sc_batchnorm_stats(int64_t rows, int64_t c, const float *x, float *mean, float *var) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_shape("batchnorm_stats", rows, c));
  if (rows == 0 && c > 0) return sc_error(SC_EINVAL, "batchnorm_stats: no rows to take statistics over");
  if (c == 0) return SC_OK;
  if (!x || !mean || !var) return sc_error(SC_EINVAL, "batchnorm_stats: null pointer");
  const size_t nr = (size_t)rows, nc = (size_t)c;
  double *pss[SC_ELT_MAX_REDUCE_THREADS], *pqs[SC_ELT_MAX_REDUCE_THREADS]; /* per-thread partials, on their stacks */
  const int nt = sc_elt_threads(nr * nc, SC_ELT_MAX_REDUCE_THREADS);
  bn_job jb = {.k = k, .nr = nr, .nc = nc, .x = x, .out_mean = mean, .out_var = var, .pss = pss, .pqs = pqs};
  sc_parallel(nt, stats_part, &jb);
  return SC_OK;
}

sc_status sc_batchnorm_apply(int64_t rows, int64_t c, const float *x, const float *mean, const float *var,
                             float eps, const float *gamma, const float *beta, int relu, float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_shape("batchnorm_apply", rows, c));
  SC_TRY(check_eps("batchnorm_apply", eps));
  if (rows == 0 || c == 0) return SC_OK;
  if (!x || !mean || !var || !gamma || !beta || !y) return sc_error(SC_EINVAL, "batchnorm_apply: null pointer");
  const size_t nr = (size_t)rows, nc = (size_t)c;
  const int nt = sc_elt_threads(nr * nc, 0);
  bn_job jb = {.k = k, .nr = nr, .nc = nc, .x = x, .mean = mean, .var = var, .eps = eps, .gamma = gamma,
               .beta = beta, .relu = relu, .yout = y};
  sc_parallel(nt, apply_part, &jb);
  return SC_OK;
}

sc_status sc_batchnorm_backward(int64_t rows, int64_t c, float *dx, sc_grad_write dxw, float *dgamma, float *dbeta,
                                const float *dy, const float *x, const float *mean, const float *var, float eps,
                                const float *gamma, const float *beta, int relu) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_shape("batchnorm_backward", rows, c));
  SC_TRY(check_eps("batchnorm_backward", eps));
  SC_TRY(sc_grad_write_check("batchnorm_backward", dxw));
  if (rows == 0 || c == 0) return SC_OK;
  if (!dgamma || !dbeta || !dy || !x || !mean || !var || !gamma || (relu && !beta))
    return sc_error(SC_EINVAL, "batchnorm_backward: null pointer");
  const size_t nr = (size_t)rows, nc = (size_t)c;
  double *pss[SC_ELT_MAX_REDUCE_THREADS], *pqs[SC_ELT_MAX_REDUCE_THREADS]; /* per-thread partials, on their stacks */
  float ca[SC_ELT_CBLOCK], cb_[SC_ELT_CBLOCK], cd[SC_ELT_CBLOCK];
  const int nt = sc_elt_threads(nr * nc, SC_ELT_MAX_REDUCE_THREADS);
  bn_job jb = {.k = k, .nr = nr, .nc = nc, .x = x, .mean = mean, .var = var, .eps = eps, .gamma = gamma,
               .beta = beta, .relu = relu != 0, .dx = dx, .accumulate = dxw == SC_GRAD_ADD, .dgamma = dgamma,
               .dbeta = dbeta, .dy = dy, .pss = pss, .pqs = pqs, .ca = ca, .cb = cb_, .cd = cd};
  sc_parallel(nt, backward_part, &jb);
  return SC_OK;
}
