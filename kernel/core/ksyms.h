/* ksyms: the kernel's own function symbols, for readable backtraces.
 * The table is generated from the linked kernel by tools/mksyms and linked
 * in a second pass (text addresses do not move between the passes). */
#ifndef KESTREL_CORE_KSYMS_H
#define KESTREL_CORE_KSYMS_H

#include <stdint.h>

/* Returns the name of the function containing ADDR and sets *offset, or
 * NULL when ADDR is not inside the kernel's text. */
const char *ksyms_lookup(uintptr_t addr, uintptr_t *offset);

#endif
