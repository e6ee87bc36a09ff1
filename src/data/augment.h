/* augment.h: the SimCLR view transforms on one decoded image, producing an S x S x C float image (NHWC, the
 * engine's activation layout) in [0,1], or normalised by mean/std when asked.
 *
 * Pretraining view, in the order of the official SimCLR code: random resized crop (area fraction U(0.08, 1),
 * aspect ratio log-uniform in (3/4, 4/3), up to 10 tries then a centre crop) resized to S (bilinear or bicubic,
 * antialiased when shrinking); horizontal flip (p 0.5); colour jitter with p 0.8 (brightness, contrast,
 * saturation 0.8 s, hue 0.2 s, in random order, clipped to [0,1] after each; s = 1.0, or 0.5 for inputs of 32 px
 * or less); grayscale (p 0.2); Gaussian blur (p 0.5, sigma U(0.1, 2.0), kernel 10% of S rounded to odd, reflect
 * padding; off by default for S <= 32). On 1-channel images saturation, hue and grayscale do nothing.
 * Linear-probe training view: crop + flip only. Evaluation view: resize the short side to S / eval_crop_fraction
 * and take the centre S x S (0.875, i.e. 256 -> 224, above 32 px; the whole image at 32 px or less).
 *
 * Randomness comes only from the sc_rng passed in (keyed by seed, epoch, sample, view), and the same draws give
 * the same bytes on every ISA up to FMA rounding. Heavy steps call the dispatched image kernels. Nothing here
 * allocates outside the scratch it is given, prints, or fails on valid input. */
#ifndef SC_DATA_AUGMENT_H
#define SC_DATA_AUGMENT_H

#include "core/rng.h"
#include "image.h"

typedef enum sc_interp { SC_INTERP_BILINEAR = 0, SC_INTERP_BICUBIC = 1 } sc_interp;
typedef enum sc_view_mode { SC_VIEW_PRETRAIN = 0, SC_VIEW_PROBE_TRAIN = 1, SC_VIEW_EVAL = 2 } sc_view_mode;

typedef struct sc_augment_options {
  int size, channels;
  float crop_area_min, crop_area_max, crop_ratio_min, crop_ratio_max;
  int crop_tries;
  sc_interp interp;
  float flip_p;
  float jitter_p, brightness, contrast, saturation, hue;
  float gray_p;
  float blur_p, blur_sigma_min, blur_sigma_max;
  float eval_crop_fraction;
  int normalize;
  float mean[3], std[3];
} sc_augment_options;

/* The defaults above for output size S and C channels, with jitter strength s (pass a negative s for the
 * default: 1.0, or 0.5 when S <= 32). */
sc_augment_options sc_augment_defaults(int size, int channels, float strength);
/* SC_EINVAL with a message naming the bad field. */
sc_status sc_augment_check(const sc_augment_options *o);

/* What one view drew: returned for inspection (tests, the augment command). */
typedef struct sc_view_params {
  float crop_x, crop_y, crop_w, crop_h; /* source box, pixels */
  int crop_fallback;                    /* 1 if the 10 tries failed and the centre crop was used */
  int flip, jitter, gray, blur;
  int order[4]; /* 0 brightness, 1 contrast, 2 saturation, 3 hue */
  float bright_f, contrast_f, sat_f, hue_d, sigma;
} sc_view_params;

/* Draws the parameters of one view of a w x h image. */
void sc_augment_draw(const sc_augment_options *o, sc_view_mode mode, int w, int h, sc_rng *rng, sc_view_params *p);

/* Working memory of one thread, grown on demand and reused across views (zero-initialise before first use). */
typedef struct sc_augment_scratch {
  unsigned char *mem;
  size_t cap;
} sc_augment_scratch;
void sc_augment_scratch_free(sc_augment_scratch *s);

/* Applies drawn parameters to src (src->c must equal o->channels), writing S*S*C floats to out. */
sc_status sc_augment_apply(const sc_augment_options *o, const sc_view_params *p, const sc_image *src,
                           sc_augment_scratch *s, float *out);
/* sc_augment_draw + sc_augment_apply. params may be NULL. */
sc_status sc_augment_view(const sc_augment_options *o, sc_view_mode mode, const sc_image *src, sc_rng *rng,
                          sc_augment_scratch *s, float *out, sc_view_params *params);

#endif
