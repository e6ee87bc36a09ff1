/* fold.c: the BN-folded inference encoder (see fold.h). Building walks the ResNet architecture of the model's
 * configuration by torchvision tensor names (the same names model.c records), so it needs nothing but the model's
 * public tensor table; each convolution and the BN after it become one op with folded weights and a bias. Four work
 * buffers of the largest activation hold every intermediate value: a block reads its input from one and writes its
 * branches to the others (a bottleneck with a projection uses all three); its last convolution adds into the
 * shortcut (the block input, or the projection's output), which becomes the block's output. Each convolution adds
 * the bias and applies the ReLU to each block of its output while it is in cache (sc_conv2d_infer), so a block's end
 * costs no pass over memory of its own, where the model makes three (BN, add, ReLU). Inference's convolutions may
 * take Winograd's F(4x4, 3x3), whose transformed weights are made once per refresh (sc_conv2d_infer_prepare), not on
 * every forward. The features are pooled from a stage's output right after its last block, before the next stage
 * reuses the buffer (an F_POOL op per chosen stage; the usual pooled features are stage 4 on one cell). The forward
 * calls the src/ops operators only; it must not hold loops of its own over pixels, and it must not write to the
 * model.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/error.h"
#include "../core/mem.h"
#include "../nn/nn.h"
#include "../ops/conv2d.h"
#include "fold.h"

enum { SLOT_INPUT = 0, NSLOTS = 5 }; /* slot 0 is the input batch, 1..4 the work buffers */

typedef enum fop_kind { F_CONV, F_MAXPOOL, F_POOL } fop_kind; /* F_POOL: a stage's map onto its feature cells */

typedef struct fop {
  fop_kind kind;
  int src, dst, res;         /* slots; res: the residual added before the ReLU, -1 if none */
  int relu;
  int64_t h, w, c;           /* input per image */
  int64_t cout, k, stride, pad;
  int64_t gh, gw;            /* F_POOL: the grid of cells */
  size_t foff;               /* F_POOL: where its cells start in a row of features */
  size_t wf, bf;             /* folded weight [cout][k][k][c] and bias [cout] in f->weights */
  size_t mw, mg, mb, mm, mv; /* the model's conv weight, BN gamma and beta (params), running mean and var (buffers) */
  sc_conv2d_prepared pw;     /* the folded weights as the convolution reads them, where it transforms them */
} fop;

struct sc_folded {
  sc_model_config cfg;
  fop *ops;
  size_t nops, cap;
  float *weights;
  size_t nweights;
  int64_t max_act, feat_dim; /* floats per image of the largest activation; feature width */
  int64_t batch, last_n;
  float *slot[NSLOTS];
  float *feat;
};

typedef struct builder {
  sc_folded *f;
  const sc_model *m;
  int64_t h, w, c; /* the current activation, per image */
  sc_status st;
} builder;

static fop *push(builder *b, fop_kind kind) {
  sc_folded *f = b->f;
  if (b->st != SC_OK) return NULL;
  if (f->nops == f->cap) {
    size_t nc = f->cap ? 2 * f->cap : 64;
    fop *q = realloc(f->ops, nc * sizeof *q);
    if (!q) {
      b->st = sc_error(SC_ENOMEM, "fold: out of memory");
      return NULL;
    }
    f->ops = q, f->cap = nc;
  }
  fop *o = &f->ops[f->nops++];
  memset(o, 0, sizeof *o);
  o->kind = kind, o->res = -1, o->h = b->h, o->w = b->w, o->c = b->c;
  return o;
}

static const sc_tensor_info *need(builder *b, const char *prefix, const char *suffix, sc_tensor_role role) {
  char name[96];
  snprintf(name, sizeof name, "%s.%s", prefix, suffix);
  const sc_tensor_info *t = sc_model_find(b->m, name);
  if (!t || t->role != role) {
    if (b->st == SC_OK) b->st = sc_error(SC_EINVAL, "fold: the model has no tensor %s", name);
    return NULL;
  }
  return t;
}

/* conv `cname` (k x k, stride, pad) then BN `bname` from slot src into dst; the op is returned for res/relu. */
static fop *conv_bn(builder *b, const char *cname, const char *bname, int src, int dst, int64_t stride, int64_t pad,
                    int relu) {
  const sc_tensor_info *w = need(b, cname, "weight", SC_TENSOR_PARAM);
  const sc_tensor_info *g = need(b, bname, "weight", SC_TENSOR_PARAM), *be = need(b, bname, "bias", SC_TENSOR_PARAM);
  const sc_tensor_info *mu = need(b, bname, "running_mean", SC_TENSOR_BUFFER);
  const sc_tensor_info *var = need(b, bname, "running_var", SC_TENSOR_BUFFER);
  if (b->st != SC_OK) return NULL;
  const int64_t cout = w->shape[0], k = w->shape[2];
  if (w->ndim != 4 || !w->ohwi || w->shape[1] != b->c || w->shape[3] != k || g->count != (size_t)cout ||
      be->count != (size_t)cout || mu->count != (size_t)cout || var->count != (size_t)cout) {
    b->st = sc_error(SC_EINVAL, "fold: %s does not fit a %lld-channel input and its BN %s", w->name,
                     (long long)b->c, bname);
    return NULL;
  }
  fop *o = push(b, F_CONV);
  if (!o) return NULL;
  o->src = src, o->dst = dst, o->relu = relu, o->cout = cout, o->k = k, o->stride = stride, o->pad = pad;
  o->mw = w->offset, o->mg = g->offset, o->mb = be->offset, o->mm = mu->offset, o->mv = var->offset;
  o->wf = b->f->nweights, b->f->nweights += w->count;
  o->bf = b->f->nweights, b->f->nweights += (size_t)cout;
  b->h = (b->h + 2 * pad - k) / stride + 1, b->w = (b->w + 2 * pad - k) / stride + 1, b->c = cout;
  if (b->h < 1 || b->w < 1) {
    b->st = sc_error(SC_EINVAL, "fold: %s leaves no pixels", w->name);
    return NULL;
  }
  if (b->h * b->w * b->c > b->f->max_act) b->f->max_act = b->h * b->w * b->c;
  return o;
}

/* A work slot other than the ones given (-1 entries ignored). */
static int free_slot(int a, int b, int c) {
  for (int s = 1; s < NSLOTS; s++)
    if (s != a && s != b && s != c) return s;
  return -1; /* unreachable: four work slots, at most three taken */
}

/* One residual block reading slot x; returns the slot of its output. */
static int block(builder *b, const char *p, int x, int64_t stride, int bottleneck) {
  char cn[64], bn[64];
  const int64_t in_c = b->c, in_h = b->h, in_w = b->w;
  snprintf(cn, sizeof cn, "%s.downsample.0.weight", p);
  const int down = sc_model_find(b->m, cn) != NULL;
  int s1 = free_slot(x, -1, -1), s2 = free_slot(x, s1, -1), s3 = free_slot(x, s1, s2), y;
  if (!bottleneck) {
    snprintf(cn, sizeof cn, "%s.conv1", p), snprintf(bn, sizeof bn, "%s.bn1", p);
    conv_bn(b, cn, bn, x, s1, stride, 1, 1);
    y = s1;
    snprintf(cn, sizeof cn, "%s.conv2", p), snprintf(bn, sizeof bn, "%s.bn2", p);
  } else {
    snprintf(cn, sizeof cn, "%s.conv1", p), snprintf(bn, sizeof bn, "%s.bn1", p);
    conv_bn(b, cn, bn, x, s1, 1, 0, 1);
    snprintf(cn, sizeof cn, "%s.conv2", p), snprintf(bn, sizeof bn, "%s.bn2", p);
    conv_bn(b, cn, bn, s1, s2, stride, 1, 1);
    y = s2;
    snprintf(cn, sizeof cn, "%s.conv3", p), snprintf(bn, sizeof bn, "%s.bn3", p);
  }
  int idn = x;
  if (down) {
    /* the shortcut reads the block input: rewind the running shape, then restore the main branch's */
    const int64_t mh = b->h, mw = b->w, mc = b->c;
    b->h = in_h, b->w = in_w, b->c = in_c;
    char dn[64], dbn[64];
    snprintf(dn, sizeof dn, "%s.downsample.0", p), snprintf(dbn, sizeof dbn, "%s.downsample.1", p);
    idn = bottleneck ? s3 : s2;
    conv_bn(b, dn, dbn, x, idn, stride, 0, 0);
    b->h = mh, b->w = mw, b->c = mc;
  }
  /* the last convolution adds into the shortcut's slot, which nothing reads afterwards (the block input, or the
   * projection's output): sc_conv2d_infer then reads the residual with its loads of the output */
  fop *o = conv_bn(b, cn, bn, y, idn, 1, bottleneck ? 0 : 1, 1);
  if (o) o->res = idn;
  return idn;
}

/* The features of stage s (0-based) if `stages` selects it: its map pooled onto at most grid x grid cells. */
static void tap(builder *b, int x, int s, unsigned stages, int grid) {
  if (!(stages & 1u << s)) return;
  fop *o = push(b, F_POOL);
  if (!o) return;
  o->src = x, o->gh = b->h < grid ? b->h : grid, o->gw = b->w < grid ? b->w : grid;
  o->foff = (size_t)b->f->feat_dim, b->f->feat_dim += o->gh * o->gw * b->c;
}

static void build(builder *b, unsigned stages, int grid) {
  const sc_model_config *cfg = &b->f->cfg;
  const int cifar = cfg->stem == SC_STEM_CIFAR || (cfg->stem == SC_STEM_AUTO && cfg->image_size <= 32);
  b->h = b->w = cfg->image_size, b->c = cfg->in_channels;
  int x = 1;
  conv_bn(b, "conv1", "bn1", SLOT_INPUT, x, cifar ? 1 : 2, cifar ? 1 : 3, 1);
  if (!cifar) {
    fop *o = push(b, F_MAXPOOL);
    if (o) o->src = x, o->dst = 2, o->k = 3, o->stride = 2, o->pad = 1;
    x = 2;
    b->h = (b->h + 2 - 3) / 2 + 1, b->w = (b->w + 2 - 3) / 2 + 1;
  }
  static const int blocks18[4] = {2, 2, 2, 2}, blocks34[4] = {3, 4, 6, 3};
  const int *blocks = cfg->depth == 18 ? blocks18 : blocks34;
  for (int s = 0; s < 4; s++) {
    for (int k = 0; k < blocks[s]; k++) {
      char p[32];
      snprintf(p, sizeof p, "layer%d.%d", s + 1, k);
      x = block(b, p, x, k == 0 && s > 0 ? 2 : 1, cfg->depth == 50);
    }
    tap(b, x, s, stages, grid);
  }
}

/* The convolution of op o on a batch of n. */
static sc_conv2d_shape conv_shape(const fop *o, int64_t n) {
  return (sc_conv2d_shape){.n = n, .h = o->h, .w = o->w, .c = o->c, .k = o->cout, .kh = o->k, .kw = o->k,
                           .stride_h = o->stride, .stride_w = o->stride, .pad_h = o->pad, .pad_w = o->pad};
}

sc_status sc_folded_refresh(sc_folded *f, const sc_model *m) {
  if (!f || !m) return sc_error(SC_EINVAL, "fold: null argument");
  const sc_model_config *c = sc_model_config_of(m);
  if (c->depth != f->cfg.depth || c->width != f->cfg.width || c->in_channels != f->cfg.in_channels ||
      c->image_size != f->cfg.image_size || c->stem != f->cfg.stem)
    return sc_error(SC_EINVAL, "fold: refresh from a model of another architecture");
  /* the accessors are not const-qualified; nothing below writes through them */
  const float *p = sc_model_params((sc_model *)m, NULL), *buf = sc_model_buffers((sc_model *)m, NULL);
  for (size_t i = 0; i < f->nops; i++) {
    fop *o = &f->ops[i];
    if (o->kind != F_CONV) continue;
    const size_t per = (size_t)(o->k * o->k * o->c);
    for (int64_t j = 0; j < o->cout; j++) {
      const double s = (double)p[o->mg + j] / sqrt((double)buf[o->mv + j] + (double)SC_NN_BN_EPS);
      const float *w = p + o->mw + (size_t)j * per;
      float *wf = f->weights + o->wf + (size_t)j * per;
      for (size_t t = 0; t < per; t++) wf[t] = (float)((double)w[t] * s);
      f->weights[o->bf + j] = (float)((double)p[o->mb + j] - (double)buf[o->mm + j] * s);
    }
    sc_conv2d_prepared_free(&o->pw);
    const sc_conv2d_shape s = conv_shape(o, 1);
    SC_TRY(sc_conv2d_infer_prepare(&s, f->weights + o->wf, &o->pw));
  }
  return SC_OK;
}

sc_status sc_folded_create(const sc_model *m, sc_folded **out) { return sc_folded_create_maps(m, 8u, 1, out); }

sc_status sc_folded_create_maps(const sc_model *m, unsigned stages, int grid, sc_folded **out) {
  if (!m || !out) return sc_error(SC_EINVAL, "fold: null argument");
  *out = NULL;
  if (stages < 1 || stages > 15 || grid < 1)
    return sc_error(SC_EINVAL, "fold: features from stages 0x%x on a grid of %d (need stages among 1-4, a grid "
                    ">= 1)", stages, grid);
  sc_folded *f = calloc(1, sizeof *f);
  if (!f) return sc_error(SC_ENOMEM, "fold: out of memory");
  f->cfg = *sc_model_config_of(m);
  builder b = {.f = f, .m = m, .st = SC_OK};
  build(&b, stages, grid);
  if (b.st == SC_OK) {
    f->weights = malloc(f->nweights * sizeof(float));
    if (!f->weights) b.st = sc_error(SC_ENOMEM, "fold: out of memory for %zu weights", f->nweights);
  }
  if (b.st == SC_OK) b.st = sc_folded_refresh(f, m);
  if (b.st != SC_OK) {
    sc_folded_free(f);
    return b.st;
  }
  *out = f;
  return SC_OK;
}

void sc_folded_free(sc_folded *f) {
  if (!f) return;
  for (int s = 0; s < NSLOTS; s++) free(f->slot[s]);
  for (size_t i = 0; i < f->nops; i++) sc_conv2d_prepared_free(&f->ops[i].pw);
  free(f->feat), free(f->weights), free(f->ops);
  free(f);
}

sc_status sc_folded_plan(sc_folded *f, int64_t batch) {
  if (!f || batch < 1) return sc_error(SC_EINVAL, "fold: plan for batch %lld", (long long)batch);
  if (batch == f->batch) return SC_OK;
  const size_t in = (size_t)batch * (size_t)f->cfg.image_size * (size_t)f->cfg.image_size *
                    (size_t)f->cfg.in_channels;
  const size_t act = (size_t)batch * (size_t)f->max_act;
  float *s[NSLOTS] = {0}, *feat = malloc((size_t)batch * (size_t)f->feat_dim * sizeof(float));
  int ok = feat != NULL;
  for (int i = 0; i < NSLOTS; i++) ok &= (s[i] = sc_alloc_lines((i == SLOT_INPUT ? in : act) * sizeof(float))) != NULL;
  if (!ok) {
    for (int i = 0; i < NSLOTS; i++) free(s[i]);
    free(feat);
    return sc_error(SC_ENOMEM, "fold: cannot allocate %zu MB of activations for batch %lld",
                    (in + 4 * act) * sizeof(float) >> 20, (long long)batch);
  }
  memset(s[SLOT_INPUT], 0, in * sizeof(float));
  for (int i = 0; i < NSLOTS; i++) free(f->slot[i]), f->slot[i] = s[i];
  free(f->feat);
  f->feat = feat, f->batch = batch, f->last_n = 0;
  return SC_OK;
}

float *sc_folded_input(sc_folded *f) { return f ? f->slot[SLOT_INPUT] : NULL; }

sc_status sc_folded_forward(sc_folded *f, int64_t n) {
  if (!f || !f->batch) return sc_error(SC_EINVAL, "fold: forward before sc_folded_plan");
  if (n < 1 || n > f->batch)
    return sc_error(SC_EINVAL, "fold: forward of %lld images with a plan for %lld", (long long)n,
                    (long long)f->batch);
  for (size_t i = 0; i < f->nops; i++) {
    const fop *o = &f->ops[i];
    float *x = f->slot[o->src];
    switch (o->kind) {
    case F_CONV: {
      const sc_conv2d_shape s = conv_shape(o, n);
      int64_t oh, ow;
      SC_TRY(sc_conv2d_out_size(&s, &oh, &ow));
      /* + residual, + folded bias, ReLU: applied to each block of y as the convolution finishes it */
      const sc_gemm_epilogue ep = {.residual = o->res >= 0 ? f->slot[o->res] : NULL, .ldr = (size_t)o->cout,
                                   .bias = f->weights + o->bf, .relu = o->relu};
      SC_TRY(sc_conv2d_infer(&s, x, f->weights + o->wf, f->slot[o->dst], &ep, &o->pw));
      break;
    }
    case F_MAXPOOL: {
      const sc_pool2d_shape s = {.n = n, .h = o->h, .w = o->w, .c = o->c, .kh = o->k, .kw = o->k,
                                 .stride_h = o->stride, .stride_w = o->stride, .pad_h = o->pad, .pad_w = o->pad};
      SC_TRY(sc_maxpool2d_forward(&s, x, f->slot[o->dst]));
      break;
    }
    case F_POOL:
      SC_TRY(sc_avgpool_grid_forward(n, o->h, o->w, o->c, o->gh, o->gw, x, f->feat + o->foff, f->feat_dim));
      break;
    }
  }
  f->last_n = n;
  return SC_OK;
}

const float *sc_folded_features(const sc_folded *f, int64_t *rows, int64_t *cols) {
  if (rows) *rows = f ? f->last_n : 0;
  if (cols) *cols = f ? f->feat_dim : 0;
  return f && f->last_n ? f->feat : NULL;
}

int sc_folded_image_size(const sc_folded *f) { return f->cfg.image_size; }
int sc_folded_in_channels(const sc_folded *f) { return f->cfg.in_channels; }
int64_t sc_folded_feature_dim(const sc_folded *f) { return f->feat_dim; }
size_t sc_folded_bytes(const sc_folded *f) {
  const size_t in = (size_t)f->batch * (size_t)f->cfg.image_size * (size_t)f->cfg.image_size *
                    (size_t)f->cfg.in_channels;
  size_t prepared = 0;
  for (size_t i = 0; i < f->nops; i++) prepared += f->ops[i].pw.floats;
  return (f->nweights + prepared + in + (size_t)f->batch * (size_t)(4 * f->max_act + f->feat_dim)) * sizeof(float);
}
