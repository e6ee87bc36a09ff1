/* ntxent.c: the NT-Xent softmax-similarity (sc_ntxent): SimCLR's contrastive loss and its gradient over a batch of
 * 2N embeddings, as two GEMMs around row-wise passes of the kernel table's xent kernels.
 *
 *   Zs  = rows of z divided by max(||z_i||, eps), times 1/sqrt(tau)   (2N x d, scratch)
 *   S   = Zs Zs^T = Zn Zn^T / tau, diagonal set to -inf               (2N x 2N)
 *   loss_i = log sum_j exp(S_ij) - S_i,pos(i)
 *   H_ij = (P_ij + P_ji) / 2N - 2/2N [j = pos(i)], P = softmax of S's rows
 *   dZn = H Zs / sqrt(tau)                                            (written straight into dz)
 *   dz_i = (dZn_i - Zn_i (Zn_i . dZn_i)) / ||z_i||                   (in place)
 * Folding 1/sqrt(tau) into both operands (rather than alpha = 1/tau, which the GEMM applies to one side only)
 * makes S_ij and S_ji the same products summed in the same order: S is symmetric to the last bit, and so is H.
 * With G = dloss/dS = (softmax - onehot(pos)) / 2N, dloss/dZn = (G + G^T) Zn / tau = H Zn / tau. S and H live in
 * one 2N x 2N buffer (rows padded so that they are never a multiple of 4 KB apart). Two paths (xent.h explains
 * their kernels):
 *  - the usual temperatures (1/tau <= 32): S's upper triangle only, in blocks of B x B (B depends on 2N alone),
 *    each block (the diagonal ones whole) a task of its own: its GEMM on one thread, then row_expsum, while the
 *    block is in that core's cache, stores u = e^(S - 1/tau) in place (no maximum pass: every S is at most 1/tau)
 *    and sums each row and, right of the diagonal block, each column: u is symmetric, so a column sum of block
 *    row I is part of a row sum of a later one. (Each block row's GEMM on all threads before the exponentials,
 *    which then read blocks another core had written: on two threads 2N = 4096, d = 128 took 17.1-18.6 ms
 *    forward and 41.1-44.6 with the backward, and 34.2-36.9 and 64.8-67.3 in the spells when this machine's
 *    memory traffic was slow; per block, 15.4-15.9 and 39.6-42.7, and 25.6-30.2 and 55.4-57.3; alternated
 *    processes, medians of 3; one thread level.) With
 *    w_i = 1 / sum_j u_ij, P_ij = u_ij w_i and P_ji = u_ij w_j, so row_symgrad forms each upper block of H in
 *    place with no exponential, and the block is then copied transposed to the lower triangle (16 rows at a time
 *    through the table's transposing packer), for the second GEMM to read H where it lies (alpha 1: H carries
 *    1/sqrt(tau)). Against computing all of S: half the first GEMM's flops and half the exponentials. 2N = 4096,
 *    d = 128, one thread, medians of 11 alternated with the whole-matrix form: 57.9 -> 50.8, 60.1 -> 50.7,
 *    57.6 -> 50.8 ms (per call: first GEMM 23 -> 13 ms, the exponentials 5.5 -> 3.7, H 2.9 -> 5.7 with the copy).
 *  - small tau: the whole S, row_lse (maximum, exponentials, sum and log per row) and row_grad (H with two
 *    exponentials per element, from the log-sum-exps of row i and of row j, which is column j's).
 * Partial sums are kept per block and added in a fixed order, and the loss is summed in row order, so no bit
 * depends on the thread count. Measured and dropped: the second GEMM reading H from the triangle through a packer
 * (the part of each row left of its block row being a column of the blocks above) instead of the copy: 28.5 ms
 * against 23.4 for the GEMM reading rows in place, more than the copy costs.
 *
 * It must not contain instruction-set code (the row kernels live in arch/), and must not allocate per call once
 * its scratch has grown to the largest batch seen (grow-only, one buffer per calling thread).
 */
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/mem.h"
#include "../core/parallel.h"
#include "../dispatch/dispatch.h"
#include "gemm.h"
#include "simclr_ops.h"

/* as torch.nn.functional.normalize: rows shorter than this are divided by eps instead of their norm */
#define NTXENT_NORM_EPS 1e-12
/* the fixed-shift path is taken for 1/tau up to this: every u = e^(S - 1/tau) >= e^(-2/tau) >= e^-64 is then a
 * normal float and every 1 / sum <= e^64 is finite, so nothing underflows or overflows */
#define NTXENT_FIXED_SHIFT_MAX_INV_TAU 32.0

/* the triangle's blocks are B x B, B about 2N / 16 rounded up to a multiple of 16, between these */
#define NTXENT_BLOCK_MIN 64
#define NTXENT_BLOCK_MAX 256
/* rows of a block transposed at once when H's upper triangle is copied to the lower */
#define NTXENT_MIRROR_ROWS 16

/* Grow-only scratch, one per calling thread so that concurrent callers do not share it. Freed at exit only. */
static _Thread_local void *scratch;
static _Thread_local size_t scratch_bytes;

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

static void *scratch_get(size_t bytes) {
  if (bytes <= scratch_bytes) return scratch;
  void *p = sc_alloc_lines(bytes);
  if (!p) return NULL;
  free(scratch);
  scratch = p;
  scratch_bytes = bytes;
  return p;
}

/* Lays parts out one after the other, each on a cache line: first with base NULL to size the scratch, then for
 * real. */
typedef struct carver {
  char *base;
  size_t used;
} carver;

static void *carve(carver *c, size_t bytes) {
  void *p = c->base ? c->base + c->used : NULL;
  c->used += (bytes + 63) / 64 * 64;
  return p;
}

/* What sc_ntxent hands to its parallel loops (run by sc_parallel: on a team, or once on the calling thread, where
 * the orphaned `omp for` runs every iteration). */
typedef struct nt_job {
  const sc_kernels *kern;
  const sc_xent_config *xk;
  size_t n, half, dd;
  const float *z;
  float *zs, *inv_norm, *dz;
  float *s; /* S, then H: n rows of stride ld */
  size_t ld;
  float *rowv; /* w_i = 1 / sum_j u_ij (triangle), or lse_i (whole matrix) */
  double *row_loss;
  float rsqrt_tau, shift, tau, scale;
  /* the triangle: blocks of bs x bs, nb of them a side */
  size_t bs, nb;
  double *rowpart; /* [i * nb + J]: row i's sum of u over column block J (J >= i's block) */
  double *colpart; /* [I * n + j]: column j's sum of u over block row I (j right of its diagonal block) */
  float *spos;     /* S_i,i+N for i < N */
  atomic_int *status; /* the first failure of a block's GEMM (SC_OK: none) */
} nt_job;

static size_t pos_of(const nt_job *jb, size_t i) { return i < jb->half ? i + jb->half : i - jb->half; }

static void normalise_part(void *arg) {
  const nt_job *jb = arg;
  const size_t n = jb->n, dd = jb->dd;
  const float *z = jb->z, rsqrt_tau = jb->rsqrt_tau;
  float *zs = jb->zs, *inv_norm = jb->inv_norm;
#pragma omp for schedule(static)
  for (size_t i = 0; i < n; i++) {
    const float *zi = z + i * dd;
    double ss = 0.0;
    for (size_t c = 0; c < dd; c++) ss += (double)zi[c] * zi[c];
    double r = sqrt(ss);
    double inv = 1.0 / (r > NTXENT_NORM_EPS ? r : NTXENT_NORM_EPS);
    /* the sign remembers which branch of the normalisation's derivative applies */
    inv_norm[i] = (float)(r > NTXENT_NORM_EPS ? inv : -inv);
    const float f = (float)(inv * rsqrt_tau);
    for (size_t c = 0; c < dd; c++) zs[i * dd + c] = zi[c] * f;
  }
}

static void project_part(void *arg) {
  const nt_job *jb = arg;
  const size_t n = jb->n, dd = jb->dd;
  float *dz = jb->dz, *zs = jb->zs, *inv_norm = jb->inv_norm;
  const float tau = jb->tau;
#pragma omp for schedule(static)
  for (size_t i = 0; i < n; i++) {
    float *gi = dz + i * dd;
    const float *yi = zs + i * dd; /* Zn_i / sqrt(tau) */
    const float inv = fabsf(inv_norm[i]);
    if (inv_norm[i] < 0.0f) { /* below eps the row was scaled by a constant: no projection */
      for (size_t c = 0; c < dd; c++) gi[c] *= inv;
      continue;
    }
    double dot = 0.0;
    for (size_t c = 0; c < dd; c++) dot += (double)yi[c] * gi[c];
    const float fd = (float)(dot * (double)tau); /* Zn_i (Zn_i . g) = tau Zs_i (Zs_i . g) */
    for (size_t c = 0; c < dd; c++) gi[c] = (gi[c] - yi[c] * fd) * inv;
  }
}

/* Runs body(jb, i) for i < count: chunks handed out on demand keep a pass balanced when a core is shared. Without
 * a team the loop is plain: an orphaned dynamic `omp for` would make libgomp allocate a work-share descriptor. */
typedef void (*nt_item_fn)(const nt_job *jb, size_t i);

static void dynamic_loop(const nt_job *jb, size_t count, size_t chunk, nt_item_fn body) {
  if (!omp_in_parallel()) {
    for (size_t i = 0; i < count; i++) body(jb, i);
    return;
  }
#pragma omp for schedule(dynamic, chunk)
  for (size_t i = 0; i < count; i++) body(jb, i);
}

/* ---- the triangle (1/tau <= 32) ---------------------------------------------------------------------------- */

/* Block t of the upper triangle, counted along its block rows: (0, 0), (0, 1), ..., (1, 1), ... */
static void tri_block_of(const nt_job *jb, size_t t, size_t *I, size_t *J) {
  size_t i = 0;
  while (t >= jb->nb - i) t -= jb->nb - i, i++;
  *I = i, *J = i + t;
}

/* Block (I, J), J >= I, of S by a GEMM of its own on this thread, then, while it is in this core's cache: the
 * diagonal masked, S_i,i+N kept for the loss, and u = e^(S - 1/tau) in place with each row's sum and (right of
 * the diagonal block) the column sums. */
static void tri_exp_block(const nt_job *jb, size_t t) {
  size_t I, J;
  tri_block_of(jb, t, &I, &J);
  const size_t bs = jb->bs, n = jb->n, half = jb->half, ld = jb->ld, dd = jb->dd;
  const size_t i0 = I * bs, i1 = min_sz(i0 + bs, n), j0 = J * bs, j1 = min_sz(j0 + bs, n);
  const sc_gemm_src arows = sc_gemm_src_matrix(jb->zs + i0 * dd, dd, 1);
  const sc_gemm_src brows = sc_gemm_src_matrix(jb->zs + j0 * dd, dd, 1);
  const sc_status st = sc_gemm_run(jb->kern, i1 - i0, j1 - j0, dd, &arows, &brows, 1.0f, 0.0f, jb->s + i0 * ld + j0,
                                   ld);
  if (st != SC_OK) {
    int ok = SC_OK;
    atomic_compare_exchange_strong(jb->status, &ok, (int)st);
    return;
  }
  double *col = J == I ? NULL : jb->colpart + I * n + j0;
  if (col) memset(col, 0, (j1 - j0) * sizeof *col);
  for (size_t i = i0; i < i1; i++) {
    float *row = jb->s + i * ld + j0;
    if (J == I) row[i - j0] = -INFINITY; /* a row is not its own negative */
    if (i < half && i + half >= j0 && i + half < j1) jb->spos[i] = row[i + half - j0];
    jb->rowpart[i * jb->nb + J] = jb->xk->row_expsum(j1 - j0, row, jb->shift, row, col);
  }
}

/* Round robin rather than on demand: each thread then has the same blocks at every call, and so the GEMM buffers
 * it grew at the first (a training step allocates nothing). */
static void tri_exp_part(void *arg) {
  const nt_job *jb = arg;
  const size_t count = jb->nb * (jb->nb + 1) / 2;
#pragma omp for schedule(static, 1)
  for (size_t t = 0; t < count; t++) tri_exp_block(jb, t);
}

/* Row i's sum of u: the column sums of the block rows above (its blocks left of the diagonal), then its own. */
static void tri_sums_part(void *arg) {
  const nt_job *jb = arg;
  const size_t n = jb->n, nb = jb->nb, half = jb->half;
#pragma omp for schedule(static)
  for (size_t i = 0; i < n; i++) {
    const size_t R = i / jb->bs;
    double sum = 0.0;
    for (size_t K = 0; K < R; K++) sum += jb->colpart[K * n + i];
    for (size_t J = R; J < nb; J++) sum += jb->rowpart[i * nb + J];
    jb->rowv[i] = (float)(1.0 / sum);
    jb->row_loss[i] = (double)jb->shift + log(sum) - (double)jb->spos[i < half ? i : i - half];
  }
}

/* Block (I, J), J >= I, of H in place, scale * u (w_i + w_j) less 2 scale at positive pairs, then copied
 * transposed to block (J, I): a few rows at a time through the table's transposing packer. */
static void tri_grad_block(const nt_job *jb, size_t t) {
  const size_t n = jb->n, bs = jb->bs, ld = jb->ld;
  size_t I, J;
  tri_block_of(jb, t, &I, &J);
  const size_t i0 = I * bs, i1 = min_sz(i0 + bs, n), j0 = J * bs, j1 = min_sz(j0 + bs, n);
  for (size_t i = i0; i < i1; i++) {
    float *row = jb->s + i * ld + j0;
    const size_t p = pos_of(jb, i);
    jb->xk->row_symgrad(j1 - j0, row, jb->rowv[i], jb->rowv + j0, jb->scale, row);
    if (p >= j0 && p < j1) row[p - j0] -= 2.0f * jb->scale;
  }
  if (J == I) return;
  _Alignas(64) float stage[NTXENT_MIRROR_ROWS * NTXENT_BLOCK_MAX];
  for (size_t ia = i0; ia < i1; ia += NTXENT_MIRROR_ROWS) {
    const size_t rn = min_sz(NTXENT_MIRROR_ROWS, i1 - ia);
    sc_gemm_pack_rows_t(NTXENT_MIRROR_ROWS, rn, j1 - j0, jb->s + ia * ld + j0, ld, 1.0f, stage);
    float *dst = jb->s + j0 * ld + ia;
    if (rn == NTXENT_MIRROR_ROWS) /* a constant size: the copies are inlined */
      for (size_t j = 0; j < j1 - j0; j++)
        memcpy(dst + j * ld, stage + j * NTXENT_MIRROR_ROWS, NTXENT_MIRROR_ROWS * sizeof(float));
    else
      for (size_t j = 0; j < j1 - j0; j++) memcpy(dst + j * ld, stage + j * NTXENT_MIRROR_ROWS, rn * sizeof(float));
  }
}

static void tri_grad_part(void *arg) {
  const nt_job *jb = arg;
  dynamic_loop(jb, jb->nb * (jb->nb + 1) / 2, 1, tri_grad_block);
}

/* ---- the whole matrix (1/tau > 32) ------------------------------------------------------------------------- */

static void full_lse_row(const nt_job *jb, size_t i) {
  float *si = jb->s + i * jb->ld;
  const double s_pos = si[pos_of(jb, i)];
  si[i] = -INFINITY; /* a row is not its own negative */
  const double l = jb->xk->row_lse(jb->n, si);
  jb->rowv[i] = (float)l;
  jb->row_loss[i] = l - s_pos;
}

static void full_lse_part(void *arg) {
  const nt_job *jb = arg;
  dynamic_loop(jb, jb->n, 16, full_lse_row);
}

static void full_grad_row(const nt_job *jb, size_t i) {
  float *si = jb->s + i * jb->ld;
  jb->xk->row_grad(jb->n, si, jb->rowv[i], jb->rowv, jb->scale, si);
  si[pos_of(jb, i)] -= 2.0f * jb->scale;
}

static void full_grad_part(void *arg) {
  const nt_job *jb = arg;
  dynamic_loop(jb, jb->n, 16, full_grad_row);
}

/* ---- the operator ------------------------------------------------------------------------------------------ */

/* Lays the scratch out (c->base NULL: only sizes it). */
static void lay_out(carver *c, nt_job *jb, int triangle) {
  const size_t n = jb->n;
  jb->s = carve(c, n * jb->ld * sizeof(float));
  jb->zs = carve(c, n * jb->dd * sizeof(float));
  jb->inv_norm = carve(c, n * sizeof(float));
  jb->rowv = carve(c, n * sizeof(float));
  jb->row_loss = carve(c, n * sizeof(double));
  if (triangle) {
    jb->rowpart = carve(c, n * jb->nb * sizeof(double));
    jb->colpart = carve(c, jb->nb * n * sizeof(double));
    jb->spos = carve(c, jb->half * sizeof(float));
  }
}

sc_status sc_ntxent(int64_t two_n, int64_t d, float tau, const float *z, float *loss, float *dz) {
  const sc_kernels *kern = sc_kernels_active();
  if (!kern) return sc_init();
  if (two_n < 2 || two_n % 2 != 0)
    return sc_error(SC_EINVAL, "ntxent: 2N=%lld must be even and at least 2 (two views per sample)",
                    (long long)two_n);
  if (d < 1) return sc_error(SC_EINVAL, "ntxent: embedding size d=%lld must be at least 1", (long long)d);
  if (!(tau > 0.0f) || !isfinite(tau) || !isfinite(1.0f / tau))
    return sc_error(SC_EINVAL, "ntxent: temperature tau=%g must be positive, finite and have a finite inverse",
                    (double)tau);
  if (!z || !loss) return sc_error(SC_EINVAL, "ntxent: null %s pointer", z ? "loss" : "z");
  /* the similarity matrix alone is (2N)^2 floats: refuse sizes whose byte counts overflow */
  const int64_t limit = INT64_MAX / 32;
  if (two_n > limit / two_n - 32 || d > limit / two_n || two_n * (two_n + 32) > limit - two_n * d)
    return sc_error(SC_EINVAL, "ntxent: 2N=%lld, d=%lld: scratch size overflows", (long long)two_n, (long long)d);

  const size_t n = (size_t)two_n, dd = (size_t)d;
  const int triangle = 1.0 / (double)tau <= NTXENT_FIXED_SHIFT_MAX_INV_TAU;
  size_t bs = ((n + 15) / 16 + 15) / 16 * 16;
  bs = bs < NTXENT_BLOCK_MIN ? NTXENT_BLOCK_MIN : bs > NTXENT_BLOCK_MAX ? NTXENT_BLOCK_MAX : bs;
  atomic_int status;
  atomic_init(&status, SC_OK);
  nt_job job = {.kern = kern, .xk = kern->xent, .status = &status, .n = n, .half = n / 2, .dd = dd, .z = z,
                .dz = dz, .tau = tau,
                .ld = (n + 15) / 16 * 16 + 16, /* rows 64-byte aligned and never a multiple of 4 KB apart */
                .rsqrt_tau = (float)(1.0 / sqrt((double)tau)),
                .shift = (float)(1.0 / (double)tau), /* an upper bound of every S entry, up to rounding */
                .bs = bs, .nb = (n + bs - 1) / bs};
  carver c = {0};
  lay_out(&c, &job, triangle);
  if (!(c.base = scratch_get(c.used)))
    return sc_error(SC_ENOMEM, "ntxent: cannot allocate %zu bytes of scratch for 2N=%zu, d=%zu", c.used, n, dd);
  c.used = 0;
  lay_out(&c, &job, triangle);
  const int nt = sc_num_threads();
  sc_parallel(nt, normalise_part, &job);

  if (triangle) {
    sc_parallel(nt, tri_exp_part, &job);
    const int st = atomic_load(&status);
    if (st != SC_OK) /* a team member's message is its own: say it here */
      return sc_error((sc_status)st, "ntxent: the GEMM of a block of S failed (status %d; out of memory?)", st);
    sc_parallel(nt, tri_sums_part, &job);
  } else {
    const sc_gemm_src zrows = sc_gemm_src_matrix(job.zs, dd, 1);
    SC_TRY(sc_gemm_run(kern, n, n, dd, &zrows, &zrows, 1.0f, 0.0f, job.s, job.ld));
    sc_parallel(nt, full_lse_part, &job);
  }
  /* summed in a fixed order so that the loss does not depend on the thread count */
  double total = 0.0;
  for (size_t i = 0; i < n; i++) total += job.row_loss[i];
  const float result = (float)(total / (double)n);
  if (!dz) {
    *loss = result;
    return SC_OK;
  }

  /* H carries the second GEMM's 1/sqrt(tau), so that the GEMM (alpha 1) can read H where it lies */
  job.scale = (float)(1.0 / ((double)n * sqrt((double)tau)));
  sc_parallel(nt, triangle ? tri_grad_part : full_grad_part, &job);
  /* dZn = H Zs / sqrt(tau): A = H (rows of depth 2N), B seen as d x 2N, i.e. Zs read column-wise */
  const sc_gemm_src hrows = sc_gemm_src_matrix(job.s, job.ld, 1), zcols = sc_gemm_src_matrix(job.zs, dd, 0);
  SC_TRY(sc_gemm_run(kern, n, dd, n, &hrows, &zcols, 1.0f, 0.0f, dz, dd));

  sc_parallel(nt, project_part, &job);
  *loss = result;
  return SC_OK;
}
