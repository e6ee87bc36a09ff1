/* parallel.h: how the drivers in src/ops open an OpenMP team. sc_parallel(nt, fn, arg) runs fn(arg) on a team of
 * nt threads when nt > 1, and once on the calling thread otherwise; fn splits its work with omp_get_thread_num()
 * and omp_get_num_threads(), which return 0 and 1 outside a team, so one body serves both. It exists because
 * libgomp allocates (and frees) a team descriptor every time a team of one thread starts, as `#pragma omp parallel
 * if (0)` or num_threads(1) would make it, and again whenever the team size changes: a training step must not
 * allocate, so a serial call must not enter a parallel construct at all. */
#ifndef SC_CORE_PARALLEL_H
#define SC_CORE_PARALLEL_H

typedef void (*sc_parallel_fn)(void *arg);

void sc_parallel(int nt, sc_parallel_fn fn, void *arg);

#endif
