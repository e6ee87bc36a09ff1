/* mem.h (src/core): the one way the engine allocates the buffers its vector kernels stream through (activations,
 * packed panels, scratch): aligned to 64 bytes, a cache line and an AVX-512 register, with the size rounded up to
 * whole lines as aligned_alloc requires, so that no vector load of a buffer's start spans two lines. Release with
 * free(). No zeroing; NULL when out of memory. */
#ifndef SC_CORE_MEM_H
#define SC_CORE_MEM_H

#include <stdint.h>
#include <stdlib.h>

static inline void *sc_alloc_lines(size_t bytes) {
  if (bytes > SIZE_MAX - 63) return NULL;
  return aligned_alloc(64, bytes ? (bytes + 63) & ~(size_t)63 : 64);
}

/* A grow-only buffer of floats (*buf, holding *cap): returns it once it holds n, reallocating (contents dropped)
 * only when it must; NULL when out of memory, the old buffer kept. The drivers' per-thread scratch, so that calls
 * of a repeated shape do not allocate. */
static inline float *sc_grow_floats(float **buf, size_t *cap, size_t n) {
  if (n <= *cap) return *buf;
  if (n > SIZE_MAX / sizeof(float)) return NULL;
  float *p = (float *)sc_alloc_lines(n * sizeof(float));
  if (!p) return NULL;
  free(*buf);
  *buf = p;
  *cap = n;
  return p;
}

#endif
