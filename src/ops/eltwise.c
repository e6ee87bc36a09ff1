/* eltwise.c: the public ReLU, bias-add and residual-add entry points (forward and backward): argument checks,
 * then the active table's kernels over row ranges split between sc_num_threads() OpenMP threads. No ISA code and
 * no allocation here: the kernels are in arch/<isa>/f32_eltwise__<isa>.c. */
#include <omp.h>

#include "../core/error.h"
#include "../dispatch/dispatch.h"
#include "eltwise_util.h"
#include "simclr_ops.h"

static sc_status check_count(const char *who, int64_t count) {
  int64_t t;
  if (!sc_elt_sizes_ok(1, &count, &t))
    return sc_error(SC_EINVAL, "%s: bad element count %lld", who, (long long)count);
  return SC_OK;
}

static sc_status check_rows_c(const char *who, int64_t rows, int64_t c) {
  int64_t t, s[2] = {rows, c};
  if (!sc_elt_sizes_ok(2, s, &t))
    return sc_error(SC_EINVAL, "%s: bad shape rows=%lld c=%lld", who, (long long)rows, (long long)c);
  return SC_OK;
}

sc_status sc_relu_forward(int64_t count, const float *x, float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_count("relu_forward", count));
  if (count == 0) return SC_OK;
  if (!x || !y) return sc_error(SC_EINVAL, "relu_forward: null pointer");
  const size_t n = (size_t)count;
  const int nt = sc_elt_threads(n, 0);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    size_t lo, hi;
    sc_elt_split(n, omp_get_thread_num(), omp_get_num_threads(), 16, &lo, &hi);
    if (hi > lo) k->eltwise->relu(hi - lo, x + lo, y + lo);
  }
  return SC_OK;
}

sc_status sc_relu_backward(int64_t count, float *dx, const float *dy, const float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_count("relu_backward", count));
  if (count == 0) return SC_OK;
  if (!dx || !dy || !y) return sc_error(SC_EINVAL, "relu_backward: null pointer");
  const size_t n = (size_t)count;
  const int nt = sc_elt_threads(n, 0);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    size_t lo, hi;
    sc_elt_split(n, omp_get_thread_num(), omp_get_num_threads(), 16, &lo, &hi);
    if (hi > lo) k->eltwise->relu_backward(hi - lo, y + lo, dy + lo, dx + lo);
  }
  return SC_OK;
}

sc_status sc_add(int64_t count, const float *a, const float *b, float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_count("add", count));
  if (count == 0) return SC_OK;
  if (!a || !b || !y) return sc_error(SC_EINVAL, "add: null pointer");
  const size_t n = (size_t)count;
  const int nt = sc_elt_threads(n, 0);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    size_t lo, hi;
    sc_elt_split(n, omp_get_thread_num(), omp_get_num_threads(), 16, &lo, &hi);
    if (hi > lo) k->eltwise->add(hi - lo, a + lo, b + lo, y + lo);
  }
  return SC_OK;
}

sc_status sc_accumulate(int64_t count, float *dst, const float *src) {
  if (!sc_kernels_active()) return sc_init();
  SC_TRY(check_count("accumulate", count));
  if (count == 0) return SC_OK;
  if (!dst || !src) return sc_error(SC_EINVAL, "accumulate: null pointer");
  return sc_add(count, dst, src, dst);
}

sc_status sc_bias_add_forward(int64_t rows, int64_t c, const float *b, float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_rows_c("bias_add_forward", rows, c));
  if (rows == 0 || c == 0) return SC_OK;
  if (!b || !y) return sc_error(SC_EINVAL, "bias_add_forward: null pointer");
  const size_t nr = (size_t)rows, nc = (size_t)c;
  const int nt = sc_elt_threads(nr * nc, 0);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    size_t lo, hi;
    sc_elt_split(nr, omp_get_thread_num(), omp_get_num_threads(), 1, &lo, &hi);
    if (hi > lo) k->eltwise->bias_add(hi - lo, nc, nc, b, y + lo * nc);
  }
  return SC_OK;
}

sc_status sc_bias_add_backward(int64_t rows, int64_t c, float *db, const float *dy) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_rows_c("bias_add_backward", rows, c));
  if (c == 0) return SC_OK;
  if (!db || (rows > 0 && !dy)) return sc_error(SC_EINVAL, "bias_add_backward: null pointer");
  if (rows == 0) return SC_OK;
  const size_t nr = (size_t)rows, nc = (size_t)c;
  double *parts[SC_ELT_MAX_REDUCE_THREADS]; /* each thread's partial sums, on its own stack */
  const int nt = sc_elt_threads(nr * nc, SC_ELT_MAX_REDUCE_THREADS);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    double part[SC_ELT_CBLOCK];
    parts[t] = part;
    size_t lo, hi;
    sc_elt_split(nr, t, T, 1, &lo, &hi);
    for (size_t c0 = 0; c0 < nc; c0 += SC_ELT_CBLOCK) {
      const size_t cb = nc - c0 < SC_ELT_CBLOCK ? nc - c0 : SC_ELT_CBLOCK;
      for (size_t j = 0; j < cb; j++) part[j] = 0.0;
      if (hi > lo) k->eltwise->col_sum(hi - lo, cb, nc, dy + lo * nc + c0, part);
#pragma omp barrier
#pragma omp single
      for (size_t j = 0; j < cb; j++) {
        double s = 0.0;
        for (int u = 0; u < T; u++) s += parts[u][j];
        db[c0 + j] += (float)s;
      }
    }
  }
  return SC_OK;
}
