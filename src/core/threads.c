/* threads.c: the number of threads every parallel kernel uses (OpenMP). SIMCLR_THREADS sets the default (read by
 * sc_init); otherwise all available cores. */
#include <omp.h>
#include <stdlib.h>

#include "error.h"
#include "threads.h"

static int num_threads; /* 0: not chosen yet */

sc_status sc_threads_init_from_env(void) {
  const char *env = getenv("SIMCLR_THREADS");
  if (env && *env) {
    char *end;
    long n = strtol(env, &end, 10);
    if (*end != '\0' || n < 1 || n > 4096)
      return sc_error(SC_EINVAL, "SIMCLR_THREADS='%s' is not a thread count (expected an integer from 1 to 4096)",
                      env);
    num_threads = (int)n;
  }
  return SC_OK;
}

sc_status sc_set_num_threads(int n) {
  if (n < 1 || n > 4096) return sc_error(SC_EINVAL, "thread count %d out of range 1..4096", n);
  num_threads = n;
  return SC_OK;
}

int sc_num_threads(void) {
  if (num_threads == 0) num_threads = omp_get_num_procs();
  return num_threads;
}
