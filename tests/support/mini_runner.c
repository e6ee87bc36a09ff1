/* mini_runner.c: the test runner used where Criterion is not available (the aarch64 build under qemu). Tests
 * register themselves (test.h); each runs in turn, a failed assertion or a skip jumps back here, and the run ends
 * with the line "N passed, N failed, N skipped" and a non-zero exit if anything failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define SC_TEST_MINI 1
#include "test.h"

enum { MAX_TESTS = 1024 };
static struct { const char *suite, *name; void (*fn)(void); } tests[MAX_TESTS];
static int ntests;
static jmp_buf jump;

void sc_mini_register(const char *suite, const char *name, void (*fn)(void)) {
  if (ntests == MAX_TESTS) {
    fprintf(stderr, "mini_runner: more than %d tests\n", MAX_TESTS);
    exit(2);
  }
  tests[ntests].suite = suite;
  tests[ntests].name = name;
  tests[ntests].fn = fn;
  ntests++;
}

void sc_mini_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "  %s:%d: ", file, line);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  longjmp(jump, 1);
}

void sc_mini_skip(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "  skipped: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  longjmp(jump, 2);
}

void sc_mini_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "  ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* Runs test i; returns 0 passed, 1 failed, 2 skipped. Kept apart from main so that no counter lives across the
 * longjmp. */
static int run_one(int i) {
  /* each test starts from the machine's best table, as a fresh Criterion process would */
  for (int isa = SC_ISA_COUNT - 1; isa >= 0; isa--)
    if (sc_isa_supported((sc_isa)isa)) {
      sc_set_max_isa((sc_isa)isa);
      break;
    }
  int r = setjmp(jump);
  if (r == 0) tests[i].fn();
  return r;
}

int main(void) {
  static const char *const verdict[] = {"PASS", "FAIL", "SKIP"};
  int count[3] = {0, 0, 0};
  for (int i = 0; i < ntests; i++) {
    int r = run_one(i);
    count[r]++;
    fprintf(stderr, "[%s] %s::%s\n", verdict[r], tests[i].suite, tests[i].name);
  }
  printf("%d passed, %d failed, %d skipped\n", count[0], count[1], count[2]);
  return count[1] ? 1 : 0;
}
