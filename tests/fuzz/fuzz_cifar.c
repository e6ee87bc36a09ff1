/* fuzz_cifar.c: libFuzzer target for the CIFAR-10 and CIFAR-100 batch parsers. Must not assume anything about the
 * input. */
#include <stdint.h>
#include <stdlib.h>

#include "data/readers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  for (int hundred = 0; hundred < 2; hundred++) {
    int64_t n;
    uint8_t *px = NULL;
    int32_t *labels = NULL;
    if (sc_cifar_parse("fuzz", data, size, hundred, &n, &px, &labels) == SC_OK) {
      volatile unsigned sum = 0;
      for (int64_t i = 0; i < n; i++) sum += (unsigned)labels[i] + px[i * 3072 + 3071];
      (void)sum;
    }
    free(px), free(labels);
  }
  return 0;
}
