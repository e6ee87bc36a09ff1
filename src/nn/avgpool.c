/* avgpool.c: global average pooling, the end of every ResNet encoder (N x H x W x C to N x C features). */
#include "nn.h"

/* x[N][H][W][C] -> y[N][C]. */
sc_status sc_nn_avgpool_forward(int64_t n, int64_t h, int64_t w, int64_t c, const float *x, float *y) {
  return sc_avgpool_global_forward(n, h, w, c, x, y);
}

/* dy[N][C] -> dx[N][H][W][C] += or = dy / (H*W). */
sc_status sc_nn_avgpool_backward(int64_t n, int64_t h, int64_t w, int64_t c, float *dx, sc_grad_write dxw,
                                 const float *dy) {
  return sc_avgpool_global_backward(n, h, w, c, dx, dxw, dy);
}
