/* f32_xent_row_expsum__scalar.c: the reference for the fixed-shift exponentials of one similarity row: u = exp(s -
 * shift), stored, and their sum in double. Plain C with libm's expf (the reference may use libm; vector kernels
 * must not). It must not assume u != s.
 *
 * Registers: none in particular; one double accumulator.
 */
#include <math.h>

#include "xent.h"

double sc_f32_xent_row_expsum__scalar(size_t n, const float *s, float shift, float *u) {
  double sum = 0.0;
  for (size_t j = 0; j < n; j++) {
    float e = expf(s[j] - shift);
    u[j] = e;
    sum += (double)e;
  }
  return sum;
}
