/* batchnorm.c: the batch-norm entry points on NHWC tensors seen as rows x C: batch statistics, apply (optionally
 * fused with ReLU) and the training-mode backward, public; and the same two fused with the residual add and ReLU
 * that end a ResNet block (batchnorm.h, internal). Argument checks, per-channel coefficients and the split of rows
 * between sc_num_threads() OpenMP threads live here; the loops over pixels are the active table's kernels
 * (arch/<isa>/f32_batchnorm__<isa>.c, and the element-wise add, ReLU and ReLU backward). Running averages are the
 * layer's business, not this file's. No allocation: per-channel scratch is a stack block of SC_ELT_CBLOCK channels
 * at a time, and the fused backward's masked gradient a stack block of RES_CHUNK floats per thread. */
#include <math.h>
#include <omp.h>

#include "../core/error.h"
#include "../core/parallel.h"
#include "../dispatch/dispatch.h"
#include "batchnorm.h"
#include "eltwise_util.h"

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

/* The fused block-end operators work on RES_CHUNK floats of rows at a time (32 KiB: the normalised rows, or their
 * masked gradient, are still in the core's cache when the second step reads them). */
#define RES_CHUNK 8192

/* What the entry points hand to their parallel bodies (run by sc_parallel: on a team, or once on the calling
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
  /* the block-end fusion: the residual (forward); the forward's output y and the residual's gradient (backward) */
  const float *res, *y;
  float *dres;
  int res_accumulate;
} bn_job;

/* Rows of a fused operator's chunk: RES_CHUNK floats of whole rows, at least one row. */
static size_t chunk_rows(size_t nc) { return nc < RES_CHUNK ? RES_CHUNK / nc : 1; }

/* y = max(y + res, 0) over nr rows of cb channels at row stride ld: one kernel call each when the rows are
 * contiguous, one per row otherwise (a tensor of more than SC_ELT_CBLOCK channels). */
static void add_relu_rows(const sc_kernels *k, size_t nr, size_t cb, size_t ld, const float *res, float *y) {
  const size_t n = cb == ld ? nr * cb : cb, rows = cb == ld ? 1 : nr;
  for (size_t r = 0; r < rows; r++) {
    k->eltwise->add(n, y + r * ld, res + r * ld, y + r * ld);
    k->eltwise->relu(n, y + r * ld, y + r * ld);
  }
}

/* g = dy where y > 0, else 0 (g += that if acc), over nr rows of cb channels at row stride ld, as add_relu_rows. */
static void relu_mask_rows(const sc_kernels *k, size_t nr, size_t cb, size_t ld, const float *y, const float *dy,
                           float *g, int acc) {
  const size_t n = cb == ld ? nr * cb : cb, rows = cb == ld ? 1 : nr;
  for (size_t r = 0; r < rows; r++) k->eltwise->relu_backward(n, y + r * ld, dy + r * ld, g + r * ld, acc);
}

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
  /* with a residual, a chunk of rows at a time, so that the add and ReLU find the normalised rows in cache */
  const size_t step = jb->res ? chunk_rows(nc) : hi - lo;
  for (size_t c0 = 0; hi > lo && c0 < nc; c0 += SC_ELT_CBLOCK) {
    const size_t cb = nc - c0 < SC_ELT_CBLOCK ? nc - c0 : SC_ELT_CBLOCK;
    apply_scale(jb, c0, cb, scale);
    for (size_t r = lo; r < hi; r += step) {
      const size_t nr = hi - r < step ? hi - r : step, off = r * nc + c0;
      jb->k->eltwise->bn_apply(nr, cb, nc, jb->x + off, jb->mean + c0, scale, jb->beta + c0, jb->yout + off,
                               jb->relu != 0);
      if (jb->res) add_relu_rows(jb->k, nr, cb, nc, jb->res + off, jb->yout + off);
    }
  }
}

/* The fused backward's g for the chunk at row r (nr rows, channels c0..c0+cb-1). When dres is to be set (SET), g
 * is written there and read back from it; otherwise g goes to the thread's scratch (laid out with the tensor's row
 * stride, so the kernels read g and x alike; a single row when a row is wider than the scratch), after being added
 * into dres if there is one. The reduce pass writes dres (first_pass); the dx pass only recomputes what it reads. */
static const float *res_grad(const bn_job *jb, size_t r, size_t nr, size_t c0, size_t cb, float *scratch,
                             int first_pass) {
  const size_t nc = jb->nc, off = r * nc + c0;
  if (jb->dres && !jb->res_accumulate) {
    if (first_pass) relu_mask_rows(jb->k, nr, cb, nc, jb->y + off, jb->dy + off, jb->dres + off, 0);
    return jb->dres + off;
  }
  if (first_pass && jb->dres) relu_mask_rows(jb->k, nr, cb, nc, jb->y + off, jb->dy + off, jb->dres + off, 1);
  float *g = scratch + (nc <= RES_CHUNK ? c0 : 0);
  relu_mask_rows(jb->k, nr, cb, nc, jb->y + off, jb->dy + off, g, 0);
  return g;
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
  /* the block-end fusion masks dy a chunk of rows at a time (res_grad); the plain backward reads dy whole */
  float scratch[RES_CHUNK];
  const size_t step = jb->y ? chunk_rows(nc) : hi - lo;
  for (size_t c0 = 0; c0 < nc; c0 += SC_ELT_CBLOCK) {
    const size_t cb = nc - c0 < SC_ELT_CBLOCK ? nc - c0 : SC_ELT_CBLOCK;
    for (size_t j = 0; j < cb; j++) ps[j] = pq[j] = 0.0;
    if (jb->relu) apply_scale(jb, c0, cb, scale), relu_beta = jb->beta + c0;
    for (size_t r = lo; r < hi; r += step) {
      const size_t n = hi - r < step ? hi - r : step, off = r * nc + c0;
      const float *g = jb->y ? res_grad(jb, r, n, c0, cb, scratch, 1) : dy + off;
      k->eltwise->bn_backward_reduce(n, cb, nc, x + off, g, mean + c0, relu_scale, relu_beta, ps, pq);
    }
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
    for (size_t r = lo; dx && r < hi; r += step) {
      const size_t n = hi - r < step ? hi - r : step, off = r * nc + c0;
      const float *g = jb->y ? res_grad(jb, r, n, c0, cb, scratch, 0) : dy + off;
      k->eltwise->bn_backward_dx(n, cb, nc, x + off, g, mean + c0, relu_scale, relu_beta, ca, cb_, cd, dx + off,
                                 jb->accumulate);
    }
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

sc_status sc_batchnorm_add_relu_forward(int64_t rows, int64_t c, const float *x, const float *res,
                                        const float *mean, const float *var, float eps, const float *gamma,
                                        const float *beta, float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_shape("batchnorm_add_relu_forward", rows, c));
  SC_TRY(check_eps("batchnorm_add_relu_forward", eps));
  if (rows == 0 || c == 0) return SC_OK;
  if (!x || !res || !mean || !var || !gamma || !beta || !y)
    return sc_error(SC_EINVAL, "batchnorm_add_relu_forward: null pointer");
  if (y == res) return sc_error(SC_EINVAL, "batchnorm_add_relu_forward: the output may not overwrite the residual");
  const size_t nr = (size_t)rows, nc = (size_t)c;
  bn_job jb = {.k = k, .nr = nr, .nc = nc, .x = x, .mean = mean, .var = var, .eps = eps, .gamma = gamma,
               .beta = beta, .yout = y, .res = res};
  sc_parallel(sc_elt_threads(nr * nc, 0), apply_part, &jb);
  return SC_OK;
}

sc_status sc_batchnorm_add_relu_backward(int64_t rows, int64_t c, float *dx, sc_grad_write dxw, float *dres,
                                         sc_grad_write dresw, float *dgamma, float *dbeta, const float *dy,
                                         const float *y, const float *x, const float *mean, const float *var,
                                         float eps, const float *gamma) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_shape("batchnorm_add_relu_backward", rows, c));
  SC_TRY(check_eps("batchnorm_add_relu_backward", eps));
  SC_TRY(sc_grad_write_check("batchnorm_add_relu_backward", dxw));
  SC_TRY(sc_grad_write_check("batchnorm_add_relu_backward", dresw));
  if (rows == 0 || c == 0) return SC_OK;
  if (!dgamma || !dbeta || !dy || !y || !x || !mean || !var || !gamma)
    return sc_error(SC_EINVAL, "batchnorm_add_relu_backward: null pointer");
  const size_t nr = (size_t)rows, nc = (size_t)c;
  double *pss[SC_ELT_MAX_REDUCE_THREADS], *pqs[SC_ELT_MAX_REDUCE_THREADS]; /* per-thread partials, on their stacks */
  float ca[SC_ELT_CBLOCK], cb_[SC_ELT_CBLOCK], cd[SC_ELT_CBLOCK];
  bn_job jb = {.k = k, .nr = nr, .nc = nc, .x = x, .mean = mean, .var = var, .eps = eps, .gamma = gamma,
               .dx = dx, .accumulate = dxw == SC_GRAD_ADD, .dgamma = dgamma, .dbeta = dbeta, .dy = dy, .pss = pss,
               .pqs = pqs, .ca = ca, .cb = cb_, .cd = cd, .y = y, .dres = dres, .res_accumulate = dresw == SC_GRAD_ADD};
  sc_parallel(sc_elt_threads(nr * nc, SC_ELT_MAX_REDUCE_THREADS), backward_part, &jb);
  return SC_OK;
}
