/* rng.c: Philox4x32-10 and the draws built on it (see rng.h). The round constants are those of the Random123
 * reference, so the raw function can be checked against its published known-answer vectors. Must stay free of
 * global state: everything a draw needs is in the sc_rng value. */
#include <math.h>

#include "rng.h"

enum { DOMAIN_DATA = 0x44415441u, DOMAIN_STREAM = 0x5354524du }; /* "DATA", "STRM" */

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi) {
  uint64_t p = (uint64_t)a * b;
  *hi = (uint32_t)(p >> 32);
  return (uint32_t)p;
}

void sc_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0), lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0, c1 = lo1, c2 = n2, c3 = lo0;
    k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
  }
  out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* SplitMix64 finaliser: folds the seed and the domain/epoch into the 64-bit key, so nearby seeds give unrelated
 * keys (Philox's key schedule alone is weak for keys differing in a few bits). */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void set_key(sc_rng *r, uint64_t k) { r->key[0] = (uint32_t)k, r->key[1] = (uint32_t)(k >> 32); }

void sc_rng_init_data(sc_rng *r, uint64_t seed, uint64_t epoch, uint64_t sample, uint32_t view) {
  set_key(r, mix64(mix64(seed + 0x9e3779b97f4a7c15ull) ^ mix64(epoch * 0x2545F4914F6CDD1Dull + DOMAIN_DATA)));
  r->ctr[0] = 0;
  r->ctr[1] = (view & 0xffffffu) | 0x1000000u; /* the top byte tags the data domain */
  r->ctr[2] = (uint32_t)sample, r->ctr[3] = (uint32_t)(sample >> 32);
  r->left = 0;
}

void sc_rng_init_stream(sc_rng *r, uint64_t seed, uint64_t stream) {
  set_key(r, mix64(mix64(seed + 0x9e3779b97f4a7c15ull) ^ mix64(DOMAIN_STREAM)));
  r->ctr[0] = 0;
  r->ctr[1] = 0x2000000u;
  r->ctr[2] = (uint32_t)stream, r->ctr[3] = (uint32_t)(stream >> 32);
  r->left = 0;
}

uint32_t sc_rng_u32(sc_rng *r) {
  if (r->left == 0) {
    sc_philox4x32_10(r->ctr, r->key, r->buf);
    r->ctr[0]++;
    if (r->ctr[0] == 0) r->ctr[1] += 0x4000000u; /* after 2^32 blocks, carry into bits the ids do not use */
    r->left = 4;
  }
  return r->buf[4 - r->left--];
}

uint64_t sc_rng_u64(sc_rng *r) {
  uint64_t hi = sc_rng_u32(r);
  return hi << 32 | sc_rng_u32(r);
}

float sc_rng_uniform(sc_rng *r) { return (float)(sc_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float sc_rng_range(sc_rng *r, float lo, float hi) {
  float v = lo + (hi - lo) * sc_rng_uniform(r);
  return v < hi ? v : lo; /* rounding could land on hi */
}

double sc_rng_double(sc_rng *r) { return (double)(sc_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

uint64_t sc_rng_below(sc_rng *r, uint64_t n) {
  if (n <= 1) return 0;
  uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the incomplete last block */
  for (;;) {
    uint64_t v = sc_rng_u64(r);
    if (v < limit) return v % n;
  }
}

float sc_rng_normal(sc_rng *r) {
  double u1 = sc_rng_double(r), u2 = sc_rng_double(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
