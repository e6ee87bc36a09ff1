/* f32_maxpool__scalar.c: the reference max-pool kernels for one output pixel of an NHWC tensor, plain C. The
 * backward recomputes which window element was the maximum (the first one equal to the output, in row-major
 * window order) instead of storing an index, so the forward writes nothing but y. */
#include "eltwise.h"

SC_ELTWISE_DECLARE(scalar)

void sc_f32_maxpool_forward__scalar(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs,
                                    float *y) {
  for (size_t j = 0; j < c; j++) {
    float m = x[j];
    for (size_t i = 0; i < kh; i++)
      for (size_t k = 0; k < kw; k++) {
        float v = x[i * rs + k * cs + j];
        m = v > m ? v : m;
      }
    y[j] = m;
  }
}

void sc_f32_maxpool_backward__scalar(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs,
                                     const float *y, const float *dy, float *dx) {
  for (size_t j = 0; j < c; j++) {
    for (size_t i = 0; i < kh; i++)
      for (size_t k = 0; k < kw; k++)
        if (x[i * rs + k * cs + j] == y[j]) {
          dx[i * rs + k * cs + j] += dy[j];
          goto next;
        }
  next:;
  }
}
