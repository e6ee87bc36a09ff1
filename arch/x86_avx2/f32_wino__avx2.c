/* f32_wino__avx2.c: the Winograd transforms of F(2x2, 3x3) and F(4x4, 3x3) (conv.h) with AVX2, 8 channels per vector
 * and a masked vector for the last few. The operations are the scalar kernel's, lane by lane. */
#include <immintrin.h>

#include "conv.h"
#include "f32_tail__avx2.h"

static inline void wino_in8(const float *in, size_t rs, size_t ps, float *v, size_t vs, __m256i k, int full) {
  __m256 t[4][4];
  for (size_t j = 0; j < 4; j++) {
    const __m256 d0 = sc_avx2_ld(in + j * ps, k, full), d1 = sc_avx2_ld(in + rs + j * ps, k, full);
    const __m256 d2 = sc_avx2_ld(in + 2 * rs + j * ps, k, full), d3 = sc_avx2_ld(in + 3 * rs + j * ps, k, full);
    t[0][j] = _mm256_sub_ps(d0, d2);
    t[1][j] = _mm256_add_ps(d1, d2);
    t[2][j] = _mm256_sub_ps(d2, d1);
    t[3][j] = _mm256_sub_ps(d1, d3);
  }
  for (size_t r = 0; r < 4; r++) {
    sc_avx2_st(v + (4 * r + 0) * vs, k, full, _mm256_sub_ps(t[r][0], t[r][2]));
    sc_avx2_st(v + (4 * r + 1) * vs, k, full, _mm256_add_ps(t[r][1], t[r][2]));
    sc_avx2_st(v + (4 * r + 2) * vs, k, full, _mm256_sub_ps(t[r][2], t[r][1]));
    sc_avx2_st(v + (4 * r + 3) * vs, k, full, _mm256_sub_ps(t[r][1], t[r][3]));
  }
}

void sc_f32_wino_in__avx2(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs) {
  const __m256i all = sc_avx2_mask(8);
  size_t c = 0;
  for (; c + 8 <= cn; c += 8) wino_in8(in + c, rs, ps, v + c, vs, all, 1);
  if (c < cn) wino_in8(in + c, rs, ps, v + c, vs, sc_avx2_mask(cn - c), 0);
}

static inline void wino_out8(const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows, size_t cols,
                             int accumulate, __m256i k, int full) {
  __m256 s[2][4];
  for (size_t j = 0; j < 4; j++) {
    const __m256 m0 = sc_avx2_ld(m + j * ms, k, full), m1 = sc_avx2_ld(m + (4 + j) * ms, k, full);
    const __m256 m2 = sc_avx2_ld(m + (8 + j) * ms, k, full), m3 = sc_avx2_ld(m + (12 + j) * ms, k, full);
    s[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
    s[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
  }
  for (size_t i = 0; i < rows; i++) {
    __m256 y[2] = {_mm256_add_ps(_mm256_add_ps(s[i][0], s[i][1]), s[i][2]),
                   _mm256_sub_ps(_mm256_sub_ps(s[i][1], s[i][2]), s[i][3])};
    for (size_t j = 0; j < cols; j++) {
      float *o = out + i * rs + j * ps;
      sc_avx2_st(o, k, full, accumulate ? _mm256_add_ps(sc_avx2_ld(o, k, full), y[j]) : y[j]);
    }
  }
}

void sc_f32_wino_out__avx2(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                           size_t cols, int accumulate) {
  const __m256i all = sc_avx2_mask(8);
  size_t c = 0;
  for (; c + 8 <= cn; c += 8) wino_out8(m + c, ms, out + c, rs, ps, rows, cols, accumulate, all, 1);
  if (c < cn) wino_out8(m + c, ms, out + c, rs, ps, rows, cols, accumulate, sc_avx2_mask(cn - c), 0);
}

/* F(4x4, 3x3): conv.h's one-dimensional transforms, down the columns, then along the rows */
static inline void wino4_in_1d(const __m256 x[6], __m256 r[6]) {
  const __m256 four = _mm256_set1_ps(4.0f), two = _mm256_set1_ps(2.0f);
  r[0] = _mm256_add_ps(_mm256_mul_ps(four, _mm256_sub_ps(x[0], x[2])), _mm256_sub_ps(x[4], x[2]));
  r[1] = _mm256_sub_ps(_mm256_add_ps(x[3], x[4]), _mm256_mul_ps(four, _mm256_add_ps(x[1], x[2])));
  r[2] = _mm256_add_ps(_mm256_sub_ps(x[4], x[3]), _mm256_mul_ps(four, _mm256_sub_ps(x[1], x[2])));
  r[3] = _mm256_add_ps(_mm256_sub_ps(x[4], x[2]), _mm256_mul_ps(two, _mm256_sub_ps(x[3], x[1])));
  r[4] = _mm256_sub_ps(_mm256_sub_ps(x[4], x[2]), _mm256_mul_ps(two, _mm256_sub_ps(x[3], x[1])));
  r[5] = _mm256_add_ps(_mm256_mul_ps(four, _mm256_sub_ps(x[1], x[3])), _mm256_sub_ps(x[5], x[3]));
}

static inline void wino4_out_1d(const __m256 m[6], __m256 y[4]) {
  const __m256 a = _mm256_add_ps(m[1], m[2]), b = _mm256_sub_ps(m[1], m[2]);
  const __m256 c = _mm256_add_ps(m[3], m[4]), d = _mm256_sub_ps(m[3], m[4]);
  y[0] = _mm256_add_ps(_mm256_add_ps(m[0], a), c);
  y[1] = _mm256_add_ps(b, _mm256_mul_ps(_mm256_set1_ps(2.0f), d));
  y[2] = _mm256_add_ps(a, _mm256_mul_ps(_mm256_set1_ps(4.0f), c));
  y[3] = _mm256_add_ps(_mm256_add_ps(b, _mm256_mul_ps(_mm256_set1_ps(8.0f), d)), m[5]);
}

static inline void wino4_in8(const float *in, size_t rs, size_t ps, float *v, size_t vs, __m256i k, int full) {
  __m256 t[6][6], col[6], row[6];
  for (size_t j = 0; j < 6; j++) {
    for (size_t i = 0; i < 6; i++) col[i] = sc_avx2_ld(in + i * rs + j * ps, k, full);
    wino4_in_1d(col, row);
    for (size_t r = 0; r < 6; r++) t[r][j] = row[r];
  }
  for (size_t r = 0; r < 6; r++) {
    wino4_in_1d(t[r], row);
    for (size_t j = 0; j < 6; j++) sc_avx2_st(v + (6 * r + j) * vs, k, full, row[j]);
  }
}

void sc_f32_wino4_in__avx2(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs) {
  const __m256i all = sc_avx2_mask(8);
  size_t c = 0;
  for (; c + 8 <= cn; c += 8) wino4_in8(in + c, rs, ps, v + c, vs, all, 1);
  if (c < cn) wino4_in8(in + c, rs, ps, v + c, vs, sc_avx2_mask(cn - c), 0);
}

static inline void wino4_out8(const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                              size_t cols, int accumulate, __m256i k, int full) {
  __m256 s[4][6], col[6], y[4];
  for (size_t j = 0; j < 6; j++) {
    for (size_t i = 0; i < 6; i++) col[i] = sc_avx2_ld(m + (6 * i + j) * ms, k, full);
    wino4_out_1d(col, y);
    for (size_t i = 0; i < 4; i++) s[i][j] = y[i];
  }
  for (size_t i = 0; i < rows; i++) {
    wino4_out_1d(s[i], y);
    for (size_t j = 0; j < cols; j++) {
      float *o = out + i * rs + j * ps;
      sc_avx2_st(o, k, full, accumulate ? _mm256_add_ps(sc_avx2_ld(o, k, full), y[j]) : y[j]);
    }
  }
}

void sc_f32_wino4_out__avx2(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                            size_t cols, int accumulate) {
  const __m256i all = sc_avx2_mask(8);
  size_t c = 0;
  for (; c + 8 <= cn; c += 8) wino4_out8(m + c, ms, out + c, rs, ps, rows, cols, accumulate, all, 1);
  if (c < cn) wino4_out8(m + c, ms, out + c, rs, ps, rows, cols, accumulate, sc_avx2_mask(cn - c), 0);
}
