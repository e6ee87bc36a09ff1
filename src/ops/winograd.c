/* winograd.c: 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, 2016), for
 * layers of many channels, where the direct kernels and the implicit GEMM already run near the FMA peak and only
 * fewer multiplications can make them faster: each 2x2 block of outputs takes 16 products per channel pair where
 * the direct convolution takes 36, so 2.25x fewer FMAs, for the price of transforming activations and weights.
 *
 * Output pixels are cut into 2x2 tiles, tile (ty, tx) reading the 4x4 input patch from (2ty - pad, 2tx - pad)
 * (zeros outside the image). Per tile and channel, the kernel table's transforms (arch/conv.h) make V = B^T d B
 * (16 values) and, at the end, Y = A^T M A (2x2 outputs); in between, 16 independent GEMMs over the channels,
 * M[e][tile][o] = sum_i V[e][tile][i] * U[e][i][o], with U = G g G^T the transformed 3x3 kernels. The GEMMs run
 * on the table's GEMM microkernel: U is packed once per call into its B panels, V is packed block by block into
 * its A panels.
 *
 * Threads take blocks of whole tile rows (so a block's output pixels are one run of memory, and the epilogue
 * applies to it at once); a block's V and M stay in the thread's cache between the transforms and the GEMMs, where
 * materialising them for the whole layer would stream four times the activations through memory. Nothing depends
 * on the thread count or the block size but the order of work: every output is the same sum in the same order.
 *
 * Backward-data at stride 1 is the forward of the flipped, transposed kernel (the same weights read through other
 * strides), adding into dx or setting it. Backward-weights differentiates the same sums with respect to U (below):
 * 16 GEMMs whose depth runs over the tiles, into accumulators of each thread's own. The rounding error is bounded
 * as the direct convolution's is, but over larger magnitudes: every input of a tile's 4x4 patch meets every weight
 * of the kernel (every output gradient of its 2x2 block, for backward-weights) in the transformed sums
 * (tests/ops/test_conv2d.c derives the bounds the tests hold it to).
 *
 * Inference's forward (sc_conv2d_infer) may take F(4x4, 3x3) instead: 4x4 tiles read 6x6 patches, 36 elements,
 * and 36 products per 16 outputs, 4 times fewer than the direct convolution, with everything above the same but
 * the sizes. Its transforms scale by up to 8 (and the weights' by 1/24), so it rounds worse; training keeps F(2x2).
 * Weights used many times come transformed and packed once (sc_wino_pack_weights), since at small batches the
 * transform costs as much as the GEMMs. 2x2 tiles -> 4x4 tiles with prepared weights, batch 16 (the direct
 * convolution's GFLOP/s, two threads): 56x56x64-64 570 -> 811, 28x28x128-128 657 -> 987, 14x14x256-256 622 -> 659
 * (16x16 outputs computed for 14x14), 7x7x512-512 425 -> 567; batch 64: 32x32x64-64 513 -> 763, 16x16x128-128
 * 604 -> 997, 8x8x256-256 617 -> 857, 4x4x512-512 521 -> 717; 4x4x128-128 at batch 256 552 -> 1015.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../core/error.h"
#include "../core/mem.h"
#include "../core/parallel.h"
#include "winograd.h"

/* ---- the geometry of one pass ------------------------------------------------------------------------------- */

/* in: N x ih x iw x cin; out: N x oh x ow x cout, oh = ih + 2*py - 2; weights g(o, i, ky, kx) at
 * w + o*so + i*si + ky*sy + kx*sx (negative strides read a flipped kernel). */
typedef struct wino_pass {
  const sc_kernels *kern;
  int64_t n, ih, iw, cin, oh, ow, cout, py, px;
  const float *w;
  int64_t so, si, sy, sx;
  const float *in;
  float *out;
  int accumulate;
  const sc_gemm_epilogue *ep;
  int tile;          /* outputs per tile side: 2 for F(2x2, 3x3), 4 for F(4x4, 3x3) */
  /* derived */
  size_t side, ne;   /* the input patch's side (tile + 2) and its elements (side^2) */
  sc_f32_wino_in_fn tin;
  sc_f32_wino_out_fn tout;
  int64_t th, tw;    /* tiles per image, down and across */
  int64_t rows_blk;  /* tile rows per block, at most */
  int64_t blocks;    /* blocks of tile rows, as many for each thread */
  size_t nb, kc;     /* NR-wide panels of U per element; depth per microkernel call */
  size_t u_floats;   /* U packed */
  size_t tmp_floats; /* transform_weights_part's scratch */
  const float *u;    /* packed U: element e, panel j: u + (e*nb + j)*cin*nr, row p at + p*nr */
  float *u_work;     /* where the team transforms U on this call (== u), or NULL: U came transformed */
  int threads;
  int failed;        /* a worker could not have its buffers */
} wino_pass;

/* ---- weights ------------------------------------------------------------------------------------------------ */

/* U = G g G^T, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], of len kernels side by side: kernel l reads
 * g(ky, kx) at g[l + ky*sy + kx*sx] and writes element e at u[e*us + l]. Contiguous in l both ways, so that the
 * compiler vectorises it. */
static void transform_kernels(size_t len, const float *g, int64_t sy, int64_t sx, float *u, size_t us) {
  for (size_t l = 0; l < len; l++) {
    float t[4][3];
    for (int64_t x = 0; x < 3; x++) {
      const float g0 = g[l + x * sx], g1 = g[l + sy + x * sx], g2 = g[l + 2 * sy + x * sx];
      t[0][x] = g0;
      t[1][x] = 0.5f * ((g0 + g1) + g2);
      t[2][x] = 0.5f * ((g0 - g1) + g2);
      t[3][x] = g2;
    }
    for (size_t r = 0; r < 4; r++) {
      u[(4 * r + 0) * us + l] = t[r][0];
      u[(4 * r + 1) * us + l] = 0.5f * ((t[r][0] + t[r][1]) + t[r][2]);
      u[(4 * r + 2) * us + l] = 0.5f * ((t[r][0] - t[r][1]) + t[r][2]);
      u[(4 * r + 3) * us + l] = t[r][2];
    }
  }
}

/* U = G g G^T for F(4x4, 3x3), G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6;
 * 0 0 1], laid out as transform_kernels' (36 elements), in double and rounded once, since the fractions are not
 * exact in binary. */
static void transform_kernels4(size_t len, const float *g, int64_t sy, int64_t sx, float *u, size_t us) {
  static const double G[6][3] = {{1.0 / 4, 0, 0},
                                 {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                 {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                 {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                 {0, 0, 1}};
  for (size_t l = 0; l < len; l++) {
    double t[6][3];
    for (int64_t x = 0; x < 3; x++)
      for (size_t r = 0; r < 6; r++)
        t[r][x] = G[r][0] * g[l + x * sx] + G[r][1] * g[l + sy + x * sx] + G[r][2] * g[l + 2 * sy + x * sx];
    for (size_t r = 0; r < 6; r++)
      for (size_t c = 0; c < 6; c++)
        u[(6 * r + c) * us + l] = (float)(G[c][0] * t[r][0] + G[c][1] * t[r][1] + G[c][2] * t[r][2]);
  }
}

static void transform_kernels_of(const wino_pass *p, size_t len, const float *g, float *u, size_t us) {
  if (p->tile == 4)
    transform_kernels4(len, g, p->sy, p->sx, u, us);
  else
    transform_kernels(len, g, p->sy, p->sx, u, us);
}

/* This thread's share of U, whole panels of NR output channels, transformed along whichever of the input and
 * output channels is contiguous in w (si == 1: the forward; so == 1: backward-data) into tmp, a few lines of the
 * thread's own (tmp_floats: ne x cin x NR floats, or ne x cout), then laid out as the GEMM's B panels while still
 * in cache. */
static void transform_weights_part(const wino_pass *p, float *tmp, float *u, int th, int nth) {
  const size_t nr = p->kern->gemm->nr, cin = (size_t)p->cin, cout = (size_t)p->cout, nb = p->nb, ne = p->ne;
  const size_t j0 = nb * (size_t)th / (size_t)nth, j1 = nb * (size_t)(th + 1) / (size_t)nth;
  if (p->si == 1) {
    /* per panel: tmp[o][e][i] for its NR output channels, then each element's panel is a transpose */
    for (size_t j = j0; j < j1; j++) {
      const size_t rn = cout - j * nr < nr ? cout - j * nr : nr;
      for (size_t o = 0; o < rn; o++)
        transform_kernels_of(p, cin, p->w + (int64_t)(j * nr + o) * p->so, tmp + o * ne * cin, cin);
      for (size_t e = 0; e < ne; e++)
        sc_gemm_pack_rows_t(nr, rn, cin, tmp + e * cin, ne * cin, 1.0f, u + (e * nb + j) * cin * nr);
    }
    return;
  }
  /* per input channel: tmp[e][o] for this thread's output channels, then each panel row is a copy */
  const size_t o0 = j0 * nr, o1 = j1 * nr < cout ? j1 * nr : cout;
  for (size_t i = 0; i < cin; i++) {
    transform_kernels_of(p, o1 - o0, p->w + (int64_t)i * p->si + (int64_t)o0, tmp, o1 - o0);
    for (size_t e = 0; e < ne; e++)
      for (size_t j = j0; j < j1; j++) {
        const size_t rn = cout - j * nr < nr ? cout - j * nr : nr;
        float *dst = u + ((e * nb + j) * cin + i) * nr;
        memcpy(dst, tmp + e * (o1 - o0) + (j - j0) * nr, rn * sizeof(float));
        memset(dst + rn, 0, (nr - rn) * sizeof(float));
      }
  }
}

/* ---- per-thread buffers ------------------------------------------------------------------------------------- */

/* V and M of one block, its packed A panels and one zero-padded patch: grow-only, one set per thread (the pool's
 * threads live across calls, so a training step does not allocate after its first). */
static _Thread_local float *work_buf;
static _Thread_local size_t work_cap;

/* U, on the calling thread */
static _Thread_local float *u_buf;
static _Thread_local size_t u_cap;

/* backward-weights' accumulators of every thread of the team, on the calling thread */
static _Thread_local float *acc_buf;
static _Thread_local size_t acc_cap;

/* The team for `units` units of work in blocks of *per_block: sc_num_threads() threads, one inside a parallel region,
 * never more than the units; and *per_block cut so that every thread gets a block at least (4x4x512-512 on two
 * threads, batch 64, was one forward block of 128 tile rows, the second thread idle). */
static int team_plan(int64_t units, int64_t *per_block) {
  const int64_t nt = sc_num_threads();
  const int threads = omp_in_parallel() ? 1 : (int)(nt < units ? nt : units);
  const int64_t share = (units + threads - 1) / threads;
  if (*per_block > share) *per_block = share;
  return threads;
}

/* Each thread of a team says whether it has its buffers (ok); after a barrier, all learn whether one lacks them. */
static int any_failed(int *failed, int ok, int nth) {
  if (!ok) {
#pragma omp atomic write
    *failed = 1;
  }
  if (nth > 1) {
#pragma omp barrier
  }
  int f;
#pragma omp atomic read
  f = *failed;
  return f;
}

/* ---- input patches ----------------------------------------------------------------------------------------- */

/* The side x side patch of pixels from (y0, x0) of image img of in (N x ih x iw x c): a pointer into the image and
 * its row stride in *rs, or, at the border, a copy in patch (side^2 x c floats) with zeros outside the image. */
static const float *tile_patch(const float *in, int64_t ih, int64_t iw, int64_t c, int64_t side, int64_t img,
                               int64_t y0, int64_t x0, float *patch, size_t *rs) {
  if (y0 >= 0 && x0 >= 0 && y0 + side <= ih && x0 + side <= iw) {
    *rs = (size_t)(iw * c);
    return in + ((img * ih + y0) * iw + x0) * c;
  }
  for (int64_t i = 0; i < side; i++)
    for (int64_t j = 0; j < side; j++) {
      float *d = patch + (i * side + j) * c;
      if (y0 + i < 0 || y0 + i >= ih || x0 + j < 0 || x0 + j >= iw)
        memset(d, 0, (size_t)c * sizeof(float));
      else
        memcpy(d, in + ((img * ih + y0 + i) * iw + x0 + j) * c, (size_t)c * sizeof(float));
    }
  *rs = (size_t)(side * c);
  return patch;
}

/* ---- one block of tile rows --------------------------------------------------------------------------------- */

static void run_block(const wino_pass *p, int64_t q0, int64_t q1, float *buf) {
  const sc_gemm_config *gc = p->kern->gemm;
  const size_t mr = gc->mr, nr = gc->nr, cin = (size_t)p->cin, cout = (size_t)p->cout, ne = p->ne;
  const size_t tiles = (size_t)((q1 - q0) * p->tw), panels = (tiles + mr - 1) / mr;
  const int64_t tile = p->tile;
  float *v = buf, *m = v + ne * tiles * cin, *ap = m + ne * tiles * cout, *patch = ap + panels * mr * p->kc;

  /* V of every tile of the block, element e at v + e*tiles*cin */
  for (size_t t = 0; t < tiles; t++) {
    const int64_t q = q0 + (int64_t)t / p->tw, tx = (int64_t)t % p->tw, img = q / p->th, ty = q % p->th;
    size_t rs;
    const float *src = tile_patch(p->in, p->ih, p->iw, p->cin, (int64_t)p->side, img, tile * ty - p->py,
                                  tile * tx - p->px, patch, &rs);
    p->tin(cin, src, rs, cin, v + t * cin, tiles * cin);
  }

  /* the GEMMs of the ne elements, depth block by depth block: A panels packed once, then every panel of U meets
   * all of them */
  for (size_t e = 0; e < ne; e++) {
    const float *ve = v + e * tiles * cin;
    float *me = m + e * tiles * cout;
    for (size_t p0 = 0; p0 < cin; p0 += p->kc) {
      const size_t kc = cin - p0 < p->kc ? cin - p0 : p->kc;
      for (size_t i = 0; i < panels; i++) {
        const size_t rn = tiles - i * mr < mr ? tiles - i * mr : mr;
        sc_gemm_pack_rows_t(mr, rn, kc, ve + i * mr * cin + p0, cin, 1.0f, ap + i * mr * kc);
      }
      for (size_t j = 0; j < p->nb; j++) {
        const float *b = p->u + ((e * p->nb + j) * cin + p0) * nr;
        const size_t n = cout - j * nr < nr ? cout - j * nr : nr;
        for (size_t i = 0; i < panels; i++) {
          const size_t rn = tiles - i * mr < mr ? tiles - i * mr : mr;
          gc->ukr(rn, n, kc, ap + i * mr * kc, b, me + i * mr * cout + j * nr, cout, p0 > 0);
        }
      }
    }
  }

  /* outputs: Y of every tile, then the epilogue on each tile row's pixels (one run of rows) once its tiles are
   * written, while they are in cache. Once per block, as before, it cost more: ResNet-50 at batch 16, F(4x4, 3x3)
   * with the epilogue, two threads, 56x56x64-64 5.02 -> 4.17 ms, 28x28x128-128 3.65 -> 3.41, 14x14x256-256
   * 5.09 -> 4.52 (medians of 5 alternated runs). */
  for (size_t t = 0; t < tiles; t++) {
    const int64_t q = q0 + (int64_t)t / p->tw, tx = (int64_t)t % p->tw, img = q / p->th, ty = q % p->th;
    const int64_t y0 = tile * ty, x0 = tile * tx;
    const size_t rows = (size_t)(p->oh - y0 < tile ? p->oh - y0 : tile);
    const size_t cols = (size_t)(p->ow - x0 < tile ? p->ow - x0 : tile);
    p->tout(cout, m + t * cout, tiles * cout, p->out + ((img * p->oh + y0) * p->ow + x0) * p->cout,
            (size_t)(p->ow * p->cout), cout, rows, cols, p->accumulate);
    if (tx == p->tw - 1)
      sc_gemm_epilogue_apply(p->kern, p->ep, p->out, cout, (size_t)((img * p->oh + y0) * p->ow), rows * (size_t)p->ow,
                             0, cout);
  }
}

static void wino_part(void *arg) {
  wino_pass *p = arg;
  const int nth = p->threads > 1 ? omp_get_num_threads() : 1, th = p->threads > 1 ? omp_get_thread_num() : 0;
  const size_t mr = p->kern->gemm->mr, tiles = (size_t)(p->rows_blk * p->tw);
  const size_t cin = (size_t)p->cin, cout = (size_t)p->cout, ne = p->ne;
  /* run_block's layout: V, M, the packed A panels, one patch; before it, U's transform where this call makes U */
  const size_t blk = ne * tiles * (cin + cout) + (tiles + mr - 1) / mr * mr * p->kc + ne * cin;
  const size_t wt = p->u_work ? p->tmp_floats : 0;
  float *buf = sc_grow_floats(&work_buf, &work_cap, blk > wt ? blk : wt);
  if (buf && p->u_work) transform_weights_part(p, buf, p->u_work, th, nth);
  if (any_failed(&p->failed, buf != NULL, nth)) return;
  const int64_t rows = p->n * p->th, blocks = p->blocks;
  for (int64_t b = blocks * th / nth; b < blocks * (th + 1) / nth; b++) {
    const int64_t q0 = rows * b / blocks, q1 = rows * (b + 1) / blocks;
    if (q0 < q1) run_block(p, q0, q1, buf);
  }
}

/* ---- entry points ------------------------------------------------------------------------------------------- */

/* Whether 3x3 stride-1 s, reading cin channels and writing cout, takes tiles of tile x tile outputs: the channels
 * are many, and the tiles' unused outputs (past the image's edge) are few enough.
 * Where F(2x2, 3x3) was measured faster than the direct kernels (one core, AVX-512, GFLOP/s counted as the direct
 * convolution's FLOPs, forward / backward-data): 32x32x64-64 258 -> 343 / 250 -> 343, 16x16x128-128 264 -> 430 /
 * 266 -> 418, 8x8x256-256 269 -> 460 / 264 -> 440, 4x4x512-512 272 -> 365 / 237 -> 348, 4x4x128-128 310 -> 404 /
 * 305 -> 397. Not with fewer than 64 channels (14x14x32-32: level; 28x28x16-16: half as fast: the transforms
 * outweigh the GEMMs). Tiles that reach past the image compute outputs nobody reads (a 7x7 image: 64 for 49), and
 * the direct kernels also skip the padding the tiles compute: with fewer than 128 channels a tenth of waste is
 * the most allowed (7x7x64-64: 280 -> 253), with 128 or more a quarter (7x7x128-128 at batch 64: 280 -> 313 /
 * 270 -> 300; 7x7x256-256 256 -> 345 / 249 -> 349; 7x7x512-512 259 -> 325 / 240 -> 326, at batch 16 235 -> 266 /
 * 233 -> 249). Backward-weights, against the direct kernels or the implicit GEMM, batch 64: 32x32x64-64 205 -> 285,
 * 16x16x128-128 216 -> 350, 8x8x256-256 215 -> 419, 4x4x512-512 249 -> 405, 7x7x128-128 235 -> 271, 7x7x256-256
 * 222 -> 328, 7x7x512-512 246 -> 355; 4x4x128-128 at batch 512 235 -> 329. F(4x4, 3x3) keeps the same rule. */
static int wino_fits(const sc_conv2d_shape *s, int64_t cin, int64_t cout, int64_t tile) {
  if (s->kh != 3 || s->kw != 3 || s->stride_h != 1 || s->stride_w != 1 || s->pad_h > 2 || s->pad_w > 2 || cin < 64 ||
      cout < 64)
    return 0;
  const int64_t oh = s->h + 2 * s->pad_h - 2, ow = s->w + 2 * s->pad_w - 2;
  if (oh <= 0 || ow <= 0) return 0;
  const int64_t used = oh * ow, computed = tile * tile * ((oh + tile - 1) / tile) * ((ow + tile - 1) / tile);
  return cin >= 128 && cout >= 128 ? 4 * used >= 3 * computed : 10 * used >= 9 * computed;
}

int sc_wino_applies(const sc_kernels *kern, const sc_conv2d_shape *s, int64_t cin, int64_t cout) {
  return kern->conv && kern->conv->wino_in && kern->conv->wino_out && wino_fits(s, cin, cout, 2);
}

int sc_wino4_applies(const sc_kernels *kern, const sc_conv2d_shape *s) {
  return kern->conv && kern->conv->wino4_in && kern->conv->wino4_out && wino_fits(s, s->c, s->k, 4);
}

/* The pass's tiles, transforms and panels of U. */
static void pass_geometry(wino_pass *p) {
  const size_t nr = p->kern->gemm->nr, cin = (size_t)p->cin, cout = (size_t)p->cout;
  const sc_conv_config *cv = p->kern->conv;
  p->side = (size_t)p->tile + 2, p->ne = p->side * p->side;
  p->tin = p->tile == 4 ? cv->wino4_in : cv->wino_in;
  p->tout = p->tile == 4 ? cv->wino4_out : cv->wino_out;
  p->th = (p->oh + p->tile - 1) / p->tile, p->tw = (p->ow + p->tile - 1) / p->tile;
  p->nb = (cout + nr - 1) / nr;
  p->kc = p->kern->gemm->kc;
  p->u_floats = p->ne * p->nb * nr * cin;
  p->tmp_floats = p->ne * (cin * nr > cout ? cin * nr : cout);
}

static sc_status wino_run(const char *fn, wino_pass *p) {
  pass_geometry(p);
  /* Blocks of (cin + cout) / 4 tiles, at least 64 and at most 256: the block's V and M stay in L2 for 64
   * channels; with more, U (ne x cin x cout) is the larger stream, and each pass over it must serve more tiles.
   * One core, 4x4x512-512 forward: 315 GFLOP/s with 64 tiles, 346 with 128, 365 with 256, 363 with 512;
   * 8x8x256-256: 442, 460, 457, 404; 32x32x64-64: 343 with 64, 324 with 256. */
  const int64_t quarter = (p->cin + p->cout) / 4, want = quarter < 64 ? 64 : quarter > 256 ? 256 : quarter;
  const int64_t want_tiles = want * 16 / (int64_t)p->ne; /* F(4x4, 3x3): as many elements of V and M a block */
  p->rows_blk = want_tiles / p->tw > 0 ? want_tiles / p->tw : 1;
  if (!p->u) p->u = p->u_work = sc_grow_floats(&u_buf, &u_cap, p->u_floats);
  if (!p->u) return sc_error(SC_ENOMEM, "%s: cannot allocate %zu floats of Winograd weights", fn, p->u_floats);
  p->threads = team_plan(p->n * p->th, &p->rows_blk);
  /* As many blocks for each thread, the nearest such count to blocks of rows_blk, cut to sizes that differ by one
   * tile row at most: the 64 tile rows of a 14x14 layer at batch 16 in blocks of at most 14 were 2 blocks for one
   * thread and 3 for the other, 28 rows against 36; in 4 blocks of 16, ResNet-50's 14x14x256-256 layers at batch
   * 16 (F(4x4, 3x3), two threads) went from 5.15 to 4.87 ms (medians of 8 alternated runs). */
  const int64_t rows = p->n * p->th, t = p->threads, cut = (rows + p->rows_blk - 1) / p->rows_blk;
  p->blocks = (cut + t / 2) / t * t;
  if (p->blocks < t) p->blocks = t;
  p->rows_blk = (rows + p->blocks - 1) / p->blocks;
  p->failed = 0;
  sc_parallel(p->threads, wino_part, p);
  if (p->failed) return sc_error(SC_ENOMEM, "%s: cannot allocate the Winograd work buffers", fn);
  return SC_OK;
}

static wino_pass forward_pass(const sc_kernels *kern, const sc_conv2d_shape *s, const float *x, const float *w,
                              float *y, int accumulate, const sc_gemm_epilogue *e, int tile) {
  const int64_t c = s->c;
  return (wino_pass){.kern = kern, .n = s->n, .ih = s->h, .iw = s->w, .cin = c, .oh = s->h + 2 * s->pad_h - 2,
                     .ow = s->w + 2 * s->pad_w - 2, .cout = s->k, .py = s->pad_h, .px = s->pad_w, .w = w,
                     .so = 9 * c, .si = 1, .sy = 3 * c, .sx = c, .in = x, .out = y, .accumulate = accumulate,
                     .ep = e, .tile = tile};
}

sc_status sc_wino_pack_weights(const sc_kernels *kern, const sc_conv2d_shape *s, const float *w, int tile,
                               float **u, size_t *floats) {
  wino_pass p = forward_pass(kern, s, NULL, w, NULL, 0, NULL, tile);
  pass_geometry(&p);
  float *tmp = malloc(p.tmp_floats * sizeof(float));
  *u = sc_alloc_lines(p.u_floats * sizeof(float));
  if (!tmp || !*u) {
    free(tmp), free(*u), *u = NULL;
    return sc_error(SC_ENOMEM, "winograd: cannot allocate %zu floats of transformed weights",
                    p.u_floats + p.tmp_floats);
  }
  transform_weights_part(&p, tmp, *u, 0, 1);
  free(tmp);
  *floats = p.u_floats;
  return SC_OK;
}

sc_status sc_wino_forward(const char *fn, const sc_kernels *kern, const sc_conv2d_shape *s, const float *x,
                          const float *w, float *y, int accumulate, const sc_gemm_epilogue *e, int tile,
                          const float *u) {
  wino_pass p = forward_pass(kern, s, x, w, y, accumulate, e, tile);
  p.u = u;
  return wino_run(fn, &p);
}

sc_status sc_wino_backward_data(const char *fn, const sc_kernels *kern, const sc_conv2d_shape *s, float *dx,
                                int accumulate, const float *dy, const float *w) {
  const int64_t c = s->c;
  wino_pass p = {.kern = kern, .n = s->n, .ih = s->h + 2 * s->pad_h - 2, .iw = s->w + 2 * s->pad_w - 2,
                 .cin = s->k, .oh = s->h, .ow = s->w, .cout = c, .py = 2 - s->pad_h, .px = 2 - s->pad_w,
                 .w = w + 8 * c, .so = 1, .si = 9 * c, .sy = -3 * c, .sx = -c, .in = dy, .out = dx,
                 .accumulate = accumulate, .ep = NULL, .tile = 2};
  return wino_run(fn, &p);
}

/* ---- backward-weights --------------------------------------------------------------------------------------- */

/* The forward is linear in U = G g G^T, so the gradient of U[e] for output channel k and input channel c is the sum
 * over tiles of DY[e][k] * V[e][c], with V = B^T d B as above and DY = A dY A^T, the tile's 2x2 block of output
 * gradients (zeros past the output's edge) spread to 4x4; that of g is then G^T dU G. Per element e the sum over
 * tiles is a GEMM whose depth is the tiles: DY makes its A panels (rows: output channels), V its B panels (columns:
 * input channels), both written in panel order by the transforms. Each thread sums its blocks of tiles into 16 x K x
 * C accumulators of its own; then the threads split the output channels, add the accumulators in thread order and
 * transform the sums into dw. */
typedef struct wino_dw_pass {
  const sc_kernels *kern;
  int64_t n, ih, iw, c, oh, ow, k, py, px;
  const float *x, *dy;
  float *dw;
  int64_t th, tw, tiles, blk; /* tiles per image down and across; all tiles; tiles per block */
  size_t kp, cp;              /* MR-high panels of output channels, NR-wide panels of input channels */
  float *acc;                 /* thread t's sums of element e at acc + (16 t + e) K C, row k, column c */
  int threads, failed;
} wino_dw_pass;

/* DY = A dY A^T, A^T = [1 1 1 0; 0 1 -1 -1], of kn <= MR output channels of one tile, from its 2x2 block of
 * gradients a b over c d (kn floats each; zeros stand in for those past the output's edge), written to the tile's
 * row of each element's A panel, out[e*es + r]; rows kn..MR-1 get zeros. */
static void transform_dy(size_t kn, size_t mr, const float *restrict a, const float *restrict b,
                         const float *restrict c, const float *restrict d, float *restrict out, size_t es) {
  /* row i of A dY (u, v) = (a, b), (a + c, b + d), (a - c, b - d), (-c, -d); then (u, u + v, u - v, -v) */
#define SC_DY_ROW(i, U, V)                                                                                            \
  for (size_t r = 0; r < kn; r++) {                                                                                   \
    const float u = (U), v = (V);                                                                                     \
    out[(4 * i + 0) * es + r] = u, out[(4 * i + 1) * es + r] = u + v;                                                 \
    out[(4 * i + 2) * es + r] = u - v, out[(4 * i + 3) * es + r] = -v;                                                \
  }
  SC_DY_ROW(0, a[r], b[r])
  SC_DY_ROW(1, a[r] + c[r], b[r] + d[r])
  SC_DY_ROW(2, a[r] - c[r], b[r] - d[r])
  SC_DY_ROW(3, -c[r], -d[r])
#undef SC_DY_ROW
  for (size_t e = 0; e < 16 && kn < mr; e++) memset(out + e * es + kn, 0, (mr - kn) * sizeof(float));
}

/* One output channel's weights, dw[(3 ky + kx) cn + c] += (G^T M G)[ky][kx] for c < cn, from M[e] = m[e*cn + c];
 * G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0; 0 1/2 1/2 1]. */
static void transform_dw(size_t cn, const float *m, float *dw) {
  for (size_t c = 0; c < cn; c++) {
    float t[3][4];
    for (int s = 0; s < 4; s++) {
      const float m0 = m[s * cn + c], m1 = m[(4 + s) * cn + c], m2 = m[(8 + s) * cn + c], m3 = m[(12 + s) * cn + c];
      t[0][s] = m0 + 0.5f * (m1 + m2);
      t[1][s] = 0.5f * (m1 - m2);
      t[2][s] = 0.5f * (m1 + m2) + m3;
    }
    for (int r = 0; r < 3; r++) {
      dw[(3 * r + 0) * cn + c] += t[r][0] + 0.5f * (t[r][1] + t[r][2]);
      dw[(3 * r + 1) * cn + c] += 0.5f * (t[r][1] - t[r][2]);
      dw[(3 * r + 2) * cn + c] += 0.5f * (t[r][1] + t[r][2]) + t[r][3];
    }
  }
}

/* The block's layout in a thread's buffer: the A panels (16 x kp x blk x MR), the B panels (16 x cp x blk x NR), one
 * patch (16 x C), a row of K zeros. */
static size_t dw_block_floats(const wino_dw_pass *p) {
  const size_t mr = p->kern->gemm->mr, nr = p->kern->gemm->nr, blk = (size_t)p->blk;
  return 16 * blk * (p->kp * mr + p->cp * nr) + 16 * (size_t)p->c + (size_t)p->k;
}

static void dw_block(const wino_dw_pass *p, float *acc, float *buf, int64_t t0, int64_t t1, int accumulate) {
  const sc_conv_config *cv = p->kern->conv;
  const sc_gemm_config *gc = p->kern->gemm;
  const size_t mr = gc->mr, nr = gc->nr, K = (size_t)p->k, C = (size_t)p->c, blk = (size_t)p->blk;
  const size_t bt = (size_t)(t1 - t0), aes = p->kp * blk * mr, bes = p->cp * blk * nr;
  float *ap = buf, *bp = ap + 16 * aes, *patch = bp + 16 * bes;
  const float *zeros = patch + 16 * C; /* K zeros, set once per call by wino_dw_part */
  const int64_t per_img = p->th * p->tw;
  for (size_t t = 0; t < bt; t++) {
    const int64_t q = t0 + (int64_t)t, img = q / per_img, ty = q % per_img / p->tw, tx = q % p->tw;
    size_t rs;
    const float *src = tile_patch(p->x, p->ih, p->iw, p->c, 4, img, 2 * ty - p->py, 2 * tx - p->px, patch, &rs);
    for (size_t j = 0; j < p->cp; j++) {
      const size_t cn = C - j * nr < nr ? C - j * nr : nr;
      float *v = bp + (j * blk + t) * nr;
      cv->wino_in(cn, src + j * nr, rs, C, v, bes);
      for (size_t e = 0; e < 16 && cn < nr; e++) memset(v + e * bes + cn, 0, (nr - cn) * sizeof(float));
    }
    const float *a = p->dy + ((img * p->oh + 2 * ty) * p->ow + 2 * tx) * p->k;
    const int down = 2 * ty + 1 < p->oh, right = 2 * tx + 1 < p->ow;
    const float *b = right ? a + K : zeros, *c = down ? a + (size_t)p->ow * K : zeros;
    const float *d = down && right ? c + K : zeros;
    for (size_t i = 0; i < p->kp; i++) {
      const size_t kn = K - i * mr < mr ? K - i * mr : mr, o = i * mr;
      transform_dy(kn, mr, a + o, b + o, c + o, d + o, ap + (i * blk + t) * mr, aes);
    }
  }
  for (size_t e = 0; e < 16; e++)
    for (size_t j = 0; j < p->cp; j++) {
      const size_t cn = C - j * nr < nr ? C - j * nr : nr;
      const float *b = bp + e * bes + j * blk * nr;
      for (size_t i = 0; i < p->kp; i++) {
        const size_t kn = K - i * mr < mr ? K - i * mr : mr;
        gc->ukr(kn, cn, bt, ap + e * aes + i * blk * mr, b, acc + e * K * C + i * mr * C + j * nr, C, accumulate);
      }
    }
}

static void wino_dw_part(void *arg) {
  wino_dw_pass *p = arg;
  const int nth = p->threads > 1 ? omp_get_num_threads() : 1, th = p->threads > 1 ? omp_get_thread_num() : 0;
  const size_t K = (size_t)p->k, C = (size_t)p->c, sums = 16 * K * C;
  const size_t bn = dw_block_floats(p);
  float *buf = sc_grow_floats(&work_buf, &work_cap, bn);
  if (buf) memset(buf + bn - K, 0, K * sizeof(float)); /* dw_block's row of zeros */
  const int64_t blocks = (p->tiles + p->blk - 1) / p->blk;
  for (int64_t b = blocks * th / nth; buf && b < blocks * (th + 1) / nth; b++) {
    const int64_t t0 = b * p->blk, t1 = t0 + p->blk < p->tiles ? t0 + p->blk : p->tiles;
    dw_block(p, p->acc + (size_t)th * sums, buf, t0, t1, b > blocks * th / nth);
  }
  if (any_failed(&p->failed, buf != NULL, nth)) return;
  /* this thread's output channels: the sums of every thread that had blocks, in thread order, into its own block
   * area, then dw */
  float *m = buf;
  for (size_t k = K * (size_t)th / (size_t)nth; k < K * (size_t)(th + 1) / (size_t)nth; k++) {
    int first = 1;
    for (int u = 0; u < nth; u++) {
      if (blocks * u / nth == blocks * (u + 1) / nth) continue;
      for (size_t e = 0; e < 16; e++) {
        const float *src = p->acc + (size_t)u * sums + e * K * C + k * C;
        float *dst = m + e * C;
        if (first)
          memcpy(dst, src, C * sizeof(float));
        else
          for (size_t c = 0; c < C; c++) dst[c] += src[c];
      }
      first = 0;
    }
    if (!first) transform_dw(C, m, p->dw + k * 9 * C);
  }
}

sc_status sc_wino_backward_weights(const char *fn, const sc_kernels *kern, const sc_conv2d_shape *s, float *dw,
                                   const float *dy, const float *x) {
  const size_t mr = kern->gemm->mr, nr = kern->gemm->nr;
  wino_dw_pass p = {.kern = kern, .n = s->n, .ih = s->h, .iw = s->w, .c = s->c, .oh = s->h + 2 * s->pad_h - 2,
                    .ow = s->w + 2 * s->pad_w - 2, .k = s->k, .py = s->pad_h, .px = s->pad_w, .x = x, .dy = dy,
                    .dw = dw};
  p.th = (p.oh + 1) / 2, p.tw = (p.ow + 1) / 2, p.tiles = p.n * p.th * p.tw;
  p.kp = ((size_t)p.k + mr - 1) / mr, p.cp = ((size_t)p.c + nr - 1) / nr;
  /* Blocks of 64 tiles. Two threads, GFLOP/s counted as the direct convolution's, blocks of 32 / 64 / 128 / 256:
   * 32x32x64-64 at batch 256 516 / 489 / 506 / 441, 16x16x128-128 637 / 638 / 644 / 316, 8x8x256-256 - / 809 /
   * 798 / -, 4x4x512-512 715 / 783 / 763 / 699. */
  p.blk = 64;
  p.threads = team_plan(p.tiles, &p.blk);
  const size_t an = (size_t)p.threads * 16 * (size_t)p.k * (size_t)p.c;
  p.acc = sc_grow_floats(&acc_buf, &acc_cap, an);
  if (!p.acc) return sc_error(SC_ENOMEM, "%s: cannot allocate %zu floats of Winograd sums", fn, an);
  sc_parallel(p.threads, wino_dw_part, &p);
  if (p.failed) return sc_error(SC_ENOMEM, "%s: cannot allocate the Winograd work buffers", fn);
  return SC_OK;
}
