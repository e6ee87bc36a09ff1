/* rng.h: the counter-based random generator (Philox4x32-10, Salmon et al., SC'11) behind every random choice of
 * the engine. A stream is fully determined by its key and counter, so the numbers a sample, a view or a
 * parameter gets never depend on which thread drew them or in what order. Two keyings:
 *   data:   (seed, epoch, sample index, view)  -> the augmentation of one view, the shuffle of one epoch
 *   stream: (seed, stream id)                  -> parameter initialisation and anything else keyed by a name
 * Keyings live in separate domains, so no data stream can equal a stream-keyed one. Not for cryptography. */
#ifndef SC_CORE_RNG_H
#define SC_CORE_RNG_H

#include <stdint.h>

typedef struct sc_rng {
  uint32_t key[2];
  uint32_t ctr[4]; /* ctr[0] counts blocks of 4 outputs; the rest identify the stream */
  uint32_t buf[4];
  int left; /* outputs of buf not yet used */
} sc_rng;

/* The raw bijection: out = Philox4x32-10(ctr, key). */
void sc_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Stream for one view of one sample in one epoch. view values up to 2^24 are distinct; the shuffle of an epoch
 * uses sample = UINT64_MAX by convention (sc_rng_shuffle_stream). */
void sc_rng_init_data(sc_rng *r, uint64_t seed, uint64_t epoch, uint64_t sample, uint32_t view);
/* Stream keyed by (seed, stream): e.g. one stream per parameter tensor for initialisation. */
void sc_rng_init_stream(sc_rng *r, uint64_t seed, uint64_t stream);

uint32_t sc_rng_u32(sc_rng *r);
uint64_t sc_rng_u64(sc_rng *r);
/* Uniform in [0, 1) with 24 random bits (every float value is exactly representable). */
float sc_rng_uniform(sc_rng *r);
/* Uniform in [lo, hi). */
float sc_rng_range(sc_rng *r, float lo, float hi);
/* Uniform in [0, 1) with 53 bits. */
double sc_rng_double(sc_rng *r);
/* Uniform integer in [0, n) without modulo bias; n >= 1. */
uint64_t sc_rng_below(sc_rng *r, uint64_t n);
/* Standard normal (Box-Muller in double). */
float sc_rng_normal(sc_rng *r);

#endif
