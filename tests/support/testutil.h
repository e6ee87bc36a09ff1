/* testutil.h: helpers shared by the tests: a seeded generator for test data, integer-valued fills (so optimised
 * and reference kernels can agree exactly, as oneDNN's benchdnn does), and comparisons that report the worst
 * element. Header-only so every test executable stays one file. */
#ifndef SC_TESTUTIL_H
#define SC_TESTUTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct sc_test_rng { uint64_t s; } sc_test_rng;

static inline uint64_t sc_test_next(sc_test_rng *r) { /* SplitMix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
/* uniform in [lo, hi) */
static inline float sc_test_uniform(sc_test_rng *r, float lo, float hi) {
  return lo + (hi - lo) * (float)((sc_test_next(r) >> 40) * (1.0 / 16777216.0));
}
/* integer in [lo, hi] */
static inline int64_t sc_test_int(sc_test_rng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)(sc_test_next(r) % (uint64_t)(hi - lo + 1));
}
static inline void sc_test_fill(sc_test_rng *r, float *x, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) x[i] = sc_test_uniform(r, lo, hi);
}
/* small integers in [-range, range]: products and sums of them are exact in fp32 while they stay below 2^24 */
static inline void sc_test_fill_int(sc_test_rng *r, float *x, size_t n, int range) {
  for (size_t i = 0; i < n; i++) x[i] = (float)sc_test_int(r, -range, range);
}
/* A float buffer whose start is misaligned by `offset` floats from a 64-byte boundary (free with sc_test_free). */
static inline float *sc_test_alloc(size_t n, size_t offset) {
  char *base = (char *)aligned_alloc(64, ((n + offset) * sizeof(float) + 64 + 63) / 64 * 64);
  if (!base) abort();
  float *p = (float *)(base + 64) + offset;
  memcpy((char *)p - sizeof base, &base, sizeof base); /* the 64 bytes before p hold the block's address */
  return p;
}
static inline void sc_test_free(float *p) {
  if (!p) return;
  char *base;
  memcpy(&base, (char *)p - sizeof base, sizeof base);
  free(base);
}

/* Largest |got - ref| / (atol + rtol * |ref|) over n elements; <= 1 means within tolerance. *worst gets its
 * index. NaN in either counts as infinitely bad. */
static inline double sc_test_max_err(const float *got, const float *ref, size_t n, double rtol, double atol,
                                     size_t *worst) {
  double e = 0.0;
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - (double)ref[i]) / (atol + rtol * fabs((double)ref[i]));
    if (d != d) d = INFINITY;
    if (d > e) { e = d; w = i; }
  }
  if (worst) *worst = w;
  return e;
}

#endif
