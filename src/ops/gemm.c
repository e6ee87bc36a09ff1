/* gemm.c: the SGEMM driver: BLIS's loops (NC, KC, MC around the MR x NR microkernel of a kernel table) with packed
 * A and B panels, OpenMP threads over the M and N loops, and the validation of sc_sgemm's arguments. It must not
 * contain instruction-set code (microkernels and the fast transposing packer live in arch/), must not print, and
 * must not allocate once its buffers have grown to a problem's size: packing buffers are kept between calls.
 *
 * Two schedules share the per-thread code:
 *  - B resident: when all of op(B) packed fits the budget (a quarter of L3), it is packed once, by all threads
 *    together; then each thread walks its own row blocks (MC) and, inside, the depth blocks (KC), so a C block is
 *    finished while it is in cache and A is packed exactly once. This covers the convolution shapes with small
 *    N*K (forward, backward-data) and square sizes up to a few thousand. When a thread has few columns, packing
 *    A would cost as much as the FMAs it feeds, and A then comes straight from DRAM: a matrix A (with alpha 1) is
 *    read in place by the table's ukr_rowa, its next panel prefetched (a gathered A whose source writes out whole
 *    rows likewise, from a micro-panel of them); otherwise A is packed one micro-panel at a time just before use,
 *    the next one prefetched, so that its reads overlap the FMAs (ResNet stage 1: N = 64).
 *  - streaming: otherwise (huge K, as in backward-weights), and on one thread (on more, where A is packed by the
 *    microkernels) wherever a matrix B exceeds L2 under a wide C (choose_blocks), the classic order NC -> KC -> MC.
 *    If several threads share a block of B they pack it together into one of two buffers (one barrier per block);
 *    if each thread has its own columns, it walks them in blocks of its own, packing each B panel just before its
 *    first use (again prefetching the next) into a region of the buffer that is its alone, and never waits for
 *    another thread. One thread over several blocks of columns packs A once and keeps it, where it fits B's
 *    budget. Where the table can, a matrix A is packed by the microkernels of each block's first column panel as
 *    they read it in place (ukr_rowa_pack).
 * Threads form a tm x tn grid over C (chosen by a small cost model: padded tile area plus packing that cannot
 * overlap or is repeated), so both cores have work whether M or N is small. The table may name other tiles, chosen
 * per call: one for A stored transposed (arch/gemm.h, strided_a) and one for C of few columns (narrow_n).
 * An optional epilogue (sc_gemm_run_ep: residual, bias, ReLU) runs on each block of C right after its last depth
 * block, while the block is still in cache, in one pass (the table's add_bias_relu). Where A is read in place,
 * the microkernel finishes each tile in its registers on the last depth block (arch/gemm.h, sc_f32_gemm_tile_ep):
 * ResNet-50 at batch 16, two threads, 56x56x64-256 with bias and ReLU: 5.13 -> 4.93 ms with a pass over each
 * micro-panel's rows (in L1) instead of the row block's, and later 4.55 -> 4.28 with the tiles finished in the
 * registers (the bare GEMM 4.20 in that run; medians of 6 alternated runs). Applied to each tile as a pass right
 * after its microkernel call, it measured no faster than the block's pass (a 1x1 layer of depth 64 is bound by
 * writing C to DRAM, and the tile's pass then sits between the FMAs); to each finished column panel of a packed
 * block (MC rows of NR floats, a row of C apart), slower: 14x14x256-1024 at 316-367 GFLOP/s fell to 302-315.
 * Stored past the caches (non-temporal) once finished in the registers, the 56x56 layers' tiles were 3-6% slower:
 * the next layer reads them. C larger than L3 and written in one pass without an epilogue is stored that way
 * (choose_blocks: stream_c).
 */
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/mem.h"
#include "../dispatch/dispatch.h"
#include "gemm.h"
#include "simclr_ops.h"

/* ---- packing ----------------------------------------------------------------------------------------------- */

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }
static size_t round_up(size_t x, size_t to) { return ceil_div(x, to) * to; }
static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static void pack_t_portable(size_t w, size_t rn, size_t kc, const float *src, size_t ld, float scale, float *dst) {
  for (size_t r = 0; r < rn; r++) {
    const float *s = src + r * ld;
    for (size_t p = 0; p < kc; p++) dst[p * w + r] = s[p] * scale;
  }
  for (size_t p = 0; p < kc; p++)
    for (size_t r = rn; r < w; r++) dst[p * w + r] = 0.0f;
}

/* rows of the panel are contiguous in the source: element (r, p) at src[p*ld + r]. Full panels of the usual widths
 * copy a compile-time number of floats per depth step (a few vector moves, where a memcpy call per step of 6 or 14
 * floats cost more than the copy). */
#define SC_PACK_N_FIXED(W)                                                   \
  static void pack_n_##W(size_t kc, const float *src, size_t ld, float scale, float *dst) { \
    for (size_t p = 0; p < kc; p++)                                          \
      for (size_t r = 0; r < W; r++) dst[p * W + r] = src[p * ld + r] * scale; \
  }
SC_PACK_N_FIXED(6)
SC_PACK_N_FIXED(8)
SC_PACK_N_FIXED(12)
SC_PACK_N_FIXED(14)
SC_PACK_N_FIXED(16)
SC_PACK_N_FIXED(32)
SC_PACK_N_FIXED(64)

static void pack_n(size_t w, size_t rn, size_t kc, const float *src, size_t ld, float scale, float *dst) {
  if (rn == w) {
    switch (w) {
    case 6: pack_n_6(kc, src, ld, scale, dst); return;
    case 8: pack_n_8(kc, src, ld, scale, dst); return;
    case 12: pack_n_12(kc, src, ld, scale, dst); return;
    case 14: pack_n_14(kc, src, ld, scale, dst); return;
    case 16: pack_n_16(kc, src, ld, scale, dst); return;
    case 32: pack_n_32(kc, src, ld, scale, dst); return;
    case 64: pack_n_64(kc, src, ld, scale, dst); return;
    default: break;
    }
  }
  for (size_t p = 0; p < kc; p++) {
    const float *s = src + p * ld;
    float *d = dst + p * w;
    for (size_t r = 0; r < rn; r++) d[r] = s[r] * scale;
    for (size_t r = rn; r < w; r++) d[r] = 0.0f;
  }
}

static sc_f32_gemm_pack_t_fn pack_t_of(const sc_kernels *k) {
  return k && k->gemm->pack_t ? k->gemm->pack_t : pack_t_portable;
}

void sc_gemm_pack_rows_t(size_t w, size_t rn, size_t kc, const float *src, size_t ld, float scale, float *dst) {
  pack_t_of(sc_kernels_active())(w, rn, kc, src, ld, scale, dst);
}

static void pack_matrix_with(sc_f32_gemm_pack_t_fn pack_t, const sc_gemm_src *s, size_t r0, size_t rc, size_t p0,
                             size_t kc, size_t w, float scale, float *dst) {
  for (size_t rb = 0; rb < rc; rb += w) {
    size_t rn = rc - rb < w ? rc - rb : w;
    if (s->depth_contiguous)
      pack_t(w, rn, kc, s->data + (r0 + rb) * s->ld + p0, s->ld, scale, dst + rb * kc);
    else
      pack_n(w, rn, kc, s->data + p0 * s->ld + r0 + rb, s->ld, scale, dst + rb * kc);
  }
}

static void pack_matrix(const sc_gemm_src *s, size_t r0, size_t rc, size_t p0, size_t kc, size_t w, float scale,
                        float *dst) {
  pack_matrix_with(pack_t_of(sc_kernels_active()), s, r0, rc, p0, kc, w, scale, dst);
}

/* sc_gemm_rows_fn of a matrix source whose rows run along the depth */
static void matrix_rows(const sc_gemm_src *s, size_t r0, size_t rc, size_t k, float *dst, size_t ld) {
  for (size_t r = 0; r < rc; r++) memcpy(dst + r * ld, s->data + (r0 + r) * s->ld, k * sizeof(float));
}

sc_gemm_src sc_gemm_src_matrix(const float *data, size_t ld, int depth_contiguous) {
  sc_gemm_src s = {.pack = pack_matrix, .data = data, .ld = ld, .depth_contiguous = depth_contiguous,
                   .rows = depth_contiguous ? matrix_rows : NULL};
  return s;
}

/* the driver packs matrix sources with the packer of the table it runs, others through their callback */
static void pack_src(const sc_kernels *kern, const sc_gemm_src *s, size_t r0, size_t rc, size_t p0, size_t kc,
                     size_t w, float scale, float *dst) {
  if (s->pack == pack_matrix)
    pack_matrix_with(pack_t_of(kern), s, r0, rc, p0, kc, w, scale, dst);
  else
    s->pack(s, r0, rc, p0, kc, w, scale, dst);
}

/* A prefetch of the source of the panel rows [r0, r0+rn) x depth [p0, p0+kc) of a matrix source, issued a slice
 * before each microkernel call on the current panel: the (often DRAM-bound) reads of the next packing then overlap
 * the FMAs, and no burst of prefetches fills the miss buffers at once. Other sources are not prefetched. */
typedef struct prefetch_cursor {
  const float *base;
  size_t ld, lines, pos, total; /* `lines` cache lines per outer step; pos counts the lines issued */
  size_t span;                  /* floats along an outer step */
  const float *row;             /* the outer step of line `pos`, and pos's line within it (no division per line) */
  size_t line;
  int to_l2;                    /* the data is used only after much else has passed through L1 */
} prefetch_cursor;

/* The cache lines of each of the steps start + q*ld, span floats long: where every step starts at the same place in
 * a line (ld a multiple of 16), exactly those it touches; else one more than whole lines, since a step that starts
 * mid-line ends in a further one. */
static size_t lines_per_step(const float *start, size_t ld, size_t span) {
  const size_t lead = (size_t)((uintptr_t)start / sizeof(float) % 16);
  return ld % 16 == 0 ? (lead + span + 15) / 16 : (span + 15) / 16 + 1;
}

static void prefetch_init(prefetch_cursor *c, const sc_gemm_src *s, size_t r0, size_t rn, size_t p0, size_t kc,
                          int to_l2) {
  memset(c, 0, sizeof *c);
  c->to_l2 = to_l2;
  if (s->pack != pack_matrix || rn == 0 || kc == 0) return;
  size_t outer;
  c->ld = s->ld;
  if (s->depth_contiguous) /* rn rows, kc floats each */
    c->base = s->data + r0 * s->ld + p0, outer = rn, c->span = kc;
  else /* kc rows, rn floats each */
    c->base = s->data + p0 * s->ld + r0, outer = kc, c->span = rn;
  c->lines = lines_per_step(c->base, c->ld, c->span);
  c->total = outer * c->lines;
  c->row = c->base;
}

static void prefetch_step(prefetch_cursor *c, size_t n) {
  for (size_t end = min_sz(c->pos + n, c->total); c->pos < end; c->pos++) {
    const float *at = c->row + min_sz(c->line * 16, c->span - 1);
    if (c->to_l2)
      __builtin_prefetch(at, 0, 2);
    else
      __builtin_prefetch(at, 0, 3);
    if (++c->line == c->lines) c->line = 0, c->row += c->ld;
  }
}

/* ---- reusable buffers -------------------------------------------------------------------------------------- */

typedef struct gemm_ws {
  float *b[2];
  size_t b_cap; /* floats in each of b[0], b[1] */
  float **a;    /* one per thread */
  size_t a_cap; /* floats in each a[t] */
  int a_slots;
} gemm_ws;

static gemm_ws shared_ws;
static pthread_mutex_t shared_ws_lock = PTHREAD_MUTEX_INITIALIZER;

static float *alloc_floats(size_t n) { return sc_alloc_lines(n * sizeof(float)); }

static sc_status ws_grow_b(gemm_ws *ws, int nbuf, size_t floats) {
  if (ws->b_cap >= floats && ws->b[0] && (nbuf < 2 || ws->b[1])) return SC_OK;
  size_t cap = floats > ws->b_cap ? floats : ws->b_cap;
  for (int i = 0; i < 2; i++) {
    free(ws->b[i]);
    ws->b[i] = NULL;
  }
  ws->b_cap = 0;
  for (int i = 0; i < nbuf; i++)
    if (!(ws->b[i] = alloc_floats(cap))) return sc_error(SC_ENOMEM, "GEMM: cannot allocate %zu bytes for B", cap * 4);
  ws->b_cap = cap;
  return SC_OK;
}

static sc_status ws_grow_a(gemm_ws *ws, int threads, size_t floats) {
  if (threads > ws->a_slots) {
    float **a = realloc(ws->a, (size_t)threads * sizeof *a);
    if (!a) return sc_error(SC_ENOMEM, "GEMM: cannot allocate per-thread buffers");
    for (int t = ws->a_slots; t < threads; t++) a[t] = NULL;
    ws->a = a;
    ws->a_slots = threads;
  }
  if (floats > ws->a_cap) {
    for (int t = 0; t < ws->a_slots; t++) {
      free(ws->a[t]);
      ws->a[t] = NULL;
    }
    ws->a_cap = floats;
  }
  for (int t = 0; t < threads; t++)
    if (!ws->a[t] && !(ws->a[t] = alloc_floats(ws->a_cap)))
      return sc_error(SC_ENOMEM, "GEMM: cannot allocate %zu bytes for A", ws->a_cap * 4);
  return SC_OK;
}

static void ws_free(gemm_ws *ws) {
  free(ws->b[0]);
  free(ws->b[1]);
  for (int t = 0; t < ws->a_slots; t++) free(ws->a[t]);
  free(ws->a);
  memset(ws, 0, sizeof *ws);
}

/* ---- plan -------------------------------------------------------------------------------------------------- */

typedef struct gemm_plan {
  const sc_kernels *kern;
  const sc_gemm_src *a, *b;
  size_t m, n, k, mr, nr;
  size_t mc, kc, nc; /* mc: the most rows of a block (each thread balances its own); kc, nc: balanced */
  size_t kc_max;     /* the cache bound kc was balanced under */
  size_t l2;         /* L2 bytes: the CPU's, or what the table's default blocking assumes (MC x KC in half) */
  int stream_b;      /* set before choose_blocks: never keep all of B packed (a slice of a split depth) */
  size_t n_round;    /* n rounded up to nr: the row length of resident B */
  int resident;      /* 1: all of B packed once (ws->b[0]); 0: streaming NC x KC blocks */
  int b_late;        /* streaming with one thread per column of the grid: B packed panel by panel, when used */
  int keep_a;        /* streaming on one thread over several blocks of columns: all of A packed once (run_thread) */
  int stream_c;      /* C written in one pass past the caches by the table's ukr_stream (choose_blocks) */
  float alpha, beta; /* beta is 0 or 1 here; other values scale C first */
  int scale_c;       /* 1: scale C by beta_orig in each thread's region first */
  float beta_orig;
  float *c;
  size_t ldc;
  const sc_gemm_epilogue *ep; /* applied to each block of C when its last depth block is done (NULL: none) */
  gemm_ws *ws;
  atomic_size_t *next_block;  /* the shared counter of row blocks (B resident, threads over M) */
  atomic_size_t *next_bgroup; /* the shared counter of groups of B panels to pack (B resident) */
} gemm_plan;

/* a thread whose columns of C number at most this (twice this where B is small) packs A one micro-panel at a
 * time, and one whose rows number at most this reads B in place where it can (see run_thread) */
#define SC_GEMM_NARROW_N 256

/* Whether a thread with `rows` rows of C reads B in place (run_thread's streaming schedule): the table has the
 * microkernel, B is a matrix whose rows run along N, every NR-column panel is whole, and the rows are few. */
static int b_in_place(const gemm_plan *p, size_t rows) {
  return p->kern->gemm->ukr_rowb && p->b->pack == pack_matrix && !p->b->depth_contiguous && p->n % p->nr == 0 &&
         rows <= SC_GEMM_NARROW_N;
}

static size_t l3_model; /* sc_gemm_model_l3 (0: the CPU's) */

void sc_gemm_model_l3(size_t bytes) { l3_model = bytes; }

/* the rows of A a depth block is sized for: KC is as deep as lets this many fill half of L2 */
#define SC_GEMM_KC_ROWS 256

/* Block sizes from the caches: an MC x KC block of A half of L2, with KC as deep as lets SC_GEMM_KC_ROWS rows of A
 * do so, and resident or streamed B at most a quarter of L3. A kc x NR panel of B then exceeds L1 (64 KB for the
 * 14x32 tile at kc = 512) and streams from L2, which measured faster than the classic panel of 2/3 of L1 (kc 256
 * there, 128 for the 6x64 tile): fewer depth blocks mean fewer passes over C and fewer packings of A. One core,
 * 14x32, kc 256 -> 512, alternated in one process, medians of 5: 1024^3 168.6 -> 174.9 and 178.4 -> 183.2 GFLOP/s,
 * 2048^3 167.1 -> 173.5, 1024x4608x512 157.3 -> 171.9, 16384x128x1152 199.6 -> 207.6, 4096x256x2304 202.7 ->
 * 207.9; the 6x64 tile (TN), kc 128 -> 512: 512x4608x1024 152.5 -> 167.9, 128x1152x16384 163.9 -> 172.4,
 * 64x576x65536 level. Two threads: 1024x4608x512 334 -> 365, 16384x128x1152 362 -> 391, 1024^3 322 -> 330; the
 * ResNet-50 inference step 1-2% faster. (The AVX2 tile, 6x16, had kc 512 before and keeps it.) */
void sc_gemm_block_limits(const sc_kernels *kern, sc_gemm_limits *out) {
  const sc_gemm_config *g = kern->gemm;
  const sc_cpu_info *ci = sc_cpu();
  const size_t l3 = l3_model ? l3_model : ci->l3_bytes;
  const int l2_known = ci->l2_bytes >= 131072; /* else the table's defaults stand in */
  size_t kc = l2_known ? ci->l2_bytes / 2 / (SC_GEMM_KC_ROWS * sizeof(float)) / 8 * 8 : g->kc;
  kc = min_sz(max_sz(kc, 64), 1024);
  const size_t mc = l2_known ? ci->l2_bytes / 2 / (kc * sizeof(float)) : g->mc;
  const size_t b_budget = l3 >= ((size_t)4 << 20) ? l3 / 4 : (size_t)8 << 20;
  out->mc = max_sz(mc / g->mr * g->mr, g->mr);
  out->kc = kc;
  out->nc = max_sz(b_budget / 2 / (kc * sizeof(float)) / g->nr * g->nr, g->nr);
  out->b_budget = b_budget;
  out->l2 = l2_known ? ci->l2_bytes : 2 * g->mc * g->kc * sizeof(float);
  out->l3 = l3;
}

/* Whether `cols` columns of C are few enough that, with B resident, A is packed one micro-panel at a time or read in
 * place (run_thread): each panel of A would meet few panels of B */
static int narrow_cols(const gemm_plan *p, size_t cols) {
  return cols <= SC_GEMM_NARROW_N ||
         (cols <= 2 * SC_GEMM_NARROW_N && p->n_round * p->k * sizeof(float) <= 4 * p->l2);
}

/* Whether the table's kernels may read A's rows in place (ukr_rowa, ukr_rowa_pack): a matrix whose rows run along
 * the depth and do not lie a multiple of 4 KB apart (see run_thread: such rows would share one set of L1) */
static int a_in_place(const gemm_plan *p) {
  return p->a->pack == pack_matrix && p->a->depth_contiguous && p->a->ld % 1024 != 0;
}

/* Whether a block's A is packed by the microkernels of its first column panel as they read it in place
 * (ukr_rowa_pack, in the streaming schedule: run_thread's a_late): A read in place, and no alpha to apply */
static int a_packed_by_kernels(const gemm_plan *p) {
  return p->kern->gemm->ukr_rowa_pack && a_in_place(p) && p->alpha == 1.0f;
}

/* T: the threads the call runs on */
static void choose_blocks(gemm_plan *p, int T) {
  sc_gemm_limits lim;
  sc_gemm_block_limits(p->kern, &lim);
  p->l2 = lim.l2;
  p->kc_max = lim.kc;
  p->kc = min_sz(round_up(ceil_div(p->k, ceil_div(p->k, lim.kc)), 8), p->k);
  p->mc = lim.mc;
  p->n_round = round_up(p->n, p->nr);
  const size_t b_bytes = p->n_round * p->k * sizeof(float);
  /* B is not kept packed where the streaming schedule would read it in place (run_thread), which measured faster
   * even where all of B fits the budget (TN, one core: 128x128x12544 163 -> 212 GFLOP/s, 64x256x3136 190 -> 234;
   * two threads 128x128x3136 308 -> 402) */
  p->resident = !p->stream_b && !b_in_place(p, p->m) && b_bytes <= lim.b_budget;
  size_t nc = lim.nc;
  /* On one thread, a matrix B of more than L2 (but for few columns of C, where A is read in place) streams in blocks of
   * about twice L2, each used by all row blocks while it is fresh, rather than being packed whole and read again from
   * L3 or DRAM by each row block (A is then packed again for each block of columns, or kept, below). One core, the two
   * alternated in one process with OpenBLAS, best of 9, GFLOP/s: NN 1024x512x4608 175.8 -> 181.1 (OpenBLAS 178.3),
   * 1024x512x2304 179.5 -> 182.0 (179.5), NT 1024x4608x512 184.4 -> 191.4 (182.9), TN 512x4608x1024 173.6 -> 178.5
   * (180.4), 512x2304x1024 178.5 -> 182.3 (185.0), 1024^3 187.8 -> 189.3, 2048^3 level; but NT 1024x2304x512 192.8 ->
   * 188.6 (185.1) and 4096x2304x256 194.6 -> 189.8 (181.4), where A is packed three times. Blocks of about L2 or four
   * times it measured within 1-2% of these; of a quarter of L2 (A packed that much more often), 2-8% slower. B gathered
   * by a convolution's packer (backward-weights) stays resident: streamed, ResNet-18's stage-4 weight gradients at
   * batch 128 were 1-3% slower. More threads keep B resident (packed once by all, it balances their row blocks at
   * run time), but where B's rows run along N and A is packed by the microkernels as they read it (a_late in
   * run_thread): two threads, alternated in one process with OpenBLAS's OpenMP build, medians of 21-31, NN
   * 1024x512x2304 196.6-201.4 -> 207.5-212.0 GFLOP/s on Zen 4 (OpenBLAS 195.7-198.3), 4096x1024x1024 +1.5%,
   * 1024^3 and 1024x512x4608 level (on Zen 5, streamed on two threads earlier: 1024x512x2304 +4.9%,
   * 1024x512x4608 +5.7%, 1024^3 +2.6%). Streamed likewise, B stored transposed (NT) or A (TN) moved by -2% to +3%
   * on both. */
  const int a_fused = a_packed_by_kernels(p) && !p->b->depth_contiguous;
  if ((T == 1 || a_fused) && p->resident && p->b->pack == pack_matrix && b_bytes > lim.l2 && !narrow_cols(p, p->n)) {
    p->resident = 0;
    nc = max_sz(2 * lim.l2 / (p->kc * sizeof(float)) / p->nr * p->nr, p->nr);
  }
  p->nc = p->resident ? p->n_round : round_up(ceil_div(p->n, ceil_div(p->n, nc)), p->nr);
  /* Streaming, each block of columns would pack all of A again; on one thread, where the packed A fits the budget
   * of B, it is kept instead, packed during the first block of columns. One core, alternated in one process, best
   * of 9: TN 512x4608x1024 (five blocks of columns) 179.1 -> 181.8 GFLOP/s, 512x2304x1024 173.6 -> 176.9; NT
   * 1024x4608x512 level; the packing's share of the call's profile 8% -> 5%. */
  p->keep_a = T == 1 && !p->resident && !p->stream_b && p->nc < p->n &&
              round_up(p->m, p->mr) * p->k * sizeof(float) <= lim.b_budget;
  /* C written in one pass (one depth block, no beta, no epilogue) and larger than L3 cannot stay in cache for
   * whoever reads it next; stored past the caches, its lines are not read from memory first and do not evict
   * the packed operands. One core, paired with OpenBLAS, medians of 3 (Zen 4): NT 65536x576x64 (C of 151 MB)
   * 94-100 -> 107-109 GFLOP/s, 16384x1152x128 (75 MB) 104-106 -> 110-111, 16384x576x128 (38 MB) 103-108 -> 110;
   * 4096x1152x256 (19 MB, below L3: not streamed) level; two threads 185-190 -> 203-208, 197-203 -> 213-218,
   * 200-202 -> 208-215. Where C fits L3 and the next layer reads it, streamed stores measured slower (the
   * header's note on the epilogue). The kernel needs 64-byte aligned rows. */
  p->stream_c = p->kern->gemm->ukr_stream && !p->ep && p->beta == 0.0f && p->k <= p->kc &&
                (double)p->m * (double)p->n * sizeof(float) > (double)lim.l3 && (uintptr_t)p->c % 64 == 0 &&
                p->ldc % 16 == 0;
}

/* With B resident and all T threads over M, the rows of the blocks they share (run_thread): about two a thread */
static size_t shared_block_rows(const gemm_plan *p, int T) {
  return min_sz(p->mc, max_sz(p->mr, round_up(ceil_div(p->m, 2 * (size_t)T), p->mr)));
}

/* A element packed by a source other than a matrix (an im2col gather) costs this many times a matrix's */
#define SC_GEMM_GATHER_PACK_COST 3.0
/* a packed element of resident B read by the microkernel, per cycle of FMAs: from L2, or from further out */
#define SC_GEMM_B_READ_L2 0.05
#define SC_GEMM_B_READ_FAR 0.25

/* thread grid: tm threads over M, tn over N, tm * tn = T. Per thread, in cycles of 32 FMAs: the FMAs over its
 * padded tiles, the A elements it packs (every thread of a column group packs the same rows), and the resident B it
 * reads, once per row block, its columns' share. The last term is what takes the columns apart where M is small
 * and B large: two threads over 512 rows of 512x4608x1024 (TN) took two shared blocks of 132 rows each and read all
 * 19 MB of B twice, one panel per 22 microkernel calls; split over N each reads its half once. Two threads,
 * alternated in one process, medians of 7-9: 512x4608x1024 272-286 -> 328-348 GFLOP/s, 512x2304x1024 278-299 ->
 * 334-352, 256^3 247-259 -> 273-320, 2048^3 +2-3%, the rest within 2% (1024^3, the ResNet-18 stage 3 and 4 shapes);
 * ResNet-18 stage 4's stride-2 backward-weights 38.7 -> 32.3 ms, ResNet-50 inference level. Without the gather's
 * higher packing cost the stride-2 backward-data of stage 4 (256-row GEMMs of gathered A) split over N too and
 * fell from 44 to 49 ms. */
static void choose_grid(const gemm_plan *p, int T, int *tm_out, int *tn_out) {
  size_t mt = ceil_div(p->m, p->mr), nt = ceil_div(p->n, p->nr);
  double best = -1;
  *tm_out = T, *tn_out = 1;
  for (int tm = T; tm >= 1; tm--) {
    if (T % tm) continue;
    int tn = T / tm;
    double fma = (double)(ceil_div(mt, (size_t)tm) * p->mr) * (double)(ceil_div(nt, (size_t)tn) * p->nr) * p->k;
    const size_t rows = ceil_div(p->m, (size_t)tm);
    double pack = (double)rows * p->k * (p->resident ? 1.0 : (double)ceil_div(p->n, p->nc));
    if (p->a->pack != pack_matrix) pack *= SC_GEMM_GATHER_PACK_COST;
    /* streaming with B shared by several threads packs it in bursts between barriers instead of one panel at a
     * time behind the FMAs (b_late): count those reads as not overlapped */
    if (!p->resident && tm > 1) pack += (double)p->n * p->k / T;
    double cost = fma / 32.0 + pack * 0.5;
    if (p->resident) {
      /* row blocks: the thread's own, or with all threads over M the shared ones (run_thread: two per thread) */
      size_t blocks = ceil_div(rows, p->mc);
      if (tn == 1 && T > 1) {
        blocks = ceil_div(round_up(ceil_div(p->m, shared_block_rows(p, T)), (size_t)T), (size_t)T);
      }
      const int far = (double)p->n_round * p->k * sizeof(float) > (double)p->l2;
      cost += (far ? SC_GEMM_B_READ_FAR : SC_GEMM_B_READ_L2) * (double)blocks * (double)ceil_div(p->n, (size_t)tn) *
              p->k;
    }
    if (best < 0 || cost < best * 0.999) best = cost, *tm_out = tm, *tn_out = tn;
  }
}

void sc_gemm_epilogue_apply(const sc_kernels *kern, const sc_gemm_epilogue *e, float *c, size_t ldc, size_t i0,
                            size_t rows, size_t j0, size_t j1) {
  if (!e || !rows || j0 >= j1) return;
  const float *res = e->residual ? e->residual + i0 * e->ldr + j0 : NULL;
  kern->eltwise->add_bias_relu(rows, j1 - j0, ldc, c + i0 * ldc + j0, res, e->ldr, e->bias ? e->bias + j0 : NULL,
                               e->relu);
}

static void scale_block(float *c, size_t ldc, size_t m, size_t n, float beta) {
  for (size_t i = 0; i < m; i++) {
    float *row = c + i * ldc;
    if (beta == 0.0f)
      memset(row, 0, n * sizeof *row);
    else
      for (size_t j = 0; j < n; j++) row[j] *= beta;
  }
}

/* the rows [m0, m1) of one thread, in blocks of at most mc balanced to similar sizes */
static size_t thread_mc(const gemm_plan *p, size_t rows) {
  if (!rows) return p->mr;
  return round_up(ceil_div(rows, ceil_div(rows, p->mc)), p->mr);
}

/* B panels of columns [jr, jr+nr) start at bpack + (jr - jc0) * b_stride (b_stride = kc when packed together,
 * the largest kc when each panel has a fixed slot) */
static void macro_kernel(const gemm_plan *p, const float *apack, const float *bpack, size_t b_stride, size_t ic,
                         size_t mc, size_t jc0, size_t j0, size_t j1, size_t kc, int accumulate,
                         prefetch_cursor *pf) {
  const sc_f32_gemm_ukr_fn ukr = p->stream_c ? p->kern->gemm->ukr_stream : p->kern->gemm->ukr;
  const size_t mr = p->mr, nr = p->nr, ldc = p->ldc;
  const size_t pf_chunk = pf ? ceil_div(pf->total, ceil_div(mc, mr) * ceil_div(j1 - j0, nr)) : 0;
  for (size_t jr = j0; jr < j1; jr += nr) {
    const size_t n = min_sz(nr, j1 - jr);
    const float *bp = bpack + (jr - jc0) * b_stride;
    float *cc = p->c + ic * ldc + jr;
    for (size_t ir = 0; ir < mc; ir += mr) {
      if (pf_chunk) prefetch_step(pf, pf_chunk);
      ukr(min_sz(mr, mc - ir), n, kc, apack + ir * kc, bp, cc + ir * ldc, ldc, accumulate);
    }
  }
  /* non-temporal stores are weakly ordered: they reach C before whatever reads it next (this thread, or another
   * past the threads' next barrier) */
  if (p->stream_c) atomic_thread_fence(memory_order_seq_cst);
}

/* Columns [jr, jr+n) (one panel of B, at bp) of a row block whose A is packed as it is first read: ukr_rowa_pack
 * reads each whole micro-panel of A in place and writes it to apack for the other panels; a partial last one is
 * packed first and taken by the packed microkernel. pf (may be NULL) is stepped as in macro_kernel. */
static void panel_packing_a(const gemm_plan *p, float *apack, const float *bp, size_t ic, size_t mcc, size_t pc,
                            size_t kc, size_t jr, size_t n, int accumulate, prefetch_cursor *pf) {
  const size_t mr = p->mr, whole = mcc / mr * mr;
  const size_t pf_chunk = pf ? ceil_div(pf->total, ceil_div(mcc, mr)) : 0;
  if (whole < mcc) pack_src(p->kern, p->a, ic + whole, mcc - whole, pc, kc, mr, p->alpha, apack + whole * kc);
  for (size_t ir = 0; ir < whole; ir += mr) {
    if (pf_chunk) prefetch_step(pf, pf_chunk);
    p->kern->gemm->ukr_rowa_pack(mr, n, kc, p->a->data + (ic + ir) * p->a->ld + pc, p->a->ld, bp, apack + ir * kc,
                                 p->c + (ic + ir) * p->ldc + jr, p->ldc, accumulate, NULL);
  }
  if (whole < mcc) {
    if (pf_chunk) prefetch_step(pf, pf_chunk);
    p->kern->gemm->ukr(mcc - whole, n, kc, apack + whole * kc, bp, p->c + (ic + whole) * p->ldc + jr, p->ldc,
                       accumulate);
  }
}

static void run_thread(const gemm_plan *pp, int t, int T) {
  int tm, tn;
  choose_grid(pp, T, &tm, &tn);
  gemm_plan plan = *pp;
  const gemm_plan *p = &plan;
  plan.b_late = !plan.resident && tm == 1;
  const int im = t % tm, in = t / tm;
  const size_t mr = p->mr, nr = p->nr, mt = ceil_div(p->m, mr), nt = ceil_div(p->n, nr);
  const size_t m0 = min_sz(p->m, mt * (size_t)im / (size_t)tm * mr);
  const size_t m1 = min_sz(p->m, mt * (size_t)(im + 1) / (size_t)tm * mr);
  const size_t n0 = min_sz(p->n, nt * (size_t)in / (size_t)tn * nr);
  const size_t n1 = min_sz(p->n, nt * (size_t)(in + 1) / (size_t)tn * nr);
  const size_t mc = thread_mc(p, m1 - m0);
  float *apack = p->ws->a[t];
  /* with B resident and the threads all over M, row blocks are handed out at run time (each scales its own C) */
  const int dynamic = p->resident && tn == 1 && T > 1;
  if (p->scale_c && !dynamic) scale_block(p->c + m0 * p->ldc + n0, p->ldc, m1 - m0, n1 - n0, p->beta_orig);

  if (p->resident) {
    /* With few columns per thread each A panel meets few B panels, so packing A (often straight from DRAM)
     * would rival the FMAs: pack it one micro-panel at a time, prefetching the next, so the reads overlap the
     * microkernels running on the current one; or not at all, where the table has a microkernel reading A's rows
     * in place and there is no alpha to apply (65536x64x576, one core: 169 -> 211 GFLOP/s). Each micro-panel
     * then meets all of B, so up to twice as many columns qualify where B is at most four times L2: ResNet-50's
     * 1x1 layers at batch 16 with their epilogue, two threads, 28x28x128-512 5.16 -> 4.37 ms, 14x14x1024-512
     * 10.0 -> 9.1, 7x7x2048-512 5.27 -> 5.08 (medians of 5 alternated runs); but sgemm 1024x512x4608 (B of 9.4
     * MB), 327-330 -> 291-335 GFLOP/s. */
    const int narrow = narrow_cols(p, n1 - n0);
    /* A gathered by a packer (implicit GEMM) that can write its rows out whole is read in place the same way,
     * from a micro-panel of rows gathered into the A buffer: a plain copy of each row's runs instead of a
     * transposing pack. ResNet-50's 7x7x3 stem at batch 16 (147 floats a row, 64 columns): 16.7 -> 14.4 ms on
     * two threads, 32 -> 26 ms on one. So is a matrix whose rows lie a multiple of 4 KB apart: in place, its MR
     * rows would share one set of an L1 indexed by 4 KB (64 sets of 64-byte lines) and outnumber its ways.
     * ResNet-50's 14x14x1024-256 at batch 16 (rows of 1024 floats): 213-244 -> 317-330 GFLOP/s on two threads,
     * 117-122 -> 166-168 on one (in place, then copied; packed instead, 302-312 and 161-168). The copies' row
     * stride avoids such multiples too. */
    const size_t k16 = round_up(p->k, 16), rows_ld = k16 % 1024 == 0 ? k16 + 16 : k16;
    const int aliased = p->a->pack == pack_matrix && p->a->ld % 1024 == 0;
    const int a_rows = (p->a->pack != pack_matrix || aliased) && p->a->rows && mr * rows_ld <= p->mc * p->kc;
    const sc_f32_gemm_ukr_rowa_fn rowa =
        narrow && (a_in_place(p) || a_rows) && p->alpha == 1.0f ? p->kern->gemm->ukr_rowa : NULL;
    /* One thread and wide C: B is packed panel by panel during the first row block, behind the FMAs, like A
     * above. Otherwise all threads pack all of B together first, taking groups of panels from a shared counter
     * (so a core slowed by other work packs less). */
    const int lazy_b = T == 1 && !narrow;
    float *bres = p->ws->b[0];
    const size_t group = max_sz(1, nt / (4 * (size_t)T));
    for (size_t q0 = lazy_b ? nt : 0; q0 < nt;) {
      q0 = T > 1 ? atomic_fetch_add(p->next_bgroup, 1) * group : q0;
      if (q0 >= nt) break;
      const size_t q1 = min_sz(nt, q0 + group), r0 = q0 * nr, rc = min_sz(p->n, q1 * nr) - r0;
      for (size_t pc = 0; pc < p->k; pc += p->kc) {
        const size_t kc = min_sz(p->kc, p->k - pc);
        pack_src(p->kern, p->b, r0, rc, pc, kc, nr, 1.0f, bres + p->n_round * pc + r0 * kc);
      }
      q0 = q1;
    }
    if (T > 1) {
#pragma omp barrier
    }
    if (!dynamic && (m0 >= m1 || n0 >= n1)) return;
    /* Row blocks: this thread's own in turn, or with several threads over M, blocks of the whole M taken from a
     * shared counter (about two per thread), so that a core slowed by other work does not hold up the call. More,
     * smaller blocks read each panel of B for fewer microkernel calls: with four per thread 1024^3 on two threads
     * ran at 381-389 GFLOP/s, with two at 406-412. */
    const size_t shared = shared_block_rows(p, T);
    /* With an epilogue, a packed block's C (its rows by this thread's columns) is to be in L2 still when the pass
     * comes, so at most half of L2: ResNet-50's 14x14x256-1024 at batch 16, two threads, 504-row blocks of 2 MB
     * ran at 282-311 GFLOP/s with the epilogue (345-381 without), 126-row blocks at 327-370; 28x28x128-512 280-288
     * -> 313-338 (three alternated runs). Rows read in place take the epilogue as they finish (below). */
    const size_t ep_rows = p->ep && !narrow ? max_sz(mr, p->l2 / 2 / ((n1 - n0) * sizeof(float)) / mr * mr) : p->m;
    const size_t chunk = min_sz(ep_rows, dynamic ? shared : mc);
    const size_t r_end = dynamic ? p->m : m1;
    /* The shared blocks are cut in whole tiles, block b ending at tile ceil(mt * (b+1) / blocks): sizes differ by
     * one tile at most, larger first, so threads taking them in turn get equal counts of microkernel calls.
     * Cutting every block at `chunk` rows instead left the last one short: 1024 rows on two threads were blocks
     * of 19, 19, 19 and 17 tiles, 38 calls against 36. Their count is a multiple of the threads (each thread
     * takes as many): 3136 rows (ResNet-50's 14x14 layers at batch 16) in 7 blocks of at most 504 rows left one
     * thread a fourth block while the other had none; in 8, the 14x14x1024-256 layer went from 5.03 to 4.52 ms
     * and the 14x14x256-1024 one from 4.81 to 4.45 (two threads, medians of three alternated runs). No block
     * exceeds `chunk` rows (the A buffer's size), since mt <= blocks * chunk / mr. */
    const size_t blocks = dynamic ? min_sz(mt, round_up(ceil_div(p->m, chunk), (size_t)T)) : 0;
    size_t next = dynamic ? 0 : m0;
    for (;;) {
      size_t ic, mcc;
      if (dynamic) {
        const size_t b = atomic_fetch_add(p->next_block, 1);
        if (b >= blocks) break;
        ic = min_sz(p->m, ceil_div(mt * b, blocks) * mr);
        mcc = min_sz(p->m, ceil_div(mt * (b + 1), blocks) * mr) - ic;
      } else {
        ic = next;
        if (ic >= r_end) break;
        mcc = min_sz(chunk, r_end - ic);
      }
      next = ic + mcc;
      if (dynamic && p->scale_c) scale_block(p->c + ic * p->ldc, p->ldc, mcc, p->n, p->beta_orig);
      /* A read in place: each whole micro-panel goes through all depth blocks in turn, so that its rows (one run
       * of memory) are read start to end while its tiles of C stay in cache; a partial last panel is packed.
       * The microkernels stage the next panel in L2 meanwhile: the span from its first row's start to its last
       * row's end, kc lines a call, and again from its start once all are issued; after the last panel, lines
       * of the packed B they read anyway. One core, 65536x64x576: 210 -> 227-240 GFLOP/s against the driver's
       * bursts of prefetches between calls (only where A and C exceeded the L3, since the bursts cost more than
       * they saved elsewhere); 12544x64x256, whose A is in the L3: 232 -> 248 against no prefetch. */
      const size_t in_place = rowa ? mcc / mr * mr : 0;
      for (size_t ir = 0; ir < in_place; ir += mr) {
        const float *arow = a_rows ? apack : p->a->data + (ic + ir) * p->a->ld;
        const size_t lda = a_rows ? rows_ld : p->a->ld;
        if (a_rows) p->a->rows(p->a, ic + ir, mr, p->k, apack, rows_ld);
        const size_t next_rows =
            p->a->pack == pack_matrix && ic + ir + mr < p->m ? min_sz(mr, p->m - ic - ir - mr) : 0;
        const float *next = next_rows ? p->a->data + (ic + ir + mr) * p->a->ld : NULL;
        const size_t span = next_rows ? ((next_rows - 1) * p->a->ld + p->k + 15) / 16 : 0;
        size_t staged = 0; /* lines */
        for (size_t pc = 0; pc < p->k; pc += p->kc) {
          const size_t kc = min_sz(p->kc, p->k - pc);
          const float *ap = arow + pc, *bp = bres + p->n_round * pc;
          const sc_gemm_epilogue *e = pc + kc >= p->k ? p->ep : NULL; /* the tiles are final: finish them */
          for (size_t jr = n0; jr < n1; jr += nr) {
            const float *pf = span ? next + staged % span * 16 : bp + jr * kc;
            staged += kc;
            const sc_f32_gemm_tile_ep tile_ep = {
                .res = e && e->residual ? e->residual + (ic + ir) * e->ldr + jr : NULL,
                .ldr = e ? e->ldr : 0,
                .bias = e && e->bias ? e->bias + jr : NULL,
                .relu = e ? (size_t)(e->relu != 0) : 0};
            rowa(mr, min_sz(nr, n1 - jr), kc, ap, lda, bp + jr * kc, pf, p->c + (ic + ir) * p->ldc + jr, p->ldc,
                 pc > 0 || p->beta != 0.0f, e ? &tile_ep : NULL);
          }
        }
      }
      for (size_t pc = 0; pc < p->k; pc += p->kc) {
        const size_t kc = min_sz(p->kc, p->k - pc);
        const int accumulate = pc > 0 || p->beta != 0.0f;
        const float *bp = bres + p->n_round * pc;
        if (!narrow) {
          pack_src(p->kern, p->a, ic, mcc, pc, kc, mr, p->alpha, apack);
          if (!lazy_b || ic != m0) {
            /* the next A block (next depth block, else the next row block) is fetched into L2 meanwhile */
            prefetch_cursor pf = {0};
            if (pc + kc < p->k)
              prefetch_init(&pf, p->a, ic, mcc, pc + kc, min_sz(p->kc, p->k - pc - kc), 1);
            else if (ic + mcc < r_end)
              prefetch_init(&pf, p->a, ic + mcc, min_sz(chunk, r_end - ic - mcc), 0, min_sz(p->kc, p->k), 1);
            macro_kernel(p, apack, bp, kc, ic, mcc, 0, n0, n1, kc, accumulate, &pf);
            continue;
          }
          for (size_t jr = n0; jr < n1; jr += nr) {
            const size_t ncols = min_sz(nr, n1 - jr);
            prefetch_cursor pf = {0};
            const int to_l2 = mcc * kc * sizeof(float) > 16384;
            if (jr + nr < n1)
              prefetch_init(&pf, p->b, jr + nr, min_sz(nr, n1 - jr - nr), pc, kc, to_l2);
            else if (pc + kc < p->k)
              prefetch_init(&pf, p->b, n0, min_sz(nr, n1 - n0), pc + kc, min_sz(p->kc, p->k - pc - kc), to_l2);
            pack_src(p->kern, p->b, jr, ncols, pc, kc, nr, 1.0f, (float *)bp + jr * kc);
            macro_kernel(p, apack, bp, kc, ic, mcc, 0, jr, jr + ncols, kc, accumulate, &pf);
          }
          continue;
        }
        for (size_t ir = in_place; ir < mcc; ir += mr) {
          const size_t rn = min_sz(mr, mcc - ir);
          /* the next panel: further down this block, else the first of the next depth block or row block */
          prefetch_cursor pf = {0};
          if (ir + mr < mcc)
            prefetch_init(&pf, p->a, ic + ir + mr, min_sz(mr, mcc - ir - mr), pc, kc, 0);
          else if (pc + kc < p->k)
            prefetch_init(&pf, p->a, ic, min_sz(mr, mcc), pc + kc, min_sz(p->kc, p->k - pc - kc), 0);
          else if (ic + mcc < r_end)
            prefetch_init(&pf, p->a, ic + mcc, min_sz(mr, r_end - ic - mcc), 0, min_sz(p->kc, p->k), 0);
          pack_src(p->kern, p->a, ic + ir, rn, pc, kc, mr, p->alpha, apack);
          macro_kernel(p, apack, bp, kc, ic + ir, rn, 0, n0, n1, kc, accumulate, &pf);
        }
      }
      /* the row block is final and still in cache (but for the rows read in place, finished above) */
      sc_gemm_epilogue_apply(p->kern, p->ep, p->c, p->ldc, ic + in_place, mcc - in_place, n0, n1);
    }
    return;
  }

  /* At most 256 rows of C per thread (the same test for every thread: the branches below hold barriers): each
   * panel of B would meet few panels of A, so where the table has a microkernel reading B in place and every panel
   * of B is whole, B is not packed at all, and no buffer of B is shared (TN 64x576x65536, one core: 161 -> 204
   * GFLOP/s, 128x576x16384 189 -> 220). Counted in rows, not whole tiles: 256 rows take 258 of 6-row tiles. */
  const sc_f32_gemm_ukr_rowb_fn rowb = b_in_place(p, ceil_div(p->m, (size_t)tm)) ? p->kern->gemm->ukr_rowb : NULL;
  if (rowb) {
    /* The microkernels stage one line per depth step (arch/gemm.h): tile t of a panel stages line t of each row of
     * the next panel of B (the next columns, else the next depth block); where A is stored transposed (depth rows
     * of M floats), the following tiles stage the lines of the next block of A to pack, until all are issued; the
     * rest stage B's lines again, which measured faster than staging the row being read (64 rows: 215 -> 225
     * GFLOP/s: a prefetch the core dropped is issued once more). A is staged only where its next block is at
     * least as wide as the columns of B it will meet, so that its reads are the larger share (64x576x65536 lost 4%
     * to it). TN, one core: 64x576x65536 209 -> 228 GFLOP/s against bursts of prefetches before each call; the 1x1
     * backward-weights 256x64x50176 150 -> 181 and 64x64x200704 149 -> 195 against B's staging alone (two
     * threads: 277 -> 356, 286 -> 352). */
    const int stage_a = p->a->pack == pack_matrix && !p->a->depth_contiguous;
    const size_t lda = p->a->ld, ldb = p->b->ld;
    for (size_t pc = 0; pc < p->k; pc += p->kc) {
      const size_t kc = min_sz(p->kc, p->k - pc);
      const int accumulate = pc > 0 || p->beta != 0.0f;
      for (size_t ic = m0; ic < m1; ic += mc) {
        const size_t mcc = min_sz(mc, m1 - ic);
        pack_src(p->kern, p->a, ic, mcc, pc, kc, mr, p->alpha, apack);
        /* the next block of A to pack: the next rows of C, else the first ones of the next depth block */
        const float *next_a = NULL;
        size_t a_width = 0, a_lines = 0, a_staged = 0;
        if (stage_a && ic + mcc < m1)
          next_a = p->a->data + pc * lda + ic + mcc, a_width = min_sz(mc, m1 - ic - mcc);
        else if (stage_a && pc + kc < p->k)
          next_a = p->a->data + (pc + kc) * lda + m0, a_width = min_sz(mc, m1 - m0);
        if (next_a && a_width >= n1 - n0) a_lines = lines_per_step(next_a, lda, a_width);
        const size_t ntiles = ceil_div(mcc, mr);
        for (size_t jr = n0; jr < n1; jr += nr) {
          const float *b = p->b->data + pc * ldb + jr, *next = NULL;
          size_t next_kc = kc, lines = 0;
          if (jr + nr < n1)
            next = b + nr;
          else if (pc + kc < p->k)
            next = p->b->data + (pc + kc) * ldb + n0, next_kc = min_sz(p->kc, p->k - pc - kc);
          if (next) lines = lines_per_step(next, ldb, nr);
          for (size_t l = ntiles; l < lines; l++) /* fewer tiles than lines: the rest now */
            for (size_t q = 0; q < next_kc; q++) __builtin_prefetch(next + q * ldb + min_sz(l * 16, nr - 1), 0, 2);
          for (size_t ir = 0, t = 0; ir < mcc; ir += mr, t++) {
            const float *pf = next ? next + min_sz(t % lines * 16, nr - 1) : b;
            size_t pf_ld = ldb;
            if (t >= lines && a_staged < a_lines)
              pf = next_a + min_sz(a_staged++ * 16, a_width - 1), pf_ld = lda;
            rowb(min_sz(mr, mcc - ir), nr, kc, apack + ir * kc, b, ldb, pf, pf_ld, p->c + (ic + ir) * p->ldc + jr,
                 p->ldc, accumulate);
          }
        }
      }
    }
    if (m0 < m1 && n0 < n1) sc_gemm_epilogue_apply(p->kern, p->ep, p->c, p->ldc, m0, m1 - m0, n0, n1);
    return;
  }

  /* Shared B (tm > 1): NC blocks of all of C's columns, packed by the grid's column of threads into the two
   * buffers in turn. Late B (one thread per column of the grid): each thread walks its own columns in blocks of its
   * share of NC, with a private region of the first buffer (slots of the largest kc), so that it waits for no other
   * thread (blocks of all columns would leave every thread but one without columns in each, in turn). */
  const size_t late_nc = max_sz(nr, p->nc / (size_t)T / nr * nr);
  const size_t jc_from = p->b_late ? n0 : 0, jc_to = p->b_late ? n1 : p->n, jc_step = p->b_late ? late_nc : p->nc;
  /* A the kernels can read in place (a_in_place), with alpha 1: packed by the microkernels of each block's first column
   * panel as they read it (panel_packing_a), not by a pass of its own before them. One core, alternated in one process,
   * best of 11-21: NN 1024x512x4608 176.3 -> 179.9 and 202.2 -> 205.1 GFLOP/s, 1024x512x2304 191.4 -> 194.7; NT
   * 1024x4608x512, where A is packed once for five blocks of columns, 181.7 -> 179.7 and 208.7 -> 205.4 (medians 175.7
   * -> 177.1, 197.1 -> 195.5: within the noise). */
  const int a_late = a_packed_by_kernels(p);
  unsigned iter = 0;
  for (size_t jc = jc_from; jc < jc_to; jc += jc_step) {
    const size_t ncc = min_sz(jc_step, jc_to - jc);
    const size_t j0 = max_sz(n0, jc), j1 = min_sz(n1, jc + ncc);
    for (size_t pc = 0; pc < p->k; pc += p->kc, iter++) {
      const size_t kc = min_sz(p->kc, p->k - pc);
      float *bb = p->b_late ? p->ws->b[0] + (size_t)t * late_nc * p->kc : p->ws->b[iter & 1];
      if (j0 < j1 && !p->b_late) {
        /* this thread's share of the panels its column of the grid needs */
        const size_t np = ceil_div(j1 - j0, nr);
        const size_t q0 = np * (size_t)im / (size_t)tm, q1 = np * (size_t)(im + 1) / (size_t)tm;
        if (q0 < q1) {
          const size_t r0 = j0 + q0 * nr, rc = min_sz(j1, j0 + q1 * nr) - r0;
          pack_src(p->kern, p->b, r0, rc, pc, kc, nr, 1.0f, bb + (r0 - jc) * kc);
        }
      }
      if (tm > 1) {
#pragma omp barrier
      }
      if (j0 >= j1) continue;
      for (size_t ic = m0; ic < m1; ic += mc) {
        const size_t mcc = min_sz(mc, m1 - ic);
        const int accumulate = pc > 0 || p->beta != 0.0f;
        /* the block's place in the whole of A packed (keep_a: one thread, so m0 = 0), else the one buffer */
        float *ablk = p->keep_a ? apack + pc * round_up(p->m, mr) + ic * kc : apack;
        const int pack_a = !p->keep_a || jc == jc_from, fused = pack_a && a_late;
        if (pack_a && !fused) pack_src(p->kern, p->a, ic, mcc, pc, kc, mr, p->alpha, ablk);
        /* each panel has a slot of fixed size (the largest kc) in the thread's region where B is late */
        const size_t b_stride = p->b_late ? p->kc : kc;
        if (!p->b_late || ic != m0) {
          size_t jr0 = j0;
          if (fused) {
            panel_packing_a(p, ablk, bb + (j0 - jc) * b_stride, ic, mcc, pc, kc, j0, min_sz(nr, j1 - j0),
                            accumulate, NULL);
            jr0 = min_sz(j0 + nr, j1);
          }
          if (jr0 < j1) macro_kernel(p, ablk, bb, b_stride, ic, mcc, jc, jr0, j1, kc, accumulate, NULL);
          continue;
        }
        /* B was left unpacked above: pack it panel by panel on the first row block, prefetching the next panel,
         * so its reads (from DRAM when K is large) overlap the microkernels */
        for (size_t jr = j0; jr < j1; jr += nr) {
          const size_t ncols = min_sz(nr, j1 - jr);
          /* a whole A block passes through L1 before the next panel is packed: stage it in L2 */
          prefetch_cursor pf = {0};
          const int to_l2 = mcc * kc * sizeof(float) > 16384;
          if (jr + nr < j1)
            prefetch_init(&pf, p->b, jr + nr, min_sz(nr, j1 - jr - nr), pc, kc, to_l2);
          else if (pc + kc < p->k)
            prefetch_init(&pf, p->b, j0, min_sz(nr, j1 - j0), pc + kc, min_sz(p->kc, p->k - pc - kc), to_l2);
          pack_src(p->kern, p->b, jr, ncols, pc, kc, nr, 1.0f, bb + (jr - jc) * p->kc);
          if (fused && jr == j0)
            panel_packing_a(p, ablk, bb + (jr - jc) * p->kc, ic, mcc, pc, kc, jr, ncols, accumulate, &pf);
          else
            macro_kernel(p, ablk, bb, p->kc, ic, mcc, jc, jr, jr + ncols, kc, accumulate, &pf);
        }
      }
      /* after the last depth block this thread's rows of the NC block are final */
      if (pc + kc >= p->k && j0 < j1) sc_gemm_epilogue_apply(p->kern, p->ep, p->c, p->ldc, m0, m1 - m0, j0, j1);
    }
  }
}

/* ---- split depth ------------------------------------------------------------------------------------------ */

/* When the depth dwarfs both sides of C (backward-weights: C is K x 9C, the depth every pixel of the batch), a grid
 * over C's few tiles cannot balance the threads (three column panels for two threads leave one idle a third of the
 * time) and makes them pack the same operand twice. Instead each thread takes a slice of the depth for the whole of
 * C: the first thread accumulates into C itself, the others into buffers of their own that are then added in. */
#define SC_GEMM_SPLIT_MAX_THREADS 64

static gemm_ws split_ws[SC_GEMM_SPLIT_MAX_THREADS]; /* guarded by shared_ws_lock, like shared_ws */
static float *split_c[SC_GEMM_SPLIT_MAX_THREADS];
static size_t split_c_cap[SC_GEMM_SPLIT_MAX_THREADS];

static int split_depth(size_t m, size_t n, size_t k, int T) {
  return T > 1 && T <= SC_GEMM_SPLIT_MAX_THREADS && k >= 4096 * (size_t)T && k >= 8 * max_sz(m, n);
}

/* a source seen from depth k0 on: matrix sources by moving their pointer (so they keep their packer and
 * prefetching), others through this wrapper */
typedef struct offset_ctx {
  const sc_gemm_src *src;
  size_t k0;
} offset_ctx;

static void pack_offset(const sc_gemm_src *s, size_t r0, size_t rc, size_t p0, size_t kc, size_t w, float scale,
                        float *dst) {
  const offset_ctx *o = s->ctx;
  o->src->pack(o->src, r0, rc, p0 + o->k0, kc, w, scale, dst);
}

static sc_gemm_src offset_src(const sc_gemm_src *s, size_t k0, offset_ctx *ctx) {
  sc_gemm_src r = *s;
  if (s->pack == pack_matrix) {
    r.data = s->data + (s->depth_contiguous ? k0 : k0 * s->ld);
  } else {
    ctx->src = s, ctx->k0 = k0;
    r.pack = pack_offset, r.ctx = ctx, r.rows = NULL;
  }
  return r;
}

/* Buffers for every thread's slice, grown once: B always streams (blocks of at most nc x kc_max), so the sizes do
 * not depend on where the slices end. */
static sc_status split_prepare(const gemm_plan *p, int T) {
  gemm_plan q = *p;
  q.stream_b = 1;
  choose_blocks(&q, 1);
  for (int t = 0; t < T; t++) {
    SC_TRY(ws_grow_a(&split_ws[t], 1, q.mc * q.kc_max));
    SC_TRY(ws_grow_b(&split_ws[t], 2, q.nc * q.kc_max));
    if (t > 0 && split_c_cap[t] < p->m * p->n) {
      free(split_c[t]);
      split_c_cap[t] = 0;
      if (!(split_c[t] = alloc_floats(p->m * p->n)))
        return sc_error(SC_ENOMEM, "GEMM: cannot allocate %zu bytes for a slice of C", p->m * p->n * 4);
      split_c_cap[t] = p->m * p->n;
    }
  }
  return SC_OK;
}

static void split_thread(const gemm_plan *p, int t, int T) {
  /* slice boundaries on multiples of 8 floats, so the slices of a matrix source stay aligned as the whole is */
  const size_t k0 = p->k * (size_t)t / (size_t)T / 8 * 8;
  const size_t k1 = t + 1 == T ? p->k : p->k * (size_t)(t + 1) / (size_t)T / 8 * 8;
  offset_ctx ca, cb;
  const sc_gemm_src a = offset_src(p->a, k0, &ca), b = offset_src(p->b, k0, &cb);
  gemm_plan q = *p;
  q.a = &a, q.b = &b, q.k = k1 - k0, q.ws = &split_ws[t], q.stream_b = 1, q.ep = NULL;
  if (t > 0) q.c = split_c[t], q.ldc = p->n, q.beta = 0.0f, q.scale_c = 0;
  choose_blocks(&q, 1);
  if (q.k > 0)
    run_thread(&q, 0, 1);
  else if (t > 0)
    scale_block(q.c, q.ldc, q.m, q.n, 0.0f);
#pragma omp barrier
  /* each thread adds the other slices into its share of C's rows */
  const size_t i0 = p->m * (size_t)t / (size_t)T, i1 = p->m * (size_t)(t + 1) / (size_t)T;
  for (int u = 1; u < T; u++)
    for (size_t i = i0; i < i1; i++) {
      float *ci = p->c + i * p->ldc;
      const float *si = split_c[u] + i * p->n;
      for (size_t j = 0; j < p->n; j++) ci[j] += si[j];
    }
  sc_gemm_epilogue_apply(p->kern, p->ep, p->c, p->ldc, i0, i1 - i0, 0, p->n);
}

/* below this many multiply-adds a parallel region costs more than it saves */
#define SC_GEMM_PARALLEL_MIN_FMA (96.0 * 96.0 * 96.0)

sc_status sc_gemm_run(const sc_kernels *kern, size_t m, size_t n, size_t k, const sc_gemm_src *a,
                      const sc_gemm_src *b, float alpha, float beta, float *c, size_t ldc) {
  return sc_gemm_run_ep(kern, m, n, k, a, b, alpha, beta, c, ldc, NULL);
}

sc_status sc_gemm_run_ep(const sc_kernels *kern, size_t m, size_t n, size_t k, const sc_gemm_src *a,
                         const sc_gemm_src *b, float alpha, float beta, float *c, size_t ldc,
                         const sc_gemm_epilogue *e) {
  if (m == 0 || n == 0) return SC_OK;
  if (k == 0 || alpha == 0.0f) {
    if (beta != 1.0f) scale_block(c, ldc, m, n, beta);
    sc_gemm_epilogue_apply(kern, e, c, ldc, 0, m, 0, n);
    return SC_OK;
  }
  const sc_gemm_config *g = kern->gemm;
  sc_kernels tile_kern;
  /* the table's tile for A stored transposed (packed by plain copies), where it measured faster: arch/gemm.h */
  const sc_gemm_config *tile = NULL;
  if (g->strided_a && a->pack == pack_matrix && !a->depth_contiguous) tile = g->strided_a;
  /* and its narrow tile when all of C's columns fit in it */
  if (g->narrow_n && n <= g->narrow_n->nr) tile = g->narrow_n;
  if (tile) {
    tile_kern = *kern;
    tile_kern.gemm = g = tile;
    kern = &tile_kern;
  }
  gemm_plan p = {.kern = kern, .a = a, .b = b, .m = m, .n = n, .k = k, .mr = g->mr, .nr = g->nr,
                 .alpha = alpha, .beta = beta, .c = c, .ldc = ldc, .ep = e};
  if (beta != 0.0f && beta != 1.0f) p.scale_c = 1, p.beta_orig = beta, p.beta = 1.0f;
  int T = sc_num_threads();
  const size_t tiles = ceil_div(m, p.mr) * ceil_div(n, p.nr);
  if ((double)m * (double)n * (double)k < SC_GEMM_PARALLEL_MIN_FMA || omp_in_parallel()) T = 1;
  choose_blocks(&p, T);

  /* A call from inside a team (one thread) packs into that thread's own buffers, kept for its next call; outside,
   * into the shared ones, or private ones for this call alone where another thread's call holds those. */
  static _Thread_local gemm_ws member_ws;
  gemm_ws local = {0}, *ws = &member_ws;
  int locked = 0;
  if (!omp_in_parallel()) {
    locked = pthread_mutex_trylock(&shared_ws_lock) == 0;
    ws = locked ? &shared_ws : &local;
  }
  const int split = locked && split_depth(m, n, k, T); /* its buffers are shared: only under the lock */
  if (!split && (size_t)T > tiles) T = (int)tiles;
  sc_status st = SC_OK;
  if (split) {
    st = split_prepare(&p, T);
    if (st == SC_OK) {
#pragma omp parallel num_threads(T)
      split_thread(&p, omp_get_thread_num(), omp_get_num_threads());
    }
  } else {
    st = ws_grow_a(ws, T, p.keep_a ? round_up(m, p.mr) * k : p.mc * p.kc);
    /* streaming: two NC x KC buffers, the first also holding one region of late B per thread (run_thread) */
    const size_t b_floats = p.resident ? p.n_round * k : max_sz(p.nc, (size_t)T * p.nr) * p.kc;
    if (st == SC_OK) st = ws_grow_b(ws, p.resident ? 1 : 2, b_floats);
    atomic_size_t next_block, next_bgroup;
    atomic_init(&next_block, 0);
    atomic_init(&next_bgroup, 0);
    p.ws = ws;
    p.next_block = &next_block;
    p.next_bgroup = &next_bgroup;
    if (st == SC_OK && T == 1) {
      run_thread(&p, 0, 1);
    } else if (st == SC_OK) {
#pragma omp parallel num_threads(T)
      run_thread(&p, omp_get_thread_num(), omp_get_num_threads());
    }
  }
  if (locked) pthread_mutex_unlock(&shared_ws_lock);
  if (ws == &local) ws_free(&local);
  return st;
}

sc_status sc_sgemm(sc_trans ta, sc_trans tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                   int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  const sc_kernels *kern = sc_kernels_active();
  if (!kern) return sc_init();
  if ((ta != SC_NO_TRANS && ta != SC_TRANS) || (tb != SC_NO_TRANS && tb != SC_TRANS))
    return sc_error(SC_EINVAL, "sgemm: transpose flags must be SC_NO_TRANS or SC_TRANS");
  if (m < 0 || n < 0 || k < 0)
    return sc_error(SC_EINVAL, "sgemm: negative size (m=%lld n=%lld k=%lld)", (long long)m, (long long)n,
                    (long long)k);
  const int64_t limit = INT64_MAX / 4 / (int64_t)sizeof(float);
  int64_t arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
  if (lda < (acols > 1 ? acols : 1) || ldb < (bcols > 1 ? bcols : 1) || ldc < (n > 1 ? n : 1))
    return sc_error(SC_EINVAL, "sgemm: leading dimension smaller than a row (lda=%lld needs >= %lld, ldb=%lld needs "
                    ">= %lld, ldc=%lld needs >= %lld)", (long long)lda, (long long)acols, (long long)ldb,
                    (long long)bcols, (long long)ldc, (long long)n);
  if ((arows && lda > limit / arows) || (brows && ldb > limit / brows) || (m && ldc > limit / m))
    return sc_error(SC_EINVAL, "sgemm: matrix size overflows");
  if (m == 0 || n == 0) return SC_OK;
  if (!c || (k > 0 && alpha != 0.0f && (!a || !b)))
    return sc_error(SC_EINVAL, "sgemm: null matrix pointer");
  sc_gemm_src sa = sc_gemm_src_matrix(a, (size_t)lda, ta == SC_NO_TRANS);
  sc_gemm_src sb = sc_gemm_src_matrix(b, (size_t)ldb, tb == SC_TRANS);
  return sc_gemm_run(kern, (size_t)m, (size_t)n, (size_t)k, &sa, &sb, alpha, beta, c, (size_t)ldc);
}
