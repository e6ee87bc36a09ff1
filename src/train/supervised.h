/* supervised.h (src/train): one supervised step for fine-tuning a model with a classifier head (fc): forward with
 * batch statistics, softmax cross-entropy against integer labels, backward, optimiser update. The linear probe is
 * the same step on a model whose encoder is frozen; freezing is the caller's choice of segments. */
#ifndef SC_TRAIN_SUPERVISED_H
#define SC_TRAIN_SUPERVISED_H

#include <stdint.h>

#include "model/model.h"
#include "optim/optim.h"

typedef struct sc_supervised sc_supervised;

/* Plans m (which must have classes > 0) for batches of `batch` images and allocates the optimiser state. With
 * only_fc != 0 the update touches fc.weight and fc.bias alone (the other gradients are still computed). */
sc_status sc_supervised_create(sc_model *m, int64_t batch, const sc_optim_config *oc, int only_fc,
                               sc_supervised **out);
void sc_supervised_free(sc_supervised *s);
/* The batch to fill: images [B][H][W][C] and labels [B] in [0, classes). */
float *sc_supervised_images(sc_supervised *s);
int32_t *sc_supervised_labels(sc_supervised *s);
/* The optimiser state (for checkpoints). */
sc_optim *sc_supervised_optim(sc_supervised *s);
/* One step at learning rate lr; *loss gets the mean cross-entropy before the update. */
sc_status sc_supervised_step(sc_supervised *s, float lr, float *loss);

#endif
