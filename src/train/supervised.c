/* supervised.c: the supervised step (fine-tuning, linear probe): zero the gradients, forward with batch
 * statistics, cross-entropy, its gradient into the logits' gradient, the model's backward, one optimiser update
 * over the chosen segments. It allocates only in sc_supervised_create. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../nn/nn.h"
#include "supervised.h"

struct sc_supervised {
  sc_model *model;
  sc_optim opt;
  int64_t batch, classes;
  float *prob;
  int32_t *labels;
  sc_optim_seg segs[2]; /* fc.weight and fc.bias when only the classifier trains */
  int only_fc;
};

sc_status sc_supervised_create(sc_model *m, int64_t batch, const sc_optim_config *oc, int only_fc,
                               sc_supervised **out) {
  if (!m || !oc || !out) return sc_error(SC_EINVAL, "supervised: null argument");
  *out = NULL;
  if (sc_model_config_of(m)->classes < 1) return sc_error(SC_EINVAL, "supervised: the model has no classifier");
  if (batch < 2) return sc_error(SC_EINVAL, "supervised: batch %lld (batch statistics need 2)", (long long)batch);
  SC_TRY(sc_model_plan(m, batch));
  sc_supervised *s = calloc(1, sizeof *s);
  if (!s) return sc_error(SC_ENOMEM, "supervised: out of memory");
  s->model = m, s->batch = batch, s->classes = sc_model_config_of(m)->classes, s->only_fc = only_fc;
  const sc_tensor_info *w = sc_model_find(m, "fc.weight"), *b = sc_model_find(m, "fc.bias");
  if (!w || !b) {
    free(s);
    return sc_error(SC_EINTERNAL, "supervised: classifier without fc tensors");
  }
  s->segs[0] = (sc_optim_seg){w->offset, w->count, 0};
  s->segs[1] = (sc_optim_seg){b->offset, b->count, 1};
  size_t np;
  sc_model_params(m, &np);
  sc_status st = sc_optim_init(&s->opt, oc, np);
  if (st != SC_OK) {
    free(s);
    return st;
  }
  s->prob = malloc((size_t)(batch * s->classes) * sizeof(float));
  s->labels = calloc((size_t)batch, sizeof(int32_t));
  if (!s->prob || !s->labels) {
    sc_supervised_free(s);
    return sc_error(SC_ENOMEM, "supervised: out of memory");
  }
  *out = s;
  return SC_OK;
}

void sc_supervised_free(sc_supervised *s) {
  if (!s) return;
  sc_optim_free(&s->opt);
  free(s->prob), free(s->labels), free(s);
}

float *sc_supervised_images(sc_supervised *s) { return sc_model_input(s->model); }
int32_t *sc_supervised_labels(sc_supervised *s) { return s->labels; }
sc_optim *sc_supervised_optim(sc_supervised *s) { return &s->opt; }

sc_status sc_supervised_step(sc_supervised *s, float lr, float *loss) {
  if (!s || !loss) return sc_error(SC_EINVAL, "supervised: null argument");
  sc_model *m = s->model;
  sc_model_zero_grad(m);
  SC_TRY(sc_model_forward(m, 1));
  SC_TRY(sc_nn_xent_forward(s->batch, s->classes, sc_model_output(m, NULL, NULL), s->labels, loss, s->prob));
  float *dlogits = sc_model_output_grad(m);
  memset(dlogits, 0, (size_t)(s->batch * s->classes) * sizeof(float));
  SC_TRY(sc_nn_xent_backward(s->batch, s->classes, dlogits, 1.0f, s->prob, s->labels));
  SC_TRY(sc_model_backward(m));
  size_t nseg;
  const sc_optim_seg *segs = s->only_fc ? s->segs : sc_model_segments(m, &nseg);
  if (s->only_fc) nseg = 2;
  return sc_optim_step(&s->opt, lr, sc_model_params(m, NULL), sc_model_grads(m, NULL), segs, nseg);
}
