#ifndef KESTREL_SUPERVISOR_CORE_H
#define KESTREL_SUPERVISOR_CORE_H

#include "kestrel/exception.h"
#include "protocols/supervisor.h"

/* Writes a core file of the faulted process PROC, keeps it in memory (the
 * last few) and sends it to the console (base64 between CORE BEGIN / CORE
 * END lines). */
void core_dump(const char *service, const char *program, long proc, const struct k_exception *e);

/* The kept core INDEX (0: the newest): its name, size and time in REP,
 * and the bytes from OFFSET that fit in rep->data; -E_NOENT past the
 * last. */
long core_get(unsigned index, uint64_t offset, struct supervisor_core_rep *rep);

#endif
