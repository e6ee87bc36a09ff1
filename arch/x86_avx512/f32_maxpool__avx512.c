/* f32_maxpool__avx512.c: max-pool forward and backward for one NHWC output pixel with AVX-512F, 16 channels per
 * zmm, a lane mask only for the ragged end (f32_tail__avx512.h). The backward keeps a per-lane "still looking"
 * mask so that only the first window element equal to the maximum receives the gradient, as in the scalar kernel;
 * it updates dx with a blend and a full store, because overlapping windows read those dx lines back at once and a
 * masked store would stall them. Results are exact. */
#include "eltwise.h"
#include "f32_tail__avx512.h"

SC_ELTWISE_DECLARE(avx512)

static inline void fwd16(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, float *y, __mmask16 m,
                         int full) {
  __m512 mx = sc_avx512_ld(x, m, full);
  for (size_t i = 0; i < kh; i++)
    for (size_t k = 0; k < kw; k++)
      mx = _mm512_max_ps(sc_avx512_ld(x + i * rs + k * cs, m, full), mx); /* v > m ? v : m */
  sc_avx512_st(y, m, full, mx);
}

void sc_f32_maxpool_forward__avx512(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs,
                                    float *y) {
  const size_t cf = c & ~(size_t)15;
  for (size_t j = 0; j < cf; j += 16) fwd16(kh, kw, x + j, rs, cs, y + j, 0xffff, 1);
  if (cf < c) fwd16(kh, kw, x + cf, rs, cs, y + cf, sc_avx512_mask(c - cf), 0);
}

static inline void bwd16(size_t kh, size_t kw, const float *x, size_t rs, size_t cs, const float *y,
                         const float *dy, float *dx, __mmask16 m, int full) {
  const __m512 yv = sc_avx512_ld(y, m, full), g = sc_avx512_ld(dy, m, full);
  __mmask16 todo = m;
  for (size_t i = 0; i < kh; i++)
    for (size_t k = 0; k < kw; k++) {
      size_t o = i * rs + k * cs;
      /* no branch on the hit: which element is the maximum is data, and a mispredict per window costs more
       * than the read-modify-write of an L1-resident dx line */
      __mmask16 hit = _mm512_mask_cmp_ps_mask(todo, sc_avx512_ld(x + o, m, full), yv, _CMP_EQ_OQ);
      __m512 d = sc_avx512_ld(dx + o, m, full);
      sc_avx512_st(dx + o, m, full, _mm512_mask_add_ps(d, hit, d, g));
      todo &= (__mmask16)~hit;
    }
}

void sc_f32_maxpool_backward__avx512(size_t c, size_t kh, size_t kw, const float *x, size_t rs, size_t cs,
                                     const float *y, const float *dy, float *dx) {
  const size_t cf = c & ~(size_t)15;
  for (size_t j = 0; j < cf; j += 16) bwd16(kh, kw, x + j, rs, cs, y + j, dy + j, dx + j, 0xffff, 1);
  if (cf < c) bwd16(kh, kw, x + cf, rs, cs, y + cf, dy + cf, dx + cf, sc_avx512_mask(c - cf), 0);
}
