/* f32_gemm_pack_t__avx2.c: the AVX2 transposing GEMM packer (arch/gemm.h, sc_f32_gemm_pack_t_fn): turns rows that
 * run along the depth (A without transpose, B transposed, im2col rows) into the column-interleaved panels the
 * microkernels read, as 8 x 8 register transposes (element-wise copies of a transpose cost several cycles per
 * float). It must not read outside the rn x kc source block (masked loads) nor write outside the w x kc panel
 * (masked stores).
 */
#include <immintrin.h>

#include "gemm.h"

/* r[0..7] hold 8 rows of 8; afterwards r[j] holds column j */
static inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);     /* a0 b0 a1 b1 | a4 b4 a5 b5 */
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]); /* a2 b2 a3 b3 | a6 b6 a7 b7 */
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);     /* a0 b0 c0 d0 | a4 b4 c4 d4 */
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee); /* a1 b1 c1 d1 | a5 ... */
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  for (int j = 0; j < 4; j++) {
    r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);     /* low halves: columns 0-3 */
    r[j + 4] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31); /* high halves: columns 4-7 */
  }
}

static inline __m256i lanes_below(size_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx);
}

void sc_f32_gemm_pack_t__avx2(size_t w, size_t rn, size_t kc, const float *src, size_t ld, float scale,
                              float *dst) {
  const __m256 vs = _mm256_set1_ps(scale);
  for (size_t g = 0; g < w; g += 8) {
    const size_t gw = w - g < 8 ? w - g : 8;
    const size_t gr = rn > g ? (rn - g < 8 ? rn - g : 8) : 0;
    const __m256i smask = lanes_below(gw);
    const float *s = src + g * ld;
    for (size_t p = 0; p < kc; p += 8) {
      const size_t pk = kc - p < 8 ? kc - p : 8;
      __m256 r[8];
      if (gr == 8 && pk == 8) {
        for (int i = 0; i < 8; i++) r[i] = _mm256_mul_ps(_mm256_loadu_ps(s + (size_t)i * ld + p), vs);
      } else {
        const __m256i lmask = lanes_below(pk);
        for (size_t i = 0; i < 8; i++)
          r[i] = i < gr ? _mm256_mul_ps(_mm256_maskload_ps(s + i * ld + p, lmask), vs) : _mm256_setzero_ps();
      }
      transpose8(r);
      float *d = dst + p * w + g;
      for (size_t j = 0; j < pk; j++) {
        if (gw == 8)
          _mm256_storeu_ps(d + j * w, r[j]);
        else
          _mm256_maskstore_ps(d + j * w, smask, r[j]);
      }
    }
  }
}
