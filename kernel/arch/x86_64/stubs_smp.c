/* Temporary single-CPU stand-in until the AP start-up lands. */
#include "arch/x86_64/smp.h"

void smp_start_aps(void) {}
