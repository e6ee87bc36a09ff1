/* pool.c: the public max-pool (any window, stride and padding) and global average pool entry points on NHWC
 * tensors, forward and backward, and the average pool onto a grid of cells (forward only: the probe's features;
 * the global pool is its grid of one cell). Argument checks, window clipping at the borders and the split of work
 * between sc_num_threads() OpenMP threads live here; the per-pixel loops over channels are the active table's
 * kernels (arch/<isa>/f32_maxpool__<isa>.c, col_sum and add_bias_relu). The max-pool backward recomputes the
 * argmax from x and y, so the forward stores no indices. No allocation, no ISA code. */
#include <string.h>

#include "../core/error.h"
#include "../core/parallel.h"
#include "../dispatch/dispatch.h"
#include "eltwise_util.h"
#include "simclr_ops.h"

sc_status sc_pool2d_out_size(const sc_pool2d_shape *s, int64_t *oh, int64_t *ow) {
  if (!s || !oh || !ow) return sc_error(SC_EINVAL, "pool2d: null argument");
  int64_t t, sz[4] = {s->n, s->h, s->w, s->c};
  if (!sc_elt_sizes_ok(4, sz, &t))
    return sc_error(SC_EINVAL, "pool2d: bad input shape %lldx%lldx%lldx%lld", (long long)s->n, (long long)s->h,
                    (long long)s->w, (long long)s->c);
  if (s->kh < 1 || s->kw < 1 || s->stride_h < 1 || s->stride_w < 1 || s->pad_h < 0 || s->pad_w < 0 ||
      s->pad_h >= s->kh || s->pad_w >= s->kw || s->kh > SC_ELT_MAX_COUNT || s->kw > SC_ELT_MAX_COUNT ||
      s->h > SC_ELT_MAX_COUNT - 2 * s->pad_h || s->w > SC_ELT_MAX_COUNT - 2 * s->pad_w)
    return sc_error(SC_EINVAL, "pool2d: bad window %lldx%lld stride %lldx%lld pad %lldx%lld (need window >= 1, "
                    "stride >= 1, 0 <= pad < window)", (long long)s->kh, (long long)s->kw, (long long)s->stride_h,
                    (long long)s->stride_w, (long long)s->pad_h, (long long)s->pad_w);
  if (s->h + 2 * s->pad_h < s->kh || s->w + 2 * s->pad_w < s->kw)
    return sc_error(SC_EINVAL, "pool2d: window %lldx%lld larger than the padded input %lldx%lld", (long long)s->kh,
                    (long long)s->kw, (long long)(s->h + 2 * s->pad_h), (long long)(s->w + 2 * s->pad_w));
  const int64_t h2 = (s->h + 2 * s->pad_h - s->kh) / s->stride_h + 1,
                w2 = (s->w + 2 * s->pad_w - s->kw) / s->stride_w + 1;
  int64_t out[4] = {s->n, h2, w2, s->c};
  if (!sc_elt_sizes_ok(4, out, &t))
    return sc_error(SC_EINVAL, "pool2d: output %lldx%lldx%lldx%lld is too large", (long long)s->n, (long long)h2,
                    (long long)w2, (long long)s->c);
  *oh = h2, *ow = w2;
  return SC_OK;
}

/* The part of output pixel (oy, ox)'s window inside the image: rows [*y0, *y0 + *nh), columns [*x0, *x0 + *nw).
 * Never empty, since pad < window. */
static void clip_window(const sc_pool2d_shape *s, int64_t oy, int64_t ox, int64_t *y0, int64_t *nh, int64_t *x0,
                        int64_t *nw) {
  int64_t ys = oy * s->stride_h - s->pad_h, xs = ox * s->stride_w - s->pad_w;
  int64_t ye = ys + s->kh < s->h ? ys + s->kh : s->h, xe = xs + s->kw < s->w ? xs + s->kw : s->w;
  if (ys < 0) ys = 0;
  if (xs < 0) xs = 0;
  *y0 = ys, *nh = ye - ys, *x0 = xs, *nw = xe - xs;
}

/* What the loops below share: each runs as the body of sc_parallel, its iterations split by an orphaned `omp for`
 * (which runs them all when there is no team). */
typedef struct pool_job {
  const sc_kernels *k;
  const sc_pool2d_shape *s;
  int64_t h, w, oh, ow, c, n, hw, nblk, cblk, items; /* average pools: oh x ow is the grid */
  int64_t ldy; /* average pool forward: floats from one image's output to the next */
  float inv;
  int set; /* backward: dx is overwritten (SC_GRAD_SET): each part zeroes its share before adding into it */
  const float *x, *y, *dy;
  float *dx, *out;
} pool_job;

/* Zeroes channels [c0, c0 + cn) of the `pixels` pixels of dx (c channels each) from pixel p0 on. */
static void zero_channels(float *dx, int64_t p0, int64_t pixels, int64_t c, int64_t c0, int64_t cn) {
  if (cn == c) {
    memset(dx + p0 * c, 0, (size_t)(pixels * c) * sizeof(float));
    return;
  }
  for (int64_t p = p0; p < p0 + pixels; p++) memset(dx + p * c + c0, 0, (size_t)cn * sizeof(float));
}

static void maxpool_forward_part(void *arg) {
  const pool_job *j = arg;
  const sc_pool2d_shape *s = j->s;
  const int64_t oh = j->oh, ow = j->ow, c = j->c, pixels = s->n * oh * ow;
#pragma omp for schedule(static)
  for (int64_t p = 0; p < pixels; p++) {
    const int64_t img = p / (oh * ow), oy = p / ow % oh, ox = p % ow;
    int64_t y0, nh, x0, nw;
    clip_window(s, oy, ox, &y0, &nh, &x0, &nw);
    const float *src = j->x + ((img * s->h + y0) * s->w + x0) * c;
    j->k->eltwise->maxpool((size_t)c, (size_t)nh, (size_t)nw, src, (size_t)(s->w * c), (size_t)c, j->out + p * c);
  }
}

static void maxpool_backward_part(void *arg) {
  const pool_job *j = arg;
  const sc_pool2d_shape *s = j->s;
  const int64_t oh = j->oh, ow = j->ow, c = j->c, nblk = j->nblk, cblk = j->cblk;
#pragma omp for schedule(static)
  for (int64_t it = 0; it < j->items; it++) {
    const int64_t img = it / nblk, c0 = it % nblk * cblk, cn = c - c0 < cblk ? c - c0 : cblk;
    if (j->set) zero_channels(j->dx, img * s->h * s->w, s->h * s->w, c, c0, cn);
    for (int64_t oy = 0; oy < oh; oy++)
      for (int64_t ox = 0; ox < ow; ox++) {
        int64_t y0, nh, x0, nw;
        clip_window(s, oy, ox, &y0, &nh, &x0, &nw);
        const int64_t in = ((img * s->h + y0) * s->w + x0) * c + c0, out = ((img * oh + oy) * ow + ox) * c + c0;
        j->k->eltwise->maxpool_backward((size_t)cn, (size_t)nh, (size_t)nw, j->x + in, (size_t)(s->w * c),
                                        (size_t)c, j->y + out, j->dy + out, j->dx + in);
      }
  }
}

/* Cell i of g cells over a side of n pixels spans [i*n/g, ceil((i+1)*n/g)): PyTorch's adaptive pooling. */
static void grid_cell(int64_t i, int64_t g, int64_t n, int64_t *start, int64_t *count) {
  const int64_t s = i * n / g, e = ((i + 1) * n + g - 1) / g;
  *start = s, *count = e - s;
}

static void avgpool_forward_part(void *arg) {
  const pool_job *j = arg;
  const int64_t c = j->c, h = j->h, w = j->w, gh = j->oh, gw = j->ow, nblk = j->nblk;
#pragma omp for schedule(static)
  for (int64_t it = 0; it < j->n * gh * gw * nblk; it++) {
    const int64_t cell = it / nblk, img = cell / (gh * gw), gy = cell / gw % gh, gx = cell % gw;
    const int64_t c0 = it % nblk * SC_ELT_CBLOCK;
    const size_t cb = (size_t)(c - c0 < SC_ELT_CBLOCK ? c - c0 : SC_ELT_CBLOCK);
    int64_t y0, ny, x0, nx;
    grid_cell(gy, gh, h, &y0, &ny);
    grid_cell(gx, gw, w, &x0, &nx);
    double acc[SC_ELT_CBLOCK] = {0};
    for (int64_t y = y0; y < y0 + ny; y++)
      j->k->eltwise->col_sum((size_t)nx, cb, (size_t)c, j->x + ((img * h + y) * w + x0) * c + c0, acc);
    float *out = j->out + img * j->ldy + (gy * gw + gx) * c + c0;
    for (size_t q = 0; q < cb; q++) out[q] = (float)(acc[q] / (double)(ny * nx));
  }
}

static void avgpool_backward_part(void *arg) {
  const pool_job *j = arg;
  const int64_t c = j->c, hw = j->hw, nblk = j->nblk;
#pragma omp for schedule(static)
  for (int64_t it = 0; it < j->n * nblk; it++) {
    const int64_t img = it / nblk, c0 = it % nblk * SC_ELT_CBLOCK;
    const size_t cb = (size_t)(c - c0 < SC_ELT_CBLOCK ? c - c0 : SC_ELT_CBLOCK);
    float g[SC_ELT_CBLOCK];
    for (size_t q = 0; q < cb; q++) g[q] = j->dy[img * c + c0 + (int64_t)q] * j->inv;
    if (j->set) zero_channels(j->dx, img * hw, hw, c, c0, (int64_t)cb);
    j->k->eltwise->add_bias_relu((size_t)hw, cb, (size_t)c, j->dx + img * hw * c + c0, NULL, 0, g, 0);
  }
}

sc_status sc_maxpool2d_forward(const sc_pool2d_shape *s, const float *x, float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  int64_t oh, ow;
  SC_TRY(sc_pool2d_out_size(s, &oh, &ow));
  if (s->n == 0 || s->c == 0 || s->h == 0 || s->w == 0) return SC_OK;
  if (!x || !y) return sc_error(SC_EINVAL, "maxpool2d_forward: null pointer");
  const int64_t pixels = s->n * oh * ow, c = s->c;
  const int nt = sc_elt_threads((size_t)(pixels * c * (s->kh * s->kw < 16 ? s->kh * s->kw : 16)), 0);
  pool_job j = {.k = k, .s = s, .oh = oh, .ow = ow, .c = c, .x = x, .out = y};
  sc_parallel(nt, maxpool_forward_part, &j);
  return SC_OK;
}

sc_status sc_maxpool2d_backward(const sc_pool2d_shape *s, float *dx, sc_grad_write dxw, const float *dy,
                                const float *x, const float *y) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  int64_t oh, ow;
  SC_TRY(sc_pool2d_out_size(s, &oh, &ow));
  SC_TRY(sc_grad_write_check("maxpool2d_backward", dxw));
  if (s->n == 0 || s->c == 0 || s->h == 0 || s->w == 0) return SC_OK;
  if (!dx || !dy || !x || !y) return sc_error(SC_EINVAL, "maxpool2d_backward: null pointer");
  const int64_t c = s->c;
  /* Overlapping windows scatter into the same dx pixels, so threads own whole (image, channel block) pairs; when
   * images are fewer than threads, channels are cut into blocks of 16 (a cache line) or more. */
  const int nt = sc_elt_threads((size_t)(s->n * oh * ow * c * 4), 0);
  int64_t parts = (nt + s->n - 1) / s->n, cblk = (c + parts - 1) / parts;
  cblk = (cblk + 15) / 16 * 16;
  const int64_t nblk = (c + cblk - 1) / cblk, items = s->n * nblk;
  pool_job j = {.k = k, .s = s, .oh = oh, .ow = ow, .c = c, .nblk = nblk, .cblk = cblk, .items = items, .x = x,
                .set = dxw == SC_GRAD_SET, .y = y, .dy = dy, .dx = dx};
  sc_parallel(nt, maxpool_backward_part, &j);
  return SC_OK;
}

static sc_status check_global(const char *who, int64_t n, int64_t h, int64_t w, int64_t c) {
  int64_t t, sz[4] = {n, h, w, c};
  if (!sc_elt_sizes_ok(4, sz, &t))
    return sc_error(SC_EINVAL, "%s: bad shape %lldx%lldx%lldx%lld", who, (long long)n, (long long)h, (long long)w,
                    (long long)c);
  if ((h == 0 || w == 0) && n > 0 && c > 0)
    return sc_error(SC_EINVAL, "%s: empty image (%lldx%lld) has no average", who, (long long)h, (long long)w);
  return SC_OK;
}

sc_status sc_avgpool_grid_forward(int64_t n, int64_t h, int64_t w, int64_t c, int64_t gh, int64_t gw, const float *x,
                                  float *y, int64_t ldy) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_global("avgpool_grid_forward", n, h, w, c));
  if (gh < 1 || gw < 1 || gh > h || gw > w)
    return sc_error(SC_EINVAL, "avgpool_grid_forward: a grid of %lldx%lld cells on a %lldx%lld map (need 1 to the "
                    "map's size on each side)", (long long)gh, (long long)gw, (long long)h, (long long)w);
  if (n == 0 || c == 0) return SC_OK;
  if (ldy < gh * gw * c)
    return sc_error(SC_EINVAL, "avgpool_grid_forward: output stride %lld below the %lld floats of an image",
                    (long long)ldy, (long long)(gh * gw * c));
  if (!x || !y) return sc_error(SC_EINVAL, "avgpool_grid_forward: null pointer");
  const int nt = sc_elt_threads((size_t)(n * h * w * c), 0);
  pool_job j = {.k = k, .c = c, .n = n, .h = h, .w = w, .oh = gh, .ow = gw, .nblk = (c + SC_ELT_CBLOCK - 1) /
                SC_ELT_CBLOCK, .ldy = ldy, .x = x, .out = y};
  sc_parallel(nt, avgpool_forward_part, &j);
  return SC_OK;
}

sc_status sc_avgpool_global_forward(int64_t n, int64_t h, int64_t w, int64_t c, const float *x, float *y) {
  return sc_avgpool_grid_forward(n, h, w, c, 1, 1, x, y, c);
}

sc_status sc_avgpool_global_backward(int64_t n, int64_t h, int64_t w, int64_t c, float *dx, sc_grad_write dxw,
                                     const float *dy) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  SC_TRY(check_global("avgpool_global_backward", n, h, w, c));
  SC_TRY(sc_grad_write_check("avgpool_global_backward", dxw));
  if (n == 0 || c == 0) return SC_OK;
  if (!dx || !dy) return sc_error(SC_EINVAL, "avgpool_global_backward: null pointer");
  const int64_t hw = h * w, nblk = (c + SC_ELT_CBLOCK - 1) / SC_ELT_CBLOCK;
  const float inv = (float)(1.0 / (double)hw);
  const int nt = sc_elt_threads((size_t)(n * hw * c), 0);
  pool_job j = {.k = k, .c = c, .n = n, .hw = hw, .nblk = nblk, .inv = inv, .set = dxw == SC_GRAD_SET, .dy = dy,
                .dx = dx};
  sc_parallel(nt, avgpool_backward_part, &j);
  return SC_OK;
}
