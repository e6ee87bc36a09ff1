/* f32_wino__scalar.c: the Winograd F(2x2, 3x3) transforms (conv.h) as plain loops over the channels: the
 * reference the vector kernels must match bit for bit (they do the same adds and subtracts per lane). */
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
