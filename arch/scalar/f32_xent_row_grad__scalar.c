/* f32_xent_row_grad__scalar.c: the reference row of the symmetrised softmax H = P + P^T (scaled), computed in
 * place from the symmetric similarity row (see xent.h). Plain C with libm's expf; the twin every vector kernel is
 * tested against. It must not assume g != s.
 *
 * Registers: none in particular; one element at a time.
 */
#include <math.h>

#include "xent.h"

void sc_f32_xent_row_grad__scalar(size_t n, const float *s, float lse_i, const float *lse, float scale, float *g) {
  for (size_t j = 0; j < n; j++) {
    float x = s[j];
    g[j] = scale * (expf(x - lse_i) + expf(x - lse[j]));
  }
}
