/* residual.c: the residual add of a ResNet block, y = a + b; its backward hands dy unchanged to both branches. */
#include "../core/error.h"
#include "nn.h"

/* a[count], b[count] -> y[count] (y may equal a or b). */
sc_status sc_nn_residual_forward(int64_t count, const float *a, const float *b, float *y) {
  return sc_add(count, a, b, y);
}

/* dy[count] -> da[count] +=, db[count] += (either may be NULL). */
sc_status sc_nn_residual_backward(int64_t count, float *da, float *db, const float *dy) {
  if (da) SC_TRY(sc_accumulate(count, da, dy));
  if (db) SC_TRY(sc_accumulate(count, db, dy));
  return SC_OK;
}

sc_status sc_nn_residual_relu_forward(int64_t count, const float *a, const float *b, float *y) {
  return sc_add_relu_forward(count, a, b, y);
}

sc_status sc_nn_residual_relu_backward(int64_t count, float *da, float *db, const float *dy, const float *y) {
  return sc_add_relu_backward(count, da, db, dy, y);
}
