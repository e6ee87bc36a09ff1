/* infer.h (src/api): what the public inference API and the inference commands share, so that an image gives the
 * same input tensor whichever way it enters: the evaluation transform for a model, and the loading of a checkpoint
 * together with its class names. Nothing here prints. */
#ifndef SC_API_INFER_H
#define SC_API_INFER_H

#include "data/augment.h"
#include "model/model.h"

/* The evaluation transform for m: resize the short side to S/0.875 (S above 32 px, else S), centre S x S crop,
 * values in [0,1], no mean/std normalisation (as SimCLR evaluates). */
sc_augment_options sc_infer_transform(const sc_model *m);
/* Applies it to one decoded image (src->c must be the model's channel count), writing S*S*C floats. */
sc_status sc_infer_view(const sc_augment_options *o, const sc_image *src, sc_augment_scratch *s, float *out);

/* Loads the model of a checkpoint (override as sc_checkpoint_load_model; may be NULL) and its "simclr.classes" (*names may be NULL: not wanted). */
sc_status sc_infer_load(const char *path, const sc_model_config *override, sc_model **m, char ***names,
                        int *nnames);

/* probs[k] = softmax(logits)[k], computed in double. */
void sc_infer_softmax(const float *logits, int n, float *probs);

#endif
