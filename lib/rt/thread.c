/* thread: rt_thread_spawn and the C side of a new thread (see thread.h). */
#include "rt/thread.h"
#include "rt/syscall.h"

#include <stdint.h>

void rt_thread_main(struct rt_thread *t);
void rt_thread_entry(void);      /* crt0.S */

void rt_thread_main(struct rt_thread *t)
{
    long status = t->fn(t->arg);
    for (;;)
        k_thread_exit(status);
}

long rt_thread_spawn(struct rt_thread *t, long (*fn)(void *), void *arg,
                     void *stack, size_t size, const struct k_thread_attr *attr)
{
    t->fn = fn;
    t->arg = arg;
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    return k_thread_create((long)rt_thread_entry, (long)top, (long)t, (long)attr);
}
