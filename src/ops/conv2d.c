/* conv2d.c: 2-D convolution on NHWC tensors (forward, backward-data, backward-weights), either on the kernel
 * table's direct tap kernels (arch/conv.h), by Winograd's F(2x2, 3x3) (winograd.c: 3x3 stride-1 layers of 64 or
 * more channels, all three passes; F(4x4, 3x3) for inference's forward) or as implicit GEMM on the engine's GEMM
 * driver (gemm.h), and the validation of the public sc_conv2d_* arguments.
 *
 * Nothing here materialises an im2col matrix: the packers below gather GEMM panels straight from the NHWC
 * tensors. They are plain C (this folder is built for the baseline ISA) and must stay free of intrinsics and
 * ISA macros. The only allocation is a grow-only per-thread scratch (strided backward-data's tiles, the direct
 * kernels' packed weights and per-thread weight gradients), so a training step does not allocate after its first
 * call (the GEMM driver keeps its own buffers likewise).
 *
 * The three passes, with P = N*OH*OW output pixels and T = kh*kw taps:
 *   forward          y[P][K] = im2col(x)[P][T*C] * w[K][T*C]^T          (A gathered from x, B = w as stored)
 *   backward-data    a transposed convolution split into stride_h*stride_w phases: the input pixels of one
 *                    phase (h = ph + s*i) receive taps ky = ky0 + s*t only, which makes each phase an ordinary
 *                    stride-1 convolution of dy with a sub-kernel, flipped: dx_phase[i][j][C] += gather(dy)
 *                    [T_phase*K] * w_phase[C][T_phase*K]^T. Stride 1 has one phase whose rows are dx itself, so
 *                    the GEMM writes straight into dx (beta = 1 adds, beta = 0 sets). Larger strides go through a
 *                    small tile buffer, since a phase's pixels are not evenly spaced in dx, then are added into
 *                    place; the phases take a group of images at a time, so that dx stays in cache across them.
 *                    This moves no more data than dx once, where GEMM-then-col2im would move a T*C-wide column
 *                    matrix (T/s^2 times dx). Its weakness is a GEMM only C columns wide: with very few input
 *                    channels (the stem, C = 3, whose input gradient a network does not need) it is slow.
 *   backward-weights dw[K][T*C] += dy[P][K]^T * im2col(x)[P][T*C]      (the depth of the GEMM is P; B gathered)
 * 1x1 stride-1 unpadded convolutions use plain matrix sources on the NHWC buffers. Most other layers skip the GEMM
 * for the kernel table's direct tap kernels (arch/conv.h), which read the tensors in place one kernel tap at a
 * time, or three taps of a kernel row where the table has row3; direct_lanes() and direct_dw_fits() say where.
 *
 * Packing cost is what separates this from a plain GEMM. Gathered rows of A (pixels) run along the depth in
 * memory, so A panels are transposes; they go through the kernel table's vectorised transposing packer. Tried and
 * dropped: a planar (NCHW) copy of the input so that panel lanes become contiguous copies; its strided reads
 * (one plane per channel) ran about 10% slower than the transposes on 32x32x64 .. 8x8x256 layers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../core/error.h"
#include "../core/mem.h"
#include "../core/parallel.h"
#include "../dispatch/dispatch.h"
#include "conv2d.h"
#include "eltwise_util.h"
#include "gemm.h"
#include "simclr_ops.h"
#include "winograd.h"

/* ---- grow-only scratch ------------------------------------------------------------------------------------- */

/* One buffer per calling thread: the GEMM's own workers never touch it, and training steps of the same shapes
 * reuse it without allocating. */
static _Thread_local float *scratch_buf;
static _Thread_local size_t scratch_cap;

static float *scratch_get(size_t n) { return sc_grow_floats(&scratch_buf, &scratch_cap, n); }

/* ---- packers ----------------------------------------------------------------------------------------------- */

/* Gathered A panels are at most MAX_PANEL rows wide (microkernel tiles are 4 to 64 wide; the entry points check
 * it), staged through STAGE_FLOATS floats on the stack; the column gather works in groups of ROW_GROUP rows. */
enum { MAX_PANEL = 256, STAGE_FLOATS = 8192, ROW_GROUP = 64 };

/* A gathered operand whose rows are pixels of a grid and whose depth runs over taps, then channels:
 * row r + row_off = (n*gh + i)*gw + j; depth p = (ty*ntx + tx)*ch + c; element = src pixel
 * (i*my + by + ty*ty_step, j*mx + bx + tx*tx_step) of image n, channel c, or 0 outside the image. */
typedef struct conv_gather {
  const float *src;
  int64_t nimg, sh, sw, ch;
  int64_t gh, gw, row_off;
  int64_t my, mx, by, bx;
  int64_t ty_step, tx_step, ntx;
} conv_gather;

/* Whether the rows of a panel start one fixed step apart in the source tensor (voff: each row's offset there) even
 * across the ends of image rows, with everything the rows read (len floats each) inside the tensor.
 * That holds at stride 1 with "same" padding, where the pixel after the last of an output row is the first of the
 * next: taps in the padding then land on real pixels of a neighbouring row, which the caller clears afterwards.
 * Most panels of a narrow image (28 pixels wide, 28-row panels) cross a row end, so this saves staging them. */
static int wraps_evenly(const conv_gather *g, const int64_t *voff, size_t len, size_t live, ptrdiff_t *step) {
  const int64_t st = voff[1] - voff[0];
  if (voff[0] < 0 || st <= 0 || voff[live - 1] + (int64_t)len > g->nimg * g->sh * g->sw * g->ch) return 0;
  for (size_t r = 2; r < live; r++)
    if (voff[r] - voff[r - 1] != st) return 0;
  *step = (ptrdiff_t)st;
  return 1;
}

/* sc_gemm_pack_fn for conv_gather: rows are pixels, so each panel is a transpose of up to w channel runs, one per
 * row, for each tap. When the runs of a panel are evenly spaced (the rows lie in one image row, away from the
 * padding: most panels) the table's vectorised transposing packer reads them in place; otherwise they are first
 * copied (or zeroed) into a contiguous staging block, which costs one fast copy and keeps the transpose
 * vectorised. With few channels, the taps of a kernel row are joined into one run (2.5x faster on the 7x7x3
 * stem). Runs are cut to what the staging block holds for the panel width (STAGE_FLOATS / w floats). */
static void pack_gather_rows(const sc_gemm_src *s, size_t r0, size_t rc, size_t p0, size_t kc, size_t w,
                             float scale, float *dst) {
  const conv_gather *g = s->ctx;
  const size_t ch = (size_t)g->ch, max_run = STAGE_FLOATS / w;
  const int64_t img_floats = g->sh * g->sw * g->ch, grid = g->gh * g->gw;
  int64_t iy[MAX_PANEL], ix[MAX_PANEL];
  const float *img[MAX_PANEL], *ptr[MAX_PANEL];
  int64_t voff[MAX_PANEL]; /* where each row's run starts in src, also when it lies in the padding */
  float stage[STAGE_FLOATS];
  for (size_t rb = 0; rb < rc; rb += w) {
    const size_t live = rc - rb < w ? rc - rb : w; /* rows of this panel that exist; the rest are zero */
    float *panel = dst + rb * kc;
    for (size_t r = 0; r < live; r++) {
      int64_t row = (int64_t)(r0 + rb + r) + g->row_off;
      int64_t n = row / grid, rem = row - n * grid, i = rem / g->gw, j = rem - i * g->gw;
      img[r] = g->src + n * img_floats;
      iy[r] = i * g->my + g->by;
      ix[r] = j * g->mx + g->bx;
    }
    size_t p = 0;
    while (p < kc) {
      size_t pp = p0 + p, tap = pp / ch, c = pp - tap * ch, len, span = 1;
      const int64_t ty = (int64_t)tap / g->ntx, tx = (int64_t)tap - ty * g->ntx;
      if (c == 0 && g->tx_step == 1 && ch <= max_run / 2) {
        /* few channels (the stem): the taps of one kernel row read adjacent pixels, so their channel runs join
         * into one contiguous run of span pixels */
        span = max_run / ch;
        if (span > (size_t)(g->ntx - tx)) span = (size_t)(g->ntx - tx);
        len = span * ch < kc - p ? span * ch : kc - p;
        span = (len + ch - 1) / ch;
      } else {
        len = ch - c;
        if (len > kc - p) len = kc - p;
        if (len > max_run) len = max_run;
      }
      const int64_t oy = ty * g->ty_step, ox = tx * g->tx_step;
      int uniform = 1;
      for (size_t r = 0; r < live; r++) {
        int64_t y = iy[r] + oy, x = ix[r] + ox;
        voff[r] = (img[r] - g->src) + (y * g->sw + x) * g->ch + (int64_t)c;
        if (y >= 0 && y < g->sh && x >= 0 && x + (int64_t)span <= g->sw) {
          ptr[r] = g->src + voff[r];
        } else {
          ptr[r] = NULL;
          uniform = 0;
        }
      }
      float *d = panel + p * w;
      ptrdiff_t step = live > 1 && uniform ? ptr[1] - ptr[0] : (ptrdiff_t)len;
      for (size_t r = 2; r < live && uniform; r++) uniform = ptr[r] - ptr[r - 1] == step;
      if (uniform && step > 0) {
        sc_gemm_pack_rows_t(w, live, len, ptr[0], (size_t)step, scale, d);
        p += len;
        continue;
      }
      if (live > 1 && wraps_evenly(g, voff, len, live, &step)) {
        /* read in place over the row ends, then clear what the padding holds: whole rows whose tap row lies
         * outside the image, else the pixels of the span that do (span > 1 only when c == 0) */
        sc_gemm_pack_rows_t(w, live, len, g->src + voff[0], (size_t)step, scale, d);
        for (size_t r = 0; r < live; r++) {
          if (ptr[r]) continue;
          const int64_t y = iy[r] + oy, x = ix[r] + ox;
          for (size_t t = 0; t < span; t++) {
            if (y >= 0 && y < g->sh && x + (int64_t)t >= 0 && x + (int64_t)t < g->sw) continue;
            const size_t q1 = (t + 1) * ch - c < len ? (t + 1) * ch - c : len;
            for (size_t q = t == 0 ? 0 : t * ch; q < q1; q++) d[q * w + r] = 0.0f;
          }
        }
        p += len;
        continue;
      }
      for (size_t r = 0; r < live; r++) {
        float *st = stage + r * len;
        const int64_t y = iy[r] + oy, x = ix[r] + ox;
        if (ptr[r]) {
          memcpy(st, ptr[r], len * sizeof(float));
        } else if (y < 0 || y >= g->sh) {
          memset(st, 0, len * sizeof(float));
        } else { /* part of the span lies in the padding: pixel by pixel (span > 1 only when c == 0) */
          for (size_t t = 0; t < span; t++) {
            size_t a = t == 0 ? 0 : t * ch, b = (t + 1) * ch - c < len ? (t + 1) * ch - c : len;
            int64_t xx = x + (int64_t)t;
            if (xx >= 0 && xx < g->sw)
              memcpy(st + a, img[r] + (y * g->sw + xx) * g->ch + (t == 0 ? (int64_t)c : 0), (b - a) * sizeof(float));
            else
              memset(st + a, 0, (b - a) * sizeof(float));
          }
        }
      }
      sc_gemm_pack_rows_t(w, live, len, stage, len, scale, d);
      p += len;
    }
  }
}

/* n floats from s to d; 16 to 32 of them (a 7x7x3 stem's kernel row is 21) as two overlapping 64-byte blocks of
 * fixed size, which the compiler inlines, where a call of memcpy costs more than the copy */
static void copy_floats(float *d, const float *s, size_t n) {
  if (n >= 16 && n <= 32) {
    memcpy(d, s, 16 * sizeof *d);
    memcpy(d + n - 16, s + n - 16, 16 * sizeof *d);
    return;
  }
  memcpy(d, s, n * sizeof *d);
}

/* sc_gemm_rows_fn for conv_gather: each row written out whole, a kernel row's taps at a time where they lie side
 * by side in the image (tx_step 1, all inside), else pixel by pixel, with zeros for the padding. */
static void gather_rows(const sc_gemm_src *s, size_t r0, size_t rc, size_t k, float *dst, size_t ld) {
  const conv_gather *g = s->ctx;
  const int64_t ch = g->ch, run = g->ntx * ch, nty = (int64_t)k / run, grid = g->gh * g->gw;
  const int64_t row0 = (int64_t)r0 + g->row_off;
  int64_t n = row0 / grid, i = (row0 - n * grid) / g->gw, j = row0 - n * grid - i * g->gw;
  for (size_t r = 0; r < rc; r++) {
    const int64_t y0 = i * g->my + g->by, x0 = j * g->mx + g->bx;
    const float *img = g->src + n * g->sh * g->sw * ch;
    float *d = dst + r * ld;
    for (int64_t ty = 0; ty < nty; ty++, d += run) {
      const int64_t y = y0 + ty * g->ty_step;
      if (y < 0 || y >= g->sh) {
        memset(d, 0, (size_t)run * sizeof *d);
        continue;
      }
      const float *line = img + y * g->sw * ch;
      if (g->tx_step == 1 && x0 >= 0 && x0 + g->ntx <= g->sw) {
        copy_floats(d, line + x0 * ch, (size_t)run);
        continue;
      }
      for (int64_t tx = 0; tx < g->ntx; tx++) {
        const int64_t x = x0 + tx * g->tx_step;
        if (x >= 0 && x < g->sw)
          copy_floats(d + tx * ch, line + x * ch, (size_t)ch);
        else
          memset(d + tx * ch, 0, (size_t)ch * sizeof *d);
      }
    }
    if (++j == g->gw) j = 0, i++;
    if (i == g->gh) i = 0, n++;
  }
}

/* The im2col matrix seen with rows over (tap, channel) and depth over output pixels, as backward-weights needs:
 * row t*C + c, depth p = (n*oh + oy)*ow + ox, element x[n][oy*sy - py + ky][ox*sx - px + kx][c] (tap t = ky*kw + kx),
 * or 0 in the padding. Each panel row-run of one tap is a contiguous channel copy per pixel. */
typedef struct conv_cols {
  const float *x;
  int64_t h, w, c, oh, ow, kw, sy, sx, py, px;
} conv_cols;

static void pack_gather_cols(const sc_gemm_src *s, size_t r0, size_t rc, size_t p0, size_t kc, size_t w,
                             float scale, float *dst) {
  const conv_cols *g = s->ctx;
  const int64_t C = g->c;
  enum { MAX_RUNS = ROW_GROUP };
  int64_t run_ky[MAX_RUNS], run_kx[MAX_RUNS], run_c[MAX_RUNS];
  size_t run_off[MAX_RUNS], run_len[MAX_RUNS];
  for (size_t rb = 0; rb < rc; rb += w) {
    size_t rn = rc - rb < w ? rc - rb : w;
    float *panel = dst + rb * kc;
    for (size_t gb = 0; gb < rn; gb += ROW_GROUP) {
      size_t gn = rn - gb < ROW_GROUP ? rn - gb : ROW_GROUP, nruns = 0;
      for (size_t r = 0; r < gn;) { /* split the group's rows at tap boundaries */
        int64_t row = (int64_t)(r0 + rb + gb + r), tap = row / C, c = row - tap * C;
        size_t len = (size_t)(C - c);
        if (len > gn - r) len = gn - r;
        run_ky[nruns] = tap / g->kw, run_kx[nruns] = tap % g->kw, run_c[nruns] = c;
        run_off[nruns] = gb + r, run_len[nruns] = len;
        nruns++;
        r += len;
      }
      int64_t pix = (int64_t)p0, per_img = g->oh * g->ow;
      int64_t n = pix / per_img, rem = pix - n * per_img, oy = rem / g->ow, ox = rem - oy * g->ow;
      for (size_t p = 0; p < kc; p++) {
        const float *im = g->x + n * g->h * g->w * C;
        float *d = panel + p * w;
        for (size_t u = 0; u < nruns; u++) {
          int64_t y = oy * g->sy - g->py + run_ky[u], x = ox * g->sx - g->px + run_kx[u];
          float *o = d + run_off[u];
          if (y >= 0 && y < g->h && x >= 0 && x < g->w) {
            const float *src = im + (y * g->w + x) * C + run_c[u];
            if (scale == 1.0f) /* the usual case (B is packed unscaled): libc's copy is vectorised for this CPU */
              memcpy(o, src, run_len[u] * sizeof *o);
            else
              for (size_t q = 0; q < run_len[u]; q++) o[q] = src[q] * scale;
          } else {
            memset(o, 0, run_len[u] * sizeof *o);
          }
        }
        if (++ox == g->ow) {
          ox = 0;
          if (++oy == g->oh) oy = 0, n++;
        }
      }
    }
    if (rn < w)
      for (size_t p = 0; p < kc; p++) memset(panel + p * w + rn, 0, (w - rn) * sizeof(float));
  }
}

/* The weights of one backward-data phase as the B operand: rows are input channels c, depth p = (ty*ntx + u)*K + k,
 * element w[k][ky0 + sy*ty][kx0 + sx*(ntx-1-u)][c]. The taps of a kernel row run backwards (u = ntx-1-tx) so that
 * the gathered dy pixels of one kernel row run forwards, left to right, and the gather can join them into one run
 * when K is small. Channels are contiguous in w, so each depth step is one copy. */
typedef struct conv_wphase {
  const float *w;
  int64_t k, kh, kw, c, ky0, kx0, sy, sx, ntx;
} conv_wphase;

static void pack_weights_phase(const sc_gemm_src *s, size_t r0, size_t rc, size_t p0, size_t kc, size_t w,
                               float scale, float *dst) {
  const conv_wphase *g = s->ctx;
  for (size_t rb = 0; rb < rc; rb += w) {
    size_t rn = rc - rb < w ? rc - rb : w;
    float *panel = dst + rb * kc;
    int64_t tap = (int64_t)p0 / g->k, k = (int64_t)p0 - tap * g->k;
    for (size_t p = 0; p < kc; p++) {
      int64_t ty = tap / g->ntx, tx = g->ntx - 1 - (tap - ty * g->ntx);
      const float *src = g->w + ((k * g->kh + g->ky0 + g->sy * ty) * g->kw + g->kx0 + g->sx * tx) * g->c +
                         (int64_t)(r0 + rb);
      float *d = panel + p * w;
      if (scale == 1.0f)
        memcpy(d, src, rn * sizeof *d);
      else
        for (size_t r = 0; r < rn; r++) d[r] = src[r] * scale;
      for (size_t r = rn; r < w; r++) d[r] = 0.0f;
      if (++k == g->k) k = 0, tap++;
    }
  }
}

/* ---- validation -------------------------------------------------------------------------------------------- */

/* Element counts must stay addressable in bytes with room to spare: products are checked against this. */
#define SIZE_LIMIT (INT64_MAX / 16)

static int mul_ok(int64_t a, int64_t b, int64_t *out) {
  if (a != 0 && b > SIZE_LIMIT / a) return 0;
  *out = a * b;
  return 1;
}

typedef struct conv_dims {
  int64_t oh, ow, x_elems, y_elems, w_elems, depth, pixels;
} conv_dims;

static sc_status check_shape(const char *fn, const sc_conv2d_shape *s, conv_dims *d) {
  if (!s) return sc_error(SC_EINVAL, "%s: null shape", fn);
  if (s->n < 0 || s->c < 0 || s->k < 0 || s->h < 1 || s->w < 1 || s->kh < 1 || s->kw < 1)
    return sc_error(SC_EINVAL,
                    "%s: bad size (n=%lld c=%lld k=%lld must be >= 0; h=%lld w=%lld kh=%lld kw=%lld must be >= 1)",
                    fn, (long long)s->n, (long long)s->c, (long long)s->k, (long long)s->h, (long long)s->w,
                    (long long)s->kh, (long long)s->kw);
  if (s->stride_h < 1 || s->stride_w < 1 || s->pad_h < 0 || s->pad_w < 0)
    return sc_error(SC_EINVAL, "%s: stride (%lld, %lld) must be >= 1 and padding (%lld, %lld) >= 0", fn,
                    (long long)s->stride_h, (long long)s->stride_w, (long long)s->pad_h, (long long)s->pad_w);
  const int64_t dim_limit = INT64_C(1) << 31;
  if (s->n > dim_limit || s->h > dim_limit || s->w > dim_limit || s->c > dim_limit || s->k > dim_limit ||
      s->kh > dim_limit || s->kw > dim_limit || s->stride_h > dim_limit || s->stride_w > dim_limit ||
      s->pad_h > dim_limit || s->pad_w > dim_limit)
    return sc_error(SC_EINVAL, "%s: a size exceeds 2^31", fn);
  int64_t ph = s->h + 2 * s->pad_h, pw = s->w + 2 * s->pad_w;
  if (s->kh > ph || s->kw > pw)
    return sc_error(SC_EINVAL, "%s: kernel %lldx%lld larger than the padded input %lldx%lld", fn, (long long)s->kh,
                    (long long)s->kw, (long long)ph, (long long)pw);
  d->oh = (ph - s->kh) / s->stride_h + 1;
  d->ow = (pw - s->kw) / s->stride_w + 1;
  int64_t t, taps, pix;
  if (!mul_ok(s->n, s->h, &t) || !mul_ok(t, s->w, &t) || !mul_ok(t, s->c, &d->x_elems) ||
      !mul_ok(s->n, d->oh, &t) || !mul_ok(t, d->ow, &pix) || !mul_ok(pix, s->k, &d->y_elems) ||
      !mul_ok(s->kh, s->kw, &taps) || !mul_ok(taps, s->c, &d->depth) || !mul_ok(d->depth, s->k, &d->w_elems) ||
      !mul_ok(pix, d->depth, &t))
    return sc_error(SC_EINVAL, "%s: tensor sizes overflow (n=%lld h=%lld w=%lld c=%lld k=%lld kernel %lldx%lld)", fn,
                    (long long)s->n, (long long)s->h, (long long)s->w, (long long)s->c, (long long)s->k,
                    (long long)s->kh, (long long)s->kw);
  d->pixels = pix;
  return SC_OK;
}

sc_status sc_conv2d_out_size(const sc_conv2d_shape *s, int64_t *oh, int64_t *ow) {
  conv_dims d;
  SC_TRY(check_shape("sc_conv2d_out_size", s, &d));
  if (!oh || !ow) return sc_error(SC_EINVAL, "sc_conv2d_out_size: null output pointer");
  *oh = d.oh;
  *ow = d.ow;
  return SC_OK;
}

/* The row gather keeps per-row state for one panel on the stack; the driver packs A (the only gathered-row
 * operand) with w = the table's mr. */
static sc_status check_panel_width(const char *fn, const sc_kernels *kern) {
  if (kern->gemm->mr > MAX_PANEL)
    return sc_error(SC_EUNSUPPORTED, "%s: GEMM tile of the %s table is more than %d rows high", fn, kern->name,
                    (int)MAX_PANEL);
  return SC_OK;
}

static int is_pointwise(const sc_conv2d_shape *s) {
  return s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 && s->pad_h == 0 && s->pad_w == 0;
}

/* ---- direct convolution ------------------------------------------------------------------------------------- */

/* The implicit GEMM pays for gathering and transposing its panels (with few channels, the 28x28x16 layers of a
 * narrow ResNet, that is most of its time: a 3x3 tap of 16 channels is one 64-byte run per pixel) and computes
 * the padding (on 7x7 and 4x4 images, a fifth to a third of its work). The kernel table's tap kernels (arch/conv.h)
 * work on the tensors as they lie instead, one tap at a time over the rectangle of output pixels whose input pixel
 * is real, so the padding costs nothing and nothing is packed but the weights. Threads take whole images. */

/* The geometry of a convolution as the direct passes see it: x is N x H x W x C, y (or dy) N x OH x OW x K, and
 * through tap (ky, kx) output pixel (oy, ox) pairs with input pixel (oy*sy - py + ky, ox*sx - px + kx). */
typedef struct direct_geom {
  int64_t n, h, w, c, oh, ow, k, kh, kw, sy, sx, py, px;
} direct_geom;

static direct_geom geom_of(const sc_conv2d_shape *s, const conv_dims *d) {
  return (direct_geom){.n = s->n, .h = s->h, .w = s->w, .c = s->c, .oh = d->oh, .ow = d->ow, .k = s->k, .kh = s->kh,
                       .kw = s->kw, .sy = s->stride_h, .sx = s->stride_w, .py = s->pad_h, .px = s->pad_w};
}

/* The output positions o in [lo, hi) of one tap along one axis: those whose input o*stride - pad + k lies in
 * [0, in). */
static void tap_span(int64_t out, int64_t in, int64_t stride, int64_t pad, int64_t k, int64_t *lo, int64_t *hi) {
  const int64_t a = pad - k, b = in - 1 + pad - k;
  *lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  *hi = b < 0 ? 0 : b / stride + 1;
  if (*hi > out) *hi = out;
  if (*lo > *hi) *lo = *hi;
}

/* One tap's rectangle within an image: rows x cols output pixels, the first at y_off in y (floats from the image's
 * start) pairing with the input pixel at x_off in x; neighbours along a row are xps / yps floats apart, rows xrs /
 * yrs. Returns 0 if no output pixel of this tap reads a real input pixel. */
typedef struct tap_rect {
  size_t rows, cols, xrs, xps, yrs, yps;
  int64_t x_off, y_off;
} tap_rect;

/* The part of tap (ky, kx)'s rectangle in output columns [c0, c1). */
static int tap_rect_cols(const direct_geom *g, int64_t ky, int64_t kx, int64_t c0, int64_t c1, tap_rect *r) {
  int64_t y0, y1, x0, x1;
  tap_span(g->oh, g->h, g->sy, g->py, ky, &y0, &y1);
  tap_span(g->ow, g->w, g->sx, g->px, kx, &x0, &x1);
  if (x0 < c0) x0 = c0;
  if (x1 > c1) x1 = c1;
  if (y0 >= y1 || x0 >= x1) return 0;
  r->rows = (size_t)(y1 - y0), r->cols = (size_t)(x1 - x0);
  r->x_off = ((y0 * g->sy - g->py + ky) * g->w + x0 * g->sx - g->px + kx) * g->c;
  r->y_off = (y0 * g->ow + x0) * g->k;
  r->xrs = (size_t)(g->sy * g->w * g->c), r->xps = (size_t)(g->sx * g->c);
  r->yrs = (size_t)(g->ow * g->k), r->yps = (size_t)g->k;
  return 1;
}

static int tap_rect_of(const direct_geom *g, int64_t t, tap_rect *r) {
  return tap_rect_cols(g, t / g->kw, t % g->kw, 0, g->ow, r);
}

/* This thread's index and the team's size in a pass run on `threads` threads (1: the caller alone, where an
 * enclosing team's numbers must not be used), and its share [*n0, *n1) of n images. */
static void team_share(int threads, int64_t n, int *th, int *nth, int64_t *n0, int64_t *n1) {
  *nth = threads > 1 ? omp_get_num_threads() : 1;
  *th = threads > 1 ? omp_get_thread_num() : 0;
  *n0 = n * *th / *nth;
  *n1 = n * (*th + 1) / *nth;
}

/* threads for a direct pass over n images: whole images each, and none inside another team */
static int direct_threads(int64_t n) {
  const int64_t nt = sc_num_threads();
  return omp_in_parallel() ? 1 : (int)(nt < n ? nt : n > 0 ? n : 1);
}

/* w (K x kh x kw x C) and how a direct pass wants it packed: [block of `lanes` of what is written][tap][channel
 * read][lanes], the taps mirrored for a stride-1 backward-data (flip) */
typedef struct weight_pack {
  const float *w;
  int64_t k, c, taps, lanes;
  int backward_data, flip;
} weight_pack;

/* This thread's share of the packing, whole blocks of written channels each, into wp. A block's panel is written
 * in order; in w the written channels of one read channel and tap lie side by side for backward-data (a run of
 * `lanes` floats, copied whole) and taps x C apart for the forward (whose 64 rows stay in L1 across the read
 * channels). Written in order from one read channel at a time, backward-data's runs had been read a float at a
 * time, taps x C floats apart: 15% of 8x8x256-512s2's backward-data at batch 64 (Zen 4, paired with oneDNN, medians
 * of 3, two alternated runs: 105 -> 128 GFLOP/s on one core, 0.82x -> 0.99x; 222-224 -> 242-250 on two, 0.89x ->
 * 0.98x; its forward 119 -> 123-124, 0.96-0.97x -> 0.99x). */
static void pack_weights_part(const weight_pack *p, float *wp, int th, int nth) {
  const int64_t nout = p->backward_data ? p->c : p->k, nin = p->backward_data ? p->k : p->c, lanes = p->lanes;
  const int64_t blocks = nout / lanes, row = p->taps * p->c; /* w: K rows of taps x C */
  const int64_t so = p->backward_data ? 1 : row, si = p->backward_data ? row : 1; /* written / read channel steps */
  for (int64_t b = blocks * th / nth; b < blocks * (th + 1) / nth; b++)
    for (int64_t t = 0; t < p->taps; t++) {
      const float *src = p->w + t * p->c + b * lanes * so;
      float *dst = wp + (b * p->taps + (p->flip ? p->taps - 1 - t : t)) * nin * lanes;
      for (int64_t i = 0; i < nin; i++, dst += lanes, src += si)
        if (so == 1)
          memcpy(dst, src, (size_t)lanes * sizeof *dst);
        else
          for (int64_t j = 0; j < lanes; j++) dst[j] = src[j * so];
    }
}

/* A direct pass. The forward adds w x input into y (zeroed first). Backward-data at stride 1 is the forward of the
 * flipped kernel (flipped_geom), adding into dx; at larger strides it runs the forward's pairs the other way, a
 * scatter adding w^T x dy into dx (a tap's dx pixels are s pixels apart, which the kernels' strides express).
 * Either zeroes each image of dx first when dx is to be set rather than added into. */
typedef struct direct_conv {
  const sc_kernels *kern; /* its conv table, and the element-wise kernels of the epilogue */
  direct_geom g; /* gather: y (K channels) is written from x (C channels); scatter: the reverse */
  weight_pack pack; /* packed into wp by the team before the images */
  float *wp;
  float *x, *y; /* the side a pass reads comes from a const argument and is never written */
  int scatter;   /* strided backward-data: x is written */
  int overwrite; /* the written side is zeroed per image, then accumulated (SC_GRAD_SET; the forward sets) */
  int threads;   /* the team size asked of sc_parallel (1: the calling thread alone) */
  int64_t lanes; /* outputs per kernel call: 16 (tap, row3) or 64 (tap64) */
  const sc_gemm_epilogue *ep; /* the forward's epilogue, applied to each image once it is done (NULL: none) */
} direct_conv;

/* Stride-1 backward-data as a forward: dx (H x W x C) gathers from dy (OH x OW x K) through the taps mirrored in
 * both axes, with the padding that completes the kernel (kh - 1 - pad). Tap t of this geometry is tap
 * kh*kw - 1 - t of the forward's. */
static direct_geom flipped_geom(const direct_geom *g) {
  return (direct_geom){.n = g->n, .h = g->oh, .w = g->ow, .c = g->k, .oh = g->h, .ow = g->w, .k = g->c, .kh = g->kh,
                       .kw = g->kw, .sy = 1, .sx = 1, .py = g->kh - 1 - g->py, .px = g->kw - 1 - g->px};
}

/* One kernel row of a gather pass for one output block, on row3: the output columns whose three taps all read real
 * pixels go to row3, the rest (a column or two at each side) to the tap kernel, which then walks down the column
 * so that its pixel groups stay full. */
static void gather_row3(const direct_conv *dc, const float *x, float *y, int64_t ob, int64_t ky, int64_t cin) {
  const direct_geom *g = &dc->g;
  const sc_conv_config *cv = dc->kern->conv;
  const float *wrow = dc->wp + (ob * g->kh * 3 + ky * 3) * cin * SC_CONV_LANES;
  int64_t xa = 0, xb = g->ow;
  for (int64_t kx = 0; kx < 3; kx++) {
    int64_t lo, hi;
    tap_span(g->ow, g->w, 1, g->px, kx, &lo, &hi);
    xa = lo > xa ? lo : xa, xb = hi < xb ? hi : xb;
  }
  tap_rect r;
  if (xa < xb && tap_rect_cols(g, ky, 0, xa, xb, &r))
    cv->row3(r.rows, r.cols, (size_t)cin, x + r.x_off, r.xrs, r.xps, wrow, y + r.y_off + ob * SC_CONV_LANES,
                   r.yrs, r.yps);
  else
    xa = xb = g->ow;
  for (int64_t kx = 0; kx < 3; kx++)
    for (int side = 0; side < 2; side++) {
      if (!tap_rect_cols(g, ky, kx, side ? xb : 0, side ? g->ow : xa, &r)) continue;
      for (size_t j = 0; j < r.cols; j++)
        cv->tap(1, r.rows, (size_t)cin, x + r.x_off + j * r.xps, 0, r.xrs, wrow + kx * cin * SC_CONV_LANES,
                      y + r.y_off + j * r.yps + ob * SC_CONV_LANES, 0, r.yrs);
    }
}

/* Prefetches the next `chunk` of the `lines` cache lines from `base` into L2; *staged counts those issued. */
static void prefetch_lines(const float *base, int64_t *staged, int64_t chunk, int64_t lines) {
  for (const int64_t end = *staged + chunk < lines ? *staged + chunk : lines; *staged < end; ++*staged)
    __builtin_prefetch(base + *staged * 16, 0, 2);
}

static void direct_conv_part(void *arg) {
  const direct_conv *dc = arg;
  const direct_geom *g = &dc->g;
  const int64_t taps = g->kh * g->kw, cin = dc->scatter ? g->k : g->c;
  const int64_t lanes = dc->lanes, blocks = (dc->scatter ? g->c : g->k) / lanes;
  const sc_conv_config *cv = dc->kern->conv;
  const sc_f32_conv_tap_fn tap = lanes == 64 ? cv->tap64 : cv->tap;
  const int rows3 = !dc->scatter && lanes == SC_CONV_LANES && cv->row3 && g->kw == 3 && g->sx == 1;
  int th, nth;
  int64_t n0, n1;
  team_share(dc->threads, g->n, &th, &nth, &n0, &n1);
  pack_weights_part(&dc->pack, dc->wp, th, nth);
  if (nth > 1) {
#pragma omp barrier
  }
  /* The next image's input is fetched into L2 while this one computes, a slice before each kernel call: the
   * hardware prefetcher alone left the first pass over each small image waiting on memory (one core, AVX-512:
   * forward 28x28x16-32s2 117 -> 150 GFLOP/s, 14x14x32-32s1 207 -> 235; backward-data 28x28x16-32s2 154 -> 169,
   * 14x14x32-32s1 207 -> 236; 32x32x64-64s1 and 7x7x64-64s1 unchanged). */
  const int64_t src_img = dc->scatter ? g->oh * g->ow * g->k : g->h * g->w * g->c, src_lines = (src_img + 15) / 16;
  const int64_t calls = blocks * (rows3 ? g->kh : taps), chunk = (src_lines + calls - 1) / calls;
  for (int64_t n = n0; n < n1; n++) {
    float *x = dc->x + n * g->h * g->w * g->c, *y = dc->y + n * g->oh * g->ow * g->k;
    const float *next = (dc->scatter ? y : x) + src_img;
    int64_t staged = n + 1 < n1 ? 0 : src_lines; /* lines of the next image prefetched */
    if (dc->overwrite && dc->scatter) memset(x, 0, (size_t)(g->h * g->w * g->c) * sizeof(float));
    if (dc->overwrite && !dc->scatter) memset(y, 0, (size_t)(g->oh * g->ow * g->k) * sizeof(float));
    for (int64_t ob = 0; ob < blocks; ob++) {
      if (rows3) {
        for (int64_t ky = 0; ky < g->kh; ky++) {
          prefetch_lines(next, &staged, chunk, src_lines);
          gather_row3(dc, x, y, ob, ky, cin);
        }
        continue;
      }
      for (int64_t t = 0; t < taps; t++) {
        prefetch_lines(next, &staged, chunk, src_lines);
        tap_rect r;
        if (!tap_rect_of(g, t, &r)) continue;
        const float *wt = dc->wp + (ob * taps + t) * cin * lanes;
        if (dc->scatter)
          tap(r.rows, r.cols, (size_t)cin, y + r.y_off, r.yrs, r.yps, wt, x + r.x_off + ob * lanes, r.xrs, r.xps);
        else
          tap(r.rows, r.cols, (size_t)cin, x + r.x_off, r.xrs, r.xps, wt, y + r.y_off + ob * lanes, r.yrs, r.yps);
      }
    }
    /* the image's output is final, and still in cache */
    const size_t pix = (size_t)(g->oh * g->ow);
    sc_gemm_epilogue_apply(dc->kern, dc->ep, dc->y, (size_t)g->k, (size_t)n * pix, pix, 0, (size_t)g->k);
  }
}

/* Runs the forward (x -> y, with the epilogue ep) or backward-data (dy -> dx) of s on the direct kernels, `lanes`
 * outputs per call, writing as ow says (the forward sets): the team packs w (weight_pack), then splits the
 * images. */
static sc_status direct_conv_run(const char *fn, const sc_kernels *kern, const sc_conv2d_shape *s,
                                 const conv_dims *d, const float *w, float *x, float *y, int64_t lanes,
                                 int backward_data, sc_grad_write ow, const sc_gemm_epilogue *ep) {
  const int flip = backward_data && s->stride_h == 1 && s->stride_w == 1;
  float *wp = scratch_get((size_t)d->w_elems);
  if (!wp) return sc_error(SC_ENOMEM, "%s: cannot allocate %lld floats of scratch", fn, (long long)d->w_elems);
  const weight_pack pack = {.w = w, .k = s->k, .c = s->c, .taps = s->kh * s->kw, .lanes = lanes,
                            .backward_data = backward_data, .flip = flip};
  direct_conv g = {.kern = kern, .g = geom_of(s, d), .pack = pack, .wp = wp, .x = x, .y = y,
                   .scatter = backward_data && !flip, .overwrite = ow == SC_GRAD_SET,
                   .threads = direct_threads(s->n), .lanes = lanes, .ep = ep};
  if (flip) g.g = flipped_geom(&g.g), g.x = y, g.y = x;
  sc_parallel(g.threads, direct_conv_part, &g);
  return SC_OK;
}

/* Weight gradient: each thread sums its images into its own [output block][tap][input channel][16] buffer; then
 * each adds all the buffers, in thread order, into its share of dw's rows (K x kh x kw x C). */
typedef struct direct_dw {
  const sc_conv_config *kern;
  direct_geom g;
  const float *x, *dy;
  float *dw;
  float *part; /* per thread: part + thread * per_thread */
  int64_t per_thread;
  int threads;
} direct_dw;

static void direct_dw_part(void *arg) {
  const direct_dw *dd = arg;
  const direct_geom *g = &dd->g;
  const int64_t taps = g->kh * g->kw, blocks = g->k / SC_CONV_LANES, cb = (int64_t)dd->kern->dw_block;
  int th, nth;
  int64_t n0, n1;
  team_share(dd->threads, g->n, &th, &nth, &n0, &n1);
  float *acc = dd->part + th * dd->per_thread;
  memset(acc, 0, (size_t)dd->per_thread * sizeof(float));
  /* While an image computes, the kernels stage the next one's x and dy in L2, a line per pixel, and again from
   * the start once all are issued: the hardware prefetcher alone left the first pass over each small image waiting
   * on memory (one core, AVX-512: 28x28x16-32s2 122 -> 224 GFLOP/s, 14x14x32-64s2 155 -> 218, 32x32x64-64s1
   * 207 -> 227; the same lines issued in bursts between calls cost 28x28x16-16s1 a sixth, staged by the kernels
   * nothing) */
  const int64_t x_img = g->h * g->w * g->c, y_img = g->oh * g->ow * g->k;
  const int64_t x_lines = (x_img + 15) / 16, lines = x_lines + (y_img + 15) / 16;
  for (int64_t n = n0; n < n1; n++) {
    const float *x = dd->x + n * x_img, *dy = dd->dy + n * y_img;
    int64_t staged = 0;
    for (int64_t kb = 0; kb < blocks; kb++)
      for (int64_t t = 0; t < taps; t++) {
        tap_rect r;
        if (!tap_rect_of(g, t, &r)) continue;
        for (int64_t c0 = 0; c0 < g->c; c0 += cb) {
          const int64_t at = staged % lines; /* the next image's x, then its dy; the last image stages its own x */
          const float *pf = n + 1 >= n1 ? x : at < x_lines ? x + x_img + at * 16 : dy + y_img + (at - x_lines) * 16;
          staged += (int64_t)(r.rows * r.cols);
          dd->kern->tap_dw(r.rows, r.cols, (size_t)(g->c - c0 < cb ? g->c - c0 : cb), x + r.x_off + c0, r.xrs, r.xps,
                           dy + r.y_off + kb * SC_CONV_LANES, r.yrs, r.yps,
                           acc + ((kb * taps + t) * g->c + c0) * SC_CONV_LANES, pf);
        }
      }
  }
  if (nth > 1) {
#pragma omp barrier
  }
  for (int64_t k = g->k * th / nth; k < g->k * (th + 1) / nth; k++)
    for (int64_t t = 0; t < taps; t++)
      for (int64_t c = 0; c < g->c; c++) {
        const int64_t q = ((k / SC_CONV_LANES * taps + t) * g->c + c) * SC_CONV_LANES + k % SC_CONV_LANES;
        float sum = dd->part[q];
        for (int u = 1; u < nth; u++) sum += dd->part[u * dd->per_thread + q];
        dd->dw[(k * taps + t) * g->c + c] += sum;
      }
}

/* Whether the direct kernels serve this convolution, by what measured faster than the implicit GEMM
 * (simclr_bench conv/..., one core; the tables below are in the commit history): a kernel table that has them,
 * not a plain 1x1, and at least one image per thread (threads take whole images).
 *  - 16 outputs per call (tap): up to 32 channels each way. The forward and backward-data re-read each output
 *    block once per tap, which pays only while rows are long and channels few (28x28x16-16s1: 1.7x faster).
 *    Strided backward-data (the scatter) reads up to 64, where the GEMM would be only C <= 32 columns wide. Batch
 *    256, two threads: 28x28x32-64s2 9.4 -> 5.9 ms, its 1x1 projection 2.4 -> 1.1, 32x32x32-64s2 13.6 -> 7.0
 *    (one thread: 18.2 -> 11.9, 4.3 -> 2.3, 23.6 -> 14.0). Batch 512, 14x14x32-64s2 (7x7 outputs) 5.7 -> 4.9 ms
 *    on two threads but 8.6 -> 9.8 on one, so one thread keeps the GEMM below 8x8 outputs.
 *    With 3-wide kernels at stride 1 along rows (gathers only: the forward, and backward-data at stride 1), the
 *    table's row3 takes a kernel row at a time where it has one, so that each input value loaded feeds three
 *    output pixels: 28x28x16-16s1 forward 12.1 -> 9.2 ms and backward-data 11.6 -> 8.3 ms, 14x14x32-32s1
 *    10.1 -> 8.1 and 10.0 -> 8.5 ms, the stem (28x28x1-16s1) forward 2.85 -> 1.47 ms (AVX-512, batch 512, one core).
 *    Stride-1 backward-data runs as the forward of the mirrored kernel (flipped_geom) whatever the lanes; the
 *    64-lane layers ran as fast that way as by the scatter (7x7x64-64s1, 4x4x128-128s1).
 *  - 64 outputs per call (tap64, where the table has it): at least 64 input channels. Each input channel then
 *    feeds 16 FMAs per pixel from one broadcast, and nothing is gathered or spent on the padding (7x7x64-64s1:
 *    1.45x, 4x4x128-128s1: 1.4x, 32x32x64-64s1: 1.3x, 16x16x128-128s1: 1.2x, 8x8x256-256s1: 1.15x).
 *    Backward-data only up to 256 x 256 channels at stride 1: 4x4x512-512s1 ran 1.2x slower there (the forward
 *    1.25x faster). Strided, with more than one tap, at any width: the GEMM's stride phases (backward_data) are
 *    GEMMs of 1 to 4 taps over few rows, padding included, added into place through a tile. Batch 64,
 *    8x8x256-512s2 (Zen 4, paired with oneDNN, medians of 3): 87-91 -> 107-108 GFLOP/s on one core (0.69-0.71x
 *    -> 0.84-0.87x oneDNN), 127-172 -> 196-212 on two (0.51-0.68x -> 0.78-0.86x). Grouping images so that a
 *    tap's weights (128 KB a block here) served several from L2 measured no faster. A strided 1x1 forward (a
 *    projection shortcut) reads one tap, so there is no padding to skip and the gathered GEMM's panels are plain
 *    channel runs: from 128 input channels the GEMM won (forward, ms, two threads / one: ResNet-50 at batch 16,
 *    56x56x256-512s2 11.3 -> 9.5 / 21.3 -> 18.5, 14x14x1024-2048s2 13.3 -> 10.7 / 23.2 -> 19.9; batch 512,
 *    14x14x128-256s2 6.1 -> 5.3 / 11.8 -> 10.4, 5x5x128-256s2 1.17 -> 0.93 / 2.31 -> 1.83; 28x28x512-1024s2 level
 *    on two threads), at 64 the direct kernel (28x28x64-128s2 at batch 512: 6.9 against 7.8 / 13.4 against 15.3).
 *  - backward-weights (tap_dw) keeps its accumulators in registers over a whole image, and wins or ties while a
 *    tap's weights are at most 256 x 256 (28x28x16-16s1: 3.2x, 16x16x128-128s1: 1.15x, 8x8x256-256s1 on two
 *    threads: 1.13x). Beyond, each image streams the whole weight gradient through the caches (8x8x256-512s2:
 *    0.77x, 4x4x512-512s1: 0.88x).
 * cin and cout are the channels read and written: C and K for the forward, K and C for backward-data. */
static int direct_ok(const sc_kernels *kern, const sc_conv2d_shape *s) {
  return kern->conv && !is_pointwise(s) && s->n >= sc_num_threads();
}

static int64_t direct_lanes(const sc_kernels *kern, const sc_conv2d_shape *s, int64_t cin, int64_t cout,
                            int backward_data) {
  if (!direct_ok(kern, s)) return 0;
  int64_t oh = 0, ow = 0;
  sc_conv2d_out_size(s, &oh, &ow);
  const int scatter = backward_data && (s->stride_h > 1 || s->stride_w > 1);
  const int64_t max_cin = scatter && (oh * ow >= 64 || sc_num_threads() > 1) ? 64 : 32;
  if (cout % SC_CONV_LANES == 0 && cin <= max_cin && cout <= 32) return SC_CONV_LANES;
  if (!backward_data && s->kh == 1 && s->kw == 1 && cin >= 128) return 0;
  const int strided_taps = scatter && s->kh * s->kw > 1; /* see the list above: strided backward-data */
  if (kern->conv->tap64 && cout % 64 == 0 && cin >= 64 && (!backward_data || cin * cout <= 256 * 256 || strided_taps))
    return 64;
  return 0;
}

static int direct_dw_fits(const sc_kernels *kern, const sc_conv2d_shape *s) {
  return direct_ok(kern, s) && s->k % SC_CONV_LANES == 0 && s->c * s->k <= 256 * 256;
}

/* ---- forward ----------------------------------------------------------------------------------------------- */

/* x: N x H x W x C, w: K x kh x kw x C, y: N x OH x OW x K (overwritten). */
sc_status sc_conv2d_forward(const sc_conv2d_shape *s, const float *x, const float *w, float *y) {
  return sc_conv2d_forward_ep(s, x, w, y, NULL);
}

/* The Winograd tile s takes on kern (0: none), where F(4x4, 3x3) is allowed (infer) or not. */
static int wino_tile_of(const sc_kernels *kern, const sc_conv2d_shape *s, int infer) {
  if (infer && sc_wino4_applies(kern, s)) return 4;
  return sc_wino_applies(kern, s, s->c, s->k) ? 2 : 0;
}

/* infer: F(4x4, 3x3) allowed, with the weights prepared in pw (NULL: none) */
static sc_status forward(const sc_conv2d_shape *s, const float *x, const float *w, float *y, const sc_gemm_epilogue *e,
                         int infer, const sc_conv2d_prepared *pw) {
  const sc_kernels *kern = sc_kernels_active();
  if (!kern) return sc_init();
  conv_dims d;
  SC_TRY(check_shape("sc_conv2d_forward", s, &d));
  if ((d.y_elems > 0 && !y) || (d.y_elems > 0 && d.depth > 0 && (!x || !w)))
    return sc_error(SC_EINVAL, "sc_conv2d_forward: null tensor pointer");
  if (d.y_elems == 0) return SC_OK;
  const size_t m = (size_t)d.pixels, n = (size_t)s->k, depth = (size_t)d.depth;
  /* a residual in y itself: add into y, and leave the residual out of the epilogue */
  const int in_place = e && e->residual == y;
  if (in_place && e->ldr != n)
    return sc_error(SC_EINVAL, "sc_conv2d_forward: a residual in the output must have its row stride");
  const sc_gemm_epilogue rest = {.bias = e ? e->bias : NULL, .relu = e ? e->relu : 0};
  if (in_place) e = &rest;
  const float beta = in_place ? 1.0f : 0.0f;
  sc_gemm_src b = sc_gemm_src_matrix(w, depth, 1);
  if (is_pointwise(s)) {
    sc_gemm_src a = sc_gemm_src_matrix(x, (size_t)s->c, 1);
    return sc_gemm_run_ep(kern, m, n, depth, &a, &b, 1.0f, beta, y, n, e);
  }
  const int tile = wino_tile_of(kern, s, infer);
  if (tile) {
    const float *u = pw && pw->u && pw->kern == kern && pw->tile == tile ? pw->u : NULL;
    return sc_wino_forward("sc_conv2d_forward", kern, s, x, w, y, in_place, e, tile, u);
  }
  const int64_t lanes = direct_lanes(kern, s, s->c, s->k, 0);
  if (lanes)
    return direct_conv_run("sc_conv2d_forward", kern, s, &d, w, (float *)x, y, lanes, 0,
                           in_place ? SC_GRAD_ADD : SC_GRAD_SET, e);
  SC_TRY(check_panel_width("sc_conv2d_forward", kern));
  conv_gather g = {.src = x, .nimg = s->n, .sh = s->h, .sw = s->w, .ch = s->c, .gh = d.oh, .gw = d.ow, .row_off = 0,
                   .my = s->stride_h, .mx = s->stride_w, .by = -s->pad_h, .bx = -s->pad_w,
                   .ty_step = 1, .tx_step = 1, .ntx = s->kw};
  sc_gemm_src a = {.pack = pack_gather_rows, .ctx = &g, .rows = gather_rows};
  return sc_gemm_run_ep(kern, m, n, depth, &a, &b, 1.0f, beta, y, n, e);
}

sc_status sc_conv2d_forward_ep(const sc_conv2d_shape *s, const float *x, const float *w, float *y,
                               const sc_gemm_epilogue *e) {
  return forward(s, x, w, y, e, 0, NULL);
}

sc_status sc_conv2d_infer(const sc_conv2d_shape *s, const float *x, const float *w, float *y,
                          const sc_gemm_epilogue *e, const sc_conv2d_prepared *pw) {
  return forward(s, x, w, y, e, 1, pw);
}

sc_status sc_conv2d_infer_prepare(const sc_conv2d_shape *s, const float *w, sc_conv2d_prepared *pw) {
  if (!pw) return sc_error(SC_EINVAL, "sc_conv2d_infer_prepare: null argument");
  *pw = (sc_conv2d_prepared){0};
  const sc_kernels *kern = sc_kernels_active();
  if (!kern) return sc_init();
  conv_dims d;
  SC_TRY(check_shape("sc_conv2d_infer_prepare", s, &d));
  const int tile = wino_tile_of(kern, s, 1);
  if (!tile || d.y_elems == 0) return SC_OK;
  if (!w) return sc_error(SC_EINVAL, "sc_conv2d_infer_prepare: null weights");
  SC_TRY(sc_wino_pack_weights(kern, s, w, tile, &pw->u, &pw->floats));
  pw->kern = kern, pw->tile = tile;
  return SC_OK;
}

void sc_conv2d_prepared_free(sc_conv2d_prepared *pw) {
  if (!pw) return;
  free(pw->u);
  *pw = (sc_conv2d_prepared){0};
}

/* ---- backward-data ----------------------------------------------------------------------------------------- */

/* Rows of the tile buffer per GEMM call for strided backward-data: about 4 MiB of buffer. Measured on one core,
 * 1 MiB and 4 MiB tiles ran equally fast; the larger one halves the GEMM calls (and their thread barriers), which
 * matters on busy machines. Never fewer than a few microkernel rows. */
static size_t phase_chunk_rows(int64_t c) {
  size_t rows = (size_t)(1048576 / (c > 0 ? c : 1));
  return rows < 64 ? 64 : rows;
}

/* Adds a tile of backward-data rows (one stride phase) into dx: row r of the tile is input pixel
 * (n, ph + sy*i, pw + sx*j). Run by sc_parallel; the orphaned `omp for` covers every row without a team. */
typedef struct tile_add_job {
  float *dx;
  const float *tile;
  int64_t first, rn, grid, gw, ph, pw, sy, sx, h, w;
  size_t c;
} tile_add_job;

static void tile_add_part(void *arg) {
  const tile_add_job *t = arg;
  const size_t C = t->c;
  enum { ROWS = 64 }; /* rows per share: the pixel coordinates are divided out once per share, then stepped */
  const int64_t shares = (t->rn + ROWS - 1) / ROWS;
#pragma omp for schedule(static)
  for (int64_t q = 0; q < shares; q++) {
    const int64_t r0 = q * ROWS, r1 = r0 + ROWS < t->rn ? r0 + ROWS : t->rn, row = t->first + r0;
    int64_t n = row / t->grid, rem = row - n * t->grid, i = rem / t->gw, j = rem - i * t->gw;
    for (int64_t r = r0; r < r1; r++) {
      float *o = t->dx + ((n * t->h + t->ph + t->sy * i) * t->w + t->pw + t->sx * j) * (int64_t)C;
      const float *src = t->tile + r * (int64_t)C;
      for (size_t c = 0; c < C; c++) o[c] += src[c];
      if (++j == t->gw) {
        j = 0;
        if (++i * t->gw == t->grid) i = 0, n++;
      }
    }
  }
}

/* dy: N x OH x OW x K, w: K x kh x kw x C, dx: N x H x W x C (+= or =). */
sc_status sc_conv2d_backward_data(const sc_conv2d_shape *s, float *dx, sc_grad_write dxw, const float *dy,
                                  const float *w) {
  const sc_kernels *kern = sc_kernels_active();
  if (!kern) return sc_init();
  conv_dims d;
  SC_TRY(check_shape("sc_conv2d_backward_data", s, &d));
  SC_TRY(sc_grad_write_check("sc_conv2d_backward_data", dxw));
  if ((d.x_elems > 0 && !dx) || (d.x_elems > 0 && d.w_elems > 0 && (!dy || !w)))
    return sc_error(SC_EINVAL, "sc_conv2d_backward_data: null tensor pointer");
  if (d.x_elems == 0) return SC_OK;
  const int set = dxw == SC_GRAD_SET;
  const float beta = set ? 0.0f : 1.0f;
  if (d.w_elems == 0) {
    if (set) memset(dx, 0, (size_t)d.x_elems * sizeof(float));
    return SC_OK;
  }
  const size_t C = (size_t)s->c, K = (size_t)s->k;
  if (is_pointwise(s)) {
    /* dx[P][C] (+)= dy[P][K] * w[K][C] */
    sc_gemm_src a = sc_gemm_src_matrix(dy, K, 1), b = sc_gemm_src_matrix(w, C, 0);
    return sc_gemm_run(kern, (size_t)d.pixels, C, K, &a, &b, 1.0f, beta, dx, C);
  }
  const int64_t sy = s->stride_h, sx = s->stride_w;
  const int unit_stride = sy == 1 && sx == 1;
  if (sc_wino_applies(kern, s, s->k, s->c))
    return sc_wino_backward_data("sc_conv2d_backward_data", kern, s, dx, !set, dy, w);
  const int64_t lanes = direct_lanes(kern, s, s->k, s->c, 1);
  if (lanes) return direct_conv_run("sc_conv2d_backward_data", kern, s, &d, w, dx, (float *)dy, lanes, 1, dxw, NULL);
  SC_TRY(check_panel_width("sc_conv2d_backward_data", kern));
  float *tile = NULL;
  size_t chunk = 0;
  if (!unit_stride) {
    /* the phases add their tiles into place, so a set starts from zero */
    if (set) memset(dx, 0, (size_t)d.x_elems * sizeof(float));
    chunk = phase_chunk_rows(s->c);
    tile = scratch_get(chunk * C);
    if (!tile) return sc_error(SC_ENOMEM, "sc_conv2d_backward_data: cannot allocate %zu floats of scratch", chunk * C);
  }
  /* With strides, the phases interleave in dx: they are run for a group of images at a time (about 1 MiB of dx),
   * so that the tile additions of the later phases find dx in cache rather than in DRAM. */
  const int64_t per_img = s->h * s->w * s->c;
  const int64_t group = unit_stride ? s->n : (262144 / per_img > 1 ? 262144 / per_img : 1);
  for (int64_t n0 = 0; n0 < s->n; n0 += group) {
    const int64_t nn = s->n - n0 < group ? s->n - n0 : group;
    for (int64_t ph = 0; ph < sy && ph < s->h; ph++) {
      /* input rows h = ph + sy*i get taps ky = ky0 + sy*t, reading output row oy = i + oy0 - t */
      const int64_t ky0 = (ph + s->pad_h) % sy, oy0 = (ph + s->pad_h - ky0) / sy;
      const int64_t nty = ky0 < s->kh ? (s->kh - ky0 + sy - 1) / sy : 0, gh = (s->h - ph + sy - 1) / sy;
      if (nty == 0) continue;
      for (int64_t pw = 0; pw < sx && pw < s->w; pw++) {
        const int64_t kx0 = (pw + s->pad_w) % sx, ox0 = (pw + s->pad_w - kx0) / sx;
        const int64_t ntx = kx0 < s->kw ? (s->kw - kx0 + sx - 1) / sx : 0, gw = (s->w - pw + sx - 1) / sx;
        if (ntx == 0) continue;
        conv_gather g = {.src = dy, .nimg = s->n, .sh = d.oh, .sw = d.ow, .ch = s->k, .gh = gh, .gw = gw,
                         .row_off = 0, .my = 1, .mx = 1, .by = oy0, .bx = ox0 - (ntx - 1), .ty_step = -1,
                         .tx_step = 1, .ntx = ntx};
        conv_wphase wp = {.w = w, .k = s->k, .kh = s->kh, .kw = s->kw, .c = s->c, .ky0 = ky0, .kx0 = kx0,
                          .sy = sy, .sx = sx, .ntx = ntx};
        sc_gemm_src a = {.pack = pack_gather_rows, .ctx = &g}, b = {.pack = pack_weights_phase, .ctx = &wp};
        const size_t depth = (size_t)(nty * ntx) * K, rows = (size_t)(nn * gh * gw), first = (size_t)(n0 * gh * gw);
        if (unit_stride) {
          SC_TRY(sc_gemm_run(kern, rows, C, depth, &a, &b, 1.0f, beta, dx, C));
          continue;
        }
        for (size_t r0 = first; r0 < first + rows; r0 += chunk) {
          const size_t rn = first + rows - r0 < chunk ? first + rows - r0 : chunk;
          g.row_off = (int64_t)r0;
          SC_TRY(sc_gemm_run(kern, rn, C, depth, &a, &b, 1.0f, 0.0f, tile, C));
          tile_add_job ta = {.dx = dx, .tile = tile, .first = (int64_t)r0, .rn = (int64_t)rn, .grid = gh * gw,
                             .gw = gw, .ph = ph, .pw = pw, .sy = sy, .sx = sx, .h = s->h, .w = s->w, .c = C};
          sc_parallel(rn * C >= 32768 ? sc_num_threads() : 1, tile_add_part, &ta);
        }
      }
    }
  }
  return SC_OK;
}

/* ---- backward-weights -------------------------------------------------------------------------------------- */

/* dy: N x OH x OW x K, x: N x H x W x C, dw: K x kh x kw x C (+=). */
sc_status sc_conv2d_backward_weights(const sc_conv2d_shape *s, float *dw, const float *dy, const float *x) {
  const sc_kernels *kern = sc_kernels_active();
  if (!kern) return sc_init();
  conv_dims d;
  SC_TRY(check_shape("sc_conv2d_backward_weights", s, &d));
  if ((d.w_elems > 0 && !dw) || (d.w_elems > 0 && d.pixels > 0 && (!dy || !x)))
    return sc_error(SC_EINVAL, "sc_conv2d_backward_weights: null tensor pointer");
  if (d.w_elems == 0 || d.pixels == 0) return SC_OK;
  const size_t K = (size_t)s->k, depth = (size_t)d.depth, P = (size_t)d.pixels;
  /* rows of dw are output channels, the GEMM's depth runs over pixels: dy is read transposed, contiguously */
  sc_gemm_src a = sc_gemm_src_matrix(dy, K, 0);
  if (is_pointwise(s)) {
    sc_gemm_src b = sc_gemm_src_matrix(x, (size_t)s->c, 0);
    return sc_gemm_run(kern, K, depth, P, &a, &b, 1.0f, 1.0f, dw, depth);
  }
  if (sc_wino_applies(kern, s, s->c, s->k))
    return sc_wino_backward_weights("sc_conv2d_backward_weights", kern, s, dw, dy, x);
  if (direct_dw_fits(kern, s)) {
    const int64_t per = d.w_elems;
    const int nt = direct_threads(s->n);
    float *part = scratch_get((size_t)(per * nt));
    if (!part)
      return sc_error(SC_ENOMEM, "sc_conv2d_backward_weights: cannot allocate %lld floats of scratch",
                      (long long)(per * nt));
    direct_dw g = {.kern = kern->conv, .g = geom_of(s, &d), .x = x, .dy = dy, .dw = dw, .part = part,
                   .per_thread = per, .threads = nt};
    sc_parallel(nt, direct_dw_part, &g);
    return SC_OK;
  }
  conv_cols g = {.x = x, .h = s->h, .w = s->w, .c = s->c, .oh = d.oh, .ow = d.ow, .kw = s->kw,
                 .sy = s->stride_h, .sx = s->stride_w, .py = s->pad_h, .px = s->pad_w};
  sc_gemm_src b = {.pack = pack_gather_cols, .ctx = &g};
  return sc_gemm_run(kern, K, depth, P, &a, &b, 1.0f, 1.0f, dw, depth);
}
