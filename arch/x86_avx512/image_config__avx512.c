/* image_config__avx512.c: the avx512 image kernels of the data pipeline. */
#include "image.h"

const sc_image_config sc_image_config__avx512 = {0};
