/* dispatch.h: internal access to the kernel table in use. */
#ifndef SC_DISPATCH_H
#define SC_DISPATCH_H

#include "kernels.h"

/* The table in use, after sc_init(); NULL if initialisation failed (sc_last_error() says why). Every op entry
 * point starts with: const sc_kernels *k = sc_kernels_active(); if (!k) return sc_init(); */
const sc_kernels *sc_kernels_active(void);
/* The table of one ISA, or NULL if the machine or the build lacks it (tests and benchmarks use this). */
const sc_kernels *sc_kernels_for(sc_isa isa);

void sc_cpu_detect(sc_cpu_info *ci);

#endif
