/*
 * object: reference drops and destruction by type (see object.h).
 * Channels count under ipc_lock (they must notice when only connections
 * keep them alive), so their drops go to channel_put.
 */
#include "core/object.h"

#include "core/channel.h"
#include "core/interrupt.h"
#include "core/process.h"
#include "core/resource.h"
#include "core/thread.h"
#include "core/timer.h"
#include "core/vmo.h"

void object_put(struct kobject *o)
{
    if (o->type == K_OBJ_CHANNEL) {
        channel_put((struct channel *)o);
        return;
    }
    if (__atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    switch (o->type) {
    case K_OBJ_THREAD: thread_destroy((struct thread *)o); break;
    case K_OBJ_PROCESS: process_destroy((struct process *)o); break;
    case K_OBJ_CONNECTION: connection_destroy((struct connection *)o); break;
    case K_OBJ_VMO: vmo_destroy((struct vmo *)o); break;
    case K_OBJ_IRQ: interrupt_destroy((struct kinterrupt *)o); break;
    case K_OBJ_TIMER: timer_destroy((struct ktimer *)o); break;
    case K_OBJ_RESOURCE: resource_destroy((struct resource *)o); break;
    default: break;
    }
}
