/* fuzz_image.c: libFuzzer target for the image-decoding entry point (sc_image_decode / sc_image_probe, JPEG and
 * PNG from memory). The decoded pixels are summed so that reads of uninitialised output show up under MSan, and
 * the limits are lowered so that each input decodes quickly. Must not assume anything about the input. */
#include <stddef.h>
#include <stdint.h>

#include "data/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sc_decoder *dec;
  static sc_image im;
  if (!dec && sc_decoder_create(&dec) != SC_OK) return 0;
  sc_decode_limits lim = {.max_w = 1024, .max_h = 1024, .max_file_bytes = (size_t)4 << 20};
  int w, h;
  if (sc_image_probe(dec, "fuzz", data, size, &lim, &w, &h) != SC_OK) return 0;
  volatile unsigned sum = 0;
  for (int ch = 1; ch <= 3; ch += 2)
    for (int scale = 0; scale <= 16; scale += 16)
      if (sc_image_decode(dec, "fuzz", data, size, ch, scale, &lim, &im) == SC_OK)
        for (size_t i = 0; i < (size_t)im.w * im.h * im.c; i++) sum += im.px[i];
  (void)sum;
  return 0;
}
