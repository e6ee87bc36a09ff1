/* bench.h: how a benchmark case is described in C. Each bench/<op>.c file registers its cases from a constructor
 * (sc_bench_add); bench/main.cc turns every case into a Google Benchmark run per thread count, with a GFLOPS rate
 * counter and, for the engine's own kernels, the fraction of the FMA peak measured for that ISA and thread count.
 * Peers (OpenBLAS, oneDNN) are cases like any other, with isa = -1 and a name saying what they are, so that engine
 * and peer run on the same shapes in the same process and every ratio comes from one run. */
#ifndef SC_BENCH_H
#define SC_BENCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_bench_case {
  char name[128];   /* "op/isa-or-peer/shape"; the harness appends "/threads:T" */
  int isa;          /* an sc_isa for the engine's kernels (made active for the run), -1 for a peer */
  double flops;     /* floating-point operations per run() call; 0 if the case has no flop count */
  double items;     /* items (images, rows) per run() call, reported as items_per_second; 0 if none */
  /* setup allocates and fills the case's data for the given thread count (returns NULL on failure, with a
   * message in *err); run does one iteration (returns 0 on success); teardown frees. */
  void *(*setup)(const struct sc_bench_case *c, int threads, const char **err);
  int (*run)(void *state);
  void (*teardown)(void *state);
  long long params[8]; /* case-specific integers (shape, options) */
} sc_bench_case;

/* Copies c into the registry (called from constructors, before main). */
void sc_bench_add(const sc_bench_case *c);

/* Sets the thread count of the peers (OpenBLAS, OpenMP used by oneDNN) and of the engine. */
void sc_bench_set_threads(int threads);

#ifdef __cplusplus
}
#endif
#endif
