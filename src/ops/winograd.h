/* winograd.h (src/ops): 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3), which src/ops/conv2d.c uses for
 * layers of many channels, and, for inference's forward, F(4x4, 3x3) (winograd.c says how). Arguments are validated
 * by the caller. */
#ifndef SC_OPS_WINOGRAD_H
#define SC_OPS_WINOGRAD_H

#include "gemm.h"
#include "simclr_ops.h"

/* 1 if the table has the transforms and s is a convolution this path takes, reading cin channels and writing
 * cout (C and K for the forward and backward-weights, K and C for backward-data). */
int sc_wino_applies(const sc_kernels *kern, const sc_conv2d_shape *s, int64_t cin, int64_t cout);

/* 1 if the table has the F(4x4, 3x3) transforms and the forward of s may take them. */
int sc_wino4_applies(const sc_kernels *kern, const sc_conv2d_shape *s);

/* y = (or += when accumulate) conv(x, w), then the epilogue e (NULL: none) on y's rows, in tiles of tile x tile
 * outputs (2: F(2x2, 3x3); 4: F(4x4, 3x3), where sc_wino4_applies). u: w already transformed by
 * sc_wino_pack_weights for the same table, shape and tile, or NULL to transform w on this call. fn names the caller
 * in errors. */
sc_status sc_wino_forward(const char *fn, const sc_kernels *kern, const sc_conv2d_shape *s, const float *x,
                          const float *w, float *y, int accumulate, const sc_gemm_epilogue *e, int tile,
                          const float *u);

/* *u = the forward's weights w transformed and laid out for tile (the batch size s->n plays no part), *floats of
 * them, in memory the caller frees with free(): for weights used many times, as inference's are. */
sc_status sc_wino_pack_weights(const sc_kernels *kern, const sc_conv2d_shape *s, const float *w, int tile,
                               float **u, size_t *floats);

/* dw += the weight gradient (K x 3 x 3 x C) of the forward, from dy and x. */
sc_status sc_wino_backward_weights(const char *fn, const sc_kernels *kern, const sc_conv2d_shape *s, float *dw,
                                   const float *dy, const float *x);

/* dx = (or += when accumulate) conv_transpose(dy, w). */
sc_status sc_wino_backward_data(const char *fn, const sc_kernels *kern, const sc_conv2d_shape *s, float *dx,
                                int accumulate, const float *dy, const float *w);

#endif
