/* image_config__scalar.c: the scalar image kernels of the data pipeline. */
#include "image.h"

const sc_image_config sc_image_config__scalar = {0};
