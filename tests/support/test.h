/* test.h: the test vocabulary every test file uses, with two back ends. On the host it maps onto Criterion (each
 * test forked, summary line, ctest integration). Where Criterion is not available (the aarch64 cross build run
 * under qemu), SC_TEST_MINI selects a small built-in runner (mini_runner.c) that prints "N passed, N failed".
 *
 *   SC_TEST(suite, name) { ... }              a test
 *   SC_ISA_TEST(suite, name) { ... k ... }    one test per instruction set, named name_scalar, name_avx2, ...;
 *                                             the body sees `const sc_kernels *k` (also made the active table);
 *                                             ISAs this machine lacks are reported as skipped
 *   SC_ASSERT(cond, fmt, ...)                 fails the test; the message must say how to reproduce (shape, seed)
 *   SC_SKIP(fmt, ...)                         marks the test skipped and leaves it
 *   SC_LOG(fmt, ...)                          an informational line
 */
#ifndef SC_TEST_H
#define SC_TEST_H

#include "simclr.h"
#include "../../src/dispatch/dispatch.h"

#ifndef SC_TEST_MINI
#include <criterion/criterion.h>
#include <criterion/logging.h>
#define SC_TEST(suite, name) Test(suite, name)
#define SC_ASSERT(cond, ...) cr_assert(cond, __VA_ARGS__)
#define SC_SKIP(...) cr_skip_test(__VA_ARGS__)
#define SC_LOG(...) cr_log_info(__VA_ARGS__)
#else
void sc_mini_register(const char *suite, const char *name, void (*fn)(void));
_Noreturn void sc_mini_fail(const char *file, int line, const char *fmt, ...);
_Noreturn void sc_mini_skip(const char *fmt, ...);
void sc_mini_log(const char *fmt, ...);
#define SC_TEST(suite, name)                                                                   \
  static void suite##__##name(void);                                                           \
  __attribute__((constructor)) static void suite##__##name##__register(void) {                 \
    sc_mini_register(#suite, #name, suite##__##name);                                          \
  }                                                                                            \
  static void suite##__##name(void)
#define SC_ASSERT(cond, ...)                                   \
  do {                                                         \
    if (!(cond)) sc_mini_fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#define SC_SKIP(...) sc_mini_skip(__VA_ARGS__)
#define SC_LOG(...) sc_mini_log(__VA_ARGS__)
#endif

/* Makes isa the active table for the public entry points and returns it; skips the test if unavailable. */
static inline const sc_kernels *sc_test_use_isa(sc_isa isa) {
  const sc_kernels *k = sc_kernels_for(isa);
  if (!k) SC_SKIP("%s is not available on this machine or build", sc_isa_name(isa));
  SC_ASSERT(sc_set_max_isa(isa) == SC_OK, "sc_set_max_isa(%s): %s", sc_isa_name(isa), sc_last_error());
  SC_ASSERT(sc_active_isa() == isa, "active isa %s, wanted %s", sc_isa_name(sc_active_isa()), sc_isa_name(isa));
  return k;
}

#define SC_ISA_TEST(suite, name)                                                                          \
  static void suite##__##name##__body(const sc_kernels *k);                                               \
  SC_TEST(suite, name##_scalar) { suite##__##name##__body(sc_test_use_isa(SC_ISA_SCALAR)); }              \
  SC_TEST(suite, name##_avx2) { suite##__##name##__body(sc_test_use_isa(SC_ISA_AVX2)); }                  \
  SC_TEST(suite, name##_avx512) { suite##__##name##__body(sc_test_use_isa(SC_ISA_AVX512)); }              \
  SC_TEST(suite, name##_neon) { suite##__##name##__body(sc_test_use_isa(SC_ISA_NEON)); }                  \
  static void suite##__##name##__body(const sc_kernels *k)

#endif
