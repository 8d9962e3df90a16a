/* attach: sessions with an attached buffer, made again (see attach.h). */
#include "rt/attach.h"

#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "rt/lock.h"
#include "rt/syscall.h"

long rt_attach_again(struct rt_attach *a, long stale, rt_attach_fn send, void *ctx)
{
    rt_lock(&a->lock);
    long s = a->session;
    if (s != stale && s > 0) {
        rt_unlock(&a->lock);
        return s;                                /* another thread did it */
    }
    if (s > 0)
        k_handle_close(s);
    __atomic_store_n(&a->session, 0, __ATOMIC_RELEASE);
    long r = -E_DEAD;
    for (int dead = 0; dead < RT_ATTACH_GIVE_UP;) {
        r = k_handle_attach(a->vmo, K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP, 0);
        if (r < 0)
            break;
        r = send(a->conn, ctx);
        if (r == 0) {
            r = k_handle_received();
            if (r > 0) {
                __atomic_store_n(&a->session, r, __ATOMIC_RELEASE);
                a->attaches++;
            } else {
                r = -E_IO;                       /* an answer without the session */
            }
            break;
        }
        if (r != -E_DEAD)
            break;                               /* the attach's own error */
        dead++;
        k_thread_sleep(1000000L);
    }
    rt_unlock(&a->lock);
    return r;
}

long rt_attach_session(struct rt_attach *a, rt_attach_fn send, void *ctx)
{
    long s = __atomic_load_n(&a->session, __ATOMIC_ACQUIRE);
    return s > 0 ? s : rt_attach_again(a, 0, send, ctx);
}
