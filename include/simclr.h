/* simclr.h: the public C API of the simclr engine.
 *
 * Status codes, the error message of the last failure, the instruction-set choice and the thread count. Every
 * function returns a status (SC_OK on success) and, on failure, leaves a one-line message readable with
 * sc_last_error() on the calling thread. Nothing here prints or exits. Kernel entry points (GEMM, convolution,
 * NT-Xent similarity, element-wise layers) are declared in simclr_ops.h.
 */
#ifndef SIMCLR_H
#define SIMCLR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SIMCLR_VERSION "0.1.0"

typedef enum sc_status {
  SC_OK = 0,
  SC_EINVAL = 1,       /* bad argument: null pointer, negative or overflowing size, leading dimension too small */
  SC_ENOMEM = 2,       /* allocation failed */
  SC_EIO = 3,          /* a file could not be read or written */
  SC_EFORMAT = 4,      /* a file or buffer is malformed (corrupt image, lying header, wrong shapes) */
  SC_EUNSUPPORTED = 5, /* the request is valid but not supported on this machine or build */
  SC_ENUMERIC = 6,     /* a NaN or infinity appeared where it must not */
  SC_EINTERNAL = 7,    /* a bug: an invariant did not hold */
} sc_status;

/* Short name of a status code ("invalid argument", ...). Never NULL. */
const char *sc_status_name(sc_status s);

/* Message describing the last failure on this thread ("" if none). Valid until the next failing call. */
const char *sc_last_error(void);

/* Instruction sets with a kernel table. Ordered: a higher value is preferred when available. */
typedef enum sc_isa {
  SC_ISA_SCALAR = 0,
  SC_ISA_NEON = 1,
  SC_ISA_AVX2 = 2,   /* AVX2 + FMA */
  SC_ISA_AVX512 = 3, /* AVX-512 F, BW, DQ, VL */
  SC_ISA_COUNT = 4,
} sc_isa;

/* "scalar", "neon", "avx2", "avx512". */
const char *sc_isa_name(sc_isa isa);
/* Parses a name as above into *isa; SC_EINVAL with a message listing the valid names otherwise. */
sc_status sc_isa_parse(const char *name, sc_isa *isa);
/* 1 if this CPU (and the OS) supports isa and this build carries its kernels, else 0. */
int sc_isa_supported(sc_isa isa);

/* Caps the kernel table in use to isa (like ONEDNN_MAX_CPU_ISA); the best supported table not above the cap is
 * chosen. SC_EUNSUPPORTED if isa itself is not supported here. The environment variable SIMCLR_MAX_ISA sets the
 * initial cap; sc_init() reports a bad value there. */
sc_status sc_set_max_isa(sc_isa isa);
/* The instruction set of the kernel table in use. */
sc_isa sc_active_isa(void);

/* Reads SIMCLR_MAX_ISA and SIMCLR_THREADS once and chooses the kernel table. Called implicitly by every entry
 * point; call it first to get a clear error for a bad environment value. Idempotent. */
sc_status sc_init(void);

/* Threads used by every parallel kernel. Default: SIMCLR_THREADS if set, else the available cores. */
sc_status sc_set_num_threads(int n);
int sc_num_threads(void);

/* A description of the machine as the engine sees it: CPU features and the kernel table chosen. */
typedef struct sc_cpu_info {
  char vendor[16];
  char brand[64];
  int has_avx2, has_fma, has_avx512f, has_avx512bw, has_avx512dq, has_avx512vl, has_neon;
  int os_ymm, os_zmm; /* the OS saves YMM / ZMM state (XGETBV) */
  size_t l1d_bytes, l2_bytes, l3_bytes; /* 0 if unknown */
} sc_cpu_info;
const sc_cpu_info *sc_cpu(void);

#ifdef __cplusplus
}
#endif
#endif
