/* test_rng.c: the counter-based generator (src/core/rng.c): Philox4x32-10 against the Random123 known-answer
 * vectors, that a (seed, epoch, sample, view) or (seed, stream) key always gives the same numbers and nearby keys
 * give different ones, and the moments of the derived draws within bounds of 6 standard errors (a false alarm
 * about once in 10^8 runs; the seeds are fixed, so a failure reproduces). */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "test.h"

SC_TEST(rng, philox_known_answers) {
  static const uint32_t ctr[3][4] = {
      {0, 0, 0, 0}, {~0u, ~0u, ~0u, ~0u}, {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}};
  static const uint32_t key[3][2] = {{0, 0}, {~0u, ~0u}, {0xa4093822, 0x299f31d0}};
  static const uint32_t want[3][4] = {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
                                      {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
                                      {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}};
  for (int t = 0; t < 3; t++) {
    uint32_t out[4];
    sc_philox4x32_10(ctr[t], key[t], out);
    for (int i = 0; i < 4; i++)
      SC_ASSERT(out[i] == want[t][i], "vector %d word %d: %08x, want %08x", t, i, out[i], want[t][i]);
  }
}

SC_TEST(rng, same_key_same_stream_nearby_keys_differ) {
  sc_rng a, b;
  uint32_t first[5][8];
  const uint64_t keys[5][4] = {{1, 0, 0, 0}, {2, 0, 0, 0}, {1, 1, 0, 0}, {1, 0, 1, 0}, {1, 0, 0, 1}};
  for (int k = 0; k < 5; k++) {
    sc_rng_init_data(&a, keys[k][0], keys[k][1], keys[k][2], (uint32_t)keys[k][3]);
    sc_rng_init_data(&b, keys[k][0], keys[k][1], keys[k][2], (uint32_t)keys[k][3]);
    for (int i = 0; i < 8; i++) {
      first[k][i] = sc_rng_u32(&a);
      SC_ASSERT(first[k][i] == sc_rng_u32(&b), "key %d draw %d not reproducible", k, i);
    }
    for (int j = 0; j < k; j++)
      SC_ASSERT(memcmp(first[j], first[k], sizeof first[k]) != 0, "keys %d and %d give the same stream", j, k);
  }
  sc_rng_init_stream(&a, 1, 0);
  sc_rng_init_stream(&b, 1, 1);
  SC_ASSERT(sc_rng_u64(&a) != sc_rng_u64(&b), "streams 0 and 1 of seed 1 start alike");
  sc_rng_init_stream(&a, 1, 0);
  SC_ASSERT(sc_rng_u32(&a) != first[0][0], "stream keying collides with data keying");
}

SC_TEST(rng, draw_moments) {
  sc_rng r;
  sc_rng_init_stream(&r, 42, 7);
  const int n = 200000;
  double s = 0, s2 = 0, ns = 0, ns2 = 0;
  int64_t hist[10] = {0};
  for (int i = 0; i < n; i++) {
    float u = sc_rng_uniform(&r);
    SC_ASSERT(u >= 0.0f && u < 1.0f, "uniform draw %d = %g", i, u);
    s += u, s2 += (double)u * u;
    float v = sc_rng_range(&r, -2.0f, 3.0f);
    SC_ASSERT(v >= -2.0f && v < 3.0f, "range draw %d = %g", i, v);
    uint64_t b = sc_rng_below(&r, 10);
    SC_ASSERT(b < 10, "below(10) = %llu", (unsigned long long)b);
    hist[b]++;
    double g = sc_rng_normal(&r);
    ns += g, ns2 += g * g;
  }
  double mean = s / n, var = s2 / n - mean * mean;
  SC_ASSERT(fabs(mean - 0.5) < 6 * sqrt(1.0 / 12 / n), "uniform mean %g (seed 42 stream 7)", mean);
  SC_ASSERT(fabs(var - 1.0 / 12) < 6 * sqrt(1.0 / 180 / n), "uniform variance %g", var);
  for (int i = 0; i < 10; i++)
    SC_ASSERT(fabs((double)hist[i] - n / 10.0) < 6 * sqrt(n * 0.09), "below(10): bucket %d holds %lld of %d", i,
              (long long)hist[i], n);
  SC_ASSERT(fabs(ns / n) < 6 / sqrt(n) && fabs(ns2 / n - 1) < 6 * sqrt(2.0 / n), "normal mean %g, variance %g", ns / n,
            ns2 / n);
  SC_ASSERT(sc_rng_below(&r, 1) == 0 && sc_rng_below(&r, 0) == 0, "below(1) and below(0) must be 0");
}
