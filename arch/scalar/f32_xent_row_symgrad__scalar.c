/* f32_xent_row_symgrad__scalar.c: the reference row of H = scale * (P + P^T) from stored exponentials (see xent.h):
 * g = scale * (u * (w_i + w_j)). Plain C, the same three roundings in the same order as the vector kernels. It must
 * not assume g != u.
 *
 * Registers: none in particular; one element at a time.
 */
#include "xent.h"

void sc_f32_xent_row_symgrad__scalar(size_t n, const float *u, float w_i, const float *w, float scale, float *g) {
  for (size_t j = 0; j < n; j++) {
    float p = u[j] * (w_i + w[j]); /* P_ij + P_ji, in [0, 2]: scaled last so that it never goes subnormal */
    g[j] = p * scale;
  }
}
