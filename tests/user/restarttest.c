/*
 * restarttest: a client of the counter service across its restart.  One
 * thread waits in a call when another makes the server crash: both calls
 * fail with E_DEAD at once (no hang); the client then resolves the name
 * again until the restarted server answers, and goes on.  The log service,
 * unrelated, is used before and after and sees nothing.  Prints TEST lines
 * and "restarttest service_restart_ns N" (kill to answering again).
 */
#include "base/string.h"
#include "kestrel/msg.h"
#include "protocols/log.h"
#include "protocols/procmgr.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/thread.h"

static int failures;

static void check(const char *name, int ok)
{
    printf("TEST %s user.restart.%s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

/* A connection to the server of PATH, or a negative error. */
static long resolve(const char *path)
{
    struct procmgr_resolve_req req = { .candidate = 0 };
    struct procmgr_resolve_rep rep;
    long r = procmgr_resolve(rt_handle("procmgr"), &req, path, strlen(path), &rep);
    return r < 0 ? r : k_handle_received();
}

/* Calls "g" on the counter, reconnecting through the name space while the
 * server is away ("g" is safe to retry); gives up after LIMIT_MS. */
static long get_with_reconnect(long *conn, long limit_ms)
{
    long end = k_clock_get() + limit_ms * 1000000;
    for (;;) {
        long r = k_msg_send(*conn, (long)"g", -1, 0, 0);
        if (r != -E_DEAD && r != -E_BADHANDLE)
            return r;
        if (k_clock_get() > end)
            return r;
        k_thread_sleep(2 * 1000000);
        long fresh = resolve("/svc/counter");
        if (fresh > 0) {
            k_handle_close(*conn);
            *conn = fresh;
        }
    }
}

static long waiter_result;

static long waiter(void *arg)
{
    waiter_result = k_msg_send((long)arg, (long)"w", -1, 0, 0);   /* held by the server */
    return 0;
}

static char stack[16384] __attribute__((aligned(16)));

static long log_line(const char *text)
{
    struct log_write_req req = { .severity = 1 };
    memcpy(req.tag, "restarttest", 12);
    struct log_write_rep rep;
    return log_write(rt_handle("log"), &req, text, strlen(text), &rep);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    long conn = -1;
    for (int i = 0; i < 100 && conn <= 0; i++) {       /* the counter may not be up yet */
        conn = resolve("/svc/counter");
        if (conn <= 0)
            k_thread_sleep(5 * 1000000);
    }
    check("resolved", conn > 0);
    check("served", get_with_reconnect(&conn, 1000) >= 1);
    check("log_before", log_line("before the crash") == 0);
    /* a second client thread waits in the server: 'w' is held, never answered */
    struct rt_thread th;
    long t = rt_thread_spawn(&th, waiter, (void *)conn, stack, sizeof(stack), 0);
    k_thread_sleep(10 * 1000000);
    long t0 = k_clock_get();
    long crash = k_msg_send(conn, (long)"c", -1, 0, 0);
    check("in_flight_call_fails", crash == -E_DEAD);
    rt_thread_join(t, 0);
    k_handle_close(t);
    check("other_client_fails_too", waiter_result == -E_DEAD);
    long again = get_with_reconnect(&conn, 3000);
    long t1 = k_clock_get();
    check("reconnected", again == 1);                  /* a new life: its first answer */
    check("log_after", log_line("after the restart") == 0);
    printf("restarttest service_restart_ns %ld\n", t1 - t0);
    printf("RESTARTTEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}
