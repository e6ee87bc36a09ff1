/* comm.c: the communicator layer over MPI-3 (standard calls only, so Open MPI and MPICH both serve). Errors come
 * back as sc_status with MPI's message (the private communicator uses MPI_ERRORS_RETURN). Every collective is the
 * non-blocking form polled with MPI_Test against a deadline, because a blocking collective waits forever on a peer
 * that stopped calling it (a crash the launcher did not notice, a rank that left the loop on its own error); on
 * the deadline the call returns SC_EIO and the communicator is marked broken. It must not print or exit: aborting
 * the job is the caller's decision (sc_dist_abort), taken after it reported the message. */
#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

#include "../core/error.h"
#include "dist.h"

struct sc_dist {
  MPI_Comm comm;
  int rank, size;
  int we_initialised;
  double timeout;
  MPI_Request stale; /* a collective abandoned on its deadline, still in flight */
};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static sc_status mpi_fail(int rc, const char *what) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) len = 0;
  msg[len < MPI_MAX_ERROR_STRING ? len : MPI_MAX_ERROR_STRING - 1] = '\0';
  return sc_error(SC_EIO, "dist: %s failed: %s", what, len ? msg : "unknown MPI error");
}

/* Polls req until it completes or the deadline passes. MPI progresses a non-blocking collective only inside MPI
 * calls, so for the first 50 ms (a whole gradient all-reduce between ranks in step) it polls continuously, yielding
 * the core between polls in case ranks outnumber cores; a rank still waiting after that waits for a slower peer's
 * compute, and sleeps between polls (50 us doubling to 1 ms), leaving its core to that peer. Sleeping from the
 * start made an 11.6 MB all-reduce on one host 5x slower than the blocking call. */
static sc_status wait_for(sc_dist *d, MPI_Request *req, const char *what) {
  if (d->stale != MPI_REQUEST_NULL)
    return sc_error(SC_EIO, "dist: %s after an earlier collective timed out; the ranks are out of step", what);
  const double start = now(), deadline = start + d->timeout;
  long sleep_ns = 50000;
  for (;;) {
    int done = 0;
    int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, what);
    if (done) return SC_OK;
    double t = now();
    if (t > deadline) {
      d->stale = *req;
      return sc_error(SC_EIO, "dist: %s on rank %d of %d got no answer within %.0f s: another rank died, stopped or "
                      "is not calling the same collective", what, d->rank, d->size, d->timeout);
    }
    if (t - start < 0.05) {
      sched_yield();
    } else {
      struct timespec ts = {0, sleep_ns};
      nanosleep(&ts, NULL);
      if (sleep_ns < 1000000) sleep_ns *= 2;
    }
  }
}

static sc_status check_count(int64_t n, const char *what) {
  if (n < 0 || n > INT_MAX) return sc_error(SC_EINVAL, "dist: %s of %lld elements (0..INT_MAX)", what, (long long)n);
  return SC_OK;
}

sc_status sc_dist_init(int *argc, char ***argv, double timeout_s, sc_dist **out) {
  if (!out) return sc_error(SC_EINVAL, "dist: null argument");
  *out = NULL;
  sc_dist *d = calloc(1, sizeof *d);
  if (!d) return sc_error(SC_ENOMEM, "dist: out of memory");
  d->stale = MPI_REQUEST_NULL;
  d->comm = MPI_COMM_NULL;
  int inited = 0, rc;
  MPI_Initialized(&inited);
  if (!inited) {
    int provided = 0;
    /* OpenMP threads never call MPI; only the thread that initialised does. */
    if ((rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS) {
      free(d);
      return sc_error(SC_EIO, "dist: MPI_Init_thread failed (code %d)", rc);
    }
    d->we_initialised = 1;
  }
  if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &d->comm)) != MPI_SUCCESS ||
      (rc = MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN)) != MPI_SUCCESS ||
      (rc = MPI_Comm_rank(d->comm, &d->rank)) != MPI_SUCCESS ||
      (rc = MPI_Comm_size(d->comm, &d->size)) != MPI_SUCCESS) {
    sc_status st = mpi_fail(rc, "setting up the communicator");
    if (d->comm != MPI_COMM_NULL) MPI_Comm_free(&d->comm);
    if (d->we_initialised) MPI_Finalize();
    free(d);
    return st;
  }
  if (timeout_s <= 0) {
    const char *e = getenv("SIMCLR_DIST_TIMEOUT");
    timeout_s = e ? strtod(e, NULL) : 0;
    if (!(timeout_s > 0)) timeout_s = 600;
  }
  d->timeout = timeout_s;
  *out = d;
  return SC_OK;
}

sc_status sc_dist_finalize(sc_dist *d) {
  if (!d) return SC_OK;
  if (d->stale != MPI_REQUEST_NULL) {
    /* A late peer may still complete the abandoned collective; give it one more timeout, then abort. */
    MPI_Request r = d->stale;
    d->stale = MPI_REQUEST_NULL;
    if (wait_for(d, &r, "finishing an abandoned collective") != SC_OK) sc_dist_abort(d, 1);
  }
  MPI_Comm_free(&d->comm);
  int we = d->we_initialised;
  free(d);
  if (we) {
    int rc = MPI_Finalize();
    if (rc != MPI_SUCCESS) return sc_error(SC_EIO, "dist: MPI_Finalize failed (code %d)", rc);
  }
  return SC_OK;
}

void sc_dist_abort(sc_dist *d, int code) { MPI_Abort(d ? d->comm : MPI_COMM_WORLD, code); }

int sc_dist_rank(const sc_dist *d) { return d->rank; }
int sc_dist_size(const sc_dist *d) { return d->size; }
double sc_dist_timeout(const sc_dist *d) { return d->timeout; }
void sc_dist_set_timeout(sc_dist *d, double seconds) {
  if (seconds > 0) d->timeout = seconds;
}

sc_status sc_dist_barrier(sc_dist *d) {
  MPI_Request r;
  int rc = MPI_Ibarrier(d->comm, &r);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "barrier");
  return wait_for(d, &r, "barrier");
}

static sc_status allreduce(sc_dist *d, const void *in, void *out, int64_t n, MPI_Datatype t, const char *what) {
  SC_TRY(check_count(n, what));
  if (!out && n) return sc_error(SC_EINVAL, "dist: %s into a null buffer", what);
  MPI_Request r;
  int rc = MPI_Iallreduce(in == NULL || in == out ? MPI_IN_PLACE : in, out, (int)n, t, MPI_SUM, d->comm, &r);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, what);
  return wait_for(d, &r, what);
}

sc_status sc_dist_allreduce_f32(sc_dist *d, const float *in, float *out, int64_t n) {
  return allreduce(d, in, out, n, MPI_FLOAT, "all-reduce (float)");
}

sc_status sc_dist_allreduce_f64(sc_dist *d, const double *in, double *out, int64_t n) {
  return allreduce(d, in, out, n, MPI_DOUBLE, "all-reduce (double)");
}

sc_status sc_dist_allgather_f32(sc_dist *d, const float *in, float *out, int64_t n) {
  SC_TRY(check_count(n * d->size, "all-gather"));
  if (!out && n) return sc_error(SC_EINVAL, "dist: all-gather into a null buffer");
  MPI_Request r;
  int rc = in ? MPI_Iallgather(in, (int)n, MPI_FLOAT, out, (int)n, MPI_FLOAT, d->comm, &r)
              : MPI_Iallgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, (int)n, MPI_FLOAT, d->comm, &r);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "all-gather");
  return wait_for(d, &r, "all-gather");
}

sc_status sc_dist_reduce_scatter_f32(sc_dist *d, const float *in, float *out, int64_t n) {
  SC_TRY(check_count(n * d->size, "reduce-scatter"));
  if ((!in || !out) && n) return sc_error(SC_EINVAL, "dist: reduce-scatter with a null buffer");
  MPI_Request r;
  int rc = MPI_Ireduce_scatter_block(in, out, (int)n, MPI_FLOAT, MPI_SUM, d->comm, &r);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "reduce-scatter");
  return wait_for(d, &r, "reduce-scatter");
}

sc_status sc_dist_broadcast_f32(sc_dist *d, float *buf, int64_t n, int root) {
  SC_TRY(check_count(n, "broadcast"));
  if (root < 0 || root >= d->size) return sc_error(SC_EINVAL, "dist: broadcast from rank %d of %d", root, d->size);
  MPI_Request r;
  int rc = MPI_Ibcast(buf, (int)n, MPI_FLOAT, root, d->comm, &r);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "broadcast");
  return wait_for(d, &r, "broadcast");
}
