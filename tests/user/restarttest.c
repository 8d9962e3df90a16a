/*
 * restarttest: a client of the counter service across its restart.  One
 * thread waits in a call when another makes the server crash: both calls
 * fail with E_DEAD at once (no hang); the client then goes on with the
 * restarted server (its channel is init's and outlives each life).  The log service,
 * unrelated, is used before and after and sees nothing.  Prints TEST lines
 * and "restarttest service_restart_ns N" (kill to answering again).
 * Reconnecting is the library's (rt/service.h): a call safe to retry is
 * retried across the restart, one that is not comes back with E_DEAD once
 * the service is back, and is not run twice.
 */
#include "base/string.h"
#include "kestrel/msg.h"
#include "protocols/log.h"
#include "protocols/procmgr.h"
#include "rt/rt.h"
#include "rt/service.h"
#include "rt/stdio.h"
#include "rt/thread.h"

static int failures;

static void check(const char *name, int ok)
{
    printf("TEST %s user.restart.%s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

/* Waits up to 20 s for a restart: a loaded host restarts slowly. */
static struct rt_service counter = { .path = "/svc/counter", .wait_ms = 20000 };

/* "g": how many messages this life of the counter has served; safe to retry. */
static long get_op(long conn, void *arg)
{
    (void)arg;
    return k_msg_send(conn, (long)"g", -1, 0, 0);
}

/* The first run sends "c" (the counter crashes in the middle of it), the
 * next ones "g"; *ARG counts the runs. */
static long crash_then_get(long conn, void *arg)
{
    unsigned *runs = arg;
    return k_msg_send(conn, (long)((*runs)++ ? "g" : "c"), -1, 0, 0);
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
    check("resolved", rt_service_connect(&counter) == 0);   /* waits for it to be up */
    long conn = counter.conn;
    check("served", rt_service_call(&counter, true, get_op, 0) >= 1);
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
    long again = rt_service_call(&counter, true, get_op, 0);   /* retried across the restart */
    long t1 = k_clock_get();
    check("reconnected", again == 1);                  /* a new life's first answer */
    check("log_after", log_line("after the restart") == 0);
    printf("restarttest service_restart_ns %ld\n", t1 - t0);

    /* The server dies under a call: one safe to retry is run again on the
     * new life; one that is not comes back with E_DEAD, run once. */
    unsigned runs = 0, before = counter.reconnects;
    long r = rt_service_call(&counter, true, crash_then_get, &runs);
    check("safe_retried", r == 1 && runs == 2 && counter.reconnects == before + 1);
    runs = 0;
    r = rt_service_call(&counter, false, crash_then_get, &runs);
    check("unsafe_not_retried", r == -E_DEAD && runs == 1 && counter.reconnects == before + 2);
    check("after_unsafe", rt_service_call(&counter, true, get_op, 0) == 1);
    struct rt_service nowhere = { .path = "/svc/none", .wait_ms = 20 };
    check("no_such_service", rt_service_call(&nowhere, true, get_op, 0) == -E_NOENT);
    struct rt_service bad = { .path = "svc/../..", .wait_ms = 20 };
    check("bad_path", rt_service_call(&bad, true, get_op, 0) == -E_INVAL);
    printf("RESTARTTEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}
