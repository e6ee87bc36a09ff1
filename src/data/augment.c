/* augment.c: drawing and applying the SimCLR view transforms (see augment.h for the recipe and its sources).
 * Resizing is separable: a vertical pass over whole source rows (uint8 -> float) and a horizontal pass through a
 * per-element tap table, with the flip folded into the table; the colour steps and the blur work in place on the
 * output. Tables and buffers live in the caller's scratch. Must not depend on thread identity or global state
 * other than the active kernel table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "core/error.h"
#include "core/mem.h"
#include "dispatch/dispatch.h"

sc_augment_options sc_augment_defaults(int size, int channels, float strength) {
  int small = size <= 32;
  float s = strength >= 0.0f ? strength : (small ? 0.5f : 1.0f);
  return (sc_augment_options){.size = size,
                              .channels = channels,
                              .crop_area_min = 0.08f,
                              .crop_area_max = 1.0f,
                              .crop_ratio_min = 3.0f / 4.0f,
                              .crop_ratio_max = 4.0f / 3.0f,
                              .crop_tries = 10,
                              .interp = SC_INTERP_BILINEAR,
                              .flip_p = 0.5f,
                              .jitter_p = 0.8f,
                              .brightness = 0.8f * s,
                              .contrast = 0.8f * s,
                              .saturation = 0.8f * s,
                              .hue = 0.2f * s,
                              .gray_p = 0.2f,
                              .blur_p = small ? 0.0f : 0.5f,
                              .blur_sigma_min = 0.1f,
                              .blur_sigma_max = 2.0f,
                              .eval_crop_fraction = small ? 1.0f : 0.875f,
                              .normalize = 0,
                              .mean = {0.0f, 0.0f, 0.0f},
                              .std = {1.0f, 1.0f, 1.0f}};
}

static int prob_ok(float p) { return p >= 0.0f && p <= 1.0f; }

sc_status sc_augment_check(const sc_augment_options *o) {
  if (o->size < 1 || o->size > 4096) return sc_error(SC_EINVAL, "augment: size %d (1..4096)", o->size);
  if (o->channels != 1 && o->channels != 3) return sc_error(SC_EINVAL, "augment: %d channels (1 or 3)", o->channels);
  if (!(o->crop_area_min > 0.0f && o->crop_area_min <= o->crop_area_max && o->crop_area_max <= 1.0f))
    return sc_error(SC_EINVAL, "augment: crop area range (%g, %g) must satisfy 0 < min <= max <= 1", o->crop_area_min,
                    o->crop_area_max);
  if (!(o->crop_ratio_min > 0.0f && o->crop_ratio_min <= o->crop_ratio_max))
    return sc_error(SC_EINVAL, "augment: crop aspect range (%g, %g)", o->crop_ratio_min, o->crop_ratio_max);
  if (o->crop_tries < 0 || o->crop_tries > 1000) return sc_error(SC_EINVAL, "augment: crop_tries %d", o->crop_tries);
  if (!prob_ok(o->flip_p) || !prob_ok(o->jitter_p) || !prob_ok(o->gray_p) || !prob_ok(o->blur_p))
    return sc_error(SC_EINVAL, "augment: a probability is outside [0,1]");
  if (!(o->brightness >= 0 && o->contrast >= 0 && o->saturation >= 0 && o->hue >= 0 && o->hue <= 0.5f))
    return sc_error(SC_EINVAL, "augment: jitter strengths must be >= 0 (hue <= 0.5)");
  if (!(o->blur_sigma_min > 0.0f && o->blur_sigma_min <= o->blur_sigma_max))
    return sc_error(SC_EINVAL, "augment: blur sigma range (%g, %g)", o->blur_sigma_min, o->blur_sigma_max);
  if (!(o->eval_crop_fraction > 0.0f && o->eval_crop_fraction <= 1.0f))
    return sc_error(SC_EINVAL, "augment: eval crop fraction %g (0 < f <= 1)", o->eval_crop_fraction);
  for (int c = 0; o->normalize && c < o->channels; c++)
    if (!(o->std[c] > 0.0f)) return sc_error(SC_EINVAL, "augment: std[%d] = %g must be > 0", c, o->std[c]);
  return SC_OK;
}

void sc_augment_scratch_free(sc_augment_scratch *s) {
  free(s->mem);
  s->mem = NULL, s->cap = 0;
}

/* ---- drawing ------------------------------------------------------------------------------------------------- */

void sc_augment_draw(const sc_augment_options *o, sc_view_mode mode, int w, int h, sc_rng *rng, sc_view_params *p) {
  memset(p, 0, sizeof *p);
  for (int i = 0; i < 4; i++) p->order[i] = i;
  p->bright_f = p->contrast_f = p->sat_f = 1.0f;
  if (mode == SC_VIEW_EVAL) {
    float side = o->eval_crop_fraction * (float)(w < h ? w : h);
    p->crop_w = p->crop_h = side;
    p->crop_x = 0.5f * ((float)w - side), p->crop_y = 0.5f * ((float)h - side);
    return;
  }
  /* torchvision RandomResizedCrop.get_params: integer boxes */
  double area = (double)w * h, lr0 = log(o->crop_ratio_min), lr1 = log(o->crop_ratio_max);
  int done = 0;
  for (int t = 0; t < o->crop_tries && !done; t++) {
    double target = area * sc_rng_range(rng, o->crop_area_min, o->crop_area_max);
    double ar = exp(lr0 + (lr1 - lr0) * sc_rng_double(rng));
    int cw = (int)lround(sqrt(target * ar)), ch = (int)lround(sqrt(target / ar));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      p->crop_x = (float)sc_rng_below(rng, (uint64_t)(w - cw + 1));
      p->crop_y = (float)sc_rng_below(rng, (uint64_t)(h - ch + 1));
      p->crop_w = (float)cw, p->crop_h = (float)ch;
      done = 1;
    }
  }
  if (!done) {
    double in_ratio = (double)w / h;
    int cw = w, ch = h;
    if (in_ratio < o->crop_ratio_min)
      ch = (int)lround(cw / (double)o->crop_ratio_min);
    else if (in_ratio > o->crop_ratio_max)
      cw = (int)lround(ch * (double)o->crop_ratio_max);
    cw = cw < 1 ? 1 : (cw > w ? w : cw), ch = ch < 1 ? 1 : (ch > h ? h : ch);
    p->crop_w = (float)cw, p->crop_h = (float)ch;
    p->crop_x = (float)((w - cw) / 2), p->crop_y = (float)((h - ch) / 2);
    p->crop_fallback = 1;
  }
  p->flip = sc_rng_uniform(rng) < o->flip_p;
  if (mode == SC_VIEW_PROBE_TRAIN) return;
  /* every draw below happens whether or not it is used, so one option does not shift the others' randomness */
  p->jitter = sc_rng_uniform(rng) < o->jitter_p;
  for (int i = 3; i > 0; i--) {
    int j = (int)sc_rng_below(rng, (uint64_t)i + 1), t = p->order[i];
    p->order[i] = p->order[j], p->order[j] = t;
  }
  p->bright_f = sc_rng_range(rng, fmaxf(0.0f, 1.0f - o->brightness), 1.0f + o->brightness);
  p->contrast_f = sc_rng_range(rng, fmaxf(0.0f, 1.0f - o->contrast), 1.0f + o->contrast);
  p->sat_f = sc_rng_range(rng, fmaxf(0.0f, 1.0f - o->saturation), 1.0f + o->saturation);
  p->hue_d = sc_rng_range(rng, -o->hue, o->hue);
  p->gray = sc_rng_uniform(rng) < o->gray_p;
  p->blur = sc_rng_uniform(rng) < o->blur_p;
  p->sigma = sc_rng_range(rng, o->blur_sigma_min, o->blur_sigma_max);
  if (!p->jitter) p->bright_f = p->contrast_f = p->sat_f = 1.0f, p->hue_d = 0.0f;
  if (!p->blur) p->sigma = 0.0f;
}

/* ---- resampling tables --------------------------------------------------------------------------------------- */

static float filter(sc_interp f, float x) {
  x = fabsf(x);
  if (f == SC_INTERP_BILINEAR) return x < 1.0f ? 1.0f - x : 0.0f;
  const float a = -0.5f; /* PIL's bicubic */
  if (x < 1.0f) return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
  if (x < 2.0f) return (((x - 5.0f) * x + 8.0f) * x - 4.0f) * a;
  return 0.0f;
}

/* Taps per output pixel when mapping a box of `in` source pixels onto `out` pixels: the filter is widened by the
 * shrink factor so that downscaling averages (antialiasing) instead of skipping pixels. */
static int tap_count(sc_interp f, float in, int out) {
  float scale = in / (float)out, fs = scale > 1.0f ? scale : 1.0f;
  float support = (f == SC_INTERP_BILINEAR ? 1.0f : 2.0f) * fs;
  return (int)ceilf(2.0f * support) + 1;
}

/* For each output pixel j (reversed if flip): taps source indices k[j*T+t] in [0, n) and normalised weights. */
static void build_axis(sc_interp f, float x0, float len, int out, int n, int flip, int T, int32_t *k, float *w) {
  float scale = len / (float)out, fs = scale > 1.0f ? scale : 1.0f;
  float support = (f == SC_INTERP_BILINEAR ? 1.0f : 2.0f) * fs;
  for (int j = 0; j < out; j++) {
    int jj = flip ? out - 1 - j : j;
    float center = x0 + ((float)jj + 0.5f) * scale;
    int first = (int)ceilf(center - support - 0.5f);
    float sum = 0.0f;
    for (int t = 0; t < T; t++) {
      int src = first + t;
      float wt = (src >= 0 && src < n) ? filter(f, ((float)src + 0.5f - center) / fs) : 0.0f;
      k[j * T + t] = src < 0 ? 0 : (src >= n ? n - 1 : src);
      w[j * T + t] = wt;
      sum += wt;
    }
    if (sum > 0.0f)
      for (int t = 0; t < T; t++) w[j * T + t] /= sum;
    else { /* box entirely outside the image: nearest pixel */
      int near = (int)floorf(center);
      near = near < 0 ? 0 : (near >= n ? n - 1 : near);
      for (int t = 0; t < T; t++) k[j * T + t] = near, w[j * T + t] = t == 0 ? 1.0f : 0.0f;
    }
  }
}

static void *carve(unsigned char **p, size_t bytes) {
  void *r = *p;
  *p += (bytes + 63) & ~(size_t)63;
  return r;
}

sc_status sc_augment_apply(const sc_augment_options *o, const sc_view_params *p, const sc_image *src,
                           sc_augment_scratch *s, float *out) {
  const sc_kernels *k = sc_kernels_active();
  if (!k) return sc_init();
  const sc_image_config *ik = k->image;
  const int S = o->size, C = o->channels;
  if (src->c != C) return sc_error(SC_EINVAL, "augment: image has %d channels, options say %d", src->c, C);
  if (src->w < 1 || src->h < 1) return sc_error(SC_EINVAL, "augment: empty image");
  const int Tx = tap_count(o->interp, p->crop_w, S), Ty = tap_count(o->interp, p->crop_h, S);
  const int r = (S / 10) / 2, B = 2 * r + 1; /* blur: kernel 10% of the side, made odd */
  const size_t n = (size_t)S * C;
  size_t need = 0;
  need += ((size_t)Tx * n * 4 + 63) * 2 + ((size_t)Tx * S * 4 + 63) * 2; /* horizontal tables */
  need += ((size_t)Ty * S * 4 + 63) * 2 + ((size_t)Ty * sizeof(void *) + 63);
  need += ((size_t)src->w * C * 4 + 63); /* one vertical-pass row */
  need += ((size_t)S * S * C * 4 + 63) + ((size_t)(S + 2 * r) * C * 4 + 63) + ((size_t)S * S * 4 + 63);
  need += ((size_t)B * 4 + 63) + ((size_t)B * sizeof(void *) + 63) + 64;
  if (s->cap < need) {
    free(s->mem);
    s->mem = sc_alloc_lines(need);
    s->cap = s->mem ? need : 0;
    if (!s->mem) return sc_error(SC_ENOMEM, "augment: out of memory for %zu bytes of scratch", need);
  }
  unsigned char *m = s->mem;
  int32_t *hk = carve(&m, (size_t)Tx * S * 4), *hidx = carve(&m, (size_t)Tx * n * 4);
  float *hw = carve(&m, (size_t)Tx * S * 4), *hwe = carve(&m, (size_t)Tx * n * 4);
  int32_t *vk = carve(&m, (size_t)Ty * S * 4);
  float *vw = carve(&m, (size_t)Ty * S * 4);
  const uint8_t **rows = carve(&m, (size_t)Ty * sizeof(void *));
  float *row = carve(&m, (size_t)src->w * C * 4);
  float *tmp = carve(&m, (size_t)S * S * C * 4), *pad = carve(&m, (size_t)(S + 2 * r) * C * 4);
  float *gray = carve(&m, (size_t)S * S * 4), *bw = carve(&m, (size_t)B * 4);
  const float **frows = carve(&m, (size_t)B * sizeof(void *));

  /* resize (and flip) */
  build_axis(o->interp, p->crop_x, p->crop_w, S, src->w, p->flip, Tx, hk, hw);
  build_axis(o->interp, p->crop_y, p->crop_h, S, src->h, 0, Ty, vk, vw);
  int xlo = src->w, xhi = 0;
  for (int i = 0; i < Tx * S; i++) xlo = hk[i] < xlo ? hk[i] : xlo, xhi = hk[i] > xhi ? hk[i] : xhi;
  for (int t = 0; t < Tx; t++)
    for (int j = 0; j < S; j++)
      for (int c = 0; c < C; c++) {
        size_t e = (size_t)j * C + c;
        hidx[(size_t)t * n + e] = (hk[j * Tx + t] - xlo) * C + c;
        hwe[(size_t)t * n + e] = hw[j * Tx + t];
      }
  const size_t span = (size_t)(xhi - xlo + 1) * C, stride = (size_t)src->w * C;
  for (int i = 0; i < Ty * S; i++) vw[i] *= 1.0f / 255.0f; /* uint8 -> [0,1] folded into the weights */
  for (int y = 0; y < S; y++) {
    for (int t = 0; t < Ty; t++) rows[t] = src->px + (size_t)vk[y * Ty + t] * stride + (size_t)xlo * C;
    ik->u8_rows_wsum(rows, vw + (size_t)y * Ty, Ty, span, row);
    ik->f32_gather_wsum(row, hidx, hwe, Tx, n, out + (size_t)y * n);
  }

  const size_t npix = (size_t)S * S, total = npix * C;
  if (p->jitter)
    for (int i = 0; i < 4; i++) switch (p->order[i]) {
      case 0: ik->f32_affine_clamp(out, total, p->bright_f, 0.0f); break;
      case 1: {
        const float *g = out;
        if (C == 3) ik->f32_rgb_to_gray(out, npix, gray), g = gray;
        double sum = 0.0;
        for (size_t q = 0; q < npix; q++) sum += g[q];
        float mean = (float)(sum / (double)npix);
        ik->f32_affine_clamp(out, total, p->contrast_f, (1.0f - p->contrast_f) * mean);
        break;
      }
      case 2:
        if (C == 3) ik->f32_rgb_blend_gray(out, npix, p->sat_f);
        break;
      case 3:
        if (C == 3 && p->hue_d != 0.0f) ik->f32_rgb_hue_shift(out, npix, p->hue_d);
        break;
      }
  if (p->gray && C == 3) ik->f32_rgb_blend_gray(out, npix, 0.0f);

  if (p->blur && r > 0) {
    float sum = 0.0f;
    for (int t = 0; t < B; t++) {
      float x = (float)(t - r);
      bw[t] = expf(-x * x / (2.0f * p->sigma * p->sigma));
      sum += bw[t];
    }
    for (int t = 0; t < B; t++) bw[t] /= sum;
    for (int y = 0; y < S; y++) { /* vertical pass, reflect padding (torchvision's GaussianBlur) */
      for (int t = 0; t < B; t++) {
        int yy = y + t - r;
        yy = yy < 0 ? -yy : (yy >= S ? 2 * S - 2 - yy : yy);
        frows[t] = out + (size_t)yy * n;
      }
      ik->f32_rows_wsum(frows, bw, B, n, tmp + (size_t)y * n);
    }
    for (int y = 0; y < S; y++) {
      const float *in = tmp + (size_t)y * n;
      memcpy(pad + (size_t)r * C, in, n * sizeof *in);
      for (int q = 1; q <= r; q++) {
        memcpy(pad + (size_t)(r - q) * C, in + (size_t)q * C, C * sizeof *in);
        memcpy(pad + (size_t)(r + S - 1 + q) * C, in + (size_t)(S - 1 - q) * C, C * sizeof *in);
      }
      ik->f32_hconv(pad, bw, B, (size_t)C, n, out + (size_t)y * n);
    }
    ik->f32_affine_clamp(out, total, 1.0f, 0.0f); /* rounding of the weighted sums can step just past 1 */
  }
  if (o->normalize)
    for (size_t q = 0; q < total; q++) out[q] = (out[q] - o->mean[q % C]) / o->std[q % C];
  return SC_OK;
}

sc_status sc_augment_view(const sc_augment_options *o, sc_view_mode mode, const sc_image *src, sc_rng *rng,
                          sc_augment_scratch *s, float *out, sc_view_params *params) {
  sc_view_params local;
  sc_view_params *p = params ? params : &local;
  sc_augment_draw(o, mode, src->w, src->h, rng, p);
  return sc_augment_apply(o, p, src, s, out);
}
