/* checkpoint.c: models, optimiser state and run counters to and from safetensors files under torchvision's names.
 * Saving walks the model's tensor table (converting convolution weights [O][kh][kw][I] -> OIHW into a scratch
 * copy, since the writer borrows its data until it saves); loading builds the model the file describes (from our
 * "simclr.model" metadata, else inferred from torchvision keys and shapes) and copies every tensor in after checking
 * its dtype, shape and values. A file is accepted only if its tensors and the model's match one to one, apart from
 * "optim.*" and a head or classifier the caller chose to replace. This file must not print, and must never leave a
 * model half-loaded in the caller's hands: on any refusal the model is freed (load_model) or the error is reported
 * before the first byte is copied (load_training). */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/checkpoint.h"

#define META_MODEL "simclr.model"
#define META_CONFIG "simclr.config"
#define META_STEP "simclr.step"
#define META_EPOCH "simclr.epoch"
#define META_SEED "simclr.seed"
#define META_OPTIM "simclr.optim"
#define META_CLASSES "simclr.classes"

static const char *const optim_names[] = {[SC_OPTIM_SGD] = "sgd", [SC_OPTIM_LARS] = "lars", [SC_OPTIM_ADAMW] = "adamw"};

static int is_cifar_stem(const sc_model_config *c) {
  return c->stem == SC_STEM_CIFAR || (c->stem == SC_STEM_AUTO && c->image_size <= 32);
}

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }
static int ends_with(const char *s, const char *p) {
  size_t n = strlen(s), k = strlen(p);
  return n >= k && strcmp(s + n - k, p) == 0;
}

/* ---- configuration as JSON -------------------------------------------------------------------------------- */

char *sc_model_config_to_json(const sc_model_config *c) {
  static const char *const heads[] = {"none", "v1", "v2"};
  char seed[24];
  snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
  /* the stem is stored resolved, so a later change of image_size cannot flip it */
  json_t *o = json_pack("{s:i, s:f, s:i, s:i, s:s, s:i, s:s, s:i, s:i, s:s}", "depth", c->depth, "width",
                        (double)c->width, "in_channels", c->in_channels, "image_size", c->image_size, "stem",
                        is_cifar_stem(c) ? "cifar" : "imagenet", "zero_init_residual", c->zero_init_residual, "head",
                        (unsigned)c->head < 3 ? heads[c->head] : "none", "proj_dim", c->proj_dim, "classes",
                        c->classes, "seed", seed);
  if (!o) return NULL;
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  return s;
}

static sc_status get_int(json_t *o, const char *key, const char *what, int required, int *out) {
  json_t *v = json_object_get(o, key);
  if (!v) return required ? sc_error(SC_EFORMAT, "%s: " META_MODEL " lacks \"%s\"", what, key) : SC_OK;
  if (!json_is_integer(v) || json_integer_value(v) < -1000000000 || json_integer_value(v) > 1000000000)
    return sc_error(SC_EFORMAT, "%s: " META_MODEL " field \"%s\" is not an integer", what, key);
  *out = (int)json_integer_value(v);
  return SC_OK;
}

sc_status sc_model_config_from_json(const char *text, const char *what, sc_model_config *c) {
  json_error_t jerr;
  json_t *o = json_loads(text, 0, &jerr);
  if (!o || !json_is_object(o)) {
    json_decref(o);
    return sc_error(SC_EFORMAT, "%s: " META_MODEL " is not a JSON object", what);
  }
  sc_model_config cfg = sc_model_defaults();
  cfg.zero_init_residual = 0, cfg.seed = 0;
  sc_status st = SC_OK;
  const char *stem = json_string_value(json_object_get(o, "stem"));
  const char *head = json_string_value(json_object_get(o, "head"));
  const char *seed = json_string_value(json_object_get(o, "seed"));
  json_t *width = json_object_get(o, "width");
  if ((st = get_int(o, "depth", what, 1, &cfg.depth)) != SC_OK || (st = get_int(o, "in_channels", what, 1,
      &cfg.in_channels)) != SC_OK || (st = get_int(o, "image_size", what, 1, &cfg.image_size)) != SC_OK ||
      (st = get_int(o, "proj_dim", what, 1, &cfg.proj_dim)) != SC_OK ||
      (st = get_int(o, "classes", what, 1, &cfg.classes)) != SC_OK ||
      (st = get_int(o, "zero_init_residual", what, 0, &cfg.zero_init_residual)) != SC_OK) {
  } else if (!json_is_number(width)) {
    st = sc_error(SC_EFORMAT, "%s: " META_MODEL " lacks a numeric \"width\"", what);
  } else if (!stem || (strcmp(stem, "cifar") && strcmp(stem, "imagenet"))) {
    st = sc_error(SC_EFORMAT, "%s: " META_MODEL " field \"stem\" must be \"cifar\" or \"imagenet\"", what);
  } else if (!head || (strcmp(head, "none") && strcmp(head, "v1") && strcmp(head, "v2"))) {
    st = sc_error(SC_EFORMAT, "%s: " META_MODEL " field \"head\" must be \"none\", \"v1\" or \"v2\"", what);
  } else {
    cfg.width = (float)json_number_value(width);
    cfg.stem = !strcmp(stem, "cifar") ? SC_STEM_CIFAR : SC_STEM_IMAGENET;
    cfg.head = !strcmp(head, "none") ? SC_HEAD_NONE : !strcmp(head, "v1") ? SC_HEAD_PROJ_V1 : SC_HEAD_PROJ_V2;
    if (seed) {
      char *end;
      cfg.seed = strtoull(seed, &end, 10);
      if (!*seed || *end) st = sc_error(SC_EFORMAT, "%s: " META_MODEL " field \"seed\" is not a number", what);
    }
  }
  json_decref(o);
  if (st == SC_OK) *c = cfg;
  return st;
}

/* ---- saving ----------------------------------------------------------------------------------------------- */

static sc_status add_meta_i64(sc_st_writer *w, const char *key, int64_t v) {
  char b[24];
  snprintf(b, sizeof b, "%" PRId64, v);
  return sc_st_writer_meta(w, key, b);
}

static sc_status save(sc_st_writer *w, const char *path, sc_model *m, const sc_optim *opt, const sc_run_state *rs,
                      const char *config_json, const char *const *classes, int nclasses, float **scratch) {
  size_t nt, np;
  const sc_tensor_info *t = sc_model_tensors(m, &nt);
  float *params = sc_model_params(m, &np), *buffers = sc_model_buffers(m, NULL);
  int64_t *counters = sc_model_counters(m, NULL);
  size_t conv_n = 0;
  for (size_t i = 0; i < nt; i++)
    if (t[i].ohwi) conv_n += t[i].count;
  *scratch = malloc((conv_n ? conv_n : 1) * sizeof(float));
  if (!*scratch) return sc_error(SC_ENOMEM, "%s: out of memory for the checkpoint", path);
  float *oihw = *scratch;
  for (size_t i = 0; i < nt; i++) {
    const void *data;
    if (t[i].role == SC_TENSOR_COUNTER) {
      data = counters + t[i].offset;
      SC_TRY(sc_st_writer_add(w, t[i].name, SC_DT_I64, 0, NULL, data));
      continue;
    }
    const float *src = (t[i].role == SC_TENSOR_PARAM ? params : buffers) + t[i].offset;
    if (t[i].ohwi) {
      const int64_t O = t[i].shape[0], I = t[i].shape[1], KH = t[i].shape[2], KW = t[i].shape[3];
      for (int64_t o = 0; o < O; o++)
        for (int64_t y = 0; y < KH; y++)
          for (int64_t x = 0; x < KW; x++)
            for (int64_t c = 0; c < I; c++)
              oihw[((o * I + c) * KH + y) * KW + x] = src[((o * KH + y) * KW + x) * I + c];
      data = oihw;
      oihw += t[i].count;
    } else {
      data = src;
    }
    SC_TRY(sc_st_writer_add(w, t[i].name, SC_DT_F32, t[i].ndim, t[i].shape, data));
  }
  if (opt) {
    if (opt->n != np)
      return sc_error(SC_EINVAL, "%s: the optimiser holds %zu values, the model %zu parameters", path, opt->n, np);
    if ((unsigned)opt->cfg.kind > SC_OPTIM_ADAMW) return sc_error(SC_EINVAL, "%s: unknown optimiser", path);
    const int64_t n = (int64_t)np;
    SC_TRY(sc_st_writer_add(w, "optim.m", SC_DT_F32, 1, &n, opt->m));
    if (opt->cfg.kind == SC_OPTIM_ADAMW) SC_TRY(sc_st_writer_add(w, "optim.v", SC_DT_F32, 1, &n, opt->v));
    SC_TRY(sc_st_writer_add(w, "optim.steps", SC_DT_I64, 0, NULL, &opt->steps));
    SC_TRY(sc_st_writer_meta(w, META_OPTIM, optim_names[opt->cfg.kind]));
  }
  char *mj = sc_model_config_to_json(sc_model_config_of(m));
  if (!mj) return sc_error(SC_ENOMEM, "%s: out of memory", path);
  sc_status st = sc_st_writer_meta(w, META_MODEL, mj);
  free(mj);
  SC_TRY(st);
  if (rs) {
    SC_TRY(add_meta_i64(w, META_STEP, rs->step));
    SC_TRY(add_meta_i64(w, META_EPOCH, rs->epoch));
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, rs->seed);
    SC_TRY(sc_st_writer_meta(w, META_SEED, b));
  }
  if (config_json) SC_TRY(sc_st_writer_meta(w, META_CONFIG, config_json));
  if (nclasses > 0) {
    json_t *a = json_array();
    for (int i = 0; a && i < nclasses; i++)
      if (!classes[i] || json_array_append_new(a, json_string(classes[i])) != 0) {
        json_decref(a);
        return sc_error(SC_EINVAL, "%s: class name %d is missing or not UTF-8", path, i);
      }
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    if (!s) return sc_error(SC_ENOMEM, "%s: out of memory", path);
    st = sc_st_writer_meta(w, META_CLASSES, s);
    free(s);
    SC_TRY(st);
  }
  return sc_st_writer_save(w, path);
}

sc_status sc_checkpoint_save_ex(const char *path, sc_model *m, const sc_optim *opt, const sc_run_state *rs,
                                const char *config_json, const char *const *class_names, int nclasses) {
  if (!path || !m || (nclasses > 0 && !class_names)) return sc_error(SC_EINVAL, "checkpoint: null argument");
  sc_st_writer *w;
  SC_TRY(sc_st_writer_new(&w));
  float *scratch = NULL;
  sc_status st = save(w, path, m, opt, rs, config_json, class_names, nclasses, &scratch);
  sc_st_writer_free(w);
  free(scratch);
  return st;
}

sc_status sc_checkpoint_save(const char *path, sc_model *m, const sc_optim *opt, const sc_run_state *rs,
                             const char *config_json) {
  return sc_checkpoint_save_ex(path, m, opt, rs, config_json, NULL, 0);
}

/* ---- reading the architecture ------------------------------------------------------------------------------ */

static const sc_st_tensor *find_f32(const sc_st_file *f, const char *name, int rank) {
  const sc_st_tensor *t = sc_st_find(f, name);
  return t && t->dtype == SC_DT_F32 && t->rank == rank ? t : NULL;
}

/* torchvision keys only: the architecture from the names and shapes (the loader then checks every tensor). */
static sc_status infer_config(const sc_st_file *f, const char *what, sc_model_config *c) {
  const sc_st_tensor *conv1 = find_f32(f, "conv1.weight", 4);
  if (!conv1)
    return sc_error(SC_EFORMAT, "%s: no F32 4-d 'conv1.weight' and no " META_MODEL " metadata: not a ResNet "
                    "checkpoint", what);
  sc_model_config cfg = sc_model_defaults();
  cfg.zero_init_residual = 0, cfg.head = SC_HEAD_NONE, cfg.classes = 0, cfg.seed = 0;
  const int64_t base = conv1->shape[0], k = conv1->shape[2];
  if (k != conv1->shape[3] || (k != 3 && k != 7))
    return sc_error(SC_EFORMAT, "%s: conv1.weight is %" PRId64 "x%" PRId64 " (expected 3x3 for the CIFAR stem or 7x7 "
                    "for the ImageNet stem)", what, k, conv1->shape[3]);
  cfg.stem = k == 3 ? SC_STEM_CIFAR : SC_STEM_IMAGENET;
  cfg.image_size = k == 3 ? 32 : 224;
  cfg.in_channels = (int)conv1->shape[1];
  cfg.width = (float)((double)base / 64.0);
  const int bottleneck = sc_st_find(f, "layer1.0.conv3.weight") != NULL;
  int blocks[4];
  for (int s = 0; s < 4; s++) {
    blocks[s] = 0;
    for (;;) {
      char n[64];
      snprintf(n, sizeof n, "layer%d.%d.conv1.weight", s + 1, blocks[s]);
      if (!sc_st_find(f, n) || blocks[s] > 64) break;
      blocks[s]++;
    }
  }
  static const int b18[4] = {2, 2, 2, 2}, b34[4] = {3, 4, 6, 3};
  if (!memcmp(blocks, b18, sizeof blocks) && !bottleneck) cfg.depth = 18;
  else if (!memcmp(blocks, b34, sizeof blocks)) cfg.depth = bottleneck ? 50 : 34;
  else
    return sc_error(SC_EFORMAT, "%s: %s blocks per stage %d,%d,%d,%d match no supported ResNet (18: 2,2,2,2; "
                    "34 and 50: 3,4,6,3)", what, bottleneck ? "Bottleneck" : "BasicBlock", blocks[0], blocks[1],
                    blocks[2], blocks[3]);
  const sc_st_tensor *h0 = find_f32(f, "head.0.weight", 2);
  if (sc_st_find(f, "head.0.weight")) {
    const sc_st_tensor *last = NULL;
    if (sc_st_find(f, "head.6.weight")) cfg.head = SC_HEAD_PROJ_V2, last = find_f32(f, "head.6.weight", 2);
    else cfg.head = SC_HEAD_PROJ_V1, last = find_f32(f, "head.3.weight", 2);
    if (!h0 || !last)
      return sc_error(SC_EFORMAT, "%s: the projection head's Linear weights (head.0, head.%d) are missing or not "
                      "F32 matrices", what, cfg.head == SC_HEAD_PROJ_V2 ? 6 : 3);
    if (last->shape[0] < 1 || last->shape[0] > 1000000)
      return sc_error(SC_EFORMAT, "%s: projection width %" PRId64, what, last->shape[0]);
    cfg.proj_dim = (int)last->shape[0];
  }
  if (sc_st_find(f, "fc.weight")) {
    const sc_st_tensor *fc = find_f32(f, "fc.weight", 2);
    if (!fc || fc->shape[0] < 1 || fc->shape[0] > 1000000)
      return sc_error(SC_EFORMAT, "%s: fc.weight is not an F32 [classes, features] matrix", what);
    cfg.classes = (int)fc->shape[0];
  }
  *c = cfg;
  return SC_OK;
}

sc_status sc_checkpoint_config(const sc_st_file *f, const char *what, sc_model_config *cfg) {
  if (!f || !cfg) return sc_error(SC_EINVAL, "checkpoint: null argument");
  const char *mj = sc_st_meta(f, META_MODEL);
  if (mj) return sc_model_config_from_json(mj, what, cfg);
  return infer_config(f, what, cfg);
}

/* ---- loading tensors ------------------------------------------------------------------------------------- */

static void shape_str(char *b, size_t n, int rank, const int64_t *shape) {
  size_t k = (size_t)snprintf(b, n, "[");
  for (int i = 0; i < rank && k < n; i++) k += (size_t)snprintf(b + k, n - k, "%s%" PRId64, i ? ", " : "", shape[i]);
  if (k < n) snprintf(b + k, n - k, "]");
}

typedef struct parts {
  int skip_head, skip_fc; /* the model's head / classifier is new: not read from the file */
  int drop_head, drop_fc; /* the file's head / classifier tensors are not used */
} parts;

/* Pass 1 (apply = 0) checks every tensor; pass 2 (apply = 1) copies. So a refused file changes nothing. */
static sc_status transfer(const sc_st_file *f, const char *what, sc_model *m, const parts *p, int apply) {
  size_t nt;
  const sc_tensor_info *t = sc_model_tensors(m, &nt);
  float *params = sc_model_params(m, NULL), *buffers = sc_model_buffers(m, NULL);
  int64_t *counters = sc_model_counters(m, NULL);
  for (size_t i = 0; i < nt; i++) {
    if ((p->skip_head && has_prefix(t[i].name, "head.")) || (p->skip_fc && has_prefix(t[i].name, "fc."))) continue;
    const sc_st_tensor *s = sc_st_find(f, t[i].name);
    if (!s) return sc_error(SC_EFORMAT, "%s: missing tensor '%s'", what, t[i].name);
    const sc_dtype want = t[i].role == SC_TENSOR_COUNTER ? SC_DT_I64 : SC_DT_F32;
    if (s->dtype != want)
      return sc_error(SC_EFORMAT, "%s: tensor '%s' is %s, expected %s", what, t[i].name, sc_dtype_name(s->dtype),
                      sc_dtype_name(want));
    if (s->rank != t[i].ndim || memcmp(s->shape, t[i].shape, sizeof(int64_t) * (size_t)t[i].ndim) != 0) {
      char got[128], exp[128];
      shape_str(got, sizeof got, s->rank, s->shape);
      shape_str(exp, sizeof exp, t[i].ndim, t[i].shape);
      return sc_error(SC_EFORMAT, "%s: tensor '%s' has shape %s, expected %s", what, t[i].name, got, exp);
    }
    const unsigned char *src = sc_st_data(f, s);
    if (t[i].role == SC_TENSOR_COUNTER) {
      int64_t v;
      memcpy(&v, src, sizeof v);
      if (v < 0) return sc_error(SC_EFORMAT, "%s: tensor '%s' is negative (%" PRId64 ")", what, t[i].name, v);
      if (apply) counters[t[i].offset] = v;
      continue;
    }
    float *dst = (t[i].role == SC_TENSOR_PARAM ? params : buffers) + t[i].offset;
    if (!apply) {
      for (size_t j = 0; j < t[i].count; j++) {
        float v;
        memcpy(&v, src + 4 * j, 4);
        if (!isfinite(v))
          return sc_error(SC_EFORMAT, "%s: tensor '%s' holds %g at element %zu", what, t[i].name, v, j);
        if (v < 0 && ends_with(t[i].name, ".running_var"))
          return sc_error(SC_EFORMAT, "%s: tensor '%s' holds a negative variance at element %zu", what, t[i].name, j);
      }
    } else if (t[i].ohwi) {
      const int64_t O = t[i].shape[0], I = t[i].shape[1], KH = t[i].shape[2], KW = t[i].shape[3];
      for (int64_t o = 0; o < O; o++)
        for (int64_t c = 0; c < I; c++)
          for (int64_t y = 0; y < KH; y++)
            for (int64_t x = 0; x < KW; x++)
              memcpy(&dst[((o * KH + y) * KW + x) * I + c], src + 4 * (((o * I + c) * KH + y) * KW + x), 4);
    } else {
      memcpy(dst, src, t[i].count * sizeof(float));
    }
  }
  if (apply) return SC_OK;
  for (size_t i = 0; i < f->ntensors; i++) {
    const char *n = f->tensors[i].name;
    if (has_prefix(n, "optim.") || (p->drop_head && has_prefix(n, "head.")) || (p->drop_fc && has_prefix(n, "fc.")))
      continue;
    if (!sc_model_find(m, n)) {
      const sc_model_config *c = sc_model_config_of(m);
      return sc_error(SC_EFORMAT, "%s: unexpected tensor '%s' (not part of a ResNet-%d%s%s)", what, n, c->depth,
                      c->head != SC_HEAD_NONE ? " with a projection head" : "",
                      c->classes > 0 ? " with a classifier" : "");
    }
  }
  return SC_OK;
}

static sc_status apply_override(const sc_model_config *file, const sc_model_config *ov, const char *what,
                                sc_model_config *cfg) {
  *cfg = *file;
  if (!ov) return SC_OK;
  if (ov->depth && ov->depth != file->depth)
    return sc_error(SC_EINVAL, "%s: holds a ResNet-%d, not a ResNet-%d", what, file->depth, ov->depth);
  if (ov->width != 0.0f && ov->width != file->width)
    return sc_error(SC_EINVAL, "%s: holds width %g, not %g", what, file->width, ov->width);
  if (ov->in_channels && ov->in_channels != file->in_channels)
    return sc_error(SC_EINVAL, "%s: takes %d input channels, not %d", what, file->in_channels, ov->in_channels);
  if (ov->stem != SC_STEM_AUTO && ov->stem != file->stem)
    return sc_error(SC_EINVAL, "%s: has the %s stem", what, file->stem == SC_STEM_CIFAR ? "CIFAR" : "ImageNet");
  if (ov->image_size > 0) cfg->image_size = ov->image_size;
  if (ov->seed) cfg->seed = ov->seed;
  if (ov->classes > 0) {
    cfg->classes = ov->classes, cfg->head = SC_HEAD_NONE;
  } else if (ov->head != SC_HEAD_NONE) {
    cfg->head = ov->head, cfg->classes = 0;
    if (ov->proj_dim > 0) cfg->proj_dim = ov->proj_dim;
  }
  return SC_OK;
}

sc_status sc_checkpoint_model_from(const sc_st_file *f, const char *what, const sc_model_config *override,
                                   sc_model **out) {
  if (!f || !out) return sc_error(SC_EINVAL, "checkpoint: null argument");
  *out = NULL;
  sc_model_config file, cfg;
  SC_TRY(sc_checkpoint_config(f, what, &file));
  if (file.head != SC_HEAD_NONE && file.classes > 0 && !(override && (override->classes > 0 || override->head)))
    return sc_error(SC_EFORMAT, "%s: has both a projection head (head.*) and a classifier (fc.*); choose one",
                    what);
  SC_TRY(apply_override(&file, override, what, &cfg));
  if (file.head != SC_HEAD_NONE && file.classes > 0 && override && override->classes <= 0)
    file.classes = 0; /* the head was chosen: the file's fc is then one to drop */
  parts p = {0};
  const int head_same = cfg.head != SC_HEAD_NONE && cfg.head == file.head && cfg.proj_dim == file.proj_dim;
  const int fc_same = cfg.classes > 0 && cfg.classes == file.classes;
  p.skip_head = cfg.head != SC_HEAD_NONE && !head_same;
  p.skip_fc = cfg.classes > 0 && !fc_same;
  p.drop_head = !head_same;
  p.drop_fc = !fc_same;
  sc_model *m;
  /* everything is overwritten unless a new head or classifier needs its initial values */
  sc_status st = p.skip_head || p.skip_fc ? sc_model_create(&cfg, &m) : sc_model_create_zeroed(&cfg, &m);
  if (st != SC_OK) {
    char why[512];
    snprintf(why, sizeof why, "%s", sc_last_error());
    /* without an override the configuration came from the file: a bad one is a malformed file */
    return sc_error(st == SC_EINVAL && !override ? SC_EFORMAT : st, "%s: %s", what, why);
  }
  if ((st = transfer(f, what, m, &p, 0)) == SC_OK) st = transfer(f, what, m, &p, 1);
  if (st != SC_OK) {
    sc_model_free(m);
    return st;
  }
  *out = m;
  return SC_OK;
}

sc_status sc_checkpoint_load_model(const char *path, const sc_model_config *override, sc_model **out) {
  if (!path || !out) return sc_error(SC_EINVAL, "checkpoint: null argument");
  *out = NULL;
  sc_st_file *f;
  SC_TRY(sc_st_read(path, 0, &f));
  sc_status st = sc_checkpoint_model_from(f, path, override, out);
  sc_st_free(f);
  return st;
}

static sc_status meta_i64(const sc_st_file *f, const char *what, const char *key, int64_t *v) {
  const char *s = sc_st_meta(f, key);
  if (!s) return sc_error(SC_EFORMAT, "%s: no \"%s\" in the metadata (not a training checkpoint)", what, key);
  char *end;
  long long x = strtoll(s, &end, 10);
  if (!*s || *end || x < 0) return sc_error(SC_EFORMAT, "%s: \"%s\" is '%s', not a count", what, key, s);
  *v = x;
  return SC_OK;
}

sc_status sc_checkpoint_load_training(const char *path, sc_model *m, sc_optim *opt, sc_run_state *rs,
                                      char **config_json) {
  if (!path || !m) return sc_error(SC_EINVAL, "checkpoint: null argument");
  if (config_json) *config_json = NULL;
  sc_st_file *f;
  SC_TRY(sc_st_read(path, 0, &f));
  sc_status st = SC_OK;
  parts p = {0};
  sc_run_state r = {0};
  const sc_st_tensor *om = NULL, *ov = NULL, *os = NULL;
  size_t np;
  sc_model_params(m, &np);
  if ((st = transfer(f, path, m, &p, 0)) != SC_OK) goto done;
  if (opt) {
    const char *kind = sc_st_meta(f, META_OPTIM);
    om = sc_st_find(f, "optim.m"), ov = sc_st_find(f, "optim.v"), os = sc_st_find(f, "optim.steps");
    if (!kind || !om || !os) {
      st = sc_error(SC_EFORMAT, "%s: holds no optimiser state", path);
      goto done;
    }
    if ((unsigned)opt->cfg.kind > SC_OPTIM_ADAMW || strcmp(kind, optim_names[opt->cfg.kind]) != 0) {
      st = sc_error(SC_EFORMAT, "%s: optimiser state is for %s, this run uses %s", path, kind,
                    (unsigned)opt->cfg.kind <= SC_OPTIM_ADAMW ? optim_names[opt->cfg.kind] : "?");
      goto done;
    }
    const int adam = opt->cfg.kind == SC_OPTIM_ADAMW;
    if (opt->n != np || om->dtype != SC_DT_F32 || om->rank != 1 || (size_t)om->shape[0] != np ||
        (adam && (!ov || ov->dtype != SC_DT_F32 || ov->rank != 1 || (size_t)ov->shape[0] != np)) ||
        os->dtype != SC_DT_I64 || os->rank != 0) {
      st = sc_error(SC_EFORMAT, "%s: optimiser state does not match the model (%zu parameters, optimiser of %zu): "
                    "optim.m, optim.v must be F32 [%zu], optim.steps I64 []", path, np, opt->n, np);
      goto done;
    }
  }
  if (rs) {
    if ((st = meta_i64(f, path, META_STEP, &r.step)) != SC_OK ||
        (st = meta_i64(f, path, META_EPOCH, &r.epoch)) != SC_OK)
      goto done;
    const char *s = sc_st_meta(f, META_SEED);
    char *end = NULL;
    if (!s || !*s || (r.seed = strtoull(s, &end, 10), *end)) {
      st = sc_error(SC_EFORMAT, "%s: \"" META_SEED "\" is missing or not a number", path);
      goto done;
    }
  }
  if (config_json) {
    const char *c = sc_st_meta(f, META_CONFIG);
    if (c && !(*config_json = strdup(c))) {
      st = sc_error(SC_ENOMEM, "%s: out of memory", path);
      goto done;
    }
  }
  transfer(f, path, m, &p, 1);
  if (opt) {
    memcpy(opt->m, sc_st_data(f, om), np * sizeof(float));
    if (opt->cfg.kind == SC_OPTIM_ADAMW) memcpy(opt->v, sc_st_data(f, ov), np * sizeof(float));
    memcpy(&opt->steps, sc_st_data(f, os), sizeof opt->steps);
  }
  if (rs) *rs = r;
done:
  if (st != SC_OK && config_json) free(*config_json), *config_json = NULL;
  sc_st_free(f);
  return st;
}

/* ---- class names ------------------------------------------------------------------------------------------ */

void sc_checkpoint_free_classes(char **names, int n) {
  for (int i = 0; names && i < n; i++) free(names[i]);
  free(names);
}

sc_status sc_checkpoint_classes(const sc_st_file *f, const char *what, char ***names, int *n) {
  if (!f || !names || !n) return sc_error(SC_EINVAL, "checkpoint: null argument");
  *names = NULL, *n = 0;
  const char *s = sc_st_meta(f, META_CLASSES);
  if (!s) return SC_OK;
  json_error_t jerr;
  json_t *a = json_loads(s, 0, &jerr);
  if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 1000000) {
    json_decref(a);
    return sc_error(SC_EFORMAT, "%s: " META_CLASSES " is not a non-empty JSON array of names", what);
  }
  size_t k = json_array_size(a);
  char **v = calloc(k, sizeof *v);
  sc_status st = v ? SC_OK : sc_error(SC_ENOMEM, "%s: out of memory", what);
  for (size_t i = 0; st == SC_OK && i < k; i++) {
    const char *x = json_string_value(json_array_get(a, i));
    if (!x) st = sc_error(SC_EFORMAT, "%s: " META_CLASSES " entry %zu is not a string", what, i);
    else if (!(v[i] = strdup(x))) st = sc_error(SC_ENOMEM, "%s: out of memory", what);
  }
  json_decref(a);
  if (st != SC_OK) {
    sc_checkpoint_free_classes(v, (int)k);
    return st;
  }
  *names = v, *n = (int)k;
  return SC_OK;
}
