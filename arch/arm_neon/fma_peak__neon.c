/* fma_peak__neon.c: the NEON FMA peak loop: 16 independent chains of 128-bit FMAs (enough for 4 pipes of 4-cycle
 * latency), the denominator of "fraction of peak" for the neon table. It must do nothing else: no memory traffic
 * in the loop. */
#include <arm_neon.h>

#include "gemm.h"

double sc_fma_peak__neon(size_t iters) {
  const float32x4_t x = vdupq_n_f32(0.999999f), y = vdupq_n_f32(1e-7f);
  float32x4_t r[16];
  for (int j = 0; j < 16; j++) r[j] = vdupq_n_f32(1.0f + 0.01f * (float)j);
  float32x4_t r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3], r4 = r[4], r5 = r[5], r6 = r[6], r7 = r[7];
  float32x4_t r8 = r[8], r9 = r[9], r10 = r[10], r11 = r[11], r12 = r[12], r13 = r[13], r14 = r[14], r15 = r[15];
  for (size_t i = 0; i < iters; i++) {
    r0 = vfmaq_f32(y, r0, x); r1 = vfmaq_f32(y, r1, x); r2 = vfmaq_f32(y, r2, x); r3 = vfmaq_f32(y, r3, x);
    r4 = vfmaq_f32(y, r4, x); r5 = vfmaq_f32(y, r5, x); r6 = vfmaq_f32(y, r6, x); r7 = vfmaq_f32(y, r7, x);
    r8 = vfmaq_f32(y, r8, x); r9 = vfmaq_f32(y, r9, x); r10 = vfmaq_f32(y, r10, x); r11 = vfmaq_f32(y, r11, x);
    r12 = vfmaq_f32(y, r12, x); r13 = vfmaq_f32(y, r13, x); r14 = vfmaq_f32(y, r14, x); r15 = vfmaq_f32(y, r15, x);
  }
  float32x4_t s = vaddq_f32(vaddq_f32(vaddq_f32(r0, r1), vaddq_f32(r2, r3)), vaddq_f32(vaddq_f32(r4, r5), vaddq_f32(r6, r7)));
  s = vaddq_f32(s, vaddq_f32(vaddq_f32(vaddq_f32(r8, r9), vaddq_f32(r10, r11)),
                             vaddq_f32(vaddq_f32(r12, r13), vaddq_f32(r14, r15))));
  volatile float sink = vaddvq_f32(s);
  (void)sink;
  return 2.0 * 4.0 * 16.0 * (double)iters;
}
