/* f32_xent_row_lse__scalar.c: the reference log-sum-exp of one similarity row, the twin every vector kernel is
 * tested against. Plain C with libm's expf and log (the reference may use libm; vector kernels must not). It must
 * stay simple enough to be obviously right: no unrolling, no tricks.
 *
 * Registers: none in particular; one running maximum, then one double accumulator.
 */
#include <math.h>

#include "xent.h"

double sc_f32_xent_row_lse__scalar(size_t n, const float *s) {
  float m = -INFINITY;
  for (size_t j = 0; j < n; j++)
    if (s[j] > m) m = s[j];
  /* the maximum is subtracted so that no exponential overflows; the largest term is exactly 1 */
  double sum = 0.0;
  for (size_t j = 0; j < n; j++) sum += (double)expf(s[j] - m);
  return (double)m + log(sum);
}
