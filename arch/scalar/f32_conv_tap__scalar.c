/* f32_conv_tap__scalar.c: the direct-convolution tap kernels (conv.h) as plain loops: the reference every other
 * ISA's kernels are tested against. Each output element adds its products in input-channel order (tap; row3: the
 * three taps within each channel) or in pixel order (tap_dw), as the vector kernels do per lane. */
#include "conv.h"

/* `taps` horizontally adjacent taps (1, or 3 for row3) of `lanes` outputs, weights [tap][cin][lanes] */
static void taps_lanes(size_t taps, size_t lanes, size_t rows, size_t cols, size_t cin, const float *in, size_t irs,
                       size_t ips, const float *w, float *out, size_t ors, size_t ops) {
  for (size_t r = 0; r < rows; r++)
    for (size_t i = 0; i < cols; i++) {
      const float *a = in + r * irs + i * ips;
      float *o = out + r * ors + i * ops;
      for (size_t j = 0; j < lanes; j++) {
        float s = o[j];
        for (size_t c = 0; c < cin; c++)
          for (size_t t = 0; t < taps; t++) s += a[t * ips + c] * w[(t * cin + c) * lanes + j];
        o[j] = s;
      }
    }
}

void sc_f32_conv_tap__scalar(size_t rows, size_t cols, size_t cin, const float *in, size_t irs, size_t ips,
                             const float *w, float *out, size_t ors, size_t ops) {
  taps_lanes(1, SC_CONV_LANES, rows, cols, cin, in, irs, ips, w, out, ors, ops);
}

void sc_f32_conv_tap64__scalar(size_t rows, size_t cols, size_t cin, const float *in, size_t irs, size_t ips,
                               const float *w, float *out, size_t ors, size_t ops) {
  taps_lanes(1, 64, rows, cols, cin, in, irs, ips, w, out, ors, ops);
}

void sc_f32_conv_row3__scalar(size_t rows, size_t cols, size_t cin, const float *in, size_t irs, size_t ips,
                              const float *w, float *out, size_t ors, size_t ops) {
  taps_lanes(3, SC_CONV_LANES, rows, cols, cin, in, irs, ips, w, out, ors, ops);
}

void sc_f32_conv_tap_dw__scalar(size_t rows, size_t cols, size_t cn, const float *x, size_t xrs, size_t xps,
                                const float *dy, size_t dyrs, size_t dyps, float *dw, const float *pf) {
  (void)pf; /* the reference stages nothing */
  for (size_t c = 0; c < cn; c++)
    for (size_t j = 0; j < SC_CONV_LANES; j++) {
      float s = dw[c * SC_CONV_LANES + j];
      for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < cols; i++) s += x[r * xrs + i * xps + c] * dy[r * dyrs + i * dyps + j];
      dw[c * SC_CONV_LANES + j] = s;
    }
}

void sc_f32_wino_in__scalar(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);
void sc_f32_wino_out__scalar(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                             size_t cols, int accumulate);
void sc_f32_wino4_in__scalar(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);
void sc_f32_wino4_out__scalar(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                              size_t cols, int accumulate);

const sc_conv_config sc_conv_config__scalar = {
    .tap = sc_f32_conv_tap__scalar,
    .tap_dw = sc_f32_conv_tap_dw__scalar,
    .tap64 = sc_f32_conv_tap64__scalar,
    .row3 = sc_f32_conv_row3__scalar,
    .dw_block = 16,
    .tap_name = "sc_f32_conv_tap__scalar",
    .tap_dw_name = "sc_f32_conv_tap_dw__scalar",
    .tap64_name = "sc_f32_conv_tap64__scalar",
    .row3_name = "sc_f32_conv_row3__scalar",
    .wino_in = sc_f32_wino_in__scalar,
    .wino_out = sc_f32_wino_out__scalar,
    .wino_in_name = "sc_f32_wino_in__scalar",
    .wino_out_name = "sc_f32_wino_out__scalar",
    .wino4_in = sc_f32_wino4_in__scalar,
    .wino4_out = sc_f32_wino4_out__scalar,
    .wino4_in_name = "sc_f32_wino4_in__scalar",
    .wino4_out_name = "sc_f32_wino4_out__scalar",
};
