/* ntxent.c: the NT-Xent softmax-similarity (sc_ntxent): SimCLR's contrastive loss and its gradient over a batch of
 * 2N embeddings, as two GEMMs around two row-wise passes of the kernel table's xent kernels.
 *
 *   Zs  = rows of z divided by max(||z_i||, eps), times 1/sqrt(tau)   (2N x d, scratch)
 *   S   = Zs Zs^T = Zn Zn^T / tau, diagonal set to -inf               (2N x 2N, scratch, the only big buffer)
 *   pass 1, per row: lse_i = log sum_j exp(S_ij); loss_i = lse_i - S_i,pos(i)
 *   pass 2, per row, in place: H_ij = (P_ij + P_ji) / 2N - 2/2N [j = pos(i)], P = softmax of S's rows
 *   dZn = H Zs / sqrt(tau)                                            (written straight into dz)
 *   dz_i = (dZn_i - Zn_i (Zn_i . dZn_i)) / ||z_i||                   (in place)
 * Folding 1/sqrt(tau) into both operands (rather than alpha = 1/tau, which the GEMM applies to one side only)
 * makes S_ij and S_ji the same products summed in the same order: S is symmetric to the last bit.
 * With G = dloss/dS = (softmax - onehot(pos)) / 2N, dloss/dZn = (G + G^T) Zn / tau; since S is symmetric,
 * G^T's row i is available from row i of S and one vector, so H = G + G^T is formed row by row in place without
 * a transpose pass over the 2N x 2N matrix. Only the similarity matrix is ever stored at O((2N)^2). For the usual
 * temperatures (1/tau <= 32) pass 1 stores u = e^(S - 1/tau) in place and pass 2 needs no exponential at all:
 * P_ij = u_ij w_i and P_ji = u_ij w_j with w = 1 / row sums of u (xent.h explains the two paths): one
 * exponential per element instead of three, and no maximum pass. The log of each row's sum (one per row) is
 * taken in double here. Two more uses of symmetry were tried and measured, and dropped: multiplying only the
 * block rows on and above the diagonal of S and copying the rest across (bit-identical, half the flops of the
 * first GEMM, but 5% slower at 2N = 4096, d = 128: the per-block GEMM calls and the copy cost more than they
 * save), and forming H inside the second GEMM's A packer so that H is never written back (no faster).
 *
 * It must not contain instruction-set code (the row kernels live in arch/), and must not allocate per call once
 * its scratch has grown to the largest batch seen (grow-only, one buffer per calling thread).
 */
#include <math.h>
#include <omp.h>
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

/* Grow-only scratch, one per calling thread so that concurrent callers do not share it. Freed at exit only. */
static _Thread_local void *scratch;
static _Thread_local size_t scratch_bytes;

/* the scratch is carved into parts that each start on a cache line */
static size_t round64(size_t bytes) { return (bytes + 63) / 64 * 64; }

static void *scratch_get(size_t bytes) {
  if (bytes <= scratch_bytes) return scratch;
  void *p = sc_alloc_lines(bytes);
  if (!p) return NULL;
  free(scratch);
  scratch = p;
  scratch_bytes = bytes;
  return p;
}

/* What sc_ntxent hands to its parallel row loops (run by sc_parallel: on a team, or once on the calling thread,
 * where the orphaned `omp for` runs every row). */
typedef struct nt_job {
  const sc_xent_config *xk;
  size_t n, half, dd;
  const float *z;
  float *s, *zs, *inv_norm, *rowv, *dz;
  double *row_loss;
  float rsqrt_tau, shift, tau, scale;
  int fixed_shift;
} nt_job;

#define NT_JOB_LOCALS                                                                                            \
  const nt_job *jb = arg;                                                                                        \
  const sc_xent_config *xk = jb->xk;                                                                             \
  const size_t n = jb->n, half = jb->half, dd = jb->dd;                                                          \
  (void)xk, (void)half, (void)dd

static void normalise_part(void *arg) {
  NT_JOB_LOCALS;
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

static void row_softmax(const nt_job *jb, size_t i) {
  const size_t n = jb->n, half = jb->half;
  float *si = jb->s + i * n;
  const double s_pos = si[i < half ? i + half : i - half];
  si[i] = -INFINITY; /* a row is not its own negative */
  if (jb->fixed_shift) {
    const double sum = jb->xk->row_expsum(n, si, jb->shift, si);
    jb->rowv[i] = (float)(1.0 / sum);
    jb->row_loss[i] = (double)jb->shift + log(sum) - s_pos;
  } else {
    const double l = jb->xk->row_lse(n, si);
    jb->rowv[i] = (float)l;
    jb->row_loss[i] = l - s_pos;
  }
}

static void row_grad(const nt_job *jb, size_t i) {
  const size_t n = jb->n, half = jb->half;
  float *si = jb->s + i * n;
  if (jb->fixed_shift)
    jb->xk->row_symgrad(n, si, jb->rowv[i], jb->rowv, jb->scale, si);
  else
    jb->xk->row_grad(n, si, jb->rowv[i], jb->rowv, jb->scale, si);
  si[i < half ? i + half : i - half] -= 2.0f * jb->scale;
}

/* Rows cost the same, but chunks handed out on demand keep both passes balanced when a core is shared. Without a
 * team the loop is plain: an orphaned dynamic `omp for` would make libgomp allocate a work-share descriptor. */
static void rows_part(void *arg) {
  const nt_job *jb = arg;
  if (!omp_in_parallel()) {
    for (size_t i = 0; i < jb->n; i++) row_softmax(jb, i);
    return;
  }
#pragma omp for schedule(dynamic, 16)
  for (size_t i = 0; i < jb->n; i++) row_softmax(jb, i);
}

static void grad_rows_part(void *arg) {
  const nt_job *jb = arg;
  if (!omp_in_parallel()) {
    for (size_t i = 0; i < jb->n; i++) row_grad(jb, i);
    return;
  }
#pragma omp for schedule(dynamic, 16)
  for (size_t i = 0; i < jb->n; i++) row_grad(jb, i);
}

static void project_part(void *arg) {
  NT_JOB_LOCALS;
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
  const int64_t limit = INT64_MAX / 16;
  if (two_n > limit / two_n || d > limit / two_n || two_n * two_n > limit - two_n * d)
    return sc_error(SC_EINVAL, "ntxent: 2N=%lld, d=%lld: scratch size overflows", (long long)two_n, (long long)d);

  const size_t n = (size_t)two_n, half = n / 2, dd = (size_t)d;
  const size_t s_bytes = round64(n * n * sizeof(float)), zn_bytes = round64(n * dd * sizeof(float));
  const size_t v_bytes = round64(n * sizeof(float)), rl_bytes = round64(n * sizeof(double));
  char *base = scratch_get(s_bytes + zn_bytes + 2 * v_bytes + rl_bytes);
  if (!base)
    return sc_error(SC_ENOMEM, "ntxent: cannot allocate %zu bytes of scratch for 2N=%zu, d=%zu",
                    s_bytes + zn_bytes + 2 * v_bytes + rl_bytes, n, dd);
  float *s = (float *)base;                                 /* S, then H */
  float *zs = (float *)(base + s_bytes);                    /* normalised rows / sqrt(tau) */
  float *inv_norm = (float *)(base + s_bytes + zn_bytes);   /* 1 / max(||z_i||, eps) */
  float *rowv = (float *)(base + s_bytes + zn_bytes + v_bytes); /* lse_i, or w_i = 1 / sum_j u_ij */
  double *row_loss = (double *)(base + s_bytes + zn_bytes + 2 * v_bytes);
  const sc_xent_config *xk = kern->xent;
  const int nt = sc_num_threads();
  const float rsqrt_tau = (float)(1.0 / sqrt((double)tau));
  const int fixed_shift = 1.0 / (double)tau <= NTXENT_FIXED_SHIFT_MAX_INV_TAU;
  const float shift = (float)(1.0 / (double)tau); /* an upper bound of every S entry, up to rounding */

  nt_job job = {.xk = xk, .n = n, .half = half, .dd = dd, .z = z, .s = s, .zs = zs, .inv_norm = inv_norm,
                .rowv = rowv, .row_loss = row_loss, .rsqrt_tau = rsqrt_tau, .shift = shift, .tau = tau,
                .fixed_shift = fixed_shift, .dz = dz};
  sc_parallel(nt, normalise_part, &job);

  const sc_gemm_src zrows = sc_gemm_src_matrix(zs, dd, 1);
  SC_TRY(sc_gemm_run(kern, n, n, dd, &zrows, &zrows, 1.0f, 0.0f, s, n));

  sc_parallel(nt, rows_part, &job);
  /* summed in a fixed order so that the loss does not depend on the thread count */
  double total = 0.0;
  for (size_t i = 0; i < n; i++) total += row_loss[i];
  const float result = (float)(total / (double)n);
  if (!dz) {
    *loss = result;
    return SC_OK;
  }

  const float scale = (float)(1.0 / (double)n);
  job.scale = scale;
  sc_parallel(nt, grad_rows_part, &job);

  /* dZn = H Zs / sqrt(tau): A = H (rows of depth 2N), B seen as d x 2N, i.e. Zs read column-wise */
  const sc_gemm_src hrows = sc_gemm_src_matrix(s, n, 1), zcols = sc_gemm_src_matrix(zs, dd, 0);
  SC_TRY(sc_gemm_run(kern, n, dd, n, &hrows, &zcols, rsqrt_tau, 0.0f, dz, dd));

  sc_parallel(nt, project_part, &job);
  *loss = result;
  return SC_OK;
}
