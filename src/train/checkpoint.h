/* checkpoint.h (src/train): saving and loading models, optimiser state and run counters as safetensors files with
 * torchvision's key names, so that PyTorch loads our encoders with one load_state_dict call and torchvision (or
 * converted SimCLR) weights load here. Convolution weights are converted between our [Cout][kh][kw][Cin] layout and
 * PyTorch's OIHW on the way in and out. Files are written atomically. Nothing here prints; every refusal names the
 * file and the tensor or field at fault.
 */
#ifndef SC_TRAIN_CHECKPOINT_H
#define SC_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "io/safetensors.h"
#include "model/model.h"
#include "optim/optim.h"

typedef struct sc_run_state {
  int64_t step;
  int64_t epoch;
  uint64_t seed;
} sc_run_state;

/* Saves parameters, BN buffers and counters under torchvision names (encoder at top level, projection head under
 * "head.", classifier as "fc."), plus, when opt is non-NULL, the optimiser state as tensors named "optim.<slot>",
 * and in __metadata__: "simclr.model" (the sc_model_config as JSON), "simclr.step", "simclr.epoch", "simclr.seed"
 * (when rs is non-NULL) and "simclr.config" (config_json, when non-NULL: the run's full configuration). Atomic. */
sc_status sc_checkpoint_save(const char *path, sc_model *m, const sc_optim *opt, const sc_run_state *rs,
                             const char *config_json);

/* Builds the model a checkpoint describes and loads its weights. Our files carry "simclr.model"; a file with only
 * torchvision keys and no metadata works too: the architecture is inferred from keys and shapes (BasicBlock or
 * Bottleneck and block counts; conv1 3x3 = CIFAR stem, 7x7 = ImageNet stem; width from channel counts; input
 * channels from conv1; "head.*" and "fc.*" present or not). Non-zero/non-default fields of override win (e.g.
 * classes to attach a new classifier, head). Refuses wrong or missing keys, shapes and dtypes (naming the tensor). */
sc_status sc_checkpoint_load_model(const char *path, const sc_model_config *override, sc_model **out);

/* Restores optimiser and run state written by sc_checkpoint_save into an existing model/optimiser of the same
 * shape; *config_json (if non-NULL) receives a malloc'd copy of "simclr.config" or NULL. */
sc_status sc_checkpoint_load_training(const char *path, sc_model *m, sc_optim *opt, sc_run_state *rs,
                                      char **config_json);

/* ---- class names, already-parsed files, the configuration as JSON ---- */

/* As sc_checkpoint_save, and when nclasses > 0 also "simclr.classes" in __metadata__: a JSON array of the class
 * names (what `simclr predict` shows). */
sc_status sc_checkpoint_save_ex(const char *path, sc_model *m, const sc_optim *opt, const sc_run_state *rs,
                                const char *config_json, const char *const *class_names, int nclasses);

/* The model configuration a parsed checkpoint describes (from "simclr.model", else inferred from its keys and
 * shapes, as sc_checkpoint_load_model), before any override. what names the file in messages. */
sc_status sc_checkpoint_config(const sc_st_file *f, const char *what, sc_model_config *cfg);
/* sc_checkpoint_load_model on a file already read with sc_st_read. */
sc_status sc_checkpoint_model_from(const sc_st_file *f, const char *what, const sc_model_config *override,
                                   sc_model **out);
/* The class names of "simclr.classes": *names gets n malloc'd strings (free with sc_checkpoint_free_classes), or
 * NULL and 0 when the file has none. A malformed value is SC_EFORMAT. */
sc_status sc_checkpoint_classes(const sc_st_file *f, const char *what, char ***names, int *n);
void sc_checkpoint_free_classes(char **names, int n);

/* The sc_model_config as the JSON object stored in "simclr.model" (malloc'd), and back. */
char *sc_model_config_to_json(const sc_model_config *cfg);
sc_status sc_model_config_from_json(const char *json, const char *what, sc_model_config *cfg);

#endif
