/* eltwise.c (bench): the element-wise, batch-norm and pooling entry points on ResNet-50 activation shapes
 * (batch 8 at 224x224: the stem's 112x112x64, layer1's 56x56x256, layer4's 7x7x2048) and the demo's first stage
 * (512 views of 28x28x16), for each ISA. These ops are memory-bound, so the rate reported is input elements per
 * second; a memcpy of the same tensor is listed as the yardstick of what the memory system gives (one read and one
 * write stream), and oneDNN's NHWC batch norm (with fused ReLU, training mode) and max-pool (3x3/2, training mode
 * with its argmax workspace) as the peer. Both sides overwrite the input gradients (SC_GRAD_SET here), as a
 * network's first writer of a gradient does. */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "simclr_ops.h"

enum op { OP_RELU, OP_BN_FWD, OP_BN_BWD, OP_MAXPOOL_FWD, OP_MAXPOOL_BWD, OP_AVGPOOL_FWD, OP_MEMCPY };

typedef struct elt_state {
  int op;
  int64_t n, h, w, c, rows, count;
  sc_pool2d_shape pool;
  float *x, *y, *dy, *dx, *p; /* p: per-channel parameters (gamma, beta, mean, var, dgamma, dbeta) */
} elt_state;

static float *alloc_floats(size_t n, float base) {
  float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
  if (p)
    for (size_t i = 0; i < n; i++) p[i] = base + (float)((i * 2654435761u) % 1000) * 0.002f - 1.0f;
  return p;
}

static void elt_teardown(void *v) {
  elt_state *s = v;
  free(s->x), free(s->y), free(s->dy), free(s->dx), free(s->p), free(s);
}

static void *elt_setup(const sc_bench_case *c, int threads, const char **err) {
  (void)threads;
  elt_state *s = calloc(1, sizeof *s);
  if (!s) return *err = "out of memory", NULL;
  s->op = (int)c->params[0], s->n = c->params[1], s->h = c->params[2], s->w = c->params[3], s->c = c->params[4];
  s->rows = s->n * s->h * s->w, s->count = s->rows * s->c;
  s->pool = (sc_pool2d_shape){.n = s->n, .h = s->h, .w = s->w, .c = s->c, .kh = 3, .kw = 3, .stride_h = 2,
                              .stride_w = 2, .pad_h = 1, .pad_w = 1};
  size_t n = (size_t)s->count;
  s->x = alloc_floats(n, 0.0f), s->y = alloc_floats(n, 0.0f), s->dy = alloc_floats(n, 0.0f);
  s->dx = alloc_floats(n, 0.0f), s->p = alloc_floats(6 * (size_t)s->c, 1.5f);
  if (!s->x || !s->y || !s->dy || !s->dx || !s->p) return elt_teardown(s), *err = "out of memory", NULL;
  /* the statistics and outputs a backward needs, computed once */
  float *gamma = s->p, *beta = s->p + s->c, *mean = s->p + 2 * s->c, *var = s->p + 3 * s->c;
  if (sc_batchnorm_stats(s->rows, s->c, s->x, mean, var) != SC_OK ||
      sc_batchnorm_apply(s->rows, s->c, s->x, mean, var, 1e-5f, gamma, beta, 1, s->y) != SC_OK ||
      (s->op == OP_MAXPOOL_BWD && sc_maxpool2d_forward(&s->pool, s->x, s->y) != SC_OK))
    return elt_teardown(s), *err = "setup failed", NULL;
  return s;
}

static int elt_run(void *v) {
  elt_state *s = v;
  float *gamma = s->p, *beta = s->p + s->c, *mean = s->p + 2 * s->c, *var = s->p + 3 * s->c;
  float *dgamma = s->p + 4 * s->c, *dbeta = s->p + 5 * s->c;
  switch (s->op) {
  case OP_RELU: return sc_relu_forward(s->count, s->x, s->y) != SC_OK;
  case OP_BN_FWD:
    return sc_batchnorm_stats(s->rows, s->c, s->x, mean, var) != SC_OK ||
           sc_batchnorm_apply(s->rows, s->c, s->x, mean, var, 1e-5f, gamma, beta, 1, s->y) != SC_OK;
  case OP_BN_BWD:
    return sc_batchnorm_backward(s->rows, s->c, s->dx, SC_GRAD_SET, dgamma, dbeta, s->dy, s->x, mean, var, 1e-5f,
                                 gamma, beta, 1) != SC_OK;
  case OP_MAXPOOL_FWD: return sc_maxpool2d_forward(&s->pool, s->x, s->y) != SC_OK;
  case OP_MAXPOOL_BWD: return sc_maxpool2d_backward(&s->pool, s->dx, SC_GRAD_SET, s->dy, s->x, s->y) != SC_OK;
  case OP_AVGPOOL_FWD: return sc_avgpool_global_forward(s->n, s->h, s->w, s->c, s->x, s->y) != SC_OK;
  case OP_MEMCPY: memcpy(s->y, s->x, (size_t)s->count * sizeof(float)); return 0;
  }
  return 1;
}

/* ---- oneDNN ------------------------------------------------------------------------------------------------- */

enum { MAX_ARGS = 12 };
typedef struct dnnl_state {
  dnnl_engine_t eng;
  dnnl_stream_t strm;
  dnnl_primitive_t prim;
  int nargs;
  dnnl_exec_arg_t args[MAX_ARGS];
} dnnl_state;

static void dnnl_teardown(void *v) {
  dnnl_state *s = v;
  for (int i = 0; i < s->nargs; i++) dnnl_memory_destroy(s->args[i].memory);
  if (s->prim) dnnl_primitive_destroy(s->prim);
  if (s->strm) dnnl_stream_destroy(s->strm);
  if (s->eng) dnnl_engine_destroy(s->eng);
  free(s);
}

/* Adds an argument backed by new memory of layout md, filled with a ramp around base. */
static int add_arg(dnnl_state *s, int arg, const dnnl_memory_desc_t *md, float base) {
  dnnl_memory_t m;
  if (s->nargs == MAX_ARGS || dnnl_memory_create(&m, md, s->eng, DNNL_MEMORY_ALLOCATE) != dnnl_success) return 1;
  s->args[s->nargs++] = (dnnl_exec_arg_t){.arg = arg, .memory = m};
  void *h = NULL;
  if (dnnl_memory_get_data_handle(m, &h) != dnnl_success) return 1;
  size_t bytes = dnnl_memory_desc_get_size(md);
  if (md->data_type == dnnl_f32)
    for (size_t i = 0; i < bytes / sizeof(float); i++)
      ((float *)h)[i] = base + (float)((i * 2654435761u) % 1000) * 0.002f - 1.0f;
  else
    memset(h, 0, bytes);
  return 0;
}

static dnnl_memory_t arg_mem(const dnnl_state *s, int arg) {
  for (int i = 0; i < s->nargs; i++)
    if (s->args[i].arg == arg) return s->args[i].memory;
  return NULL;
}

static int run_prim(dnnl_primitive_desc_t pd, const dnnl_state *s, const int *args, int nargs) {
  dnnl_primitive_t prim;
  dnnl_exec_arg_t a[MAX_ARGS];
  for (int i = 0; i < nargs; i++) a[i] = (dnnl_exec_arg_t){.arg = args[i], .memory = arg_mem(s, args[i])};
  if (dnnl_primitive_create(&prim, pd) != dnnl_success)
    return 1;
  int bad = dnnl_primitive_execute(prim, s->strm, nargs, a) != dnnl_success || dnnl_stream_wait(s->strm) != dnnl_success;
  dnnl_primitive_destroy(prim);
  return bad;
}

#define DOK(call)                                                                                                 \
  do {                                                                                                            \
    if ((call) != dnnl_success) goto fail;                                                                        \
  } while (0)

static void *dnnl_setup(const sc_bench_case *c, int threads, const char **err) {
  (void)threads; /* oneDNN's OpenMP runtime follows omp_set_num_threads(), set by the harness */
  dnnl_state *s = calloc(1, sizeof *s);
  if (!s) return *err = "out of memory", NULL;
  const int op = (int)c->params[0];
  const int64_t n = c->params[1], h = c->params[2], w = c->params[3], ch = c->params[4];
  dnnl_primitive_desc_t fpd = NULL, pd = NULL;
  DOK(dnnl_engine_create(&s->eng, dnnl_cpu, 0));
  DOK(dnnl_stream_create(&s->strm, s->eng, dnnl_stream_default_flags));
  dnnl_dims_t ddims = {n, ch, h, w}, cdims = {ch};
  dnnl_memory_desc_t data_md, stat_md;
  DOK(dnnl_memory_desc_init_by_tag(&data_md, 4, ddims, dnnl_f32, dnnl_nhwc));
  DOK(dnnl_memory_desc_init_by_tag(&stat_md, 1, cdims, dnnl_f32, dnnl_a));
  if (op == OP_BN_FWD || op == OP_BN_BWD) {
    const unsigned flags = dnnl_use_scale | dnnl_use_shift | dnnl_fuse_norm_relu;
    dnnl_batch_normalization_desc_t fd, bd;
    DOK(dnnl_batch_normalization_forward_desc_init(&fd, dnnl_forward_training, &data_md, 1e-5f, flags));
    DOK(dnnl_primitive_desc_create(&fpd, &fd, NULL, s->eng, NULL));
    const dnnl_memory_desc_t *ws = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
    if (add_arg(s, DNNL_ARG_SRC, &data_md, 0.0f) || add_arg(s, DNNL_ARG_DST, &data_md, 0.0f) ||
        add_arg(s, DNNL_ARG_MEAN, &stat_md, 0.0f) || add_arg(s, DNNL_ARG_VARIANCE, &stat_md, 1.5f) ||
        add_arg(s, DNNL_ARG_SCALE, &stat_md, 1.5f) || add_arg(s, DNNL_ARG_SHIFT, &stat_md, 0.0f) ||
        add_arg(s, DNNL_ARG_WORKSPACE, ws, 0.0f))
      goto fail;
    if (op == OP_BN_FWD) {
      DOK(dnnl_primitive_create(&s->prim, fpd));
    } else {
      static const int fargs[] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE,
                                  DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_WORKSPACE};
      if (run_prim(fpd, s, fargs, 7)) goto fail; /* statistics and workspace the backward needs */
      DOK(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &data_md, &data_md, 1e-5f, flags));
      DOK(dnnl_primitive_desc_create(&pd, &bd, NULL, s->eng, fpd));
      if (add_arg(s, DNNL_ARG_DIFF_DST, &data_md, 0.0f) || add_arg(s, DNNL_ARG_DIFF_SRC, &data_md, 0.0f) ||
          add_arg(s, DNNL_ARG_DIFF_SCALE, &stat_md, 0.0f) || add_arg(s, DNNL_ARG_DIFF_SHIFT, &stat_md, 0.0f))
        goto fail;
      DOK(dnnl_primitive_create(&s->prim, pd));
      /* the forward's output is not an argument of the backward */
      for (int i = 0; i < s->nargs; i++)
        if (s->args[i].arg == DNNL_ARG_DST) {
          dnnl_memory_destroy(s->args[i].memory);
          s->args[i--] = s->args[--s->nargs];
        }
    }
  } else { /* max-pool 3x3, stride 2, pad 1 */
    const int64_t oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
    dnnl_dims_t odims = {n, ch, oh, ow}, strides = {2, 2}, kernel = {3, 3}, pl = {1, 1},
                pr = {(oh - 1) * 2 + 3 - h - 1, (ow - 1) * 2 + 3 - w - 1};
    dnnl_memory_desc_t out_md;
    DOK(dnnl_memory_desc_init_by_tag(&out_md, 4, odims, dnnl_f32, dnnl_nhwc));
    dnnl_pooling_desc_t fd, bd;
    DOK(dnnl_pooling_forward_desc_init(&fd, dnnl_forward_training, dnnl_pooling_max, &data_md, &out_md, strides,
                                       kernel, pl, pr));
    DOK(dnnl_primitive_desc_create(&fpd, &fd, NULL, s->eng, NULL));
    const dnnl_memory_desc_t *ws = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
    if (add_arg(s, DNNL_ARG_SRC, &data_md, 0.0f) || add_arg(s, DNNL_ARG_DST, &out_md, 0.0f) ||
        add_arg(s, DNNL_ARG_WORKSPACE, ws, 0.0f))
      goto fail;
    if (op == OP_MAXPOOL_FWD) {
      DOK(dnnl_primitive_create(&s->prim, fpd));
    } else {
      static const int fargs[] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE};
      if (run_prim(fpd, s, fargs, 3)) goto fail;
      DOK(dnnl_pooling_backward_desc_init(&bd, dnnl_pooling_max, &data_md, &out_md, strides, kernel, pl, pr));
      DOK(dnnl_primitive_desc_create(&pd, &bd, NULL, s->eng, fpd));
      if (add_arg(s, DNNL_ARG_DIFF_DST, &out_md, 0.0f) || add_arg(s, DNNL_ARG_DIFF_SRC, &data_md, 0.0f)) goto fail;
      DOK(dnnl_primitive_create(&s->prim, pd));
      for (int i = 0; i < s->nargs; i++)
        if (s->args[i].arg == DNNL_ARG_SRC || s->args[i].arg == DNNL_ARG_DST) {
          dnnl_memory_destroy(s->args[i].memory);
          s->args[i--] = s->args[--s->nargs];
        }
    }
  }
  if (fpd) dnnl_primitive_desc_destroy(fpd);
  if (pd) dnnl_primitive_desc_destroy(pd);
  return s;
fail:
  if (fpd) dnnl_primitive_desc_destroy(fpd);
  if (pd) dnnl_primitive_desc_destroy(pd);
  dnnl_teardown(s);
  return *err = "oneDNN setup failed", NULL;
}

static int dnnl_run(void *v) {
  dnnl_state *s = v;
  if (dnnl_primitive_execute(s->prim, s->strm, s->nargs, s->args) != dnnl_success) return 1;
  return dnnl_stream_wait(s->strm) != dnnl_success;
}

/* ---- registration --------------------------------------------------------------------------------------------- */

static void add_case(const char *opname, int op, const char *shape, int64_t n, int64_t h, int64_t w, int64_t c) {
  static const char *const isas[] = {"scalar", "neon", "avx2", "avx512"};
  const int has_peer = op == OP_MEMCPY || op == OP_BN_FWD || op == OP_BN_BWD || op == OP_MAXPOOL_FWD ||
                       op == OP_MAXPOOL_BWD;
  for (int isa = has_peer ? -1 : 0; isa < (op == OP_MEMCPY ? 0 : 4); isa++) {
    const int peer = isa < 0 && op != OP_MEMCPY;
    sc_bench_case bc = {.isa = isa, .items = (double)(n * h * w * c), .setup = peer ? dnnl_setup : elt_setup,
                        .run = peer ? dnnl_run : elt_run, .teardown = peer ? dnnl_teardown : elt_teardown,
                        .params = {op, n, h, w, c}};
    snprintf(bc.name, sizeof bc.name, "%s/%s/%s", opname, isa < 0 ? (peer ? "onednn" : "peer") : isas[isa], shape);
    sc_bench_add(&bc);
  }
}

__attribute__((constructor)) static void register_eltwise(void) {
  static const struct { const char *name; int64_t n, h, w, c; } shapes[] = {
      {"r50_stem_8x112x112x64", 8, 112, 112, 64},
      {"r50_layer1_8x56x56x256", 8, 56, 56, 256},
      {"r50_layer4_8x7x7x2048", 8, 7, 7, 2048},
      {"demo_layer1_512x28x28x16", 512, 28, 28, 16},
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    add_case("eltwise_memcpy", OP_MEMCPY, shapes[i].name, shapes[i].n, shapes[i].h, shapes[i].w, shapes[i].c);
    add_case("relu", OP_RELU, shapes[i].name, shapes[i].n, shapes[i].h, shapes[i].w, shapes[i].c);
    add_case("batchnorm_fwd_relu", OP_BN_FWD, shapes[i].name, shapes[i].n, shapes[i].h, shapes[i].w, shapes[i].c);
    add_case("batchnorm_bwd_relu", OP_BN_BWD, shapes[i].name, shapes[i].n, shapes[i].h, shapes[i].w, shapes[i].c);
  }
  add_case("maxpool3x3s2_fwd", OP_MAXPOOL_FWD, shapes[0].name, 8, 112, 112, 64);
  add_case("maxpool3x3s2_bwd", OP_MAXPOOL_BWD, shapes[0].name, 8, 112, 112, 64);
  add_case("avgpool_global_fwd", OP_AVGPOOL_FWD, shapes[2].name, 8, 7, 7, 2048);
}
