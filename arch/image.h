/* image.h: per-ISA kernels of the data pipeline's heavy steps (resize, blur, colour conversion and jitter) on
 * float or uint8 pixel buffers. */
#ifndef SC_ARCH_IMAGE_H
#define SC_ARCH_IMAGE_H

#include <stddef.h>

typedef struct sc_image_config {
  int unused_; /* filled in by the image kernels */
} sc_image_config;

#endif
