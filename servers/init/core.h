#ifndef KESTREL_INIT_CORE_H
#define KESTREL_INIT_CORE_H

#include "kestrel/exception.h"

/* Writes a core file of the faulted process PROC to the console (base64
 * between CORE BEGIN / CORE END lines). */
void core_dump(const char *service, const char *program, long proc, const struct k_exception *e);

#endif
