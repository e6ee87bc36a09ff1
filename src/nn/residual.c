/* residual.c: the end of a ResNet block, y = relu(a + b), and its backward, which hands dy where y > 0 to both
 * branches. The mask comes from the output, so the forward may run in place. The loops are sc_add_relu_*. */
#include "nn.h"

sc_status sc_nn_residual_relu_forward(int64_t count, const float *a, const float *b, float *y) {
  return sc_add_relu_forward(count, a, b, y);
}

sc_status sc_nn_residual_relu_backward(int64_t count, float *da, sc_grad_write daw, float *db, sc_grad_write dbw,
                                       const float *dy, const float *y) {
  return sc_add_relu_backward(count, da, daw, db, dbw, dy, y);
}
