/* batchnorm.h (src/ops): batch norm fused with the residual add and ReLU that end a ResNet block, for the model's
 * training and evaluation walks (src/nn/batchnorm.c). Internal: the public sc_batchnorm_apply and
 * sc_batchnorm_backward, followed by sc_add_relu_forward and preceded by sc_add_relu_backward, compute the same
 * values bit for bit; the fused operators save the round trip of the normalised tensor (and of its gradient)
 * through memory by working on blocks of rows small enough to stay in cache between the two steps. */
#ifndef SC_OPS_BATCHNORM_H
#define SC_OPS_BATCHNORM_H

#include "simclr_ops.h"

/* y[rows][C] = max(gamma * (x - mean) / sqrt(var + eps) + beta + res, 0). y may equal x but not res. */
sc_status sc_batchnorm_add_relu_forward(int64_t rows, int64_t c, const float *x, const float *res,
                                        const float *mean, const float *var, float eps, const float *gamma,
                                        const float *beta, float *y);
/* Its training-mode backward, with g = dy where the forward's output y > 0 and 0 elsewhere: dres[rows][C]
 * receives g as dresw says (skipped when NULL), and g goes through sc_batchnorm_backward (relu 0) into dgamma,
 * dbeta (+=) and dx (as dxw says; skipped when NULL). */
sc_status sc_batchnorm_add_relu_backward(int64_t rows, int64_t c, float *dx, sc_grad_write dxw, float *dres,
                                         sc_grad_write dresw, float *dgamma, float *dbeta, const float *dy,
                                         const float *y, const float *x, const float *mean, const float *var,
                                         float eps, const float *gamma);

#endif
