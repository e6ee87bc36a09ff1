/* f64_logreg__scalar.c: the logistic regression's logits and gradient sums (arch/logreg.h), one chain of fma() at a
 * time: the reference every vector kernel must equal bit for bit. Also the table entry. */
#include <math.h>

#include "logreg.h"

SC_LOGREG_DECLARE(scalar)

void sc_f64_logits__scalar(size_t rows, size_t d, size_t k, const float *x, size_t ldx, const double *w,
                           size_t ldw, const double *b, double *z, size_t ldz) {
  for (size_t i = 0; i < rows; i++)
    for (size_t c = 0; c < k; c++) {
      double acc = b[c];
      for (size_t j = 0; j < d; j++) acc = fma((double)x[i * ldx + j], w[j * ldw + c], acc);
      z[i * ldz + c] = acc;
    }
}

void sc_f64_logits_grad__scalar(size_t rows, size_t cols, size_t k, const float *x, size_t ldx, const double *dz,
                                size_t lddz, double *g, size_t ldg) {
  for (size_t c = 0; c < k; c++)
    for (size_t j = 0; j < cols; j++) {
      double acc = g[c * ldg + j];
      for (size_t i = 0; i < rows; i++) acc = fma(dz[i * lddz + c], (double)x[i * ldx + j], acc);
      g[c * ldg + j] = acc;
    }
}

const sc_logreg_config sc_logreg_config__scalar = SC_LOGREG_CONFIG(scalar);
