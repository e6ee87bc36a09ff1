/* f32_gemm_ukr_8x12__neon.c: the NEON (AArch64 Advanced SIMD) f32 GEMM microkernel, 8 x 12 tile. It must not
 * allocate, and must not touch C outside the m x n corner it is given (partial tiles go through a stack tile).
 *
 * Register map (32 q registers):
 *   v0-23   c{i}_{v}   accumulators: row i (0..7), columns [4v, 4v+4), v = 0..2
 *   v24-25  a0, a1     the 8 floats of the packed A panel for this k (rows 0-3, rows 4-7)
 *   v26-28  b0-b2      one row of the packed B panel (12 floats)
 * Each FMA takes its A factor as a lane of a0/a1 (fmla by element), so A needs two loads per k, not eight
 * broadcasts: 5 loads for 24 FMAs.
 */
#include <arm_neon.h>

#include "gemm.h"

#define ROWS(X) X(0, a0, 0) X(1, a0, 1) X(2, a0, 2) X(3, a0, 3) X(4, a1, 0) X(5, a1, 1) X(6, a1, 2) X(7, a1, 3)
#define DECL(i, av, l) float32x4_t c##i##_0 = vdupq_n_f32(0.0f), c##i##_1 = c##i##_0, c##i##_2 = c##i##_0;
#define FMA(i, av, l)                                 \
  c##i##_0 = vfmaq_laneq_f32(c##i##_0, b0, av, l);    \
  c##i##_1 = vfmaq_laneq_f32(c##i##_1, b1, av, l);    \
  c##i##_2 = vfmaq_laneq_f32(c##i##_2, b2, av, l);
#define STEP                                                                         \
  {                                                                                  \
    const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);                      \
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8); \
    ROWS(FMA)                                                                        \
    a += 8;                                                                          \
    b += 12;                                                                         \
  }
#define STORE_FULL(i, av, l)                                        \
  {                                                                 \
    float *ci = c + (i) * ldc;                                      \
    if (accumulate) {                                               \
      c##i##_0 = vaddq_f32(c##i##_0, vld1q_f32(ci));                \
      c##i##_1 = vaddq_f32(c##i##_1, vld1q_f32(ci + 4));            \
      c##i##_2 = vaddq_f32(c##i##_2, vld1q_f32(ci + 8));            \
    }                                                               \
    vst1q_f32(ci, c##i##_0);                                        \
    vst1q_f32(ci + 4, c##i##_1);                                    \
    vst1q_f32(ci + 8, c##i##_2);                                    \
  }
#define STORE_TILE(i, av, l) \
  vst1q_f32(tile + (i) * 12, c##i##_0), vst1q_f32(tile + (i) * 12 + 4, c##i##_1), vst1q_f32(tile + (i) * 12 + 8, c##i##_2);

void sc_f32_gemm_ukr_8x12__neon(size_t m, size_t n, size_t kc, const float *a, const float *b, float *c,
                                size_t ldc, int accumulate) {
  ROWS(DECL)
  size_t k = kc;
  for (; k >= 2; k -= 2) {
    STEP STEP
  }
  for (; k > 0; k--) STEP
  if (m == 8 && n == 12) {
    ROWS(STORE_FULL)
  } else {
    float tile[8 * 12];
    ROWS(STORE_TILE)
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.0f) + tile[i * 12 + j];
  }
}
