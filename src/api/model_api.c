/* model_api.c (src/api): the public inference API of simclr_model.h. A handle owns the loaded model (weights,
 * BN statistics) and a pool of call contexts; each context is a view of the model (sc_model_create_view: the
 * handle's weights, an activation arena of its own), a JPEG/PNG decoder and transform scratch. A call takes a
 * context from the pool (making one when all are busy) and gives it back when done, so concurrent calls share only
 * read-only weights; the pool's lock is held for a pointer swap, never during work. This file must not print and
 * must not write to the handle's model after loading. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/infer.h"
#include "core/error.h"
#include "data/image.h"
#include "simclr_model.h"
#include "train/checkpoint.h"

typedef struct call_ctx {
  sc_model *view;
  sc_decoder *dec;
  sc_image img;
  sc_augment_scratch scratch;
  struct call_ctx *next;
} call_ctx;

struct sc_model_handle {
  sc_model *model;
  sc_augment_options transform;
  char **classes;
  int nclasses;
  pthread_mutex_t lock;
  call_ctx *idle;
};

static void ctx_free(call_ctx *c) {
  if (!c) return;
  sc_model_free(c->view);
  sc_decoder_destroy(c->dec);
  sc_image_free(&c->img);
  sc_augment_scratch_free(&c->scratch);
  free(c);
}

static sc_status ctx_acquire(sc_model_handle *h, call_ctx **out) {
  pthread_mutex_lock(&h->lock);
  call_ctx *c = h->idle;
  if (c) h->idle = c->next;
  pthread_mutex_unlock(&h->lock);
  if (!c) {
    c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c) return sc_error(SC_ENOMEM, "inference: out of memory");
    sc_status st = sc_model_create_view(h->model, &c->view);
    if (st == SC_OK) st = sc_model_plan(c->view, 1);
    if (st == SC_OK) st = sc_decoder_create(&c->dec);
    if (st != SC_OK) {
      ctx_free(c);
      return st;
    }
  }
  *out = c;
  return SC_OK;
}

static void ctx_release(sc_model_handle *h, call_ctx *c) {
  pthread_mutex_lock(&h->lock);
  c->next = h->idle;
  h->idle = c;
  pthread_mutex_unlock(&h->lock);
}

sc_status sc_model_load(const char *path, sc_model_handle **out) {
  if (!path || !out) return sc_error(SC_EINVAL, "sc_model_load: null argument");
  *out = NULL;
  SC_TRY(sc_init());
  sc_model_handle *h = calloc(1, sizeof *h);
  if (!h) return sc_error(SC_ENOMEM, "sc_model_load: out of memory");
  sc_status st = sc_infer_load(path, NULL, &h->model, &h->classes, &h->nclasses);
  if (st != SC_OK) {
    free(h);
    return st;
  }
  h->transform = sc_infer_transform(h->model);
  pthread_mutex_init(&h->lock, NULL);
  *out = h;
  return SC_OK;
}

void sc_model_unload(sc_model_handle *h) {
  if (!h) return;
  for (call_ctx *c = h->idle, *n; c; c = n) n = c->next, ctx_free(c);
  pthread_mutex_destroy(&h->lock);
  sc_checkpoint_free_classes(h->classes, h->nclasses);
  sc_model_free(h->model);
  free(h);
}

sc_status sc_model_info_of(const sc_model_handle *h, sc_model_info *info) {
  if (!h || !info) return sc_error(SC_EINVAL, "sc_model_info_of: null argument");
  const sc_model_config *c = sc_model_config_of(h->model);
  info->image_size = c->image_size, info->channels = c->in_channels;
  info->feature_dim = (int)sc_model_feature_dim(h->model);
  info->head_dim = c->head != SC_HEAD_NONE ? c->proj_dim : 0;
  info->classes = c->classes;
  return SC_OK;
}

const char *sc_model_class_name(const sc_model_handle *h, int k) {
  return h && h->classes && k >= 0 && k < h->nclasses ? h->classes[k] : NULL;
}

/* ---- one image through the model ----------------------------------------------------------------------- */

typedef struct image_in {
  const void *bytes; /* encoded, or NULL for pixels */
  size_t len;
  const void *px;
  int w, h, c;
  sc_pixel_type type;
} image_in;

/* Fills the view's input with the transformed image. */
static sc_status prepare(sc_model_handle *h, call_ctx *x, const image_in *in) {
  const int S = h->transform.size, C = h->transform.channels;
  float *dst = sc_model_input(x->view);
  if (in->bytes) {
    if (!in->len) return sc_error(SC_EINVAL, "image: empty buffer");
    SC_TRY(sc_image_decode(x->dec, "image", in->bytes, in->len, C, 0, NULL, &x->img));
    return sc_infer_view(&h->transform, &x->img, &x->scratch, dst);
  }
  if (!in->px) return sc_error(SC_EINVAL, "pixels: null buffer");
  if (in->c != 1 && in->c != 3) return sc_error(SC_EINVAL, "pixels: %d channels (1 or 3)", in->c);
  if (in->type == SC_PIXELS_F32) {
    if (in->w != S || in->h != S || in->c != C)
      return sc_error(SC_EINVAL, "pixels: float pixels must be the model's %dx%dx%d (got %dx%dx%d); pass uint8 "
                      "pixels to have them resized", S, S, C, in->w, in->h, in->c);
    const float *p = in->px;
    for (size_t i = 0; i < (size_t)S * S * C; i++)
      if (!(p[i] >= 0.0f && p[i] <= 1.0f))
        return sc_error(SC_EINVAL, "pixels: value %g at %zu is outside [0,1]", p[i], i);
    memcpy(dst, p, sizeof(float) * (size_t)S * S * C);
    return SC_OK;
  }
  if (in->type != SC_PIXELS_U8) return sc_error(SC_EINVAL, "pixels: unknown pixel type %d", (int)in->type);
  sc_decode_limits lim = sc_decode_limits_default();
  if (in->w < 1 || in->h < 1 || in->w > lim.max_w || in->h > lim.max_h)
    return sc_error(SC_EINVAL, "pixels: size %dx%d (1 to %dx%d)", in->w, in->h, lim.max_w, lim.max_h);
  SC_TRY(sc_image_reserve(&x->img, in->w, in->h, C));
  const uint8_t *p = in->px;
  const size_t n = (size_t)in->w * in->h;
  if (in->c == C) {
    memcpy(x->img.px, p, n * (size_t)C);
  } else if (C == 3) {
    for (size_t i = 0; i < n; i++) x->img.px[3 * i] = x->img.px[3 * i + 1] = x->img.px[3 * i + 2] = p[i];
  } else { /* the same luma as the decoders */
    for (size_t i = 0; i < n; i++)
      x->img.px[i] = (uint8_t)((299u * p[3 * i] + 587u * p[3 * i + 1] + 114u * p[3 * i + 2] + 500u) / 1000u);
  }
  return sc_infer_view(&h->transform, &x->img, &x->scratch, dst);
}

typedef enum what_out { OUT_FEATURES, OUT_HEAD, OUT_PROBS } what_out;

static sc_status run(sc_model_handle *h, const image_in *in, what_out what, float *out, size_t out_len) {
  if (!h || !out) return sc_error(SC_EINVAL, "inference: null argument");
  const sc_model_config *c = sc_model_config_of(h->model);
  size_t need;
  if (what == OUT_FEATURES) need = (size_t)sc_model_feature_dim(h->model);
  else if (what == OUT_HEAD) {
    if (c->head == SC_HEAD_NONE) return sc_error(SC_EINVAL, "inference: the model has no projection head");
    need = (size_t)c->proj_dim;
  } else {
    if (c->classes < 1) return sc_error(SC_EINVAL, "inference: the model has no classifier");
    need = (size_t)c->classes;
  }
  if (out_len < need) return sc_error(SC_EINVAL, "inference: output room %zu, need %zu floats", out_len, need);
  call_ctx *x = NULL;
  SC_TRY(ctx_acquire(h, &x));
  sc_status st = prepare(h, x, in);
  if (st == SC_OK) st = sc_model_forward(x->view, 0);
  if (st == SC_OK) {
    if (what == OUT_FEATURES) memcpy(out, sc_model_features(x->view, NULL, NULL), need * sizeof(float));
    else if (what == OUT_HEAD) memcpy(out, sc_model_output(x->view, NULL, NULL), need * sizeof(float));
    else sc_infer_softmax(sc_model_output(x->view, NULL, NULL), (int)need, out);
  }
  ctx_release(h, x);
  return st;
}

static what_out layer_out(sc_embed_layer layer) { return layer == SC_EMBED_HEAD ? OUT_HEAD : OUT_FEATURES; }

sc_status sc_model_embed_image(sc_model_handle *m, const void *bytes, size_t len, sc_embed_layer layer, float *out,
                               size_t out_len) {
  if (!bytes) return sc_error(SC_EINVAL, "image: null buffer");
  if (layer != SC_EMBED_FEATURES && layer != SC_EMBED_HEAD) return sc_error(SC_EINVAL, "unknown layer %d", layer);
  image_in in = {.bytes = bytes, .len = len};
  return run(m, &in, layer_out(layer), out, out_len);
}

sc_status sc_model_embed_pixels(sc_model_handle *m, const void *pixels, int w, int h, int c, sc_pixel_type type,
                                sc_embed_layer layer, float *out, size_t out_len) {
  if (layer != SC_EMBED_FEATURES && layer != SC_EMBED_HEAD) return sc_error(SC_EINVAL, "unknown layer %d", layer);
  image_in in = {.px = pixels, .w = w, .h = h, .c = c, .type = type};
  return run(m, &in, layer_out(layer), out, out_len);
}

sc_status sc_model_classify_image(sc_model_handle *m, const void *bytes, size_t len, float *probs,
                                  size_t probs_len) {
  if (!bytes) return sc_error(SC_EINVAL, "image: null buffer");
  image_in in = {.bytes = bytes, .len = len};
  return run(m, &in, OUT_PROBS, probs, probs_len);
}

sc_status sc_model_classify_pixels(sc_model_handle *m, const void *pixels, int w, int h, int c, sc_pixel_type type,
                                   float *probs, size_t probs_len) {
  image_in in = {.px = pixels, .w = w, .h = h, .c = c, .type = type};
  return run(m, &in, OUT_PROBS, probs, probs_len);
}
