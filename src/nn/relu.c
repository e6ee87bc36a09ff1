/* relu.c: the ReLU layer. The mask for the backward comes from the forward's output, so the forward may run in
 * place (y == x) without losing what the backward needs. The loops are the sc_relu_* operators. */
#include "nn.h"

/* x[count] -> y[count] (y may equal x). */
sc_status sc_nn_relu_forward(int64_t count, const float *x, float *y) { return sc_relu_forward(count, x, y); }

/* dy[count] -> dx[count] += dy where y > 0; y is the forward's output. */
sc_status sc_nn_relu_backward(int64_t count, float *dx, const float *dy, const float *y) {
  return sc_relu_backward(count, dx, dy, y);
}
