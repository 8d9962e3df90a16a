/*
 * boot: the time stamps of a boot, for tools/bench (core/main.c).
 *
 * Under TCG with -icount (tools/qemu --icount) the TSC counts guest
 * instructions since reset, so the stamps split the boot into the
 * firmware's part (reset to kmain) and the kernel's (kmain to init's
 * first user instruction); init stamps the rest (servers/init/init.c).
 */
#ifndef KESTREL_CORE_BOOT_H
#define KESTREL_CORE_BOOT_H

#include <stdbool.h>

struct thread;

/* False until init's first thread has entered user mode. */
extern bool boot_init_entered;

/* Called before a new thread's first user instruction while
 * boot_init_entered is false: for init's first thread, stamps the TSC
 * and prints the boot's time stamps (one console line). */
void boot_note_user_entry(struct thread *t);

#endif
