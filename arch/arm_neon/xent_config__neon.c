/* xent_config__neon.c: the neon softmax-similarity kernels. */
#include "xent.h"

const sc_xent_config sc_xent_config__neon = {0};
