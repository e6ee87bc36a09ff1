/* dispatch.c: chooses the kernel table. At first use it detects the CPU, reads SIMCLR_MAX_ISA (a cap, as oneDNN's
 * ONEDNN_MAX_CPU_ISA) and SIMCLR_THREADS, and picks the best table the machine supports under the cap. A bad
 * environment value is an error reported by sc_init(), never a silent fallback. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/threads.h"
#include "dispatch.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static sc_cpu_info cpu;
static sc_status init_status;
static char init_message[512];
static const sc_kernels *active;

static const char *const isa_names[SC_ISA_COUNT] = {"scalar", "neon", "avx2", "avx512"};

const char *sc_isa_name(sc_isa isa) { return (unsigned)isa < SC_ISA_COUNT ? isa_names[isa] : "unknown"; }

sc_status sc_isa_parse(const char *name, sc_isa *isa) {
  if (!name || !isa) return sc_error(SC_EINVAL, "sc_isa_parse: null argument");
  for (int i = 0; i < SC_ISA_COUNT; i++)
    if (strcmp(name, isa_names[i]) == 0) {
      *isa = (sc_isa)i;
      return SC_OK;
    }
  return sc_error(SC_EINVAL, "unknown instruction set '%s' (expected scalar, avx2, avx512 or neon)", name);
}

static const sc_kernels *table_if_supported(sc_isa isa) {
  switch (isa) {
  case SC_ISA_SCALAR: return &sc_kernels_scalar;
#if defined(__x86_64__)
  case SC_ISA_AVX2: return cpu.has_avx2 && cpu.has_fma ? &sc_kernels_avx2 : NULL;
  case SC_ISA_AVX512:
    return cpu.has_avx512f && cpu.has_avx512bw && cpu.has_avx512dq && cpu.has_avx512vl ? &sc_kernels_avx512
                                                                                          : NULL;
#endif
#if defined(__aarch64__)
  case SC_ISA_NEON: return cpu.has_neon ? &sc_kernels_neon : NULL;
#endif
  default: return NULL;
  }
}

static const sc_kernels *best_up_to(sc_isa cap) {
  for (int i = (int)cap; i >= 0; i--) {
    const sc_kernels *k = table_if_supported((sc_isa)i);
    if (k) return k;
  }
  return &sc_kernels_scalar;
}

static void init_once(void) {
  sc_cpu_detect(&cpu);
  sc_isa cap = SC_ISA_COUNT - 1;
  const char *env = getenv("SIMCLR_MAX_ISA");
  sc_status st = SC_OK;
  if (env && *env) {
    st = sc_isa_parse(env, &cap);
    if (st != SC_OK)
      sc_error(st, "SIMCLR_MAX_ISA='%s' is not an instruction set (expected scalar, avx2, avx512 or neon)", env);
    else if (!table_if_supported(cap))
      st = sc_error(SC_EUNSUPPORTED, "SIMCLR_MAX_ISA='%s': this machine or build does not support %s", env, env);
  }
  if (st == SC_OK) st = sc_threads_init_from_env();
  if (st != SC_OK) {
    init_status = st;
    strncpy(init_message, sc_last_error(), sizeof init_message - 1);
    return;
  }
  active = best_up_to(cap);
}

sc_status sc_init(void) {
  pthread_once(&once, init_once);
  if (init_status != SC_OK) return sc_error(init_status, "%s", init_message);
  return SC_OK;
}

const sc_kernels *sc_kernels_active(void) {
  pthread_once(&once, init_once);
  return active;
}

const sc_kernels *sc_kernels_for(sc_isa isa) {
  pthread_once(&once, init_once);
  return table_if_supported(isa);
}

int sc_isa_supported(sc_isa isa) { return sc_kernels_for(isa) != NULL; }

sc_status sc_set_max_isa(sc_isa isa) {
  SC_TRY(sc_init());
  if ((unsigned)isa >= SC_ISA_COUNT) return sc_error(SC_EINVAL, "sc_set_max_isa: %d is not an sc_isa", (int)isa);
  if (!table_if_supported(isa))
    return sc_error(SC_EUNSUPPORTED, "instruction set %s is not supported on this machine or build",
                    sc_isa_name(isa));
  active = best_up_to(isa);
  return SC_OK;
}

sc_isa sc_active_isa(void) {
  const sc_kernels *k = sc_kernels_active();
  return k ? k->isa : SC_ISA_SCALAR;
}

const sc_cpu_info *sc_cpu(void) {
  pthread_once(&once, init_once);
  return &cpu;
}
