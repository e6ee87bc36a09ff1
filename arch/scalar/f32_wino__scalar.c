/* f32_wino__scalar.c: the Winograd transforms of F(2x2, 3x3) and F(4x4, 3x3) (conv.h) as plain loops over the
 * channels: the reference the vector kernels must match bit for bit (they do the same operations per lane). */
#include "conv.h"

void sc_f32_wino_in__scalar(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs) {
  for (size_t c = 0; c < cn; c++) {
    float d[4][4], t[4][4];
    for (size_t i = 0; i < 4; i++)
      for (size_t j = 0; j < 4; j++) d[i][j] = in[i * rs + j * ps + c];
    for (size_t j = 0; j < 4; j++) {
      t[0][j] = d[0][j] - d[2][j];
      t[1][j] = d[1][j] + d[2][j];
      t[2][j] = d[2][j] - d[1][j];
      t[3][j] = d[1][j] - d[3][j];
    }
    for (size_t r = 0; r < 4; r++) {
      v[(4 * r + 0) * vs + c] = t[r][0] - t[r][2];
      v[(4 * r + 1) * vs + c] = t[r][1] + t[r][2];
      v[(4 * r + 2) * vs + c] = t[r][2] - t[r][1];
      v[(4 * r + 3) * vs + c] = t[r][1] - t[r][3];
    }
  }
}

void sc_f32_wino_out__scalar(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                             size_t cols, int accumulate) {
  for (size_t c = 0; c < cn; c++) {
    float s[2][4], y[2][2];
    for (size_t j = 0; j < 4; j++) {
      s[0][j] = (m[j * ms + c] + m[(4 + j) * ms + c]) + m[(8 + j) * ms + c];
      s[1][j] = (m[(4 + j) * ms + c] - m[(8 + j) * ms + c]) - m[(12 + j) * ms + c];
    }
    for (size_t r = 0; r < 2; r++) {
      y[r][0] = (s[r][0] + s[r][1]) + s[r][2];
      y[r][1] = (s[r][1] - s[r][2]) - s[r][3];
    }
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < cols; j++) {
        float *o = out + i * rs + j * ps + c;
        *o = accumulate ? *o + y[i][j] : y[i][j];
      }
  }
}

/* F(4x4, 3x3): conv.h's one-dimensional transforms, applied down the columns, then along the rows */
static void wino4_in_1d(const float x[6], float r[6]) {
  r[0] = 4.0f * (x[0] - x[2]) + (x[4] - x[2]);
  r[1] = (x[3] + x[4]) - 4.0f * (x[1] + x[2]);
  r[2] = (x[4] - x[3]) + 4.0f * (x[1] - x[2]);
  r[3] = (x[4] - x[2]) + 2.0f * (x[3] - x[1]);
  r[4] = (x[4] - x[2]) - 2.0f * (x[3] - x[1]);
  r[5] = 4.0f * (x[1] - x[3]) + (x[5] - x[3]);
}

static void wino4_out_1d(const float m[6], float y[4]) {
  const float a = m[1] + m[2], b = m[1] - m[2], c = m[3] + m[4], d = m[3] - m[4];
  y[0] = (m[0] + a) + c;
  y[1] = b + 2.0f * d;
  y[2] = a + 4.0f * c;
  y[3] = (b + 8.0f * d) + m[5];
}

void sc_f32_wino4_in__scalar(size_t cn, const float *in, size_t rs, size_t ps, float *v, size_t vs) {
  for (size_t c = 0; c < cn; c++) {
    float t[6][6], col[6], row[6];
    for (size_t j = 0; j < 6; j++) {
      for (size_t i = 0; i < 6; i++) col[i] = in[i * rs + j * ps + c];
      wino4_in_1d(col, row);
      for (size_t r = 0; r < 6; r++) t[r][j] = row[r];
    }
    for (size_t r = 0; r < 6; r++) {
      wino4_in_1d(t[r], row);
      for (size_t j = 0; j < 6; j++) v[(6 * r + j) * vs + c] = row[j];
    }
  }
}

void sc_f32_wino4_out__scalar(size_t cn, const float *m, size_t ms, float *out, size_t rs, size_t ps, size_t rows,
                              size_t cols, int accumulate) {
  for (size_t c = 0; c < cn; c++) {
    float s[4][6], col[6], y[4];
    for (size_t j = 0; j < 6; j++) {
      for (size_t i = 0; i < 6; i++) col[i] = m[(6 * i + j) * ms + c];
      wino4_out_1d(col, y);
      for (size_t i = 0; i < 4; i++) s[i][j] = y[i];
    }
    for (size_t i = 0; i < rows; i++) {
      wino4_out_1d(s[i], y);
      for (size_t j = 0; j < cols; j++) {
        float *o = out + i * rs + j * ps + c;
        *o = accumulate ? *o + y[j] : y[j];
      }
    }
  }
}
