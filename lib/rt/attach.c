/* attach: sessions with an attached buffer, made again (see attach.h). */
#include "rt/attach.h"

#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "protocols/supervisor.h"
#include "rt/lock.h"
#include "rt/rt.h"
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

/* Tells the supervisor, through HB, that the driver serves us wrongly. */
static void complain(struct rt_attach *a, long hb)
{
    if (hb < 0)
        return;
    struct supervisor_complain_req q = { 0 };
    size_t len = strlen(a->driver);
    memcpy(q.name, a->driver, len < sizeof(q.name) - 1 ? len : sizeof(q.name) - 1);
    struct supervisor_complain_rep rep;
    if (supervisor_complain(hb, &q, &rep) == 0)
        __atomic_fetch_add(&a->complaints, 1, __ATOMIC_RELAXED);
}

void rt_attach_complain(struct rt_attach *a)
{
    if (a->driver)
        complain(a, rt_handle("heartbeat"));
}

/* SESSION, if it is still the current one, closed and forgotten: the
 * next call attaches again. */
static void forget(struct rt_attach *a, long session)
{
    rt_lock(&a->lock);
    if (session > 0 && a->session == session) {
        __atomic_store_n(&a->session, 0, __ATOMIC_RELEASE);
        k_handle_close(session);
    }
    rt_unlock(&a->lock);
}

bool rt_attach_wrong(struct rt_attach *a, long r, long session, unsigned *mine)
{
    a->last_wrong = r;
    if (r == -E_PERM)
        forget(a, session);
    uint32_t n = __atomic_add_fetch(&a->wrong, 1, __ATOMIC_RELAXED);
    long hb = a->driver ? rt_handle("heartbeat") : -1;
    if (hb < 0 || ++*mine > RT_ATTACH_WRONG_MAX)
        return false;
    if (n % RT_ATTACH_COMPLAIN_AFTER == 0)
        complain(a, hb);
    k_thread_sleep(2000000L);                    /* the driver is being replaced */
    return true;
}

long rt_attach_failed(struct rt_attach *a, bool valid, long r)
{
    long hb = valid && a->driver ? rt_handle("heartbeat") : -1;
    if (hb >= 0 &&
        __atomic_add_fetch(&a->failing, 1, __ATOMIC_RELAXED) % RT_ATTACH_FAIL_COMPLAIN == 0)
        complain(a, hb);
    return r;
}

bool rt_attach_again_ok(struct rt_attach *a, long r, unsigned *again, unsigned *mine)
{
    a->last_wrong = r;
    if (!a->driver || ++*again % (r == -E_BUSY ? 100 : 8) != 0)
        return true;
    return rt_attach_wrong(a, r, 0, mine);
}

void rt_attach_right(struct rt_attach *a)
{
    if (__atomic_load_n(&a->wrong, __ATOMIC_RELAXED))
        __atomic_store_n(&a->wrong, 0, __ATOMIC_RELAXED);
    if (__atomic_load_n(&a->failing, __ATOMIC_RELAXED))
        __atomic_store_n(&a->failing, 0, __ATOMIC_RELAXED);
}
