/* xent_config__avx512.c: the avx512 softmax-similarity kernels. */
#include "xent.h"

const sc_xent_config sc_xent_config__avx512 = {0};
