/* simclr_model.h: the public inference API of the simclr engine, for programs that embed or classify images with
 * a trained checkpoint (edge devices, servers). One loaded model serves concurrent calls from any number of
 * threads: each call works in activation memory of its own, so calls never wait for each other's images.
 *
 * Images are JPEG or PNG bytes in memory, or raw pixels (rows of w*c values, c = 1 or 3). They get the evaluation
 * transform: the short side resized to S/0.875 (or S for models of 32 px or less), the centre S x S kept, values
 * in [0,1], S being the model's input size. Float pixels skip the transform: they must already be S x S x C in
 * [0,1]. Every function returns a status; sc_last_error() (simclr.h) gives the calling thread's message for the
 * last failure. Nothing here prints or exits.
 *
 *   sc_model_handle *m;
 *   if (sc_model_load("r18.safetensors", &m) != SC_OK) fprintf(stderr, "%s\n", sc_last_error());
 *   float h[2048];
 *   sc_model_embed_image(m, jpeg, jpeg_len, SC_EMBED_FEATURES, h, 2048);
 *   sc_model_unload(m);
 */
#ifndef SIMCLR_MODEL_H
#define SIMCLR_MODEL_H

#include <stddef.h>

#include "simclr.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sc_model_handle sc_model_handle;

/* Which output an embedding is: the encoder's pooled features (SimCLR's h, what linear probes and retrieval use)
 * or the projection head's output (z, the space of the contrastive loss; only for checkpoints with a head). */
typedef enum sc_embed_layer { SC_EMBED_FEATURES = 0, SC_EMBED_HEAD = 1 } sc_embed_layer;

typedef enum sc_pixel_type {
  SC_PIXELS_U8 = 0,  /* 0..255, any size: resized and centre-cropped */
  SC_PIXELS_F32 = 1, /* [0,1], exactly the model's S x S x C: used as is */
} sc_pixel_type;

typedef struct sc_model_info {
  int image_size;  /* S */
  int channels;    /* C: 1 or 3 */
  int feature_dim; /* length of an SC_EMBED_FEATURES embedding */
  int head_dim;    /* length of an SC_EMBED_HEAD embedding, 0 without a projection head */
  int classes;     /* number of classes, 0 without a classifier */
} sc_model_info;

/* Loads a safetensors checkpoint (ours, or torchvision ResNet weights). */
sc_status sc_model_load(const char *path, sc_model_handle **out);
void sc_model_unload(sc_model_handle *m);
sc_status sc_model_info_of(const sc_model_handle *m, sc_model_info *info);
/* The name of class k from the checkpoint, or NULL when it stores none. */
const char *sc_model_class_name(const sc_model_handle *m, int k);

/* Embeddings: out gets the embedding's length (see sc_model_info) of floats; out_len is the room there. */
sc_status sc_model_embed_image(sc_model_handle *m, const void *bytes, size_t len, sc_embed_layer layer, float *out,
                               size_t out_len);
sc_status sc_model_embed_pixels(sc_model_handle *m, const void *pixels, int w, int h, int c, sc_pixel_type type,
                                sc_embed_layer layer, float *out, size_t out_len);

/* Class probabilities (softmax of the classifier's logits): probs gets `classes` floats. */
sc_status sc_model_classify_image(sc_model_handle *m, const void *bytes, size_t len, float *probs, size_t probs_len);
sc_status sc_model_classify_pixels(sc_model_handle *m, const void *pixels, int w, int h, int c, sc_pixel_type type,
                                   float *probs, size_t probs_len);

#ifdef __cplusplus
}
#endif
#endif
