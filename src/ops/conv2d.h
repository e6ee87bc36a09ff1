/* conv2d.h (src/ops): the convolution forward with an epilogue, for the inference path (src/model/fold.c), which
 * folds BN into the weights and so needs convolution + residual add + bias + ReLU. Internal: the public
 * sc_conv2d_forward is sc_conv2d_forward_ep with no epilogue. */
#ifndef SC_OPS_CONV2D_H
#define SC_OPS_CONV2D_H

#include "gemm.h"
#include "simclr_ops.h"

/* sc_conv2d_forward, then the epilogue e (NULL: none) on y, whose rows are the N*OH*OW output pixels and whose
 * columns are the K channels (e->ldr is the residual's row stride). Each block of y gets it while still in cache:
 * an image at a time on the direct kernels, a block of rows at a time on the GEMM. The result equals the forward
 * followed by sc_add, sc_bias_add_forward and sc_relu_forward, bit for bit.
 * The residual may be y itself (e->ldr = K): y holds the residual on entry and the convolution adds into it, so the
 * microkernels read it with their loads of y instead of a pass of its own (a 1x1 56x56x64-256 layer at batch 16 on
 * two threads spent 30% of its time on that pass). Only the rounding differs from the separate add: the residual
 * joins the first block of the sum over the depth instead of the whole sum. */
sc_status sc_conv2d_forward_ep(const sc_conv2d_shape *s, const float *x, const float *w, float *y,
                               const sc_gemm_epilogue *e);

/* Inference's forward: sc_conv2d_forward_ep, except that 3x3 stride-1 layers of many channels take Winograd's
 * F(4x4, 3x3) (sc_wino4_applies), 4 times fewer products than the direct convolution where F(2x2, 3x3) has 2.25
 * times fewer, for a larger rounding error (tests/ops/test_conv2d.c derives the bound it is held to). For weights
 * that training does not differentiate through. */
typedef struct sc_conv2d_prepared sc_conv2d_prepared;
sc_status sc_conv2d_infer(const sc_conv2d_shape *s, const float *x, const float *w, float *y,
                          const sc_gemm_epilogue *e, const sc_conv2d_prepared *pw);

/* The weights w of one layer prepared once for many sc_conv2d_infer calls (pw, or NULL to prepare nothing): where
 * the layer takes Winograd, w transformed as the active kernel table's GEMM reads it (u; NULL otherwise), so that
 * calls skip the transform, which costs as much as the GEMMs at small batches (7x7x512-512 at batch 16). A call
 * with another table active transforms w itself. The batch size s->n plays no part. */
struct sc_conv2d_prepared {
  const sc_kernels *kern;
  int tile;
  float *u;
  size_t floats; /* held at u */
};
sc_status sc_conv2d_infer_prepare(const sc_conv2d_shape *s, const float *w, sc_conv2d_prepared *pw);
void sc_conv2d_prepared_free(sc_conv2d_prepared *pw);

#endif
