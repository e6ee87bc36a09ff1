/* image_config__neon.c: the neon image kernels of the data pipeline. */
#include "image.h"

const sc_image_config sc_image_config__neon = {0};
