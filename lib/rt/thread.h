/*
 * thread: starting threads in a native program.  The caller provides the
 * stack (the heap is not thread-safe yet).  A thread ends when its
 * function returns (the value is its exit status, for rt_thread_join) or
 * when it calls k_thread_exit.
 */
#ifndef KESTREL_RT_THREAD_H
#define KESTREL_RT_THREAD_H

#include <stddef.h>

#include "kestrel/msg.h"

struct rt_thread {
    long (*fn)(void *arg);
    void *arg;
};

/* Starts FN(ARG) on STACK (SIZE bytes) with ATTR (NULL: the caller's
 * priority and policy, any CPU).  T must stay valid until the thread runs.
 * Returns the thread handle or a negative error. */
long rt_thread_spawn(struct rt_thread *t, long (*fn)(void *), void *arg,
                     void *stack, size_t size, const struct k_thread_attr *attr);

#endif
