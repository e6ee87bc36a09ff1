/* linear.c: the fully connected layer y = x W^T + b with W stored [K][F] as PyTorch's Linear (so fc.weight and the
 * projection head's weights are written to checkpoints unchanged). All products go through sc_sgemm; the layer must
 * not hold its own matrix loops. */
#include "../core/error.h"
#include "../ops/eltwise_util.h"
#include "nn.h"

static sc_status check(int64_t rows, int64_t f, int64_t k) {
  if (rows < 0 || f < 1 || k < 1)
    return sc_error(SC_EINVAL, "linear: bad shape (rows=%lld F=%lld K=%lld)", (long long)rows, (long long)f,
                    (long long)k);
  return SC_OK;
}

/* x[rows][F], w[K][F], b[K] (NULL: no bias) -> y[rows][K] (overwritten). */
sc_status sc_nn_linear_forward(int64_t rows, int64_t f, int64_t k, const float *x, const float *w, const float *b,
                               float *y) {
  SC_TRY(check(rows, f, k));
  SC_TRY(sc_sgemm(SC_NO_TRANS, SC_TRANS, rows, k, f, 1.0f, x, f, w, f, 0.0f, y, k));
  if (b) SC_TRY(sc_bias_add_forward(rows, k, b, y));
  return SC_OK;
}

/* dy[rows][K] -> dx[rows][F] += or = dy W (skipped when NULL), dw[K][F] += dy^T x, db[K] += column sums of dy
 * (skipped when NULL). */
sc_status sc_nn_linear_backward(int64_t rows, int64_t f, int64_t k, float *dx, sc_grad_write dxw, float *dw,
                                float *db, const float *dy, const float *x, const float *w) {
  SC_TRY(check(rows, f, k));
  SC_TRY(sc_grad_write_check("linear", dxw));
  if (rows == 0) return SC_OK;
  SC_TRY(sc_sgemm(SC_TRANS, SC_NO_TRANS, k, f, rows, 1.0f, dy, k, x, f, 1.0f, dw, f));
  const float beta = dxw == SC_GRAD_SET ? 0.0f : 1.0f;
  if (dx) SC_TRY(sc_sgemm(SC_NO_TRANS, SC_NO_TRANS, rows, f, k, 1.0f, dy, k, w, f, beta, dx, f));
  if (db) SC_TRY(sc_bias_add_backward(rows, k, db, dy));
  return SC_OK;
}
