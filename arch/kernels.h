/* kernels.h: the contract between the framework (src/) and the microkernels (arch/).
 *
 * Each arch/<isa>/ folder exports one const table, sc_kernels_<isa>, that names its microkernels and tile sizes
 * (designated initialisers, one sub-table per operator family). src/dispatch picks a table at run time; tests
 * and benchmarks may also call any table directly through sc_kernels_for(). Nothing in this header depends on an
 * instruction set: arch/ files alone are compiled with ISA flags.
 */
#ifndef SC_ARCH_KERNELS_H
#define SC_ARCH_KERNELS_H

#include "simclr.h"
#include "gemm.h"
#include "xent.h"
#include "eltwise.h"
#include "image.h"
#include "conv.h"
#include "logreg.h"

typedef struct sc_kernels {
  const char *name; /* "scalar", "avx2", ... as sc_isa_name() */
  sc_isa isa;
  const sc_gemm_config *gemm;
  const sc_xent_config *xent;
  const sc_eltwise_config *eltwise;
  const sc_image_config *image;
  const sc_conv_config *conv; /* the direct convolution for few channels */
  const sc_logreg_config *logreg; /* the linear probe's logistic regression */
} sc_kernels;

extern const sc_kernels sc_kernels_scalar;
#if defined(__x86_64__)
extern const sc_kernels sc_kernels_avx2;
extern const sc_kernels sc_kernels_avx512;
#endif
#if defined(__aarch64__)
extern const sc_kernels sc_kernels_neon;
#endif

#endif
