/* mem.h (src/core): the one way the engine allocates the buffers its vector kernels stream through (activations,
 * packed panels, scratch): aligned to 64 bytes, a cache line and an AVX-512 register, with the size rounded up to
 * whole lines as aligned_alloc requires, so that no vector load of a buffer's start spans two lines. Release with
 * free(). No zeroing; NULL when out of memory.
 *
 * A buffer of SC_HUGE_BYTES or more (the activation arenas, the packed panels and scratch of large layers) is
 * placed on 2 MB boundaries and offered to the kernel for transparent huge pages (madvise; nothing changes where
 * THP is off or madvise fails). Im2col gathers and transposing packs step across many rows of a large tensor at
 * once, each row on its own 4 KB page: with 2 MB pages their translations stay in the TLB. SimCLR steps on two
 * threads, with the arena's tensors staggered as src/model/model.c does, alternated with the build before:
 * 1x28x28, batch 256 (2.3 GB of activations) 3878 / 3682 / 3641 -> 3493 / 3479 / 3596 ms; CIFAR, batch 128
 * 2231 / 2242 / 2130 -> 2114 / 2031 / 2080 ms; the demo's model and ResNet-50 inference level. One thread level
 * within the machine's noise (10% from run to run that day). */
#ifndef SC_CORE_MEM_H
#define SC_CORE_MEM_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define SC_HUGE_BYTES ((size_t)4 << 20)
#define SC_HUGE_PAGE ((size_t)2 << 20)

static inline void *sc_alloc_lines(size_t bytes) {
  if (bytes > SIZE_MAX - SC_HUGE_PAGE) return NULL;
  if (bytes >= SC_HUGE_BYTES) {
    const size_t size = (bytes + SC_HUGE_PAGE - 1) & ~(SC_HUGE_PAGE - 1);
    void *p = aligned_alloc(SC_HUGE_PAGE, size);
    if (p) (void)madvise(p, size, MADV_HUGEPAGE);
    return p;
  }
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
