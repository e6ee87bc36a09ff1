/* parallel.c: sc_parallel (see parallel.h). */
#include <omp.h>

#include "parallel.h"

void sc_parallel(int nt, sc_parallel_fn fn, void *arg) {
  if (nt <= 1 || omp_in_parallel()) {
    fn(arg);
    return;
  }
#pragma omp parallel num_threads(nt)
  fn(arg);
}
