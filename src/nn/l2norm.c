/* l2norm.c: row-wise L2 normalisation, y = x / max(||x||, eps) as torch.nn.functional.normalize, for embeddings
 * served or compared with a kNN monitor. NT-Xent normalises inside its own operator and does not use this layer.
 * Norms and the projection in the backward accumulate in double. */
#include <math.h>

#include "../core/error.h"
#include "nn.h"

static sc_status check(int64_t rows, int64_t d, const void *a, const void *b) {
  if (rows < 0 || d < 1) return sc_error(SC_EINVAL, "l2norm: bad shape (rows=%lld D=%lld)", (long long)rows,
                                         (long long)d);
  if (rows > 0 && (!a || !b)) return sc_error(SC_EINVAL, "l2norm: null pointer");
  return SC_OK;
}

static double row_norm(int64_t d, const float *x) {
  double s = 0.0;
  for (int64_t j = 0; j < d; j++) s += (double)x[j] * x[j];
  return sqrt(s);
}

/* x[rows][D] -> y[rows][D] (y may equal x). */
sc_status sc_nn_l2norm_forward(int64_t rows, int64_t d, const float *x, float *y) {
  SC_TRY(check(rows, d, x, y));
  for (int64_t r = 0; r < rows; r++) {
    double nrm = row_norm(d, x + r * d);
    double inv = 1.0 / (nrm > SC_NN_L2_EPS ? nrm : SC_NN_L2_EPS);
    for (int64_t j = 0; j < d; j++) y[r * d + j] = (float)(x[r * d + j] * inv);
  }
  return SC_OK;
}

/* dy[rows][D] -> dx[rows][D] += (dy - y (y.dy)) / ||x||; below eps the map is x/eps, linear, so dx += dy/eps.
 * x and y are the forward's input and output (y must not alias x here). */
sc_status sc_nn_l2norm_backward(int64_t rows, int64_t d, float *dx, const float *dy, const float *x,
                                const float *y) {
  SC_TRY(check(rows, d, dx, dy));
  if (rows > 0 && (!x || !y)) return sc_error(SC_EINVAL, "l2norm: null pointer");
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * d, *yr = y + r * d, *gr = dy + r * d;
    double nrm = row_norm(d, xr);
    if (nrm <= SC_NN_L2_EPS) {
      for (int64_t j = 0; j < d; j++) dx[r * d + j] += (float)(gr[j] / SC_NN_L2_EPS);
      continue;
    }
    double dot = 0.0;
    for (int64_t j = 0; j < d; j++) dot += (double)yr[j] * gr[j];
    for (int64_t j = 0; j < d; j++) dx[r * d + j] += (float)((gr[j] - yr[j] * dot) / nrm);
  }
  return SC_OK;
}
