/* threads.h: internal part of the thread-count setting. */
#ifndef SC_CORE_THREADS_H
#define SC_CORE_THREADS_H

#include "simclr.h"

sc_status sc_threads_init_from_env(void);

#endif
