/* init.c: parameter initialisation. Each tensor draws from its own stream of the Philox generator keyed by
 * (seed, parameter index), element i taking the i-th number of the stream, so initialisation is the same whatever
 * the thread count and whatever order tensors are visited in. */
#include "../core/rng.h"
#include "init.h"

void sc_init_fill(float *dst, size_t n, sc_init_kind kind, float arg, uint64_t seed, uint64_t stream) {
  if (kind == SC_INIT_CONST) {
    for (size_t i = 0; i < n; i++) dst[i] = arg;
    return;
  }
  sc_rng r;
  sc_rng_init_stream(&r, seed, stream);
  for (size_t i = 0; i < n; i++)
    dst[i] = kind == SC_INIT_NORMAL ? arg * sc_rng_normal(&r) : sc_rng_range(&r, -arg, arg);
}
