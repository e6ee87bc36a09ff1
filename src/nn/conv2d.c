/* conv2d.c: the convolution layer (no bias, as every ResNet convolution), a thin pair around the implicit-GEMM
 * operators of src/ops. It must not hold its own convolution loops: the operators are the single implementation. */
#include "../core/error.h"
#include "nn.h"

/* x[N][H][W][C], w[K][kh][kw][C] -> y[N][OH][OW][K] (overwritten). */
sc_status sc_nn_conv2d_forward(const sc_conv2d_shape *s, const float *x, const float *w, float *y) {
  return sc_conv2d_forward(s, x, w, y);
}

/* dy[N][OH][OW][K] -> dx[N][H][W][C] += or = (skipped when dx is NULL), dw[K][kh][kw][C] +=. */
sc_status sc_nn_conv2d_backward(const sc_conv2d_shape *s, float *dx, sc_grad_write dxw, float *dw, const float *dy,
                                const float *x, const float *w) {
  SC_TRY(sc_conv2d_backward_weights(s, dw, dy, x));
  if (dx) SC_TRY(sc_conv2d_backward_data(s, dx, dxw, dy, w));
  return SC_OK;
}
