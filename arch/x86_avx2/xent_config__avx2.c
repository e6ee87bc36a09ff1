/* xent_config__avx2.c: the avx2 softmax-similarity kernels. */
#include "xent.h"

const sc_xent_config sc_xent_config__avx2 = {0};
