/* logreg.h: per-ISA kernels of the linear probe's logistic regression (src/train/logreg.c): the logits of a block of
 * samples, and the weight gradient's sums over samples. Features are float, everything else double.
 *
 * Each output is one chain of fused multiply-adds (fma(a, b, acc), rounded once) in a fixed order, the same on
 * every ISA: a vector kernel only runs several chains side by side, so its results equal the scalar kernel's bit
 * for bit, and the caller's split of the work over threads cannot change them either. Like the other kernel
 * families: one thread, no argument checks, no allocation, no alignment needed.
 */
#ifndef SC_ARCH_LOGREG_H
#define SC_ARCH_LOGREG_H

#include <stddef.h>

/* z[i*ldz + c] = b[c] + sum over j < d of x[i*ldx + j] * w[j*ldw + c], for i < rows and c < k: the chain starts at
 * b[c] and takes j in ascending order. w holds the weights transposed (a row of k per feature, ldw >= k). */
typedef void (*sc_f64_logits_fn)(size_t rows, size_t d, size_t k, const float *x, size_t ldx, const double *w,
                                 size_t ldw, const double *b, double *z, size_t ldz);
/* g[c*ldg + j] += sum over i < rows of dz[i*lddz + c] * x[i*ldx + j], for c < k and j < cols: the chain starts at
 * the old g[c*ldg + j] and takes i in ascending order. */
typedef void (*sc_f64_logits_grad_fn)(size_t rows, size_t cols, size_t k, const float *x, size_t ldx,
                                      const double *dz, size_t lddz, double *g, size_t ldg);

typedef struct sc_logreg_config {
  sc_f64_logits_fn logits;
  sc_f64_logits_grad_fn logits_grad;
} sc_logreg_config;

/* Declares the kernels of one ISA (arch/<isa>/f64_logreg__<isa>.c), so that the kernel file and the tables are
 * checked against the same signatures. */
#define SC_LOGREG_DECLARE(isa)                                                                                    \
  void sc_f64_logits__##isa(size_t rows, size_t d, size_t k, const float *x, size_t ldx, const double *w,         \
                            size_t ldw, const double *b, double *z, size_t ldz);                                  \
  void sc_f64_logits_grad__##isa(size_t rows, size_t cols, size_t k, const float *x, size_t ldx,                  \
                                 const double *dz, size_t lddz, double *g, size_t ldg);

#define SC_LOGREG_CONFIG(isa) {.logits = sc_f64_logits__##isa, .logits_grad = sc_f64_logits_grad__##isa}

#endif
