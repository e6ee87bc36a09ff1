/* test_layers.c: every layer of src/nn, on every ISA, checked the same way: its backward against central finite
 * differences of its own forward, on shapes small enough to probe every element. The scalar objective is
 * L = sum_i r_i y_i with fixed random r, accumulated in double, so dL/dy = r is what the backward receives. Every
 * gradient buffer starts at 0.25 and the test subtracts it afterwards, which also checks that backward accumulates
 * (+=) instead of overwriting. A layer's input gradient is then computed again with SC_GRAD_SET over a buffer of
 * NaN (the parameter gradients still start at 0.25), and must pass the same check. Forward values that have a
 * closed form (BN running statistics, cross-entropy) are checked against it too.
 *
 * Tolerances: the forward is fp32, so L carries a rounding error of about 1e-7 relative per output term; with
 * step h the central difference inherits ~sqrt(outputs)*1e-7/h (2e-4 at h = 1e-2) plus a truncation error of
 * O(h^2 f''') for the nonlinear layers. |analytic - fd| <= 3e-3 + 1e-2*|fd| covers both with margin while still
 * catching any wrong term (a missing term or factor moves the gradient by O(1)). Max-pool uses inputs kept at least
 * 5h away from ties, and a BN followed by a ReLU (alone, or after the residual add) a shift beta chosen per channel
 * to keep its pre-activations as far from the kink as it can. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn.h"
#include "test.h"
#include "testutil.h"

typedef struct fd_buf {
  const char *name;
  float *p, *g; /* the value and its gradient */
  size_t n;
  int input;    /* g is a layer input's gradient, written as the sc_grad_write says (else it is accumulated) */
} fd_buf;

typedef struct fd_problem {
  const char *what; /* shape and options, printed on failure */
  double (*loss)(void *ctx);
  void (*grad)(void *ctx, sc_grad_write dxw); /* adds into every fd_buf.g, or sets the input ones */
  void *ctx;
  double h;
} fd_problem;

static double weighted_sum(const float *y, const float *r, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)y[i] * r[i];
  return s;
}

/* Each element of one buffer's analytic gradient against the central difference of the loss. */
static void fd_compare(const sc_kernels *k, const fd_problem *pb, fd_buf *bf, sc_grad_write dxw) {
  for (size_t i = 0; i < bf->n; i++) {
    float keep = bf->p[i];
    bf->p[i] = keep + (float)pb->h;
    double up = pb->loss(pb->ctx);
    bf->p[i] = keep - (float)pb->h;
    double down = pb->loss(pb->ctx);
    bf->p[i] = keep;
    double fd = (up - down) / (2.0 * pb->h), an = bf->g[i];
    SC_ASSERT(fabs(an - fd) <= 3e-3 + 1e-2 * fabs(fd), "isa=%s %s (%s): d%s[%zu] = %.6f, finite difference %.6f",
              k->name, pb->what, dxw == SC_GRAD_SET ? "set" : "add", bf->name, i, an, fd);
  }
}

/* The analytic gradients into every fd_buf.g: the input ones with dxw (set over NaN, or added to 0.25), the others
 * added to 0.25; the 0.25 is subtracted afterwards. */
static void fd_analytic(const fd_problem *pb, fd_buf *bufs, int nb, sc_grad_write dxw) {
  for (int b = 0; b < nb; b++)
    for (size_t i = 0; i < bufs[b].n; i++) bufs[b].g[i] = bufs[b].input && dxw == SC_GRAD_SET ? NAN : 0.25f;
  pb->loss(pb->ctx); /* the backward reads what the forward saved at the unperturbed point */
  pb->grad(pb->ctx, dxw);
  for (int b = 0; b < nb; b++)
    for (size_t i = 0; i < bufs[b].n; i++)
      if (!(bufs[b].input && dxw == SC_GRAD_SET)) bufs[b].g[i] -= 0.25f;
}

static void fd_check(const sc_kernels *k, const fd_problem *pb, fd_buf *bufs, int nb) {
  int inputs = 0;
  for (int b = 0; b < nb; b++) inputs += bufs[b].input;
  for (int pass = 0; pass < (inputs ? 2 : 1); pass++) {
    const sc_grad_write dxw = pass ? SC_GRAD_SET : SC_GRAD_ADD;
    fd_analytic(pb, bufs, nb, dxw);
    for (int b = 0; b < nb; b++) fd_compare(k, pb, &bufs[b], dxw);
  }
}

/* ---- convolution ---- */
typedef struct conv_ctx {
  sc_conv2d_shape s;
  float *x, *w, *y, *r, *dx, *dw;
  size_t ny;
} conv_ctx;
static double conv_loss(void *p) {
  conv_ctx *c = p;
  SC_ASSERT(sc_nn_conv2d_forward(&c->s, c->x, c->w, c->y) == SC_OK, "conv forward: %s", sc_last_error());
  return weighted_sum(c->y, c->r, c->ny);
}
static void conv_grad(void *p, sc_grad_write dxw) {
  conv_ctx *c = p;
  SC_ASSERT(sc_nn_conv2d_backward(&c->s, c->dx, dxw, c->dw, c->r, c->x, c->w) == SC_OK, "conv backward: %s",
            sc_last_error());
}
static void conv_case(const sc_kernels *k, sc_conv2d_shape s, uint64_t seed) {
  sc_test_rng rng = {seed};
  int64_t oh, ow;
  SC_ASSERT(sc_conv2d_out_size(&s, &oh, &ow) == SC_OK, "out size");
  conv_ctx c = {.s = s};
  size_t nx = (size_t)(s.n * s.h * s.w * s.c), nw = (size_t)(s.k * s.kh * s.kw * s.c);
  c.ny = (size_t)(s.n * oh * ow * s.k);
  c.x = sc_test_alloc(nx, 1), c.dx = sc_test_alloc(nx, 0), c.w = sc_test_alloc(nw, 2), c.dw = sc_test_alloc(nw, 0);
  c.y = sc_test_alloc(c.ny, 0), c.r = sc_test_alloc(c.ny, 3);
  sc_test_fill(&rng, c.x, nx, -1, 1), sc_test_fill(&rng, c.w, nw, -1, 1), sc_test_fill(&rng, c.r, c.ny, -1, 1);
  char what[160];
  snprintf(what, sizeof what, "conv N=%lld H=%lld W=%lld C=%lld K=%lld %lldx%lld/%lld pad %lld seed=%llu",
           (long long)s.n, (long long)s.h, (long long)s.w, (long long)s.c, (long long)s.k, (long long)s.kh,
           (long long)s.kw, (long long)s.stride_h, (long long)s.pad_h, (unsigned long long)seed);
  fd_problem pb = {what, conv_loss, conv_grad, &c, 1e-2};
  fd_buf bufs[] = {{"x", c.x, c.dx, nx, 1}, {"w", c.w, c.dw, nw, 0}};
  fd_check(k, &pb, bufs, 2);
  sc_test_free(c.x), sc_test_free(c.dx), sc_test_free(c.w), sc_test_free(c.dw), sc_test_free(c.y),
      sc_test_free(c.r);
}

SC_ISA_TEST(nn, conv2d_backward_matches_finite_differences) {
  conv_case(k, (sc_conv2d_shape){.n = 2, .h = 5, .w = 4, .c = 3, .k = 4, .kh = 3, .kw = 3, .stride_h = 2,
                                 .stride_w = 2, .pad_h = 1, .pad_w = 1}, 1);
  conv_case(k, (sc_conv2d_shape){.n = 2, .h = 4, .w = 4, .c = 5, .k = 3, .kh = 1, .kw = 1, .stride_h = 1,
                                 .stride_w = 1}, 2);
  conv_case(k, (sc_conv2d_shape){.n = 1, .h = 9, .w = 8, .c = 1, .k = 2, .kh = 7, .kw = 7, .stride_h = 2,
                                 .stride_w = 2, .pad_h = 3, .pad_w = 3}, 3);
}

/* ---- batch normalisation ---- */
typedef struct bn_ctx {
  int64_t rows, c;
  int relu;
  float *x, *y, *r, *gamma, *beta, *dx, *dgamma, *dbeta, *rm, *rv, *sm, *sv;
  float *res, *dres; /* the block end relu(BN(x) + res) when res is set (relu is then 1) */
} bn_ctx;
static double bn_loss(void *p) {
  bn_ctx *b = p;
  sc_nn_bn_state st = {b->rm, b->rv, b->sm, b->sv};
  sc_status s = b->res ? sc_nn_batchnorm_add_relu_forward(b->rows, b->c, b->x, b->res, b->gamma, b->beta, &st, 1,
                                                          SC_NN_BN_EPS, SC_NN_BN_MOMENTUM, b->y)
                       : sc_nn_batchnorm_forward(b->rows, b->c, b->x, b->gamma, b->beta, &st, 1, b->relu,
                                                 SC_NN_BN_EPS, SC_NN_BN_MOMENTUM, b->y);
  SC_ASSERT(s == SC_OK, "bn forward: %s", sc_last_error());
  return weighted_sum(b->y, b->r, (size_t)(b->rows * b->c));
}
static void bn_grad(void *p, sc_grad_write dxw) {
  bn_ctx *b = p;
  sc_nn_bn_state st = {b->rm, b->rv, b->sm, b->sv};
  sc_status s = b->res ? sc_nn_batchnorm_add_relu_backward(b->rows, b->c, b->dx, dxw, b->dres, dxw, b->dgamma,
                                                           b->dbeta, b->r, b->y, b->x, &st, b->gamma, SC_NN_BN_EPS)
                       : sc_nn_batchnorm_backward(b->rows, b->c, b->dx, dxw, b->dgamma, b->dbeta, b->r, b->x, &st,
                                                  b->gamma, b->beta, b->relu, SC_NN_BN_EPS);
  SC_ASSERT(s == SC_OK, "bn backward: %s", sc_last_error());
}
/* res: the block end, relu(BN(x) + res) (relu must be 1) */
static void bn_case(const sc_kernels *k, int64_t rows, int64_t c, int relu, int res, uint64_t seed) {
  sc_test_rng rng = {seed};
  size_t n = (size_t)(rows * c);
  bn_ctx b = {.rows = rows, .c = c, .relu = relu};
  b.x = sc_test_alloc(n, 1), b.y = sc_test_alloc(n, 0), b.r = sc_test_alloc(n, 0), b.dx = sc_test_alloc(n, 0);
  if (res) {
    b.res = sc_test_alloc(n, 2), b.dres = sc_test_alloc(n, 3);
    sc_test_fill(&rng, b.res, n, -1, 1);
  }
  float *pc[8];
  for (int i = 0; i < 8; i++) pc[i] = sc_test_alloc((size_t)c, (size_t)i);
  b.gamma = pc[0], b.beta = pc[1], b.dgamma = pc[2], b.dbeta = pc[3], b.rm = pc[4], b.rv = pc[5], b.sm = pc[6],
  b.sv = pc[7];
  /* a mean far from zero checks that the statistics do not cancel */
  sc_test_fill(&rng, b.x, n, 2.0f, 4.0f), sc_test_fill(&rng, b.r, n, -1, 1);
  sc_test_fill(&rng, b.gamma, (size_t)c, 0.5f, 1.5f), sc_test_fill(&rng, b.beta, (size_t)c, -0.5f, 0.5f);
  for (int64_t j = 0; j < c; j++) b.rm[j] = 0.0f, b.rv[j] = 1.0f;
  if (relu) /* move each channel's beta so that no pre-activation sits within 0.05 of the kink */
    for (int64_t j = 0; j < c; j++) {
      double m = 0, v = 0, best = -1;
      for (int64_t i = 0; i < rows; i++) m += b.x[i * c + j];
      m /= (double)rows;
      for (int64_t i = 0; i < rows; i++) v += (b.x[i * c + j] - m) * (b.x[i * c + j] - m);
      double is = 1.0 / sqrt(v / (double)rows + 1e-5);
      for (int t = -50; t <= 50; t++) {
        double beta = t * 0.01, gap = 1e9;
        for (int64_t i = 0; i < rows; i++)
          gap = fmin(gap, fabs(b.gamma[j] * (b.x[i * c + j] - m) * is + beta + (res ? b.res[i * c + j] : 0)));
        if (gap > best) best = gap, b.beta[j] = (float)beta;
      }
    }

  /* running statistics after one forward: PyTorch's update with the unbiased batch variance */
  bn_loss(&b);
  for (int64_t j = 0; j < c; j++) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < rows; i++) m += b.x[i * c + j];
    m /= (double)rows;
    for (int64_t i = 0; i < rows; i++) v += (b.x[i * c + j] - m) * (b.x[i * c + j] - m);
    double want_rm = 0.1 * m, want_rv = 0.9 + 0.1 * v / (double)(rows - 1);
    SC_ASSERT(fabs(b.rm[j] - want_rm) <= 1e-6 * (1 + fabs(want_rm)) && fabs(b.rv[j] - want_rv) <= 1e-5,
              "isa=%s bn rows=%lld C=%lld seed=%llu: running stats of channel %lld are %g, %g; want %g, %g",
              k->name, (long long)rows, (long long)c, (unsigned long long)seed, (long long)j, b.rm[j], b.rv[j],
              want_rm, want_rv);
    /* and the normalised output itself, in double */
    for (int64_t i = 0; i < rows; i++) {
      double want = b.gamma[j] * (b.x[i * c + j] - m) / sqrt(v / (double)rows + 1e-5) + b.beta[j];
      if (res) want += b.res[i * c + j];
      if (relu && want < 0) want = 0;
      SC_ASSERT(fabs(b.y[i * c + j] - want) <= 1e-4, "isa=%s bn rows=%lld C=%lld relu=%d res=%d seed=%llu: "
                "y[%lld][%lld] = %g, want %g", k->name, (long long)rows, (long long)c, relu, res,
                (unsigned long long)seed, (long long)i, (long long)j, b.y[i * c + j], want);
    }
  }

  char what[128];
  snprintf(what, sizeof what, "batchnorm rows=%lld C=%lld relu=%d res=%d seed=%llu", (long long)rows, (long long)c,
           relu, res, (unsigned long long)seed);
  fd_problem pb = {what, bn_loss, bn_grad, &b, relu ? 3e-3 : 1e-2};
  fd_buf bufs[] = {{"x", b.x, b.dx, n, 1}, {"gamma", b.gamma, b.dgamma, (size_t)c, 0},
                   {"beta", b.beta, b.dbeta, (size_t)c, 0}, {"res", b.res, b.dres, n, 1}};
  fd_check(k, &pb, bufs, res ? 4 : 3);

  /* evaluation mode uses the running statistics and leaves them alone */
  float rm0 = b.rm[0], rv0 = b.rv[0];
  sc_nn_bn_state st = {b.rm, b.rv, b.sm, b.sv};
  sc_status s = res ? sc_nn_batchnorm_add_relu_forward(rows, c, b.x, b.res, b.gamma, b.beta, &st, 0, SC_NN_BN_EPS,
                                                       SC_NN_BN_MOMENTUM, b.y)
                    : sc_nn_batchnorm_forward(rows, c, b.x, b.gamma, b.beta, &st, 0, relu, SC_NN_BN_EPS,
                                              SC_NN_BN_MOMENTUM, b.y);
  SC_ASSERT(s == SC_OK, "bn eval: %s", sc_last_error());
  double want = b.gamma[0] * (b.x[0] - rm0) / sqrt(rv0 + 1e-5) + b.beta[0] + (res ? b.res[0] : 0);
  if (relu && want < 0) want = 0;
  SC_ASSERT(b.rm[0] == rm0 && b.rv[0] == rv0 && fabs(b.y[0] - want) <= 1e-4,
            "isa=%s %s: evaluation mode y[0] = %g, want %g (running stats must not move)", k->name, what, b.y[0],
            want);
  sc_test_free(b.x), sc_test_free(b.y), sc_test_free(b.r), sc_test_free(b.dx);
  if (res) sc_test_free(b.res), sc_test_free(b.dres);
  for (int i = 0; i < 8; i++) sc_test_free(pc[i]);
}

SC_ISA_TEST(nn, batchnorm2d_backward_matches_finite_differences) {
  bn_case(k, 2 * 3 * 3, 5, 0, 0, 11); /* N=2, 3x3 pixels */
  bn_case(k, 2 * 3 * 3, 5, 1, 0, 12);
  bn_case(k, 4 * 2 * 2, 19, 1, 0, 13); /* more channels than one vector */
}

SC_ISA_TEST(nn, batchnorm_add_relu_backward_matches_finite_differences) {
  bn_case(k, 2 * 3 * 3, 5, 1, 1, 14);
  bn_case(k, 4 * 2 * 2, 19, 1, 1, 15);
}

SC_ISA_TEST(nn, batchnorm1d_backward_matches_finite_differences) {
  bn_case(k, 6, 7, 0, 0, 21);
  bn_case(k, 6, 7, 1, 0, 22);
}

SC_TEST(nn, batchnorm_rejects_one_row_in_training) {
  float x[3] = {1, 2, 3}, g[3] = {1, 1, 1}, b[3] = {0}, rm[3] = {0}, rv[3] = {1, 1, 1}, sm[3], sv[3], y[3];
  sc_nn_bn_state st = {rm, rv, sm, sv};
  SC_ASSERT(sc_nn_batchnorm_forward(1, 3, x, g, b, &st, 1, 0, 1e-5f, 0.1f, y) == SC_EINVAL,
            "rows=1 in training accepted (the unbiased variance is undefined)");
}

/* ---- pooling, L2 normalisation ---- */
enum { U_MAXPOOL, U_AVGPOOL, U_L2NORM };
typedef struct unary_ctx {
  int kind; /* U_* */
  sc_pool2d_shape ps;
  int64_t nx, ny, d;
  float *x, *y, *r, *dx;
} unary_ctx;
static double unary_loss(void *p) {
  unary_ctx *u = p;
  sc_status st = SC_OK;
  switch (u->kind) {
  case U_MAXPOOL: st = sc_nn_maxpool_forward(&u->ps, u->x, u->y); break;
  case U_AVGPOOL: st = sc_nn_avgpool_forward(u->ps.n, u->ps.h, u->ps.w, u->ps.c, u->x, u->y); break;
  case U_L2NORM: st = sc_nn_l2norm_forward(u->nx / u->d, u->d, u->x, u->y); break;
  }
  SC_ASSERT(st == SC_OK, "forward %d: %s", u->kind, sc_last_error());
  return weighted_sum(u->y, u->r, (size_t)u->ny);
}
static void unary_grad(void *p, sc_grad_write dxw) {
  unary_ctx *u = p;
  sc_status st = SC_OK;
  switch (u->kind) {
  case U_MAXPOOL: st = sc_nn_maxpool_backward(&u->ps, u->dx, dxw, u->r, u->x, u->y); break;
  case U_AVGPOOL: st = sc_nn_avgpool_backward(u->ps.n, u->ps.h, u->ps.w, u->ps.c, u->dx, dxw, u->r); break;
  case U_L2NORM: st = sc_nn_l2norm_backward(u->nx / u->d, u->d, u->dx, u->r, u->x, u->y); break;
  }
  SC_ASSERT(st == SC_OK, "backward %d: %s", u->kind, sc_last_error());
}
static void unary_case(const sc_kernels *k, int kind, sc_pool2d_shape ps, int64_t nx, int64_t ny, int64_t d,
                       uint64_t seed) {
  static const char *names[] = {"maxpool", "avgpool", "l2norm"};
  sc_test_rng rng = {seed};
  unary_ctx u = {.kind = kind, .ps = ps, .nx = nx, .ny = ny, .d = d};
  u.x = sc_test_alloc((size_t)nx, 1), u.dx = sc_test_alloc((size_t)nx, 0);
  u.y = sc_test_alloc((size_t)ny, 0), u.r = sc_test_alloc((size_t)ny, 1);
  const double h = 1e-2;
  sc_test_fill(&rng, u.r, (size_t)ny, -1, 1);
  if (kind == U_MAXPOOL) { /* distinct values 5h apart in shuffled order: no step changes a window's winner */
    for (int64_t i = 0; i < nx; i++) u.x[i] = (float)i * 0.05f - 1.0f;
    for (int64_t i = nx - 1; i > 0; i--) {
      int64_t j = sc_test_int(&rng, 0, i);
      float t = u.x[i];
      u.x[i] = u.x[j], u.x[j] = t;
    }
  } else {
    sc_test_fill(&rng, u.x, (size_t)nx, -1, 1);
  }
  char what[128];
  snprintf(what, sizeof what, "%s count=%lld N=%lld H=%lld W=%lld C=%lld seed=%llu", names[kind], (long long)nx,
           (long long)ps.n, (long long)ps.h, (long long)ps.w, (long long)ps.c, (unsigned long long)seed);
  fd_problem pb = {what, unary_loss, unary_grad, &u, h};
  /* the L2 normalisation always adds into dx */
  fd_buf bufs[] = {{"x", u.x, u.dx, (size_t)nx, kind != U_L2NORM}};
  fd_check(k, &pb, bufs, 1);
  sc_test_free(u.x), sc_test_free(u.dx), sc_test_free(u.y), sc_test_free(u.r);
}

SC_ISA_TEST(nn, maxpool_backward_matches_finite_differences) {
  sc_pool2d_shape s = {.n = 2, .h = 7, .w = 6, .c = 3, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1,
                       .pad_w = 1};
  int64_t oh, ow;
  SC_ASSERT(sc_pool2d_out_size(&s, &oh, &ow) == SC_OK && oh == 4 && ow == 3, "pool out size %lldx%lld",
            (long long)oh, (long long)ow);
  unary_case(k, U_MAXPOOL, s, 2 * 7 * 6 * 3, 2 * oh * ow * 3, 1, 41);
}

SC_ISA_TEST(nn, avgpool_backward_matches_finite_differences) {
  sc_pool2d_shape s = {.n = 2, .h = 3, .w = 4, .c = 5};
  unary_case(k, U_AVGPOOL, s, 2 * 3 * 4 * 5, 2 * 5, 1, 51);
}

SC_ISA_TEST(nn, l2norm_backward_matches_finite_differences) {
  unary_case(k, U_L2NORM, (sc_pool2d_shape){0}, 3 * 6, 3 * 6, 6, 71);
}

/* ---- linear ---- */
typedef struct lin_ctx {
  int64_t rows, f, kk;
  float *x, *w, *b, *y, *r, *dx, *dw, *db;
} lin_ctx;
static double lin_loss(void *p) {
  lin_ctx *l = p;
  SC_ASSERT(sc_nn_linear_forward(l->rows, l->f, l->kk, l->x, l->w, l->b, l->y) == SC_OK, "linear: %s",
            sc_last_error());
  return weighted_sum(l->y, l->r, (size_t)(l->rows * l->kk));
}
static void lin_grad(void *p, sc_grad_write dxw) {
  lin_ctx *l = p;
  SC_ASSERT(sc_nn_linear_backward(l->rows, l->f, l->kk, l->dx, dxw, l->dw, l->b ? l->db : NULL, l->r, l->x, l->w) ==
            SC_OK, "linear backward: %s", sc_last_error());
}
static void lin_case(const sc_kernels *k, int64_t rows, int64_t f, int64_t kk, int bias, uint64_t seed) {
  sc_test_rng rng = {seed};
  lin_ctx l = {.rows = rows, .f = f, .kk = kk};
  size_t nx = (size_t)(rows * f), nw = (size_t)(kk * f), ny = (size_t)(rows * kk);
  l.x = sc_test_alloc(nx, 1), l.dx = sc_test_alloc(nx, 0), l.w = sc_test_alloc(nw, 2), l.dw = sc_test_alloc(nw, 0);
  l.y = sc_test_alloc(ny, 0), l.r = sc_test_alloc(ny, 1);
  float *b = sc_test_alloc((size_t)kk, 1), *db = sc_test_alloc((size_t)kk, 2);
  l.b = bias ? b : NULL, l.db = db;
  sc_test_fill(&rng, l.x, nx, -1, 1), sc_test_fill(&rng, l.w, nw, -1, 1), sc_test_fill(&rng, l.r, ny, -1, 1);
  sc_test_fill(&rng, b, (size_t)kk, -1, 1);
  char what[128];
  snprintf(what, sizeof what, "linear rows=%lld F=%lld K=%lld bias=%d seed=%llu", (long long)rows, (long long)f,
           (long long)kk, bias, (unsigned long long)seed);
  fd_problem pb = {what, lin_loss, lin_grad, &l, 1e-2};
  fd_buf bufs[] = {{"x", l.x, l.dx, nx, 1}, {"w", l.w, l.dw, nw, 0}, {"b", b, db, (size_t)kk, 0}};
  fd_check(k, &pb, bufs, bias ? 3 : 2);
  sc_test_free(l.x), sc_test_free(l.dx), sc_test_free(l.w), sc_test_free(l.dw), sc_test_free(l.y),
      sc_test_free(l.r), sc_test_free(b), sc_test_free(db);
}

SC_ISA_TEST(nn, linear_backward_matches_finite_differences) {
  lin_case(k, 3, 5, 4, 1, 81);
  lin_case(k, 4, 7, 3, 0, 82);
  lin_case(k, 1, 17, 33, 1, 83); /* wider than a microkernel tile */
}

/* ---- losses: the objective is the loss itself times a scale ---- */
typedef struct loss_ctx {
  int ntx; /* 1: NT-Xent, 0: cross-entropy */
  int64_t n, d;
  float tau, dloss;
  float *z, *dz, *saved;
  int32_t *labels;
} loss_ctx;
static double loss_loss(void *p) {
  loss_ctx *c = p;
  float loss = 0.0f;
  sc_status st = c->ntx ? sc_nn_ntxent_forward(c->n, c->d, c->tau, c->z, &loss, c->saved)
                        : sc_nn_xent_forward(c->n, c->d, c->z, c->labels, &loss, c->saved);
  SC_ASSERT(st == SC_OK, "loss forward: %s", sc_last_error());
  return (double)c->dloss * loss;
}
/* the losses' backward always adds into dz, whatever dxw */
static void loss_grad(void *p, sc_grad_write dxw) {
  (void)dxw;
  loss_ctx *c = p;
  sc_status st = c->ntx ? sc_nn_ntxent_backward(c->n, c->d, c->dz, c->dloss, c->saved)
                        : sc_nn_xent_backward(c->n, c->d, c->dz, c->dloss, c->saved, c->labels);
  SC_ASSERT(st == SC_OK, "loss backward: %s", sc_last_error());
}

SC_ISA_TEST(nn, cross_entropy_value_and_backward) {
  sc_test_rng rng = {91};
  enum { N = 4, K = 5 };
  float z[N * K], dz[N * K], prob[N * K];
  int32_t labels[N] = {0, 3, 4, 1};
  sc_test_fill(&rng, z, N * K, -3, 3);
  z[7] = 80.0f; /* a large logit must not overflow */
  double want = 0.0;
  for (int i = 0; i < N; i++) {
    double mx = -1e300, s = 0.0;
    for (int j = 0; j < K; j++) mx = z[i * K + j] > mx ? z[i * K + j] : mx;
    for (int j = 0; j < K; j++) s += exp(z[i * K + j] - mx);
    want += mx + log(s) - z[i * K + labels[i]];
  }
  want /= N;
  float loss;
  SC_ASSERT(sc_nn_xent_forward(N, K, z, labels, &loss, prob) == SC_OK, "xent: %s", sc_last_error());
  SC_ASSERT(fabs(loss - want) <= 1e-5 * (1 + fabs(want)), "isa=%s xent N=4 K=5 seed=91: loss %.7g, want %.7g",
            k->name, loss, want);
  loss_ctx c = {0, N, K, 0, 0.7f, z, dz, prob, labels};
  fd_problem pb = {"xent N=4 K=5 seed=91 dloss=0.7", loss_loss, loss_grad, &c, 1e-2};
  fd_buf bufs[] = {{"logits", z, dz, N * K, 0}};
  fd_check(k, &pb, bufs, 1);
  labels[2] = K;
  SC_ASSERT(sc_nn_xent_forward(N, K, z, labels, &loss, prob) == SC_EINVAL, "label out of range accepted");
}

SC_ISA_TEST(nn, ntxent_backward_matches_finite_differences) {
  sc_test_rng rng = {101};
  enum { TWO_N = 6, D = 4 };
  float z[TWO_N * D], dz[TWO_N * D], saved[TWO_N * D];
  sc_test_fill(&rng, z, TWO_N * D, -1, 1);
  loss_ctx c = {1, TWO_N, D, 0.5f, 0.7f, z, dz, saved, NULL};
  fd_problem pb = {"ntxent 2N=6 D=4 tau=0.5 seed=101 dloss=0.7", loss_loss, loss_grad, &c, 1e-2};
  fd_buf bufs[] = {{"z", z, dz, TWO_N * D, 0}};
  fd_check(k, &pb, bufs, 1);
}
