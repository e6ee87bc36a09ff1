/* f32_gemm_pack_t__neon.c: the NEON transposing GEMM packer (arch/gemm.h, sc_f32_gemm_pack_t_fn): turns rows that
 * run along the depth into the column-interleaved panels the microkernels read, as 4 x 4 register transposes
 * (trn1/trn2 and half-register moves); blocks cut by the edges of the rn x kc source or of the panel go element by
 * element. It must not read outside the source block nor write outside the w x kc panel.
 */
#include <arm_neon.h>

#include "gemm.h"

static void pack_block_scalar(size_t w, size_t g, size_t rows, size_t rn, size_t p, size_t pk, const float *src,
                              size_t ld, float scale, float *dst) {
  for (size_t j = 0; j < pk; j++)
    for (size_t i = 0; i < rows; i++)
      dst[(p + j) * w + g + i] = g + i < rn ? scale * src[(g + i) * ld + p + j] : 0.0f;
}

void sc_f32_gemm_pack_t__neon(size_t w, size_t rn, size_t kc, const float *src, size_t ld, float scale,
                              float *dst) {
  const float32x4_t vs = vdupq_n_f32(scale);
  for (size_t g = 0; g < w; g += 4) {
    const size_t rows = w - g < 4 ? w - g : 4;
    for (size_t p = 0; p < kc; p += 4) {
      const size_t pk = kc - p < 4 ? kc - p : 4;
      if (rows < 4 || pk < 4 || g + 4 > rn) {
        pack_block_scalar(w, g, rows, rn, p, pk, src, ld, scale, dst);
        continue;
      }
      const float *s = src + g * ld + p;
      const float32x4_t r0 = vmulq_f32(vld1q_f32(s), vs), r1 = vmulq_f32(vld1q_f32(s + ld), vs);
      const float32x4_t r2 = vmulq_f32(vld1q_f32(s + 2 * ld), vs), r3 = vmulq_f32(vld1q_f32(s + 3 * ld), vs);
      const float32x4x2_t t01 = vtrnq_f32(r0, r1); /* a0 b0 a2 b2 / a1 b1 a3 b3 */
      const float32x4x2_t t23 = vtrnq_f32(r2, r3); /* c0 d0 c2 d2 / c1 d1 c3 d3 */
      float *d = dst + p * w + g;
      vst1q_f32(d, vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])));
      vst1q_f32(d + w, vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])));
      vst1q_f32(d + 2 * w, vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])));
      vst1q_f32(d + 3 * w, vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1])));
    }
  }
}
