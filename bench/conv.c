/* conv.c (bench): 2-D convolution cases on the 3x3 convolutions of ResNet-18 with the CIFAR stem (batch 64,
 * 32x32 input), and on those of the Fashion-MNIST demo's model (width 0.25, 28x28 gray input, batch 512: the two
 * views of 256 images), for each ISA and for oneDNN's direct convolution as the peer:
 *   conv/<isa|onednn>/<fwd|bwd_data|bwd_weights>/<H>x<W>x<C>-<K>s<stride>
 *   conv/<isa>/fwd_gemm/<shape>   plain sc_sgemm of the same M x N x K on a materialised im2col matrix: the
 *                                 ratio to conv/<isa>/fwd tells what gathering the panels from NHWC costs.
 * FLOPs = 2*N*OH*OW*K*kh*kw*C for every case. oneDNN gets NHWC activations and chooses its own weight layout
 * (format "any"); its primitives and weight reorders are made in setup, so run() times execution only. Nothing
 * here checks results: tests/ops/test_conv2d.c does. */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "simclr_ops.h"

enum { FWD = 0, BWD_DATA = 1, BWD_WEIGHTS = 2, FWD_GEMM = 3 };
static const char *const pass_names[] = {"fwd", "bwd_data", "bwd_weights", "fwd_gemm"};

typedef struct conv_state {
  sc_conv2d_shape s;
  int pass;
  int64_t oh, ow;
  float *x, *w, *y, *col; /* engine buffers; col only for fwd_gemm */
  /* oneDNN */
  dnnl_engine_t eng;
  dnnl_stream_t strm;
  dnnl_primitive_t prim;
  dnnl_memory_t mem[3];
  int args[3];
} conv_state;

static float *alloc_fill(size_t n, float scale) {
  float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
  if (p)
    for (size_t i = 0; i < n; i++) p[i] = (float)((int)(i % 13) - 6) * scale;
  return p;
}

static void conv_teardown(void *p) {
  conv_state *st = p;
  if (!st) return;
  for (int i = 0; i < 3; i++)
    if (st->mem[i]) dnnl_memory_destroy(st->mem[i]);
  if (st->prim) dnnl_primitive_destroy(st->prim);
  if (st->strm) dnnl_stream_destroy(st->strm);
  if (st->eng) dnnl_engine_destroy(st->eng);
  free(st->x), free(st->w), free(st->y), free(st->col), free(st);
}

static conv_state *state_new(const sc_bench_case *c) {
  conv_state *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->s = (sc_conv2d_shape){.n = c->params[0], .h = c->params[1], .w = c->params[2], .c = c->params[3],
                            .k = c->params[4], .kh = 3, .kw = 3, .stride_h = c->params[5],
                            .stride_w = c->params[5], .pad_h = 1, .pad_w = 1};
  st->pass = (int)c->params[6];
  if (sc_conv2d_out_size(&st->s, &st->oh, &st->ow) != SC_OK) {
    free(st);
    return NULL;
  }
  return st;
}

/* ---- engine ---------------------------------------------------------------------------------------------------- */

static void *engine_setup(const sc_bench_case *c, int threads, const char **err) {
  (void)threads;
  conv_state *st = state_new(c);
  if (!st) return *err = "bad shape or out of memory", NULL;
  const sc_conv2d_shape *s = &st->s;
  size_t xn = (size_t)(s->n * s->h * s->w * s->c), yn = (size_t)(s->n * st->oh * st->ow * s->k);
  size_t depth = (size_t)(s->kh * s->kw * s->c), wn = (size_t)s->k * depth;
  st->x = alloc_fill(xn, 0.01f), st->w = alloc_fill(wn, 0.02f), st->y = alloc_fill(yn, 0.03f);
  if (!st->x || !st->w || !st->y) return conv_teardown(st), *err = "out of memory", NULL;
  if (st->pass == FWD_GEMM) {
    st->col = alloc_fill(yn / (size_t)s->k * depth, 0.01f);
    if (!st->col) return conv_teardown(st), *err = "out of memory", NULL;
  }
  return st;
}

static int engine_run(void *p) {
  conv_state *st = p;
  const sc_conv2d_shape *s = &st->s;
  switch (st->pass) {
  case FWD: return sc_conv2d_forward(s, st->x, st->w, st->y) != SC_OK;
  case BWD_DATA: return sc_conv2d_backward_data(s, st->x, SC_GRAD_SET, st->y, st->w) != SC_OK;
  case BWD_WEIGHTS: return sc_conv2d_backward_weights(s, st->w, st->y, st->x) != SC_OK;
  default: {
    int64_t m = s->n * st->oh * st->ow, depth = s->kh * s->kw * s->c;
    return sc_sgemm(SC_NO_TRANS, SC_TRANS, m, s->k, depth, 1.0f, st->col, depth, st->w, depth, 0.0f, st->y,
                    s->k) != SC_OK;
  }
  }
}

/* ---- oneDNN ---------------------------------------------------------------------------------------------------- */

#define DNNL_OK(call)                                                                   \
  do {                                                                                  \
    if ((call) != dnnl_success) return conv_teardown(st), *err = "oneDNN: " #call, NULL; \
  } while (0)

/* A memory object of the primitive's chosen layout, filled with small values. */
static dnnl_status_t make_mem(dnnl_memory_t *m, const dnnl_memory_desc_t *md, dnnl_engine_t eng, float scale) {
  dnnl_status_t rc = dnnl_memory_create(m, md, eng, DNNL_MEMORY_ALLOCATE);
  if (rc != dnnl_success) return rc;
  void *h = NULL;
  rc = dnnl_memory_get_data_handle(*m, &h);
  if (rc != dnnl_success) return rc;
  size_t n = dnnl_memory_desc_get_size(md) / sizeof(float);
  float *f = h;
  for (size_t i = 0; i < n; i++) f[i] = (float)((int)(i % 13) - 6) * scale;
  return dnnl_success;
}

static void *onednn_setup(const sc_bench_case *c, int threads, const char **err) {
  (void)threads; /* oneDNN's OpenMP runtime follows omp_set_num_threads(), set by the harness */
  conv_state *st = state_new(c);
  if (!st) return *err = "bad shape or out of memory", NULL;
  const sc_conv2d_shape *s = &st->s;
  dnnl_dims_t src_dims = {s->n, s->c, s->h, s->w}, dst_dims = {s->n, s->k, st->oh, st->ow};
  dnnl_dims_t wei_dims = {s->k, s->c, s->kh, s->kw}, strides = {s->stride_h, s->stride_w},
              pad = {s->pad_h, s->pad_w};
  /* oneDNN wants right padding such that the output size comes out as ours */
  dnnl_dims_t pad_r = {(st->oh - 1) * s->stride_h + s->kh - s->h - s->pad_h,
                       (st->ow - 1) * s->stride_w + s->kw - s->w - s->pad_w};
  dnnl_memory_desc_t src_md, dst_md, wei_md;
  DNNL_OK(dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, dnnl_nhwc));
  DNNL_OK(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, dnnl_nhwc));
  DNNL_OK(dnnl_memory_desc_init_by_tag(&wei_md, 4, wei_dims, dnnl_f32, dnnl_format_tag_any));
  DNNL_OK(dnnl_engine_create(&st->eng, dnnl_cpu, 0));
  DNNL_OK(dnnl_stream_create(&st->strm, st->eng, dnnl_stream_default_flags));
  dnnl_convolution_desc_t fd, bd;
  dnnl_primitive_desc_t fpd = NULL, pd = NULL;
  DNNL_OK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &src_md, &wei_md,
                                             NULL, &dst_md, strides, pad, pad_r));
  DNNL_OK(dnnl_primitive_desc_create(&fpd, &fd, NULL, st->eng, NULL));
  int a0, a1, a2;
  dnnl_query_t q0, q1, q2;
  if (st->pass == FWD) {
    pd = fpd, fpd = NULL;
    a0 = DNNL_ARG_SRC, q0 = dnnl_query_src_md, a1 = DNNL_ARG_WEIGHTS, q1 = dnnl_query_weights_md;
    a2 = DNNL_ARG_DST, q2 = dnnl_query_dst_md;
  } else if (st->pass == BWD_DATA) {
    if (dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &src_md, &wei_md, &dst_md, strides,
                                                 pad, pad_r) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &bd, NULL, st->eng, fpd) != dnnl_success) {
      dnnl_primitive_desc_destroy(fpd);
      return conv_teardown(st), *err = "oneDNN: backward-data descriptor", NULL;
    }
    a0 = DNNL_ARG_DIFF_DST, q0 = dnnl_query_diff_dst_md, a1 = DNNL_ARG_WEIGHTS, q1 = dnnl_query_weights_md;
    a2 = DNNL_ARG_DIFF_SRC, q2 = dnnl_query_diff_src_md;
  } else {
    if (dnnl_convolution_backward_weights_desc_init(&bd, dnnl_convolution_direct, &src_md, &wei_md, NULL, &dst_md,
                                                    strides, pad, pad_r) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &bd, NULL, st->eng, fpd) != dnnl_success) {
      dnnl_primitive_desc_destroy(fpd);
      return conv_teardown(st), *err = "oneDNN: backward-weights descriptor", NULL;
    }
    a0 = DNNL_ARG_SRC, q0 = dnnl_query_src_md, a1 = DNNL_ARG_DIFF_DST, q1 = dnnl_query_diff_dst_md;
    a2 = DNNL_ARG_DIFF_WEIGHTS, q2 = dnnl_query_diff_weights_md;
  }
  if (fpd) dnnl_primitive_desc_destroy(fpd);
  const dnnl_memory_desc_t *m0 = dnnl_primitive_desc_query_md(pd, q0, 0), *m1 = dnnl_primitive_desc_query_md(pd, q1, 0),
                           *m2 = dnnl_primitive_desc_query_md(pd, q2, 0);
  dnnl_status_t rc = dnnl_primitive_create(&st->prim, pd);
  if (rc == dnnl_success) rc = make_mem(&st->mem[0], m0, st->eng, 0.01f);
  if (rc == dnnl_success) rc = make_mem(&st->mem[1], m1, st->eng, 0.02f);
  if (rc == dnnl_success) rc = make_mem(&st->mem[2], m2, st->eng, 0.03f);
  dnnl_primitive_desc_destroy(pd);
  if (rc != dnnl_success) return conv_teardown(st), *err = "oneDNN: primitive or memory creation", NULL;
  st->args[0] = a0, st->args[1] = a1, st->args[2] = a2;
  return st;
}

static int onednn_run(void *p) {
  conv_state *st = p;
  dnnl_exec_arg_t args[3];
  for (int i = 0; i < 3; i++) args[i] = (dnnl_exec_arg_t){.arg = st->args[i], .memory = st->mem[i]};
  if (dnnl_primitive_execute(st->prim, st->strm, 3, args) != dnnl_success) return 1;
  return dnnl_stream_wait(st->strm) != dnnl_success;
}

/* ---- registration ---------------------------------------------------------------------------------------------- */

static void add_shape(int n, int h, int w, int c, int k, int stride) {
  static const char *const isas[] = {"scalar", "neon", "avx2", "avx512"};
  int oh = (h + 2 - 3) / stride + 1, ow = (w + 2 - 3) / stride + 1;
  double flops = 2.0 * n * oh * ow * k * 9.0 * c;
  for (int pass = 0; pass < 4; pass++)
    for (int isa = -1; isa < SC_ISA_COUNT; isa++) {
      if (isa == SC_ISA_SCALAR) continue; /* the reference microkernel takes seconds per case */
      if (isa < 0 && pass == FWD_GEMM) continue;
      sc_bench_case bc = {.isa = isa, .flops = flops, .setup = isa < 0 ? onednn_setup : engine_setup,
                          .run = isa < 0 ? onednn_run : engine_run, .teardown = conv_teardown,
                          .params = {n, h, w, c, k, stride, pass}};
      snprintf(bc.name, sizeof bc.name, "conv/%s/%s/%dx%dx%d-%ds%d", isa < 0 ? "onednn" : isas[isa],
               pass_names[pass], h, w, c, k, stride);
      sc_bench_add(&bc);
    }
}

__attribute__((constructor)) static void register_conv(void) {
  add_shape(64, 32, 32, 64, 64, 1);
  add_shape(64, 32, 32, 64, 128, 2);
  add_shape(64, 16, 16, 128, 128, 1);
  add_shape(64, 16, 16, 128, 256, 2);
  add_shape(64, 8, 8, 256, 256, 1);
  add_shape(64, 8, 8, 256, 512, 2);
  add_shape(64, 4, 4, 512, 512, 1);
  /* the demo's model (the stem, then each stage): few channels, many pixels */
  add_shape(512, 28, 28, 1, 16, 1);
  add_shape(512, 28, 28, 16, 16, 1);
  add_shape(512, 28, 28, 16, 32, 2);
  add_shape(512, 14, 14, 32, 32, 1);
  add_shape(512, 14, 14, 32, 64, 2);
  add_shape(512, 7, 7, 64, 64, 1);
  add_shape(512, 7, 7, 64, 128, 2);
  add_shape(512, 4, 4, 128, 128, 1);
}
