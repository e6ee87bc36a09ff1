/* eltwise.c: the public ReLU, bias-add, residual-add and fused residual-add + ReLU entry points (forward and
 * backward): argument checks, then the active table's kernels over row ranges split between sc_num_threads()
 * OpenMP threads. No ISA code and no allocation here: the kernels are in arch/<isa>/f32_eltwise__<isa>.c. */
#include <omp.h>

#include "../core/error.h"
#include "../core/parallel.h"
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

/* What the entry points hand to their parallel bodies (run by sc_parallel: on a team, or once on the calling
 * thread, where omp_get_thread_num() is 0, omp_get_num_threads() 1 and barriers are no-ops). */
typedef struct elt_job {
  const sc_kernels *k;
  size_t n, c; /* elements, or rows and channels */
  const float *a, *b;
  float *out, *out2;
  int accumulate, accumulate2; /* backward: out (out2) is added into (SC_GRAD_ADD), not set */
  double **parts; /* per-thread partial sums, on each thread's stack */
} elt_job;

static void relu_forward_part(void *arg) {
  const elt_job *j = arg;
  size_t lo, hi;
  sc_elt_split(j->n, omp_get_thread_num(), omp_get_num_threads(), 16, &lo, &hi);
  if (hi > lo) j->k->eltwise->relu(hi - lo, j->a + lo, j->out + lo);
}

static void relu_backward_part(void *arg) {
  const elt_job *j = arg;
  size_t lo, hi;
  sc_elt_split(j->n, omp_get_thread_num(), omp_get_num_threads(), 16, &lo, &hi);
  if (hi > lo) j->k->eltwise->relu_backward(hi - lo, j->a + lo, j->b + lo, j->out + lo, j->accumulate);
}

static void add_part(void *arg) {
  const elt_job *j = arg;
  size_t lo, hi;
  sc_elt_split(j->n, omp_get_thread_num(), omp_get_num_threads(), 16, &lo, &hi);
  if (hi > lo) j->k->eltwise->add(hi - lo, j->a + lo, j->b + lo, j->out + lo);
}

/* The fused residual add + ReLU goes over each thread's range in chunks small enough to stay in L1 between the two
 * kernels, so that memory sees each tensor once. */
enum { ADD_RELU_CHUNK = 2048 };

static void add_relu_forward_part(void *arg) {
  const elt_job *j = arg;
  size_t lo, hi;
  sc_elt_split(j->n, omp_get_thread_num(), omp_get_num_threads(), 16, &lo, &hi);
  for (size_t q = lo; q < hi; q += ADD_RELU_CHUNK) {
    const size_t len = hi - q < ADD_RELU_CHUNK ? hi - q : ADD_RELU_CHUNK;
    j->k->eltwise->add(len, j->a + q, j->b + q, j->out + q);
    j->k->eltwise->relu(len, j->out + q, j->out + q);
  }
}

/* a: y (the mask), b: dy; out and out2: the two gradients (either may be NULL) */
static void add_relu_backward_part(void *arg) {
  const elt_job *j = arg;
  size_t lo, hi;
  sc_elt_split(j->n, omp_get_thread_num(), omp_get_num_threads(), 16, &lo, &hi);
  for (size_t q = lo; q < hi; q += ADD_RELU_CHUNK) {
    const size_t len = hi - q < ADD_RELU_CHUNK ? hi - q : ADD_RELU_CHUNK;
    if (j->out) j->k->eltwise->relu_backward(len, j->a + q, j->b + q, j->out + q, j->accumulate);
    if (j->out2) j->k->eltwise->relu_backward(len, j->a + q, j->b + q, j->out2 + q, j->accumulate2);
  }
}

static void bias_add_part(void *arg) {
  const elt_job *j = arg;
  size_t lo, hi;
  sc_elt_split(j->n, omp_get_thread_num(), omp_get_num_threads(), 1, &lo, &hi);
  if (hi > lo) j->k->eltwise->add_bias_relu(hi - lo, j->c, j->c, j->out + lo * j->c, NULL, 0, j->a, 0);
}

static void bias_grad_part(void *arg) {
  const elt_job *j = arg;
  const size_t nr = j->n, nc = j->c;
  const int t = omp_get_thread_num(), T = omp_get_num_threads();
  double part[SC_ELT_CBLOCK];
  j->parts[t] = part;
  size_t lo, hi;
  sc_elt_split(nr, t, T, 1, &lo, &hi);
  for (size_t c0 = 0; c0 < nc; c0 += SC_ELT_CBLOCK) {
    const size_t cb = nc - c0 < SC_ELT_CBLOCK ? nc - c0 : SC_ELT_CBLOCK;
    for (size_t q = 0; q < cb; q++) part[q] = 0.0;
    if (hi > lo) j->k->eltwise->col_sum(hi - lo, cb, nc, j->b + lo * nc + c0, part);
#pragma omp barrier
#pragma omp single
    for (size_t q = 0; q < cb; q++) {
      double s = 0.0;
      for (int u = 0; u < T; u++) s += j->parts[u][q];
      j->out[c0 + q] += (float)s;
    }
  }
}

sc_status sc_relu_forward(int64_t count, const float *x, float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_count("relu_forward", count));
  if (count == 0) return SC_OK;
  if (!x || !y) return sc_error(SC_EINVAL, "relu_forward: null pointer");
  const size_t n = (size_t)count;
  const int nt = sc_elt_threads(n, 0);
  elt_job j = {.k = k, .n = n, .a = x, .out = y};
  sc_parallel(nt, relu_forward_part, &j);
  return SC_OK;
}

sc_status sc_relu_backward(int64_t count, float *dx, sc_grad_write dxw, const float *dy, const float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_count("relu_backward", count));
  SC_TRY(sc_grad_write_check("relu_backward", dxw));
  if (count == 0) return SC_OK;
  if (!dx || !dy || !y) return sc_error(SC_EINVAL, "relu_backward: null pointer");
  const size_t n = (size_t)count;
  const int nt = sc_elt_threads(n, 0);
  elt_job j = {.k = k, .n = n, .a = y, .b = dy, .out = dx, .accumulate = dxw == SC_GRAD_ADD};
  sc_parallel(nt, relu_backward_part, &j);
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
  elt_job j = {.k = k, .n = n, .a = a, .b = b, .out = y};
  sc_parallel(nt, add_part, &j);
  return SC_OK;
}

sc_status sc_accumulate(int64_t count, float *dst, const float *src) {
  if (!sc_kernels_active()) return sc_init();
  SC_TRY(check_count("accumulate", count));
  if (count == 0) return SC_OK;
  if (!dst || !src) return sc_error(SC_EINVAL, "accumulate: null pointer");
  return sc_add(count, dst, src, dst);
}

sc_status sc_add_relu_forward(int64_t count, const float *a, const float *b, float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_count("add_relu_forward", count));
  if (count == 0) return SC_OK;
  if (!a || !b || !y) return sc_error(SC_EINVAL, "add_relu_forward: null pointer");
  const size_t n = (size_t)count;
  elt_job j = {.k = k, .n = n, .a = a, .b = b, .out = y};
  sc_parallel(sc_elt_threads(n, 0), add_relu_forward_part, &j);
  return SC_OK;
}

sc_status sc_add_relu_backward(int64_t count, float *da, sc_grad_write daw, float *db, sc_grad_write dbw,
                               const float *dy, const float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_count("add_relu_backward", count));
  SC_TRY(sc_grad_write_check("add_relu_backward", daw));
  SC_TRY(sc_grad_write_check("add_relu_backward", dbw));
  if (count == 0 || (!da && !db)) return SC_OK;
  if (!dy || !y) return sc_error(SC_EINVAL, "add_relu_backward: null pointer");
  const size_t n = (size_t)count;
  elt_job j = {.k = k, .n = n, .a = y, .b = dy, .out = da, .out2 = db, .accumulate = daw == SC_GRAD_ADD,
               .accumulate2 = dbw == SC_GRAD_ADD};
  sc_parallel(sc_elt_threads(n, 0), add_relu_backward_part, &j);
  return SC_OK;
}

sc_status sc_bias_add_forward(int64_t rows, int64_t c, const float *b, float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_rows_c("bias_add_forward", rows, c));
  if (rows == 0 || c == 0) return SC_OK;
  if (!b || !y) return sc_error(SC_EINVAL, "bias_add_forward: null pointer");
  const size_t nr = (size_t)rows, nc = (size_t)c;
  const int nt = sc_elt_threads(nr * nc, 0);
  elt_job j = {.k = k, .n = nr, .c = nc, .a = b, .out = y};
  sc_parallel(nt, bias_add_part, &j);
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
  elt_job j = {.k = k, .n = nr, .c = nc, .b = dy, .out = db, .parts = parts};
  sc_parallel(nt, bias_grad_part, &j);
  return SC_OK;
}
