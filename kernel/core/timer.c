/* timer: timers as pulses (see timer.h). */
#include "core/timer.h"

#include "arch/x86_64/lapic.h"
#include "core/channel.h"
#include "core/ipc.h"
#include "core/slab.h"

#define TIMER_PULSE_PRIORITY 150

static struct ktimer *armed;

static void unlink_timer(struct ktimer *t)
{
    struct ktimer **pp = &armed;
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
    t->armed = false;
}

static void insert_timer(struct ktimer *t)
{
    struct ktimer **pp = &armed;
    while (*pp && (*pp)->deadline <= t->deadline)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    t->armed = true;
}

struct ktimer *timer_create(struct connection *conn, uint32_t code, uint64_t value)
{
    struct ktimer *t = kzalloc(sizeof(*t));
    if (!t)
        return NULL;
    object_init(&t->obj, K_OBJ_TIMER);
    object_get(&conn->obj);
    t->conn = conn;
    t->code = code;
    t->value = value;
    return t;
}

void timer_set(struct ktimer *t, uint64_t first, uint64_t period)
{
    uint64_t now = time_ns();
    bool was = spin_lock_irqsave(&ipc_lock);
    if (t->armed)
        unlink_timer(t);
    if (first) {
        t->deadline = first > UINT64_MAX - now ? UINT64_MAX : now + first;
        t->period = period;
        insert_timer(t);
    }
    spin_unlock_irqrestore(&ipc_lock, was);
}

bool timers_armed(void)
{
    return __atomic_load_n(&armed, __ATOMIC_RELAXED) != NULL;
}

void timer_tick_locked(uint64_t now)
{
    while (armed && armed->deadline <= now) {
        struct ktimer *t = armed;
        unlink_timer(t);
        if (connection_pulse_timer_locked(t->conn, t->code, t->value, TIMER_PULSE_PRIORITY))
            t->overruns++;
        if (t->period) {
            t->deadline += t->period;
            if (t->deadline <= now)                 /* fell behind: skip ahead */
                t->deadline = now + t->period;
            insert_timer(t);
        }
    }
}

void timer_destroy(struct ktimer *t)
{
    bool was = spin_lock_irqsave(&ipc_lock);
    if (t->armed)
        unlink_timer(t);
    spin_unlock_irqrestore(&ipc_lock, was);
    object_put(&t->conn->obj);
    kfree(t);
}
