/* image_config__avx2.c: the avx2 image kernels of the data pipeline. */
#include "image.h"

const sc_image_config sc_image_config__avx2 = {0};
