/* cpu.c: what the processor and the OS support, detected once. On x86-64 this is CPUID plus XGETBV (a feature
 * counts only when the OS saves the matching register state); on aarch64 NEON is the baseline. Cache sizes are
 * those of the caches the first core sees, as Linux describes them in sysfs; else sysconf's, where the C library
 * knows them. (glibc's sysconf can report another figure: on a 2-core slice of an AMD EPYC it gives the L3 of the
 * whole package, 384 MiB, where this core shares 32 MiB.) It must not decide which kernels to use: that is
 * dispatch.c. */
#include <stdio.h>
#include <stdlib.h>
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

/* The first line of a small sysfs file, or "" */
static void read_line(const char *path, char *buf, size_t n) {
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f) return;
  if (!fgets(buf, (int)n, f)) buf[0] = '\0';
  fclose(f);
  buf[strcspn(buf, "\n")] = '\0';
}

/* Sizes of cpu0's level-1 data, level-2 and level-3 caches from /sys/devices/system/cpu/cpu0/cache/index*: each
 * found one overwrites its field. */
static void caches_from_sysfs(sc_cpu_info *ci) {
  for (int i = 0; i < 16; i++) {
    char path[96], level[16], type[32], size[32];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
    read_line(path, level, sizeof level);
    if (!level[0]) break;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
    read_line(path, type, sizeof type);
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    read_line(path, size, sizeof size);
    char *end;
    unsigned long long v = strtoull(size, &end, 10);
    if (end == size || v == 0) continue;
    if (*end == 'K') v <<= 10;
    else if (*end == 'M') v <<= 20;
    else if (*end != '\0') continue;
    const int lv = atoi(level), data = strcmp(type, "Data") == 0, unified = strcmp(type, "Unified") == 0;
    if (lv == 1 && data) ci->l1d_bytes = (size_t)v;
    if (lv == 2 && (data || unified)) ci->l2_bytes = (size_t)v;
    if (lv == 3 && (data || unified)) ci->l3_bytes = (size_t)v;
  }
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
  caches_from_sysfs(ci);
}
