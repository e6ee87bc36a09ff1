/* model.c: ResNet encoders and SimCLR heads as a flat list of layers over named values; the per-batch arena plan;
 * the forward and backward walks. Building records tensors (torchvision names, flat offsets, how to initialise
 * them), values (per-image shapes, which storage they share) and layers (which values and tensors they use).
 * The walks call src/nn layers only; this file must not compute anything a layer computes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/mem.h"
#include "../nn/nn.h"
#include "../core/profile.h"
#include "init.h"
#include "model.h"

#define NONE ((size_t)-1)

typedef enum layer_kind { L_CONV, L_BN, L_MAXPOOL, L_AVGPOOL, L_LINEAR } layer_kind;

typedef struct layer {
  layer_kind kind;
  int in, in2, out;   /* value ids (in2: a BN's residual, the block end relu(BN(in) + in2); else -1) */
  int relu;           /* BN fused with the ReLU that follows it (after the residual add, with in2) */
  size_t w, b;        /* params offsets: conv/linear weight or BN gamma; linear bias or BN beta (NONE: absent) */
  size_t rm, rv;      /* BN running statistics (buffers offsets) */
  size_t stats;       /* BN batch statistics kept for the backward: 2*C floats in m->stats */
  size_t counter;     /* BN num_batches_tracked */
  int64_t k, stride, pad, cout; /* conv and pool window; output channels of conv and linear */
} layer;

typedef struct value {
  int64_t h, w, c;    /* per image */
  int needs_grad;     /* 0 for the input images */
  int producer;       /* layer index, -1 for the input */
  int last_use;       /* last layer reading it; nlayers for the model's output */
  size_t off, goff;   /* offsets in the activation and gradient arenas (per plan) */
} value;

typedef struct init_spec {
  sc_init_kind kind;
  float arg;
} init_spec;

struct sc_model {
  sc_model_config cfg;
  sc_tensor_info *tensors;
  init_spec *inits;
  size_t ntensors, cap_tensors;
  sc_optim_seg *segs;
  size_t nsegs;
  size_t nparams, nbuffers, ncounters, nstats;
  float *params, *grads, *buffers, *stats, *zeros, *junk;
  int64_t *counters;
  int64_t max_c;
  layer *layers;
  size_t nlayers, cap_layers;
  value *values;
  size_t nvalues, cap_values;
  int v_input, v_features, v_output;
  int v_stage[4]; /* the output of each ResNet stage (layer1..layer4) */
  int64_t feat_dim;
  int oom; /* an allocation failed while building */
  int view; /* params, buffers and counters belong to another model (sc_model_create_view): evaluation only */
  int64_t batch;
  float *act, *gact;
  size_t act_n, gact_n;
};

/* ---- building ---------------------------------------------------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 1;
  size_t nc = *cap ? *cap * 2 : 64;
  while (nc < need) nc *= 2;
  void *q = realloc(*p, nc * elem);
  if (!q) return 0;
  *p = q, *cap = nc;
  return 1;
}

static size_t add_tensor(sc_model *m, const char *prefix, const char *suffix, sc_tensor_role role, int excluded,
                         int ndim, const int64_t *shape, int ohwi, sc_init_kind ik, float arg) {
  size_t cap = m->cap_tensors;
  if (m->oom || !grow((void **)&m->tensors, &m->cap_tensors, m->ntensors + 1, sizeof *m->tensors)) {
    m->oom = 1;
    return 0;
  }
  if (m->cap_tensors != cap) {
    init_spec *q = realloc(m->inits, m->cap_tensors * sizeof *m->inits);
    if (!q) {
      m->cap_tensors = cap; /* the tensor table grew, the shorter one is kept in use */
      m->oom = 1;
      return 0;
    }
    m->inits = q;
  }
  sc_tensor_info *t = &m->tensors[m->ntensors];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s%s%s", prefix, prefix[0] ? "." : "", suffix);
  t->role = role, t->excluded = excluded, t->ndim = ndim, t->ohwi = ohwi;
  t->count = 1;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i], t->count *= (size_t)shape[i];
  size_t *next = role == SC_TENSOR_PARAM ? &m->nparams : role == SC_TENSOR_BUFFER ? &m->nbuffers : &m->ncounters;
  t->offset = *next;
  *next += t->count;
  m->inits[m->ntensors] = (init_spec){ik, arg};
  m->ntensors++;
  return t->offset;
}

static int add_value(sc_model *m, int64_t h, int64_t w, int64_t c) {
  if (!grow((void **)&m->values, &m->cap_values, m->nvalues + 1, sizeof *m->values)) {
    m->oom = 1;
    return 0;
  }
  int id = (int)m->nvalues++;
  m->values[id] = (value){.h = h, .w = w, .c = c, .needs_grad = 1, .producer = -1, .last_use = -1};
  if (c > m->max_c) m->max_c = c;
  return id;
}

static layer *add_layer(sc_model *m, layer_kind kind, int in, int in2, int out) {
  if (m->oom || !grow((void **)&m->layers, &m->cap_layers, m->nlayers + 1, sizeof *m->layers)) {
    m->oom = 1;
    return NULL;
  }
  int id = (int)m->nlayers++;
  layer *l = &m->layers[id];
  *l = (layer){.kind = kind, .in = in, .in2 = in2, .out = out, .w = NONE, .b = NONE, .rm = NONE, .rv = NONE,
               .stats = NONE, .counter = NONE};
  m->values[in].last_use = id;
  if (in2 >= 0) m->values[in2].last_use = id;
  m->values[out].producer = id;
  return l;
}

static int conv(sc_model *m, const char *name, int in, int64_t cout, int64_t k, int64_t stride, int64_t pad) {
  if (m->oom) return in;
  const value v = m->values[in];
  int64_t shape[4] = {cout, v.c, k, k};
  size_t w = add_tensor(m, name, "weight", SC_TENSOR_PARAM, 0, 4, shape, 1, SC_INIT_NORMAL,
                        (float)sqrt(2.0 / (double)(cout * k * k)));
  int out = add_value(m, (v.h + 2 * pad - k) / stride + 1, (v.w + 2 * pad - k) / stride + 1, cout);
  layer *l = add_layer(m, L_CONV, in, -1, out);
  if (l) l->w = w, l->k = k, l->stride = stride, l->pad = pad, l->cout = cout;
  return out;
}

/* A BatchNorm's tensors, recorded when the layer is declared (their order is the checkpoint's and the
 * initialisation's), for bn_layer to use. */
typedef struct bn_params {
  size_t g, b, rm, rv, nbt;
} bn_params;

/* beta = 0: no shift parameter (SimCLR's last head BN). */
static bn_params bn_tensors(sc_model *m, const char *name, int64_t c, int beta, float gamma0) {
  bn_params p;
  p.g = add_tensor(m, name, "weight", SC_TENSOR_PARAM, 1, 1, &c, 0, SC_INIT_CONST, gamma0);
  p.b = beta ? add_tensor(m, name, "bias", SC_TENSOR_PARAM, 1, 1, &c, 0, SC_INIT_CONST, 0.0f) : NONE;
  p.rm = add_tensor(m, name, "running_mean", SC_TENSOR_BUFFER, 0, 1, &c, 0, SC_INIT_CONST, 0.0f);
  p.rv = add_tensor(m, name, "running_var", SC_TENSOR_BUFFER, 0, 1, &c, 0, SC_INIT_CONST, 1.0f);
  p.nbt = add_tensor(m, name, "num_batches_tracked", SC_TENSOR_COUNTER, 0, 0, NULL, 0, SC_INIT_CONST, 0.0f);
  return p;
}

/* BatchNorm (2-d or 1-d alike) over value in, with the ReLU fused if relu; with a residual (res >= 0) the end of
 * a ResNet block, relu(BN(in) + res): the BN2's backward then masks with the block's output and reads neither
 * the normalised tensor (never stored) nor the residual. */
static int bn_layer(sc_model *m, const bn_params *p, int in, int res, int relu) {
  if (m->oom) return in;
  const value v = m->values[in];
  int out = add_value(m, v.h, v.w, v.c);
  layer *l = add_layer(m, L_BN, in, res, out);
  if (!l) return out;
  l->w = p->g, l->b = p->b, l->rm = p->rm, l->rv = p->rv, l->counter = p->nbt, l->relu = relu;
  l->stats = m->nstats;
  m->nstats += 2 * (size_t)v.c;
  return out;
}

static int bn(sc_model *m, const char *name, int in, int relu, int beta, float gamma0) {
  if (m->oom) return in;
  bn_params p = bn_tensors(m, name, m->values[in].c, beta, gamma0);
  return bn_layer(m, &p, in, -1, relu);
}

static int maxpool(sc_model *m, int in) {
  if (m->oom) return in;
  const value v = m->values[in];
  int out = add_value(m, (v.h + 2 - 3) / 2 + 1, (v.w + 2 - 3) / 2 + 1, v.c);
  layer *l = add_layer(m, L_MAXPOOL, in, -1, out);
  if (l) l->k = 3, l->stride = 2, l->pad = 1;
  return out;
}

static int avgpool(sc_model *m, int in) {
  if (m->oom) return in;
  int out = add_value(m, 1, 1, m->values[in].c);
  add_layer(m, L_AVGPOOL, in, -1, out);
  return out;
}

/* PyTorch's default Linear initialisation: weight and bias U(-1/sqrt(in), 1/sqrt(in)). */
static int linear(sc_model *m, const char *name, int in, int64_t out_f, int bias) {
  if (m->oom) return in;
  const value v = m->values[in];
  int64_t shape[2] = {out_f, v.c};
  float bound = (float)(1.0 / sqrt((double)v.c));
  size_t w = add_tensor(m, name, "weight", SC_TENSOR_PARAM, 0, 2, shape, 0, SC_INIT_UNIFORM, bound);
  size_t b = bias ? add_tensor(m, name, "bias", SC_TENSOR_PARAM, 1, 1, &out_f, 0, SC_INIT_UNIFORM, bound) : NONE;
  int out = add_value(m, v.h, v.w, out_f);
  layer *l = add_layer(m, L_LINEAR, in, -1, out);
  if (l) l->w = w, l->b = b, l->cout = out_f;
  return out;
}

static int basic_block(sc_model *m, const char *p, int x, int64_t planes, int64_t stride, int64_t *inplanes) {
  char n[64];
  const float g_last = m->cfg.zero_init_residual ? 0.0f : 1.0f;
  snprintf(n, sizeof n, "%s.conv1", p);
  int y = conv(m, n, x, planes, 3, stride, 1);
  snprintf(n, sizeof n, "%s.bn1", p);
  y = bn(m, n, y, 1, 1, 1.0f);
  snprintf(n, sizeof n, "%s.conv2", p);
  y = conv(m, n, y, planes, 3, 1, 1);
  snprintf(n, sizeof n, "%s.bn2", p);
  bn_params bn2 = bn_tensors(m, n, planes, 1, g_last);
  int idn = x;
  if (stride != 1 || *inplanes != planes) {
    snprintf(n, sizeof n, "%s.downsample.0", p);
    idn = conv(m, n, x, planes, 1, stride, 0);
    snprintf(n, sizeof n, "%s.downsample.1", p);
    idn = bn(m, n, idn, 0, 1, 1.0f);
  }
  *inplanes = planes;
  return bn_layer(m, &bn2, y, idn, 1);
}

/* torchvision's Bottleneck (ResNet v1.5): the stride sits on the 3x3 convolution. */
static int bottleneck(sc_model *m, const char *p, int x, int64_t planes, int64_t stride, int64_t *inplanes) {
  char n[64];
  const float g_last = m->cfg.zero_init_residual ? 0.0f : 1.0f;
  snprintf(n, sizeof n, "%s.conv1", p);
  int y = conv(m, n, x, planes, 1, 1, 0);
  snprintf(n, sizeof n, "%s.bn1", p);
  y = bn(m, n, y, 1, 1, 1.0f);
  snprintf(n, sizeof n, "%s.conv2", p);
  y = conv(m, n, y, planes, 3, stride, 1);
  snprintf(n, sizeof n, "%s.bn2", p);
  y = bn(m, n, y, 1, 1, 1.0f);
  snprintf(n, sizeof n, "%s.conv3", p);
  y = conv(m, n, y, planes * 4, 1, 1, 0);
  snprintf(n, sizeof n, "%s.bn3", p);
  bn_params bn3 = bn_tensors(m, n, planes * 4, 1, g_last);
  int idn = x;
  if (stride != 1 || *inplanes != planes * 4) {
    snprintf(n, sizeof n, "%s.downsample.0", p);
    idn = conv(m, n, x, planes * 4, 1, stride, 0);
    snprintf(n, sizeof n, "%s.downsample.1", p);
    idn = bn(m, n, idn, 0, 1, 1.0f);
  }
  *inplanes = planes * 4;
  return bn_layer(m, &bn3, y, idn, 1);
}

sc_model_config sc_model_defaults(void) {
  return (sc_model_config){.depth = 18, .width = 1.0f, .in_channels = 3, .image_size = 32, .stem = SC_STEM_AUTO,
                           .zero_init_residual = 1, .head = SC_HEAD_PROJ_V1, .proj_dim = 128, .classes = 0,
                           .seed = 0};
}

static sc_status check_config(const sc_model_config *c) {
  if (c->depth != 18 && c->depth != 34 && c->depth != 50)
    return sc_error(SC_EINVAL, "model: depth %d (supported: 18, 34, 50)", c->depth);
  if (c->width != 0.25f && c->width != 0.5f && c->width != 1.0f && c->width != 2.0f && c->width != 4.0f)
    return sc_error(SC_EINVAL, "model: width %g (supported: 0.25, 0.5, 1, 2, 4)", c->width);
  if (c->in_channels != 1 && c->in_channels != 3)
    return sc_error(SC_EINVAL, "model: in_channels %d (supported: 1, 3)", c->in_channels);
  if (c->stem != SC_STEM_AUTO && c->stem != SC_STEM_IMAGENET && c->stem != SC_STEM_CIFAR)
    return sc_error(SC_EINVAL, "model: unknown stem %d", (int)c->stem);
  if (c->head != SC_HEAD_NONE && c->head != SC_HEAD_PROJ_V1 && c->head != SC_HEAD_PROJ_V2)
    return sc_error(SC_EINVAL, "model: unknown head %d", (int)c->head);
  if (c->head != SC_HEAD_NONE && c->proj_dim < 1) return sc_error(SC_EINVAL, "model: proj_dim %d", c->proj_dim);
  if (c->classes < 0 || (c->classes > 0 && c->head != SC_HEAD_NONE))
    return sc_error(SC_EINVAL, "model: classes %d with head %d (a classifier replaces the projection head)",
                    c->classes, (int)c->head);
  int cifar = c->stem == SC_STEM_CIFAR || (c->stem == SC_STEM_AUTO && c->image_size <= 32);
  /* the ImageNet stem divides by 4 and the stages by 8 more; every stage needs at least one pixel */
  if (c->image_size < 1 || c->image_size > 4096 || (!cifar && c->image_size < 4))
    return sc_error(SC_EINVAL, "model: image_size %d", c->image_size);
  return SC_OK;
}

static void init_params(sc_model *m) {
  for (size_t i = 0; i < m->ntensors; i++) {
    const sc_tensor_info *t = &m->tensors[i];
    if (t->role == SC_TENSOR_COUNTER) {
      m->counters[t->offset] = 0;
      continue;
    }
    float *dst = (t->role == SC_TENSOR_PARAM ? m->params : m->buffers) + t->offset;
    sc_init_fill(dst, t->count, m->inits[i].kind, m->inits[i].arg, m->cfg.seed, i);
  }
}

static sc_status create(const sc_model_config *cfg, const sc_model *share, int init, sc_model **out) {
  if (!cfg || !out) return sc_error(SC_EINVAL, "model: null argument");
  *out = NULL;
  SC_TRY(check_config(cfg));
  sc_model *m = calloc(1, sizeof *m);
  if (!m) return sc_error(SC_ENOMEM, "model: out of memory");
  m->cfg = *cfg;
  m->view = share != NULL;
  const int cifar = cfg->stem == SC_STEM_CIFAR || (cfg->stem == SC_STEM_AUTO && cfg->image_size <= 32);
  const int64_t base = (int64_t)(64 * cfg->width);
  m->v_input = add_value(m, cfg->image_size, cfg->image_size, cfg->in_channels);
  if (!m->oom) m->values[m->v_input].needs_grad = 0;
  int x = cifar ? conv(m, "conv1", m->v_input, base, 3, 1, 1) : conv(m, "conv1", m->v_input, base, 7, 2, 3);
  x = bn(m, "bn1", x, 1, 1, 1.0f);
  if (!cifar) x = maxpool(m, x);
  static const int blocks18[4] = {2, 2, 2, 2}, blocks34[4] = {3, 4, 6, 3};
  const int *blocks = cfg->depth == 18 ? blocks18 : blocks34; /* ResNet-50 has ResNet-34's stage depths */
  int64_t inplanes = base;
  for (int s = 0; s < 4; s++)
    for (int b = 0; b < blocks[s]; b++) {
      char p[32];
      snprintf(p, sizeof p, "layer%d.%d", s + 1, b);
      int64_t stride = b == 0 && s > 0 ? 2 : 1;
      x = cfg->depth == 50 ? bottleneck(m, p, x, base << s, stride, &inplanes)
                           : basic_block(m, p, x, base << s, stride, &inplanes);
      m->v_stage[s] = x;
    }
  x = m->v_features = avgpool(m, x);
  m->feat_dim = m->oom ? 0 : m->values[x].c;
  if (cfg->head != SC_HEAD_NONE) {
    /* SimCLR's head: hidden Linear layers without bias (the BN's shift replaces it) + BN + ReLU, then the output
     * Linear + BN with neither bias nor shift; as nn.Sequential indices (ReLUs hold the skipped numbers) */
    int hidden = cfg->head == SC_HEAD_PROJ_V2 ? 2 : 1, idx = 0;
    char n[32];
    for (int i = 0; i < hidden; i++, idx += 3) {
      snprintf(n, sizeof n, "head.%d", idx);
      x = linear(m, n, x, m->feat_dim, 0);
      snprintf(n, sizeof n, "head.%d", idx + 1);
      x = bn(m, n, x, 1, 1, 1.0f);
    }
    snprintf(n, sizeof n, "head.%d", idx);
    x = linear(m, n, x, cfg->proj_dim, 0);
    snprintf(n, sizeof n, "head.%d", idx + 1);
    x = bn(m, n, x, 0, 0, 1.0f);
  } else if (cfg->classes > 0) {
    x = linear(m, "fc", x, cfg->classes, 1);
  }
  m->v_output = x;
  if (!m->oom) {
    m->values[x].last_use = (int)m->nlayers; /* read by the caller's loss */
    if (share) {
      m->params = share->params, m->buffers = share->buffers, m->counters = share->counters;
    } else {
      m->params = calloc(m->nparams, sizeof(float));
      m->grads = calloc(m->nparams, sizeof(float));
      m->buffers = calloc(m->nbuffers ? m->nbuffers : 1, sizeof(float));
      m->counters = calloc(m->ncounters ? m->ncounters : 1, sizeof(int64_t));
    }
    m->stats = calloc(m->nstats ? m->nstats : 1, sizeof(float));
    m->zeros = calloc((size_t)m->max_c, sizeof(float));
    m->junk = calloc((size_t)m->max_c, sizeof(float));
    m->segs = calloc(m->ntensors, sizeof *m->segs);
    if (!m->params || (!m->grads && !share) || !m->buffers || !m->counters || !m->stats || !m->zeros || !m->junk ||
        !m->segs)
      m->oom = 1;
  }
  if (m->oom) {
    sc_model_free(m);
    return sc_error(SC_ENOMEM, "model: out of memory while building");
  }
  for (size_t i = 0; i < m->ntensors; i++)
    if (m->tensors[i].role == SC_TENSOR_PARAM)
      m->segs[m->nsegs++] = (sc_optim_seg){m->tensors[i].offset, m->tensors[i].count, m->tensors[i].excluded};
  if (!share && init) init_params(m);
  *out = m;
  return SC_OK;
}

sc_status sc_model_create(const sc_model_config *cfg, sc_model **out) { return create(cfg, NULL, 1, out); }

sc_status sc_model_create_zeroed(const sc_model_config *cfg, sc_model **out) { return create(cfg, NULL, 0, out); }

sc_status sc_model_create_view(const sc_model *src, sc_model **out) {
  if (!src) return sc_error(SC_EINVAL, "model: null argument");
  return create(&src->cfg, src, 0, out);
}

void sc_model_free(sc_model *m) {
  if (!m) return;
  if (!m->view) free(m->params), free(m->grads), free(m->buffers), free(m->counters);
  free(m->tensors), free(m->inits), free(m->segs);
  free(m->stats), free(m->zeros), free(m->junk), free(m->layers), free(m->values);
  free(m->act), free(m->gact);
  free(m);
}

/* ---- planning ---------------------------------------------------------------------------------------------- */

typedef struct block {
  size_t off, size;
  int lo, hi; /* live interval in layer indices, inclusive */
} block;

/* First fit: the lowest offset whose range does not overlap a placed block that is live at the same time. */
static size_t place(const block *placed, size_t nplaced, size_t size, int lo, int hi) {
  size_t off = 0;
  for (int moved = 1; moved;) {
    moved = 0;
    for (size_t i = 0; i < nplaced; i++) {
      const block *b = &placed[i];
      if (b->hi < lo || b->lo > hi) continue;
      if (off < b->off + b->size && b->off < off + size) off = b->off + b->size, moved = 1;
    }
  }
  return off;
}

/* A value's floats in an arena, rounded up to whole 64-byte lines: with the arenas on cache lines (sc_alloc_lines)
 * every tensor starts on one, and so does every pixel of 16 channels, so that no vector load spans two lines. */
static size_t arena_floats(const value *x, int64_t batch) {
  return ((size_t)batch * (size_t)(x->h * x->w * x->c) + 15) & ~(size_t)15;
}

/* Floats left free after value v in an arena: 0 to 15 steps of 4 KB + 64 B, varying from value to value. Tensor
 * sizes are mostly multiples of 64 KB, and in huge pages (src/core/mem.h) the arena's offsets decide the cache sets
 * all the way up to L2's: unstaggered, a layer's input, output and their gradients would start on the same sets.
 * See mem.h for the figures. */
static size_t arena_stagger(size_t v) { return v * 7 % 16 * 1040; }

sc_status sc_model_plan(sc_model *m, int64_t batch) {
  if (!m || batch < 1) return sc_error(SC_EINVAL, "model: plan for batch %lld", (long long)batch);
  if (batch == m->batch && m->act) return SC_OK;
  block *placed = malloc(m->nvalues * sizeof *placed);
  if (!placed) return sc_error(SC_ENOMEM, "model: out of memory while planning");
  size_t act_n = 0, gact_n = 0, np = 0;
  for (size_t v = 0; v < m->nvalues; v++) {
    value *x = &m->values[v];
    x->off = act_n, act_n += arena_floats(x, batch) + arena_stagger(v);
  }
  /* a gradient is live from the backward of its last reader (which starts it) to its producer's (which ends it) */
  for (size_t v = m->nvalues; v-- > 0;) {
    value *x = &m->values[v];
    if (!x->needs_grad) continue;
    size_t size = arena_floats(x, batch) + arena_stagger(v);
    int lo = x->producer, hi = x->last_use < 0 ? x->producer : x->last_use;
    x->goff = place(placed, np, size, lo, hi);
    placed[np++] = (block){x->goff, size, lo, hi};
    if (x->goff + size > gact_n) gact_n = x->goff + size;
  }
  free(placed);
  float *act = sc_alloc_lines(act_n * sizeof(float)), *gact = sc_alloc_lines(gact_n * sizeof(float));
  if (act) memset(act, 0, act_n * sizeof(float));
  if (gact) memset(gact, 0, gact_n * sizeof(float));
  if (!act || !gact) {
    free(act), free(gact);
    return sc_error(SC_ENOMEM, "model: cannot allocate %zu MB of activations for batch %lld",
                    (act_n + gact_n) * sizeof(float) >> 20, (long long)batch);
  }
  free(m->act), free(m->gact);
  m->act = act, m->gact = gact, m->act_n = act_n, m->gact_n = gact_n, m->batch = batch;
  return SC_OK;
}

/* ---- the walks --------------------------------------------------------------------------------------------- */

static float *val(const sc_model *m, int v) { return m->act + m->values[v].off; }
static float *grad(const sc_model *m, int v) { return m->values[v].needs_grad ? m->gact + m->values[v].goff : NULL; }

static sc_conv2d_shape conv_shape(const sc_model *m, const layer *l) {
  const value *x = &m->values[l->in];
  return (sc_conv2d_shape){.n = m->batch, .h = x->h, .w = x->w, .c = x->c, .k = l->cout, .kh = l->k, .kw = l->k,
                           .stride_h = l->stride, .stride_w = l->stride, .pad_h = l->pad, .pad_w = l->pad};
}

static sc_pool2d_shape pool_shape(const sc_model *m, const layer *l) {
  const value *x = &m->values[l->in];
  return (sc_pool2d_shape){.n = m->batch, .h = x->h, .w = x->w, .c = x->c, .kh = l->k, .kw = l->k,
                           .stride_h = l->stride, .stride_w = l->stride, .pad_h = l->pad, .pad_w = l->pad};
}

static sc_nn_bn_state bn_state(const sc_model *m, const layer *l) {
  int64_t c = m->values[l->in].c;
  return (sc_nn_bn_state){m->buffers + l->rm, m->buffers + l->rv, m->stats + l->stats, m->stats + l->stats + c};
}

static sc_status layer_forward(sc_model *m, const layer *l, int training) {
  const value *x = &m->values[l->in];
  const int64_t rows = m->batch * x->h * x->w;
  float *in = val(m, l->in), *out = val(m, l->out);
  switch (l->kind) {
  case L_CONV: {
    sc_conv2d_shape s = conv_shape(m, l);
    return sc_nn_conv2d_forward(&s, in, m->params + l->w, out);
  }
  case L_BN: {
    sc_nn_bn_state st = bn_state(m, l);
    const float *beta = l->b == NONE ? m->zeros : m->params + l->b;
    if (l->in2 >= 0)
      SC_TRY(sc_nn_batchnorm_add_relu_forward(rows, x->c, in, val(m, l->in2), m->params + l->w, beta, &st, training,
                                              SC_NN_BN_EPS, SC_NN_BN_MOMENTUM, out));
    else
      SC_TRY(sc_nn_batchnorm_forward(rows, x->c, in, m->params + l->w, beta, &st, training, l->relu, SC_NN_BN_EPS,
                                     SC_NN_BN_MOMENTUM, out));
    if (training) m->counters[l->counter]++;
    return SC_OK;
  }
  case L_MAXPOOL: {
    sc_pool2d_shape s = pool_shape(m, l);
    return sc_nn_maxpool_forward(&s, in, out);
  }
  case L_AVGPOOL: return sc_nn_avgpool_forward(m->batch, x->h, x->w, x->c, in, out);
  case L_LINEAR:
    return sc_nn_linear_forward(rows, x->c, l->cout, in, m->params + l->w, l->b == NONE ? NULL : m->params + l->b,
                                out);
  }
  return sc_error(SC_EINTERNAL, "model: unknown layer kind %d", (int)l->kind);
}

/* How layer i writes the gradient of its input v: it sets it if it is the first, in backward order, to write it
 * (v's last reader), and adds into it otherwise. */
static sc_grad_write input_grad_write(const sc_model *m, size_t i, int v) {
  return m->values[v].last_use == (int)i ? SC_GRAD_SET : SC_GRAD_ADD;
}

static sc_status layer_backward(sc_model *m, size_t i) {
  const layer *l = &m->layers[i];
  const value *x = &m->values[l->in];
  const int64_t rows = m->batch * x->h * x->w;
  float *in = val(m, l->in), *din = grad(m, l->in), *dout = grad(m, l->out);
  const sc_grad_write dxw = input_grad_write(m, i, l->in);
  switch (l->kind) {
  case L_CONV: {
    sc_conv2d_shape s = conv_shape(m, l);
    return sc_nn_conv2d_backward(&s, din, dxw, m->grads + l->w, dout, in, m->params + l->w);
  }
  case L_BN: {
    sc_nn_bn_state st = bn_state(m, l);
    float *dbeta = l->b == NONE ? m->junk : m->grads + l->b;
    if (l->in2 >= 0)
      return sc_nn_batchnorm_add_relu_backward(rows, x->c, din, dxw, grad(m, l->in2), input_grad_write(m, i, l->in2),
                                               m->grads + l->w, dbeta, dout, val(m, l->out), in, &st,
                                               m->params + l->w, SC_NN_BN_EPS);
    const float *beta = l->b == NONE ? m->zeros : m->params + l->b;
    return sc_nn_batchnorm_backward(rows, x->c, din, dxw, m->grads + l->w, dbeta, dout, in, &st, m->params + l->w,
                                    beta, l->relu, SC_NN_BN_EPS);
  }
  case L_MAXPOOL: {
    sc_pool2d_shape s = pool_shape(m, l);
    return sc_nn_maxpool_backward(&s, din, dxw, dout, in, val(m, l->out));
  }
  case L_AVGPOOL: return sc_nn_avgpool_backward(m->batch, x->h, x->w, x->c, din, dxw, dout);
  case L_LINEAR:
    return sc_nn_linear_backward(rows, x->c, l->cout, din, dxw, m->grads + l->w,
                                 l->b == NONE ? NULL : m->grads + l->b, dout, in, m->params + l->w);
  }
  return sc_error(SC_EINTERNAL, "model: unknown layer kind %d", (int)l->kind);
}

/* Profiling hook (src/train/profile.h, read by `simclr bench --profile`): when sc_prof_on is set, the walks time
 * each layer into the profile table by kind, with the multiply-add count of convolutions and linear layers. Off, it
 * costs one branch per layer. The convolution's backward is timed as its two operators (weights, then data), the
 * same calls in the same order as sc_nn_conv2d_backward makes. */
static double layer_flops(const sc_model *m, const layer *l) {
  const value *x = &m->values[l->in], *y = &m->values[l->out];
  const double b = (double)m->batch;
  if (l->kind == L_CONV) return 2.0 * b * (double)(y->h * y->w * l->cout) * (double)(l->k * l->k * x->c);
  if (l->kind == L_LINEAR) return 2.0 * b * (double)(x->h * x->w * x->c) * (double)l->cout;
  return 0;
}

static sc_prof_kind layer_prof_kind(const sc_model *m, size_t i, int backward) {
  const layer *l = &m->layers[i];
  if ((int)i > m->values[m->v_features].producer) return backward ? SC_PROF_HEAD_BWD : SC_PROF_HEAD_FWD;
  switch (l->kind) {
  case L_CONV: return backward ? SC_PROF_CONV_BWD_DATA : SC_PROF_CONV_FWD;
  case L_BN: return backward ? SC_PROF_BN_BWD : SC_PROF_BN_FWD;
  case L_MAXPOOL:
  case L_AVGPOOL: return SC_PROF_POOL;
  case L_LINEAR: break;
  }
  return backward ? SC_PROF_HEAD_BWD : SC_PROF_HEAD_FWD;
}

static sc_status profiled_forward(sc_model *m, size_t i, int training) {
  const double t0 = sc_prof_now();
  sc_status st = layer_forward(m, &m->layers[i], training);
  sc_prof_add(layer_prof_kind(m, i, 0), sc_prof_now() - t0, layer_flops(m, &m->layers[i]));
  return st;
}

static sc_status profiled_backward(sc_model *m, size_t i) {
  const layer *l = &m->layers[i];
  const sc_prof_kind kind = layer_prof_kind(m, i, 1);
  const double flops = layer_flops(m, l);
  double t0 = sc_prof_now();
  if (l->kind != L_CONV) {
    sc_status st = layer_backward(m, i);
    sc_prof_add(kind, sc_prof_now() - t0, 2 * flops);
    return st;
  }
  sc_conv2d_shape s = conv_shape(m, l);
  float *din = grad(m, l->in);
  SC_TRY(sc_nn_conv2d_backward(&s, NULL, SC_GRAD_ADD, m->grads + l->w, grad(m, l->out), val(m, l->in),
                               m->params + l->w));
  double t1 = sc_prof_now();
  sc_prof_add(SC_PROF_CONV_BWD_WEIGHTS, t1 - t0, flops);
  if (din) {
    SC_TRY(sc_conv2d_backward_data(&s, din, input_grad_write(m, i, l->in), grad(m, l->out), m->params + l->w));
    sc_prof_add(SC_PROF_CONV_BWD_DATA, sc_prof_now() - t1, flops);
  }
  return SC_OK;
}

sc_status sc_model_forward(sc_model *m, int training) {
  if (!m || !m->act) return sc_error(SC_EINVAL, "model: forward before sc_model_plan");
  if (training && m->view) return sc_error(SC_EINVAL, "model: a view shares its parameters: evaluation only");
  for (size_t i = 0; i < m->nlayers; i++)
    SC_TRY(sc_prof_on ? profiled_forward(m, i, training) : layer_forward(m, &m->layers[i], training));
  return SC_OK;
}

sc_status sc_model_backward(sc_model *m) {
  if (!m || !m->act) return sc_error(SC_EINVAL, "model: backward before sc_model_plan");
  if (m->view) return sc_error(SC_EINVAL, "model: a view shares its parameters: evaluation only");
  for (size_t i = m->nlayers; i-- > 0;) SC_TRY(sc_prof_on ? profiled_backward(m, i) : layer_backward(m, i));
  return SC_OK;
}

void sc_model_zero_grad(sc_model *m) {
  if (m->grads) memset(m->grads, 0, m->nparams * sizeof(float));
}

/* ---- accessors --------------------------------------------------------------------------------------------- */

float *sc_model_input(sc_model *m) { return m && m->act ? val(m, m->v_input) : NULL; }

const float *sc_model_output(const sc_model *m, int64_t *rows, int64_t *cols) {
  if (rows) *rows = m->batch;
  if (cols) *cols = m->values[m->v_output].c;
  return m->act ? val(m, m->v_output) : NULL;
}

const float *sc_model_features(const sc_model *m, int64_t *rows, int64_t *cols) {
  if (rows) *rows = m->batch;
  if (cols) *cols = m->feat_dim;
  return m->act ? val(m, m->v_features) : NULL;
}

const float *sc_model_stage_map(const sc_model *m, int stage, int64_t *h, int64_t *w, int64_t *c) {
  if (!m || stage < 1 || stage > 4) return NULL;
  const value *v = &m->values[m->v_stage[stage - 1]];
  if (h) *h = v->h;
  if (w) *w = v->w;
  if (c) *c = v->c;
  return m->act ? val(m, m->v_stage[stage - 1]) : NULL;
}

float *sc_model_output_grad(sc_model *m) { return m && m->gact ? grad(m, m->v_output) : NULL; }

float *sc_model_params(sc_model *m, size_t *count) {
  if (count) *count = m->nparams;
  return m->params;
}
float *sc_model_grads(sc_model *m, size_t *count) {
  if (count) *count = m->nparams;
  return m->grads;
}
float *sc_model_buffers(sc_model *m, size_t *count) {
  if (count) *count = m->nbuffers;
  return m->buffers;
}
int64_t *sc_model_counters(sc_model *m, size_t *count) {
  if (count) *count = m->ncounters;
  return m->counters;
}
const sc_tensor_info *sc_model_tensors(const sc_model *m, size_t *count) {
  if (count) *count = m->ntensors;
  return m->tensors;
}
const sc_tensor_info *sc_model_find(const sc_model *m, const char *name) {
  for (size_t i = 0; i < m->ntensors; i++)
    if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
  return NULL;
}
const sc_optim_seg *sc_model_segments(const sc_model *m, size_t *count) {
  if (count) *count = m->nsegs;
  return m->segs;
}
const sc_model_config *sc_model_config_of(const sc_model *m) { return &m->cfg; }
int64_t sc_model_feature_dim(const sc_model *m) { return m->feat_dim; }
size_t sc_model_arena_bytes(const sc_model *m) { return (m->act_n + m->gact_n) * sizeof(float); }
