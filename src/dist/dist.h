/* dist.h (src/dist): data-parallel SimCLR pretraining across processes over MPI. A communicator layer (collectives
 * that return sc_status instead of aborting, and that give up with an error after a deadline instead of waiting
 * forever on a rank that died or stopped), the NT-Xent over the global batch (global negatives), synchronised batch
 * norm, the gradient all-reduce, and the shard of an epoch's order each rank reads.
 *
 * Only this folder names MPI; it is compiled when the build option SIMCLR_MPI is on (the macro SC_HAVE_MPI is then
 * defined for code that links the library). Nothing here prints or exits: after a communication error the caller
 * prints sc_last_error() and calls sc_dist_abort, since the peers cannot be brought back in step.
 *
 * Under mpirun, pretraining makes these calls (--batch being the global batch, divided by the ranks):
 *   sc_dist_init(&argc, &argv, 0, &d)             first; rank and size from sc_dist_rank / sc_dist_size
 *   loader options: batch_size = pairs per rank, shard_rank = rank, shard_count = size, same seed everywhere
 *   cfg.lr_peak = sc_lr_peak(rule, size * pairs)  then sc_simclr_create(model, pairs per rank, &cfg, &s); when
 *                                                 resuming, every rank restores the same checkpoint
 *   sc_dist_simclr_create(d, s, model, NULL, &ds) equalises the replicas (rank 0's weights), installs the hooks
 *   sc_dist_simclr_step(ds, &loss, &lr)           instead of sc_simclr_step; loss is the global batch's
 *   rank 0 alone writes checkpoints, logs and the progress line (the replicas are identical); other ranks wait in
 *   the next step's first collective, so keep that work shorter than the timeout
 *   on an error: print sc_last_error() with the rank, then sc_dist_abort(d, 1); at the end sc_dist_simclr_free,
 *   sc_dist_finalize
 */
#ifndef SC_DIST_H
#define SC_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "simclr.h"
#include "train/simclr.h"

typedef struct sc_dist sc_dist;

/* Initialises MPI (unless the caller already did) and duplicates MPI_COMM_WORLD with errors returned, not fatal.
 * timeout_s bounds every collective (<= 0: the environment variable SIMCLR_DIST_TIMEOUT, else 600 s). */
sc_status sc_dist_init(int *argc, char ***argv, double timeout_s, sc_dist **out);
/* Frees the communicator and finalises MPI if sc_dist_init initialised it. After a timed-out collective it aborts
 * the job instead (MPI cannot finalise with a collective left in flight). */
sc_status sc_dist_finalize(sc_dist *d);
/* Ends every process of the job with the given exit code (MPI_Abort); for use after a communication error. */
void sc_dist_abort(sc_dist *d, int code);

int sc_dist_rank(const sc_dist *d);
int sc_dist_size(const sc_dist *d);
double sc_dist_timeout(const sc_dist *d);
void sc_dist_set_timeout(sc_dist *d, double seconds);

sc_status sc_dist_barrier(sc_dist *d);
/* Sums over the ranks: out[n] = sum of every rank's in[n]. in == NULL or in == out: in place on out. */
sc_status sc_dist_allreduce_f32(sc_dist *d, const float *in, float *out, int64_t n);
sc_status sc_dist_allreduce_f64(sc_dist *d, const double *in, double *out, int64_t n);
/* out[size][n] = every rank's in[n] in rank order. in == NULL: in place (this rank's block already at out+rank*n). */
sc_status sc_dist_allgather_f32(sc_dist *d, const float *in, float *out, int64_t n);
/* out[n] = block `rank` of the sum over the ranks of in[size][n]. */
sc_status sc_dist_reduce_scatter_f32(sc_dist *d, const float *in, float *out, int64_t n);
/* buf[n] = root's buf[n] on every rank. */
sc_status sc_dist_broadcast_f32(sc_dist *d, float *buf, int64_t n, int root);

/* ---- sharding ---- */
/* The dataset (or subset) indices rank `rank` of `size` reads at step `step` of epoch `epoch` with `batch` images
 * per rank: positions [(step*size + rank)*batch, +batch) of the epoch's order (sc_loader_epoch_order), so the
 * ranks' shards are disjoint and together are the single-process batch of size*batch at the same step. pool[npool]
 * (NULL: 0..npool-1) is the loader's pool; scratch holds npool entries; out gets batch entries. SC_EINVAL if the
 * step lies beyond the last whole global batch. */
sc_status sc_dist_shard_indices(const int64_t *pool, int64_t npool, uint64_t seed, int64_t epoch, int no_shuffle,
                                int64_t step, int rank, int size, int64_t batch, int64_t *scratch, int64_t *out);

/* ---- the distributed SimCLR step ---- */
typedef struct sc_dist_simclr_options {
  int sync_bn; /* SimCLR's global BN: batch statistics over the global batch (default 1) */
} sc_dist_simclr_options;
sc_dist_simclr_options sc_dist_simclr_defaults(void);

typedef struct sc_dist_simclr sc_dist_simclr;

/* s was created on m with the per-rank number of pairs; s and m stay owned by the caller and must outlive the
 * result. Broadcasts rank 0's parameters and BN buffers and installs the hooks. The learning-rate peak should
 * follow the global batch: pass cfg.lr_peak = sc_lr_peak(rule, size * pairs) to sc_simclr_create. */
sc_status sc_dist_simclr_create(sc_dist *d, sc_simclr *s, sc_model *m, const sc_dist_simclr_options *o,
                                sc_dist_simclr **out);
/* Removes the hooks from s and frees the rest. */
void sc_dist_simclr_free(sc_dist_simclr *ds);
/* One step over the global batch: every rank fills sc_simclr_views(s) with its shard, then calls this. *loss is the
 * NT-Xent of the global batch (the mean over all 2*N*size anchors, equal on every rank). */
sc_status sc_dist_simclr_step(sc_dist_simclr *ds, float *loss, float *lr);
/* Seconds spent in the gradient all-reduce during the last step (for throughput reports). */
double sc_dist_simclr_allreduce_seconds(const sc_dist_simclr *ds);

/* The global-negatives NT-Xent alone (the loss hook, exposed for tests): z[2N][D] are this rank's rows (rows i
 * and i+N the views of sample i); *loss gets the global loss, dz[2N][D] (overwritten) the gradient of the global
 * loss times size with respect to this rank's rows, i.e. the sum over the ranks of each rank's mean-over-own-anchors
 * loss gradient (what a correct GatherLayer backward gives). gathered and dgathered hold 2N*D*size floats. */
sc_status sc_dist_ntxent(sc_dist *d, int64_t two_n, int64_t dim, float tau, const float *z, float *loss, float *dz,
                         float *gathered, float *dgathered);

#endif
