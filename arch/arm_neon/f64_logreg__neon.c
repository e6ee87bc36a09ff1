/* f64_logreg__neon.c: the logistic regression's logits and gradient sums (arch/logreg.h) with NEON (AArch64), two
 * doubles per register, each lane one chain of fused multiply-adds in the scalar kernel's order (vfmaq_f64 and
 * fma() round once, so the results equal arch/scalar/f64_logreg__scalar.c's bit for bit); ragged ends go to that
 * scalar kernel. Also the table entry.
 *  - logits: four samples at a time, their logits of four classes in registers over the whole depth.
 *  - gradient: four columns at a time for up to four classes, over a chunk of samples that stays in L1. */
#include <arm_neon.h>

#include "logreg.h"

SC_LOGREG_DECLARE(neon)
SC_LOGREG_DECLARE(scalar) /* the ragged ends: the same chains, one lane at a time */

static inline __attribute__((always_inline)) void logits_block(int R, size_t d, const float *x, size_t ldx,
                                                               const double *w, size_t ldw, const double *b,
                                                               double *z, size_t ldz) {
  float64x2_t acc[4][2];
  for (int r = 0; r < R; r++) acc[r][0] = vld1q_f64(b), acc[r][1] = vld1q_f64(b + 2);
  for (size_t j = 0; j < d; j++) {
    const float64x2_t w0 = vld1q_f64(w + j * ldw), w1 = vld1q_f64(w + j * ldw + 2);
    for (int r = 0; r < R; r++) {
      const float64x2_t xv = vdupq_n_f64((double)x[r * ldx + j]);
      acc[r][0] = vfmaq_f64(acc[r][0], xv, w0);
      acc[r][1] = vfmaq_f64(acc[r][1], xv, w1);
    }
  }
  for (int r = 0; r < R; r++) vst1q_f64(z + r * ldz, acc[r][0]), vst1q_f64(z + r * ldz + 2, acc[r][1]);
}

void sc_f64_logits__neon(size_t rows, size_t d, size_t k, const float *x, size_t ldx, const double *w, size_t ldw,
                         const double *b, double *z, size_t ldz) {
  size_t c0 = 0;
  for (; c0 + 4 <= k; c0 += 4) {
    size_t i = 0;
    for (; i + 4 <= rows; i += 4) logits_block(4, d, x + i * ldx, ldx, w + c0, ldw, b + c0, z + i * ldz + c0, ldz);
    for (; i < rows; i++) logits_block(1, d, x + i * ldx, ldx, w + c0, ldw, b + c0, z + i * ldz + c0, ldz);
  }
  if (c0 < k) sc_f64_logits__scalar(rows, d, k - c0, x, ldx, w + c0, ldw, b + c0, z + c0, ldz);
}

/* samples per chunk of the gradient: 256 rows of 4 features are 4 KB */
#define GRAD_CHUNK 256

static inline __attribute__((always_inline)) void grad_block(int C, size_t n, const float *x, size_t ldx,
                                                             const double *dz, size_t lddz, double *g, size_t ldg) {
  float64x2_t acc[4][2];
  for (int c = 0; c < C; c++) acc[c][0] = vld1q_f64(g + c * ldg), acc[c][1] = vld1q_f64(g + c * ldg + 2);
  for (size_t i = 0; i < n; i++) {
    const float32x4_t xf = vld1q_f32(x + i * ldx);
    const float64x2_t x0 = vcvt_f64_f32(vget_low_f32(xf)), x1 = vcvt_high_f64_f32(xf);
    for (int c = 0; c < C; c++) {
      const float64x2_t dv = vdupq_n_f64(dz[i * lddz + c]);
      acc[c][0] = vfmaq_f64(acc[c][0], dv, x0);
      acc[c][1] = vfmaq_f64(acc[c][1], dv, x1);
    }
  }
  for (int c = 0; c < C; c++) vst1q_f64(g + c * ldg, acc[c][0]), vst1q_f64(g + c * ldg + 2, acc[c][1]);
}

void sc_f64_logits_grad__neon(size_t rows, size_t cols, size_t k, const float *x, size_t ldx, const double *dz,
                              size_t lddz, double *g, size_t ldg) {
  const size_t cols4 = cols / 4 * 4;
  for (size_t i0 = 0; i0 < rows; i0 += GRAD_CHUNK) {
    const size_t n = rows - i0 < GRAD_CHUNK ? rows - i0 : GRAD_CHUNK;
    const float *xc = x + i0 * ldx;
    const double *dc = dz + i0 * lddz;
    for (size_t j0 = 0; j0 < cols4; j0 += 4) {
      size_t c = 0;
      for (; c + 4 <= k; c += 4) grad_block(4, n, xc + j0, ldx, dc + c, lddz, g + c * ldg + j0, ldg);
      if (c + 2 <= k) grad_block(2, n, xc + j0, ldx, dc + c, lddz, g + c * ldg + j0, ldg), c += 2;
      if (c < k) grad_block(1, n, xc + j0, ldx, dc + c, lddz, g + c * ldg + j0, ldg);
    }
    if (cols4 < cols) sc_f64_logits_grad__scalar(n, cols - cols4, k, xc + cols4, ldx, dc, lddz, g + cols4, ldg);
  }
}

const sc_logreg_config sc_logreg_config__neon = SC_LOGREG_CONFIG(neon);
