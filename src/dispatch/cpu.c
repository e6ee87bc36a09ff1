/* cpu.c: what the processor and the OS support, detected once. On x86-64 this is CPUID plus XGETBV (a feature
 * counts only when the OS saves the matching register state); on aarch64 NEON is the baseline. Cache sizes come
 * from sysconf where the C library knows them. It must not decide which kernels to use: that is dispatch.c. */
#include <string.h>
#include <unistd.h>

#include "dispatch.h"

#if defined(__x86_64__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

static void detect_arch(sc_cpu_info *ci) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return;
  unsigned int max_leaf = a;
  memcpy(ci->vendor + 0, &b, 4);
  memcpy(ci->vendor + 4, &d, 4);
  memcpy(ci->vendor + 8, &c, 4);
  ci->vendor[12] = '\0';
  __get_cpuid(1, &a, &b, &c, &d);
  int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
  if (osxsave) {
    unsigned long long xcr0 = xgetbv0();
    ci->os_ymm = (xcr0 & 0x6) == 0x6;            /* XMM and YMM state */
    ci->os_zmm = ci->os_ymm && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
  }
  ci->has_fma = fma && avx && ci->os_ymm;
  if (max_leaf >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    ci->has_avx2 = ((b >> 5) & 1) && ci->os_ymm;
    ci->has_avx512f = ((b >> 16) & 1) && ci->os_zmm;
    ci->has_avx512dq = ((b >> 17) & 1) && ci->os_zmm;
    ci->has_avx512bw = ((b >> 30) & 1) && ci->os_zmm;
    ci->has_avx512vl = ((b >> 31) & 1) && ci->os_zmm;
  }
  unsigned int ext = __get_cpuid_max(0x80000000u, NULL);
  if (ext >= 0x80000004u) {
    unsigned int regs[12];
    for (unsigned int i = 0; i < 3; i++)
      __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
    memcpy(ci->brand, regs, 48);
    ci->brand[48] = '\0';
  }
}
#elif defined(__aarch64__)
static void detect_arch(sc_cpu_info *ci) {
  strcpy(ci->vendor, "arm64");
  ci->has_neon = 1; /* Advanced SIMD is mandatory in ARMv8-A */
}
#else
static void detect_arch(sc_cpu_info *ci) { strcpy(ci->vendor, "unknown"); }
#endif

static size_t sysconf_size(int name) {
  long v = sysconf(name);
  return v > 0 ? (size_t)v : 0;
}

void sc_cpu_detect(sc_cpu_info *ci) {
  memset(ci, 0, sizeof *ci);
  detect_arch(ci);
  /* trim the brand string's padding */
  char *s = ci->brand;
  while (*s == ' ') s++;
  memmove(ci->brand, s, strlen(s) + 1);
  for (size_t n = strlen(ci->brand); n > 0 && ci->brand[n - 1] == ' '; n--) ci->brand[n - 1] = '\0';
#if defined(_SC_LEVEL1_DCACHE_SIZE)
  ci->l1d_bytes = sysconf_size(_SC_LEVEL1_DCACHE_SIZE);
  ci->l2_bytes = sysconf_size(_SC_LEVEL2_CACHE_SIZE);
  ci->l3_bytes = sysconf_size(_SC_LEVEL3_CACHE_SIZE);
#else
  (void)sysconf_size;
#endif
}
