/* f64_logreg__avx512.c: the logistic regression's logits and gradient sums (arch/logreg.h) with AVX-512F, eight
 * doubles per zmm, each lane one chain of fused multiply-adds in the scalar kernel's order (so the results equal
 * arch/scalar/f64_logreg__scalar.c's bit for bit); ragged ends go through lane masks. Also the table entry.
 *  - logits: eight samples at a time, their logits of up to 16 classes in registers over the whole depth; each
 *    feature is broadcast once and meets the weights' one or two vectors.
 *  - gradient: 16 columns at a time for up to 12 classes (24 accumulators), over a chunk of samples whose
 *    features stay in cache while each group of classes passes over them; each sample's 16 features are widened
 *    once per group, and the first group fetches the line the next columns will read. */
#include <immintrin.h>

#include "logreg.h"

SC_LOGREG_DECLARE(avx512)

static inline __mmask8 mask8(size_t n) { return n >= 8 ? (__mmask8)0xff : (__mmask8)((1u << n) - 1u); }

/* R samples (rows of x from x, of z from z) by V vectors of classes (mask m1 on the second) */
static inline __attribute__((always_inline)) void logits_block(int R, int V, size_t d, const float *x, size_t ldx,
                                                               const double *w, size_t ldw, __m512d b0, __m512d b1,
                                                               __mmask8 m0, __mmask8 m1, double *z, size_t ldz) {
  __m512d acc[8][2];
  for (int r = 0; r < R; r++) acc[r][0] = b0, acc[r][1] = b1;
  for (size_t j = 0; j < d; j++) {
    const __m512d w0 = _mm512_maskz_loadu_pd(m0, w + j * ldw);
    const __m512d w1 = V > 1 ? _mm512_maskz_loadu_pd(m1, w + j * ldw + 8) : w0;
    for (int r = 0; r < R; r++) {
      const __m512d xv = _mm512_set1_pd((double)x[r * ldx + j]);
      acc[r][0] = _mm512_fmadd_pd(xv, w0, acc[r][0]);
      if (V > 1) acc[r][1] = _mm512_fmadd_pd(xv, w1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; r++) {
    _mm512_mask_storeu_pd(z + r * ldz, m0, acc[r][0]);
    if (V > 1) _mm512_mask_storeu_pd(z + r * ldz + 8, m1, acc[r][1]);
  }
}

static void logits_rows(int V, size_t rows, size_t d, const float *x, size_t ldx, const double *w, size_t ldw,
                        __m512d b0, __m512d b1, __mmask8 m0, __mmask8 m1, double *z, size_t ldz) {
  size_t i = 0;
  if (V > 1) {
    for (; i + 8 <= rows; i += 8) logits_block(8, 2, d, x + i * ldx, ldx, w, ldw, b0, b1, m0, m1, z + i * ldz, ldz);
    for (; i < rows; i++) logits_block(1, 2, d, x + i * ldx, ldx, w, ldw, b0, b1, m0, m1, z + i * ldz, ldz);
  } else {
    for (; i + 8 <= rows; i += 8) logits_block(8, 1, d, x + i * ldx, ldx, w, ldw, b0, b1, m0, m1, z + i * ldz, ldz);
    for (; i < rows; i++) logits_block(1, 1, d, x + i * ldx, ldx, w, ldw, b0, b1, m0, m1, z + i * ldz, ldz);
  }
}

void sc_f64_logits__avx512(size_t rows, size_t d, size_t k, const float *x, size_t ldx, const double *w,
                           size_t ldw, const double *b, double *z, size_t ldz) {
  for (size_t c0 = 0; c0 < k; c0 += 16) {
    const size_t kc = k - c0 < 16 ? k - c0 : 16;
    const __mmask8 m0 = mask8(kc), m1 = mask8(kc > 8 ? kc - 8 : 0);
    const __m512d b0 = _mm512_maskz_loadu_pd(m0, b + c0), b1 = _mm512_maskz_loadu_pd(m1, b + c0 + 8);
    logits_rows(kc > 8 ? 2 : 1, rows, d, x, ldx, w + c0, ldw, b0, b1, m0, m1, z + c0, ldz);
  }
}

/* samples per chunk of the gradient: 256 rows of 16 features are 16 KB */
#define GRAD_CHUNK 256

/* C <= 12 classes (dz columns from dz, g rows from g) by 16 columns (masks mx, m0, m1) over n samples */
static inline __attribute__((always_inline)) void grad_block(int C, size_t n, const float *x, size_t ldx,
                                                             const float *pf, size_t pf_rows,
                                                             const double *dz, size_t lddz, double *g, size_t ldg,
                                                             __mmask16 mx, __mmask8 m0, __mmask8 m1) {
  __m512d acc[12][2];
  for (int c = 0; c < C; c++)
    acc[c][0] = _mm512_maskz_loadu_pd(m0, g + c * ldg), acc[c][1] = _mm512_maskz_loadu_pd(m1, g + c * ldg + 8);
  for (size_t i = 0; i < n; i++) {
    if (i < pf_rows) _mm_prefetch((const char *)(pf + i * ldx), _MM_HINT_T0);
    const __m512 xf = _mm512_maskz_loadu_ps(mx, x + i * ldx);
    const __m512d x0 = _mm512_cvtps_pd(_mm512_castps512_ps256(xf));
    const __m512d x1 = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(xf), 1)));
    for (int c = 0; c < C; c++) {
      const __m512d dv = _mm512_set1_pd(dz[i * lddz + c]);
      acc[c][0] = _mm512_fmadd_pd(dv, x0, acc[c][0]);
      acc[c][1] = _mm512_fmadd_pd(dv, x1, acc[c][1]);
    }
  }
  for (int c = 0; c < C; c++) {
    _mm512_mask_storeu_pd(g + c * ldg, m0, acc[c][0]);
    _mm512_mask_storeu_pd(g + c * ldg + 8, m1, acc[c][1]);
  }
}

void sc_f64_logits_grad__avx512(size_t rows, size_t cols, size_t k, const float *x, size_t ldx, const double *dz,
                                size_t lddz, double *g, size_t ldg) {
  for (size_t i0 = 0; i0 < rows; i0 += GRAD_CHUNK) {
    const size_t n = rows - i0 < GRAD_CHUNK ? rows - i0 : GRAD_CHUNK;
    for (size_t j0 = 0; j0 < cols; j0 += 16) {
      const size_t nj = cols - j0 < 16 ? cols - j0 : 16;
      const __mmask16 mx = nj >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nj) - 1u);
      const __mmask8 m0 = mask8(nj), m1 = mask8(nj > 8 ? nj - 8 : 0);
      const float *xc = x + i0 * ldx + j0;
      const double *dc = dz + i0 * lddz;
      /* the first group of classes fetches the line each of these samples reads next (the next columns, else the
       * next chunk's first), so that the passes over a chunk do not wait on memory a line at a time */
      const float *pf = j0 + 16 < cols ? xc + 16 : x + (i0 + n) * ldx;
      size_t pfr = j0 + 16 < cols ? n : rows - i0 - n < n ? rows - i0 - n : n;
      for (size_t c = 0; c < k; c += 12, pfr = 0) {
        const double *dcc = dc + c;
        double *gc = g + c * ldg + j0;
        switch (k - c < 12 ? k - c : 12) {
#define SC_GRAD_CASE(C)                                                                                              \
  case C: grad_block(C, n, xc, ldx, pf, pfr, dcc, lddz, gc, ldg, mx, m0, m1); break;
          SC_GRAD_CASE(1) SC_GRAD_CASE(2) SC_GRAD_CASE(3) SC_GRAD_CASE(4) SC_GRAD_CASE(5) SC_GRAD_CASE(6)
          SC_GRAD_CASE(7) SC_GRAD_CASE(8) SC_GRAD_CASE(9) SC_GRAD_CASE(10) SC_GRAD_CASE(11) default:
          grad_block(12, n, xc, ldx, pf, pfr, dcc, lddz, gc, ldg, mx, m0, m1);
#undef SC_GRAD_CASE
        }
      }
    }
  }
}

const sc_logreg_config sc_logreg_config__avx512 = SC_LOGREG_CONFIG(avx512);
