/* xent_config__scalar.c: the scalar softmax-similarity kernels. */
#include "xent.h"

const sc_xent_config sc_xent_config__scalar = {0};
