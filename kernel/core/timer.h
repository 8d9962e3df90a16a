/*
 * timer: a one-shot or periodic timer that fires as a pulse (code, value)
 * on a connection.  Armed timers sit in one list sorted by deadline that
 * the bootstrap CPU's tick checks (TIMER_HZ resolution).  A pulse that
 * cannot be queued (full queue) is counted in `overruns` and the timer
 * goes on.  Locking: ipc_lock.
 */
#ifndef KESTREL_CORE_TIMER_H
#define KESTREL_CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/object.h"

struct connection;

struct ktimer {
    struct kobject obj;
    struct connection *conn;
    uint32_t code;
    uint64_t value;
    uint64_t deadline, period;   /* ns, time_ns() clock; period 0: one-shot */
    bool armed;
    uint64_t overruns;
    struct ktimer *next;
};

struct ktimer *timer_create(struct connection *conn, uint32_t code, uint64_t value);
/* Arms T to fire FIRST ns from now, then every PERIOD ns (0: once);
 * FIRST 0 disarms. */
void timer_set(struct ktimer *t, uint64_t first, uint64_t period);
void timer_destroy(struct ktimer *t);
/* Fires expired timers; ipc_lock held (called from ipc_timer_tick). */
void timer_tick_locked(uint64_t now);
/* Is any timer armed?  (A hint read without the lock.) */
bool timers_armed(void);

#endif
