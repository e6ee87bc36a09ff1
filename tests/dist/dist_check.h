/* dist_check.h: the checks of the tests in tests/dist, plain executables run under mpirun (Criterion forks each
 * test, which MPI does not survive reliably). A failed CHECK prints its message with the rank and counts; finish()
 * adds the counts of every rank, rank 0 prints "N passed, N failed", and every rank exits non-zero if any check
 * failed anywhere. Uses MPI directly for that summary only, so it still works after the library's communicator
 * was deliberately broken. */
#ifndef SC_TESTS_DIST_CHECK_H
#define SC_TESTS_DIST_CHECK_H

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int check_pass, check_fail, check_rank;

#define CHECK(cond, ...)                                                              \
  do {                                                                                \
    if (cond) {                                                                       \
      check_pass++;                                                                   \
    } else {                                                                          \
      check_fail++;                                                                   \
      fprintf(stderr, "FAIL rank %d %s:%d: ", check_rank, __FILE__, __LINE__);        \
      fprintf(stderr, __VA_ARGS__);                                                   \
      fprintf(stderr, "\n");                                                          \
    }                                                                                 \
  } while (0)

/* Sums the counts over the ranks (MPI_COMM_WORLD) and returns the process exit status. */
static int check_finish(void) {
  int local[2] = {check_pass, check_fail}, total[2] = {0, 0};
  MPI_Allreduce(local, total, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (check_rank == 0) printf("%d passed, %d failed\n", total[0], total[1]);
  fflush(stdout);
  return total[1] ? 1 : 0;
}

/* A deterministic generator for test data: splitmix64. */
static inline uint64_t check_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
/* Uniform in [-1, 1) from a key. */
static inline float check_uniform(uint64_t key) { return (float)((double)(check_mix(key) >> 11) * 0x1p-52 - 1.0); }

#endif
