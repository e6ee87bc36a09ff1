/* init.h (src/model): parameter initialisation from the counter-based generator, keyed by (seed, parameter index)
 * so that the values never depend on threads or on the order tensors are initialised in. */
#ifndef SC_MODEL_INIT_H
#define SC_MODEL_INIT_H

#include <stddef.h>
#include <stdint.h>

typedef enum sc_init_kind {
  SC_INIT_CONST = 0,   /* every element = arg */
  SC_INIT_NORMAL = 1,  /* N(0, arg^2): Kaiming-normal convolutions, arg = sqrt(2 / fan_out) */
  SC_INIT_UNIFORM = 2, /* U(-arg, arg): PyTorch's default Linear, arg = 1/sqrt(fan_in) */
} sc_init_kind;

/* Fills dst[n] with the stream (seed, stream) of the generator. */
void sc_init_fill(float *dst, size_t n, sc_init_kind kind, float arg, uint64_t seed, uint64_t stream);

#endif
