/* f64_logreg__avx2.c: the logistic regression's logits and gradient sums (arch/logreg.h) with AVX2 and FMA, four
 * doubles per ymm, each lane one chain of fused multiply-adds in the scalar kernel's order (so the results equal
 * arch/scalar/f64_logreg__scalar.c's bit for bit); ragged ends go through maskload/maskstore. Also the table entry.
 *  - logits: four samples at a time, their logits of up to 8 classes in registers over the whole depth.
 *  - gradient: 8 columns at a time for up to four classes, over a chunk of samples whose features stay in cache;
 *    the first group of classes fetches the line the next columns will read. */
#include <immintrin.h>

#include "logreg.h"

SC_LOGREG_DECLARE(avx2)

/* lanes [0, n) of four set (n may exceed 4 or be 0) */
static inline __m256i mask4(size_t n) {
  const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(n > 4 ? 4 : n)), idx);
}
/* the same for four floats */
static inline __m128i mask4f(size_t n) {
  return _mm_cmpgt_epi32(_mm_set1_epi32((int)(n > 4 ? 4 : n)), _mm_setr_epi32(0, 1, 2, 3));
}

static inline __attribute__((always_inline)) void logits_block(int R, int V, size_t d, const float *x, size_t ldx,
                                                               const double *w, size_t ldw, __m256d b0, __m256d b1,
                                                               __m256i m0, __m256i m1, double *z, size_t ldz) {
  __m256d acc[4][2];
  for (int r = 0; r < R; r++) acc[r][0] = b0, acc[r][1] = b1;
  for (size_t j = 0; j < d; j++) {
    const __m256d w0 = _mm256_maskload_pd(w + j * ldw, m0);
    const __m256d w1 = V > 1 ? _mm256_maskload_pd(w + j * ldw + 4, m1) : w0;
    for (int r = 0; r < R; r++) {
      const __m256d xv = _mm256_set1_pd((double)x[r * ldx + j]);
      acc[r][0] = _mm256_fmadd_pd(xv, w0, acc[r][0]);
      if (V > 1) acc[r][1] = _mm256_fmadd_pd(xv, w1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; r++) {
    _mm256_maskstore_pd(z + r * ldz, m0, acc[r][0]);
    if (V > 1) _mm256_maskstore_pd(z + r * ldz + 4, m1, acc[r][1]);
  }
}

static void logits_rows(int V, size_t rows, size_t d, const float *x, size_t ldx, const double *w, size_t ldw,
                        __m256d b0, __m256d b1, __m256i m0, __m256i m1, double *z, size_t ldz) {
  size_t i = 0;
  if (V > 1) {
    for (; i + 4 <= rows; i += 4) logits_block(4, 2, d, x + i * ldx, ldx, w, ldw, b0, b1, m0, m1, z + i * ldz, ldz);
    for (; i < rows; i++) logits_block(1, 2, d, x + i * ldx, ldx, w, ldw, b0, b1, m0, m1, z + i * ldz, ldz);
  } else {
    for (; i + 4 <= rows; i += 4) logits_block(4, 1, d, x + i * ldx, ldx, w, ldw, b0, b1, m0, m1, z + i * ldz, ldz);
    for (; i < rows; i++) logits_block(1, 1, d, x + i * ldx, ldx, w, ldw, b0, b1, m0, m1, z + i * ldz, ldz);
  }
}

void sc_f64_logits__avx2(size_t rows, size_t d, size_t k, const float *x, size_t ldx, const double *w, size_t ldw,
                         const double *b, double *z, size_t ldz) {
  for (size_t c0 = 0; c0 < k; c0 += 8) {
    const size_t kc = k - c0 < 8 ? k - c0 : 8;
    const __m256i m0 = mask4(kc), m1 = mask4(kc > 4 ? kc - 4 : 0);
    const __m256d b0 = _mm256_maskload_pd(b + c0, m0), b1 = _mm256_maskload_pd(b + c0 + 4, m1);
    logits_rows(kc > 4 ? 2 : 1, rows, d, x, ldx, w + c0, ldw, b0, b1, m0, m1, z + c0, ldz);
  }
}

/* samples per chunk of the gradient: 256 rows of 8 features are 8 KB */
#define GRAD_CHUNK 256

static inline __attribute__((always_inline)) void grad_block(int C, size_t n, const float *x, size_t ldx,
                                                             const float *pf, size_t pf_rows,
                                                             const double *dz, size_t lddz, double *g, size_t ldg,
                                                             __m128i mx0, __m128i mx1, __m256i m0, __m256i m1) {
  __m256d acc[4][2];
  for (int c = 0; c < C; c++)
    acc[c][0] = _mm256_maskload_pd(g + c * ldg, m0), acc[c][1] = _mm256_maskload_pd(g + c * ldg + 4, m1);
  for (size_t i = 0; i < n; i++) {
    if (i < pf_rows) _mm_prefetch((const char *)(pf + i * ldx), _MM_HINT_T0);
    const __m256d x0 = _mm256_cvtps_pd(_mm_maskload_ps(x + i * ldx, mx0));
    const __m256d x1 = _mm256_cvtps_pd(_mm_maskload_ps(x + i * ldx + 4, mx1));
    for (int c = 0; c < C; c++) {
      const __m256d dv = _mm256_broadcast_sd(dz + i * lddz + c);
      acc[c][0] = _mm256_fmadd_pd(dv, x0, acc[c][0]);
      acc[c][1] = _mm256_fmadd_pd(dv, x1, acc[c][1]);
    }
  }
  for (int c = 0; c < C; c++) {
    _mm256_maskstore_pd(g + c * ldg, m0, acc[c][0]);
    _mm256_maskstore_pd(g + c * ldg + 4, m1, acc[c][1]);
  }
}

void sc_f64_logits_grad__avx2(size_t rows, size_t cols, size_t k, const float *x, size_t ldx, const double *dz,
                              size_t lddz, double *g, size_t ldg) {
  for (size_t i0 = 0; i0 < rows; i0 += GRAD_CHUNK) {
    const size_t n = rows - i0 < GRAD_CHUNK ? rows - i0 : GRAD_CHUNK;
    for (size_t j0 = 0; j0 < cols; j0 += 8) {
      const size_t nj = cols - j0 < 8 ? cols - j0 : 8;
      const __m256i m0 = mask4(nj), m1 = mask4(nj > 4 ? nj - 4 : 0);
      const __m128i mx0 = mask4f(nj), mx1 = mask4f(nj > 4 ? nj - 4 : 0);
      const float *xc = x + i0 * ldx + j0;
      const double *dc = dz + i0 * lddz;
      /* the first group of classes fetches the line each of these samples reads next (the next columns, else the
       * next chunk's first), so that the passes over a chunk do not wait on memory a line at a time */
      const float *pf = j0 + 8 < cols ? xc + 8 : x + (i0 + n) * ldx;
      size_t pfr = j0 + 8 < cols ? n : rows - i0 - n < n ? rows - i0 - n : n, c = 0;
      for (; c + 4 <= k; c += 4, pfr = 0)
        grad_block(4, n, xc, ldx, pf, pfr, dc + c, lddz, g + c * ldg + j0, ldg, mx0, mx1, m0, m1);
      if (c + 2 <= k) {
        grad_block(2, n, xc, ldx, pf, pfr, dc + c, lddz, g + c * ldg + j0, ldg, mx0, mx1, m0, m1);
        c += 2, pfr = 0;
      }
      if (c < k) grad_block(1, n, xc, ldx, pf, pfr, dc + c, lddz, g + c * ldg + j0, ldg, mx0, mx1, m0, m1);
    }
  }
}

const sc_logreg_config sc_logreg_config__avx2 = SC_LOGREG_CONFIG(avx2);
