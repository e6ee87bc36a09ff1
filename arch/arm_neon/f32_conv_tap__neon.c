/* f32_conv_tap__neon.c: the direct-convolution tap kernels (conv.h) with NEON: the 16 output channels are four
 * q registers, and every input channel is a lane broadcast from the activation tensor, so nothing is packed.
 *   tap:    6 pixels at a time (24 accumulators of the 32 registers), then 1.
 *   tap_dw: 4 input channels at a time (16 accumulators, one vector load of x per pixel, lane FMAs); one line of
 *           pf prefetched per pixel.
 * Each output lane adds its products in the scalar kernel's order; FMA rounds once per product. */
#include <arm_neon.h>

#include "conv.h"

#define REP6(X) X(0) X(1) X(2) X(3) X(4) X(5)

void sc_f32_conv_tap__neon(size_t rows, size_t cols, size_t cin, const float *in, size_t irs, size_t ips,
                           const float *w, float *out, size_t ors, size_t ops) {
#define LOAD(u)                                                                                                   \
  float32x4_t a0##u = vld1q_f32(o + (u)*ops), a1##u = vld1q_f32(o + (u)*ops + 4),                                 \
              a2##u = vld1q_f32(o + (u)*ops + 8), a3##u = vld1q_f32(o + (u)*ops + 12);
#define FMA(u)                                                                                                    \
  {                                                                                                               \
    const float32x4_t b = vld1q_dup_f32(a + (u)*ips + c);                                                         \
    a0##u = vfmaq_f32(a0##u, b, w0), a1##u = vfmaq_f32(a1##u, b, w1);                                             \
    a2##u = vfmaq_f32(a2##u, b, w2), a3##u = vfmaq_f32(a3##u, b, w3);                                             \
  }
#define STORE(u)                                                                                                  \
  vst1q_f32(o + (u)*ops, a0##u), vst1q_f32(o + (u)*ops + 4, a1##u), vst1q_f32(o + (u)*ops + 8, a2##u),            \
      vst1q_f32(o + (u)*ops + 12, a3##u);
#define WLOAD                                                                                                     \
  const float *wc = w + c * 16;                                                                                   \
  const float32x4_t w0 = vld1q_f32(wc), w1 = vld1q_f32(wc + 4), w2 = vld1q_f32(wc + 8), w3 = vld1q_f32(wc + 12);
  for (size_t r = 0; r < rows; r++) {
    const float *ir = in + r * irs;
    float *orow = out + r * ors;
    size_t i = 0;
    for (; i + 6 <= cols; i += 6) {
      const float *a = ir + i * ips;
      float *o = orow + i * ops;
      REP6(LOAD)
      for (size_t c = 0; c < cin; c++) {
        WLOAD
        REP6(FMA)
      }
      REP6(STORE)
    }
    for (; i < cols; i++) {
      const float *a = ir + i * ips;
      float *o = orow + i * ops;
      LOAD(0)
      for (size_t c = 0; c < cin; c++) {
        WLOAD
        FMA(0)
      }
      STORE(0)
    }
  }
#undef LOAD
#undef FMA
#undef STORE
#undef WLOAD
}

void sc_f32_conv_tap_dw__neon(size_t rows, size_t cols, size_t cn, const float *x, size_t xrs, size_t xps,
                              const float *dy, size_t dyrs, size_t dyps, float *dw, const float *pf) {
  if (cn == 4) {
#define LOAD(u)                                                                                                   \
  float32x4_t a0##u = vld1q_f32(dw + (u)*16), a1##u = vld1q_f32(dw + (u)*16 + 4),                                 \
              a2##u = vld1q_f32(dw + (u)*16 + 8), a3##u = vld1q_f32(dw + (u)*16 + 12);
#define FMA(u)                                                                                                    \
  a0##u = vfmaq_laneq_f32(a0##u, g0, xv, u), a1##u = vfmaq_laneq_f32(a1##u, g1, xv, u);                           \
  a2##u = vfmaq_laneq_f32(a2##u, g2, xv, u), a3##u = vfmaq_laneq_f32(a3##u, g3, xv, u);
#define STORE(u)                                                                                                  \
  vst1q_f32(dw + (u)*16, a0##u), vst1q_f32(dw + (u)*16 + 4, a1##u), vst1q_f32(dw + (u)*16 + 8, a2##u),            \
      vst1q_f32(dw + (u)*16 + 12, a3##u);
    LOAD(0) LOAD(1) LOAD(2) LOAD(3)
    for (size_t r = 0; r < rows; r++)
      for (size_t i = 0; i < cols; i++) {
        const float *g = dy + r * dyrs + i * dyps;
        const float32x4_t xv = vld1q_f32(x + r * xrs + i * xps);
        const float32x4_t g0 = vld1q_f32(g), g1 = vld1q_f32(g + 4), g2 = vld1q_f32(g + 8), g3 = vld1q_f32(g + 12);
        __builtin_prefetch(pf, 0, 2), pf += 16;
        FMA(0) FMA(1) FMA(2) FMA(3)
      }
    STORE(0) STORE(1) STORE(2) STORE(3)
#undef LOAD
#undef FMA
#undef STORE
    return;
  }
  for (size_t c = 0; c < cn; c++) { /* a ragged block (stages nothing): one channel at a time, two pixels in flight */
    float32x4_t s0 = vld1q_f32(dw + c * 16), s1 = vld1q_f32(dw + c * 16 + 4);
    float32x4_t s2 = vld1q_f32(dw + c * 16 + 8), s3 = vld1q_f32(dw + c * 16 + 12);
    float32x4_t t0 = vdupq_n_f32(0.0f), t1 = t0, t2 = t0, t3 = t0;
    for (size_t r = 0; r < rows; r++) {
      const float *xr = x + r * xrs + c, *gr = dy + r * dyrs;
      size_t i = 0;
      for (; i + 2 <= cols; i += 2) {
        const float *g = gr + i * dyps, *h = g + dyps;
        const float32x4_t b = vld1q_dup_f32(xr + i * xps), e = vld1q_dup_f32(xr + (i + 1) * xps);
        s0 = vfmaq_f32(s0, b, vld1q_f32(g)), s1 = vfmaq_f32(s1, b, vld1q_f32(g + 4));
        s2 = vfmaq_f32(s2, b, vld1q_f32(g + 8)), s3 = vfmaq_f32(s3, b, vld1q_f32(g + 12));
        t0 = vfmaq_f32(t0, e, vld1q_f32(h)), t1 = vfmaq_f32(t1, e, vld1q_f32(h + 4));
        t2 = vfmaq_f32(t2, e, vld1q_f32(h + 8)), t3 = vfmaq_f32(t3, e, vld1q_f32(h + 12));
      }
      if (i < cols) {
        const float *g = gr + i * dyps;
        const float32x4_t b = vld1q_dup_f32(xr + i * xps);
        s0 = vfmaq_f32(s0, b, vld1q_f32(g)), s1 = vfmaq_f32(s1, b, vld1q_f32(g + 4));
        s2 = vfmaq_f32(s2, b, vld1q_f32(g + 8)), s3 = vfmaq_f32(s3, b, vld1q_f32(g + 12));
      }
    }
    vst1q_f32(dw + c * 16, vaddq_f32(s0, t0)), vst1q_f32(dw + c * 16 + 4, vaddq_f32(s1, t1));
    vst1q_f32(dw + c * 16 + 8, vaddq_f32(s2, t2)), vst1q_f32(dw + c * 16 + 12, vaddq_f32(s3, t3));
  }
}

void sc_f32_wino_in__neon(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);
void sc_f32_wino_out__neon(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                           size_t cols, int accumulate);
void sc_f32_wino4_in__neon(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);
void sc_f32_wino4_out__neon(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                            size_t cols, int accumulate);

const sc_conv_config sc_conv_config__neon = {
    .tap = sc_f32_conv_tap__neon,
    .tap_dw = sc_f32_conv_tap_dw__neon,
    .dw_block = 4,
    .tap_name = "sc_f32_conv_tap__neon",
    .tap_dw_name = "sc_f32_conv_tap_dw__neon",
    .wino_in = sc_f32_wino_in__neon,
    .wino_out = sc_f32_wino_out__neon,
    .wino_in_name = "sc_f32_wino_in__neon",
    .wino_out_name = "sc_f32_wino_out__neon",
    .wino4_in = sc_f32_wino4_in__neon,
    .wino4_out = sc_f32_wino4_out__neon,
    .wino4_in_name = "sc_f32_wino4_in__neon",
    .wino4_out_name = "sc_f32_wino4_out__neon",
};
