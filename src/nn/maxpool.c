/* maxpool.c: the max-pooling layer (ResNet's ImageNet stem: 3x3, stride 2, pad 1). No argmax is stored: the
 * backward recomputes the winner from x and y, so the layer needs no scratch. */
#include "nn.h"

/* x[N][H][W][C] -> y[N][OH][OW][C]. */
sc_status sc_nn_maxpool_forward(const sc_pool2d_shape *s, const float *x, float *y) {
  return sc_maxpool2d_forward(s, x, y);
}

/* dy[N][OH][OW][C] -> dx[N][H][W][C] += or = at each window's maximum (0 elsewhere when set). */
sc_status sc_nn_maxpool_backward(const sc_pool2d_shape *s, float *dx, sc_grad_write dxw, const float *dy,
                                 const float *x, const float *y) {
  return sc_maxpool2d_backward(s, dx, dxw, dy, x, y);
}
