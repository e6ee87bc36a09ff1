/* f32_maxpool__avx2.c: max-pool forward and backward for one NHWC output pixel with AVX2, 8 channels per ymm,
 * masked loads and stores for the ragged end. The backward keeps a per-lane "still looking" mask so only the
 * first window element equal to the maximum gets the gradient, as in the scalar kernel. Results are exact. */
#include "eltwise.h"
#include "f32_tail__avx2.h"

SC_ELTWISE_DECLARE(avx2)

static inline void fwd8(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, float *y, __m256i m, int full) {
  __m256 mx = sc_avx2_ld(x, m, full);
  for (size_t i = 0; i < kh; i++)
    for (size_t k = 0; k < kw; k++)
      mx = _mm256_max_ps(sc_avx2_ld(x + i * rs + k * cs, m, full), mx); /* v > m ? v : m */
  sc_avx2_st(y, m, full, mx);
}

void sc_f32_maxpool_forward__avx2(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs, float *y) {
  const size_t cf = c & ~(size_t)7;
  size_t j = 0;
  for (; j < cf; j += 8) fwd8(kh, kw, x + j, rs, cs, y + j, _mm256_set1_epi32(-1), 1);
  if (j < c) fwd8(kh, kw, x + j, rs, cs, y + j, sc_avx2_mask(c - j), 0);
}

static inline void bwd8(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, const float *y, const float *dy,
                        float *dx, __m256i m, int full) {
  const __m256 yv = sc_avx2_ld(y, m, full), g = sc_avx2_ld(dy, m, full);
  __m256 todo = _mm256_castsi256_ps(m);
  for (size_t i = 0; i < kh; i++)
    for (size_t k = 0; k < kw; k++) {
      size_t o = i * rs + k * cs;
      /* no branch on the hit: which element is the maximum is data, and a mispredict per window costs more
       * than the read-modify-write of an L1-resident dx line */
      __m256 hit = _mm256_and_ps(todo, _mm256_cmp_ps(sc_avx2_ld(x + o, m, full), yv, _CMP_EQ_OQ));
      __m256 d = sc_avx2_ld(dx + o, m, full);
      sc_avx2_st(dx + o, m, full, _mm256_blendv_ps(d, _mm256_add_ps(d, g), hit));
      todo = _mm256_andnot_ps(hit, todo);
    }
}

void sc_f32_maxpool_backward__avx2(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs,
                                   const float *y, const float *dy, float *dx) {
  const size_t cf = c & ~(size_t)7;
  size_t j = 0;
  for (; j < cf; j += 8) bwd8(kh, kw, x + j, rs, cs, y + j, dy + j, dx + j, _mm256_set1_epi32(-1), 1);
  if (j < c) bwd8(kh, kw, x + j, rs, cs, y + j, dy + j, dx + j, sc_avx2_mask(c - j), 0);
}
