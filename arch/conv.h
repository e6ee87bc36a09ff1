/* conv.h: per-ISA kernels of the direct convolution, which src/ops/conv2d.c uses for layers of few channels
 * (C and K up to a few dozen), where the implicit GEMM spends more time gathering and transposing its panels than
 * multiplying them; and the transforms of the Winograd convolution (src/ops/winograd.c), further below.
 *
 * The kernels work on one kernel tap (row3: three of one kernel row) at a time over a rectangle of pixels, in
 * which every pixel reads a real (unpadded) input pixel: the driver cuts each tap's rectangle to the pixels that
 * do, so there is no padding, no gather and no packing of activations. Channels are contiguous (NHWC); a pixel's
 * neighbours along a row are `ps` floats apart and rows are `rs` floats apart (strides and channel offsets are the
 * driver's business).
 * Outputs are 16 channels wide (SC_CONV_LANES; tap64: 64): the driver cuts wider outputs into blocks and packs
 * the weights of each block as [tap][input channel][lanes]. Nothing here may depend on an instruction set.
 */
#ifndef SC_ARCH_CONV_H
#define SC_ARCH_CONV_H

#include <stddef.h>

enum { SC_CONV_LANES = 16 };

/* Forward (and stride-1 backward-data) of one tap, accumulated:
 *   out[r*ors + i*ops + j] += sum_{c < cin} in[r*irs + i*ips + c] * w[c*16 + j]     for r < rows, i < cols, j < 16.
 * w is 64-byte aligned; in and out need only float alignment. rows, cols or cin may be 0. */
typedef void (*sc_f32_conv_tap_fn)(size_t rows, size_t cols, size_t cin, const float *in, size_t irs, size_t ips,
                                   const float *w, float *out, size_t ors, size_t ops);

/* Weight gradient of one tap, accumulated over a rectangle of output pixels:
 *   dw[c*16 + j] += sum_{r < rows, i < cols} x[r*xrs + i*xps + c] * dy[r*dyrs + i*dyps + j]    for c < cn, j < 16.
 * cn <= the config's dw_block; dw is 64-byte aligned; x and dy need only float alignment. pf is a hint: a kernel
 * may stage the consecutive cache lines pf, pf + 16, ... in L2, one per pixel between its FMAs, so that the driver
 * can have the next image fetched while this one computes; it is never dereferenced. */
typedef void (*sc_f32_conv_tap_dw_fn)(size_t rows, size_t cols, size_t cn, const float *x, size_t xrs, size_t xps,
                                      const float *dy, size_t dyrs, size_t dyps, float *dw, const float *pf);

/* The same as sc_f32_conv_tap_fn with 64 output lanes: w[c*64 + j], out[... + j] for j < 64. */
typedef sc_f32_conv_tap_fn sc_f32_conv_tap64_fn;

/* Three horizontally adjacent taps of one kernel row at stride 1, accumulated (16 lanes), with the weights of the
 * three taps one after another ([tap][input channel][16], as the driver packs them):
 *   out[r*ors + i*ops + j] += sum_{c < cin} sum_{t < 3} in[r*irs + (i+t)*ips + c] * w[(t*cin + c)*16 + j]
 * for r < rows, i < cols, j < 16, each lane adding its products in that order (c outer, t inner). Every input
 * pixel a call reads is real: the driver gives it the columns whose three taps all are, and the tap kernel the
 * rest. Each input value feeds up to three output pixels from one broadcast, where the tap kernel feeds one.
 * The same arguments as sc_f32_conv_tap_fn. */
typedef sc_f32_conv_tap_fn sc_f32_conv_row3_fn;

/* Winograd transforms, for 3x3 stride-1 convolutions of many channels (src/ops/winograd.c). A 4x4
 * patch d of input pixels becomes 16 values per channel, V = B^T d B; multiplied (a GEMM over the channels per
 * element e = 4*row + col) by the weights transformed likewise, they give M, whose 2x2 block of outputs is
 * Y = A^T M A:
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]        A^T = [1 1 1 0; 0 1 -1 -1]
 * in exactly this order per channel (no FMA, no reassociation), so that every ISA gives the scalar result bit
 * for bit:
 *   in:  t[0] = d[0] - d[2], t[1] = d[1] + d[2], t[2] = d[2] - d[1], t[3] = d[1] - d[3]  (rows of d, per column)
 *        V[r][0] = t[r][0] - t[r][2], V[r][1] = t[r][1] + t[r][2], V[r][2] = t[r][2] - t[r][1],
 *        V[r][3] = t[r][1] - t[r][3]
 *   out: s[0] = (M[0] + M[1]) + M[2], s[1] = (M[1] - M[2]) - M[3]                          (rows of M, per column)
 *        Y[r][0] = (s[r][0] + s[r][1]) + s[r][2], Y[r][1] = (s[r][1] - s[r][2]) - s[r][3]
 * Channels are contiguous and are the vector lanes; pointers need only float alignment. */

/* F(4x4, 3x3) does the same with a 6x6 patch, 36 elements (e = 6*row + col) and a 4x4 block of outputs: 4 times
 * fewer products than the direct convolution, for larger transforms and a larger rounding error (the transforms
 * scale by up to 8 here and by 1/24 in the weights'), which inference affords and training does not:
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * applied down each column of the patch, then along each row, each one-dimensional transform in exactly this
 * order (every product is by a power of two, so exact, and an ISA's fused multiply-add rounds as the scalar
 * kernel's multiply and add do):
 *   in:  r[0] = 4(x[0] - x[2]) + (x[4] - x[2]),  r[1] = (x[3] + x[4]) - 4(x[1] + x[2]),
 *        r[2] = (x[4] - x[3]) + 4(x[1] - x[2]),  r[3] = (x[4] - x[2]) + 2(x[3] - x[1]),
 *        r[4] = (x[4] - x[2]) - 2(x[3] - x[1]),  r[5] = 4(x[1] - x[3]) + (x[5] - x[3])
 *   out: a = x[1] + x[2], b = x[1] - x[2], c = x[3] + x[4], d = x[3] - x[4];
 *        y[0] = (x[0] + a) + c, y[1] = b + 2d, y[2] = a + 4c, y[3] = (b + 8d) + x[5] */

/* v[e*vs + c] = V[e] of channel c for c < cn, e < 16, from d[i][j] = in[i*rs + j*ps + c] (i, j < 4); for
 * F(4x4, 3x3), e < 36 and i, j < 6. */
typedef void (*sc_f32_wino_in_fn)(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs);

/* out[i*rs + j*ps + c] = Y[i][j] of channel c (+= when accumulate) for i < rows, j < cols (rows, cols <= 2; for
 * F(4x4, 3x3), <= 4), c < cn, from M[e] = m[e*ms + c]. Nothing outside those rows, columns and channels is
 * written. */
typedef void (*sc_f32_wino_out_fn)(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps,
                                   size_t rows, size_t cols, int accumulate);

typedef struct sc_conv_config {
  sc_f32_conv_tap_fn tap;
  sc_f32_conv_tap_dw_fn tap_dw;
  sc_f32_conv_tap64_fn tap64; /* optional (NULL: not offered): outputs in blocks of 64, inputs of 64 or more */
  sc_f32_conv_row3_fn row3;   /* optional (NULL: not offered): 3-wide kernels at stride 1, 16-lane blocks */
  sc_f32_wino_in_fn wino_in;   /* optional (NULL: the Winograd path is not offered) */
  sc_f32_wino_out_fn wino_out; /* set with wino_in */
  sc_f32_wino_in_fn wino4_in;   /* optional: F(4x4, 3x3), for inference (NULL: not offered) */
  sc_f32_wino_out_fn wino4_out; /* set with wino4_in */
  size_t dw_block; /* input channels per tap_dw call (its accumulators are dw_block x 16) */
  const char *tap_name; /* e.g. "sc_f32_conv_tap__avx512" */
  const char *tap_dw_name;
  const char *tap64_name;
  const char *row3_name;
  const char *wino_in_name;
  const char *wino_out_name;
  const char *wino4_in_name;
  const char *wino4_out_name;
} sc_conv_config;

#endif
