/* f32_gemm_pack_t__avx512.c: the AVX-512 transposing GEMM packer (arch/gemm.h, sc_f32_gemm_pack_t_fn): turns
 * rows that run along the depth (A without transpose, B transposed, im2col rows) into the column-interleaved
 * panels the microkernels read. Done as 16 x 16 register transposes, since element-wise copies of a transpose
 * cost several cycles per float and the packing of A then rivals the multiply when N is small (N = 64 in the
 * first ResNet stage). It must not read outside the rn x kc source block (masked loads) nor write outside the
 * w x kc panel.
 */
#include <immintrin.h>

#include "gemm.h"

/* r[0..15] hold 16 rows of 16; afterwards r[j] holds column j. Three rounds of in-lane shuffles, then two of
 * 128-bit block shuffles. */
static inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);     /* a0 b0 a1 b1 | a4 b4 a5 b5 | ... */
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]); /* a2 b2 a3 b3 | ... */
  }
  for (int i = 0; i < 16; i += 4) {
    __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
    __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
    u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));     /* a0 b0 c0 d0 | a4 .. | a8 .. | a12 .. */
    u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2)); /* a1 b1 c1 d1 | ... */
    u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3)); /* a2 ... */
    u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3)); /* a3 ... */
  }
  for (int j = 0; j < 4; j++) {
    /* u[j], u[4+j], u[8+j], u[12+j] hold columns j, j+4, j+8, j+12 of row quads 0..3 */
    __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);  /* q0[c j], q0[c j+8], q1[c j], q1[c j+8] */
    __m512 v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);  /* q0[c j+4], q0[c j+12], q1[..], q1[..] */
    __m512 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    __m512 v3 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
    r[j] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(v0, v2, 0xdd);
    r[j + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[j + 12] = _mm512_shuffle_f32x4(v1, v3, 0xdd);
  }
}

void sc_f32_gemm_pack_t__avx512(size_t w, size_t rn, size_t kc, const float *src, size_t ld, float scale,
                                float *dst) {
  const __m512 vs = _mm512_set1_ps(scale);
  for (size_t g = 0; g < w; g += 16) {
    const size_t gw = w - g < 16 ? w - g : 16;               /* lanes of this group in a panel row */
    const size_t gr = rn > g ? (rn - g < 16 ? rn - g : 16) : 0; /* source rows present in this group */
    const __mmask16 smask = (__mmask16)((1u << gw) - 1u);
    const float *s = src + g * ld;
    for (size_t p = 0; p < kc; p += 16) {
      const size_t pk = kc - p < 16 ? kc - p : 16;
      const __mmask16 lmask = (__mmask16)((1u << pk) - 1u);
      __m512 r[16];
      if (gr == 16 && pk == 16) {
        for (int i = 0; i < 16; i++) r[i] = _mm512_mul_ps(_mm512_loadu_ps(s + (size_t)i * ld + p), vs);
      } else {
        for (size_t i = 0; i < 16; i++)
          r[i] = i < gr ? _mm512_mul_ps(_mm512_maskz_loadu_ps(lmask, s + i * ld + p), vs) : _mm512_setzero_ps();
      }
      transpose16(r);
      float *d = dst + p * w + g;
      if (pk == 16) {
        for (int j = 0; j < 16; j++) _mm512_mask_storeu_ps(d + (size_t)j * w, smask, r[j]);
      } else {
        for (size_t j = 0; j < pk; j++) _mm512_mask_storeu_ps(d + j * w, smask, r[j]);
      }
    }
  }
}
