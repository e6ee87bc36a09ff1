/* f32_xent_row_expsum__scalar.c: the reference for the fixed-shift exponentials of one similarity row: u = exp(s -
 * shift), stored, their sum in double, and (when col is given) each u added to its column's sum in double. Plain C
 * with libm's expf (the reference may use libm; vector kernels must not). It must not assume u != s.
 *
 * Registers: none in particular; one double accumulator.
 */
#include <math.h>

#include "xent.h"

double sc_f32_xent_row_expsum__scalar(size_t n, const float *s, float shift, float *u, double *col) {
  double sum = 0.0;
  for (size_t j = 0; j < n; j++) {
    float e = expf(s[j] - shift);
    u[j] = e;
    sum += (double)e;
    if (col) col[j] += (double)e;
  }
  return sum;
}
