/* infer.c (src/api): the evaluation transform and checkpoint loading shared by the public inference API and the
 * embed, predict and knn commands. It must not keep state between calls. */
#include <math.h>
#include <stdlib.h>

#include "api/infer.h"
#include "core/error.h"
#include "train/checkpoint.h"

sc_augment_options sc_infer_transform(const sc_model *m) {
  const sc_model_config *c = sc_model_config_of(m);
  return sc_augment_defaults(c->image_size, c->in_channels, -1.0f);
}

sc_status sc_infer_view(const sc_augment_options *o, const sc_image *src, sc_augment_scratch *s, float *out) {
  sc_rng unused = {0}; /* the evaluation view draws nothing */
  return sc_augment_view(o, SC_VIEW_EVAL, src, &unused, s, out, NULL);
}

sc_status sc_infer_load(const char *path, const sc_model_config *override, sc_model **m, char ***names,
                        int *nnames) {
  if (!path || !m) return sc_error(SC_EINVAL, "null argument");
  *m = NULL;
  if (names) *names = NULL, *nnames = 0;
  sc_st_file *f;
  SC_TRY(sc_st_read(path, 0, &f));
  sc_status st = sc_checkpoint_model_from(f, path, override, m);
  if (st == SC_OK && names) {
    st = sc_checkpoint_classes(f, path, names, nnames);
    const int classes = sc_model_config_of(*m)->classes;
    if (st == SC_OK && *names && *nnames != classes) {
      st = sc_error(SC_EFORMAT, "%s: simclr.classes names %d classes, the classifier has %d", path, *nnames, classes);
      sc_checkpoint_free_classes(*names, *nnames);
      *names = NULL, *nnames = 0;
    }
    if (st != SC_OK) sc_model_free(*m), *m = NULL;
  }
  sc_st_free(f);
  return st;
}

void sc_infer_softmax(const float *logits, int n, float *probs) {
  double mx = -INFINITY, sum = 0.0;
  for (int k = 0; k < n; k++) mx = logits[k] > mx ? logits[k] : mx;
  for (int k = 0; k < n; k++) sum += exp((double)logits[k] - mx);
  for (int k = 0; k < n; k++) probs[k] = (float)(exp((double)logits[k] - mx) / sum);
}
