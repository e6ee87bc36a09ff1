/* fuzz_idx.c: libFuzzer target for the IDX readers: the bounded gzip inflater followed by the image and label
 * parsers, on raw and (when the input is gzip) inflated bytes. Must not assume anything about the input. */
#include <stdint.h>
#include <stdlib.h>

#include "data/readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sc_decode_limits lim = {.max_w = 8192, .max_h = 8192, .max_file_bytes = (size_t)64 << 20};
  uint8_t *plain = NULL;
  size_t plen = 0;
  if (sc_gunzip("fuzz", data, size, (size_t)16 << 20, &plain, &plen) != SC_OK) return 0;
  const uint8_t *p = plain ? plain : data;
  size_t n = plain ? plen : size;
  int64_t cnt;
  int rows, cols;
  uint8_t *px = NULL;
  int32_t *labels = NULL;
  if (sc_idx_parse_images("fuzz", p, n, &lim, &cnt, &rows, &cols, &px) == SC_OK) {
    volatile unsigned sum = 0;
    for (int64_t i = 0; i < cnt * rows * cols; i++) sum += px[i];
    (void)sum;
  }
  sc_idx_parse_labels("fuzz", p, n, &cnt, &labels);
  free(px), free(labels), free(plain);
  return 0;
}
