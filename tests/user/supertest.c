/*
 * supertest: supervision survives the supervisor's death.  init is started
 * with a chaos delay (bootimage/tests/supervise.manifest, initargs ...,300):
 * it kills the supervisor once, 300 ms after starting it, and starts a new
 * one, which must take over the running services rather than start them
 * again (the counter keeps its life: its uptime goes on, its count too),
 * leave stopped what the old one had given up on (quitter), and go on
 * supervising (the counter, crashed afterwards, is restarted).  runtests
 * checks the order of events in the log.  Prints TEST lines; exits 0 if
 * all passed.
 */
#include "base/string.h"
#include "kestrel/errors.h"
#include "protocols/supervisor.h"
#include "rt/rt.h"
#include "rt/service.h"
#include "rt/stdio.h"

static int failures;
static long ctl;

static void check(const char *name, int ok)
{
    printf("TEST %s user.supervise.%s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

/* NAME's line of the service list, retried while the supervisor is away. */
static long find(const char *name, struct supervisor_list_rep *out)
{
    for (int tries = 0; tries < 200; tries++) {
        for (uint32_t i = 0;; i++) {
            struct supervisor_list_req req = { .index = i };
            memset(out, 0, sizeof(*out));
            long r = supervisor_list(ctl, &req, out);
            if (r == -E_DEAD)
                break;                          /* it died under the call: again */
            if (r < 0)
                return r;
            if (strcmp(out->name, name) == 0)
                return 0;
        }
        k_thread_sleep(5 * 1000000);
    }
    return -E_TIMEOUT;
}

static long get_op(long conn, void *arg)
{
    (void)arg;
    return k_msg_send(conn, (long)"g", -1, 0, 0);
}

static long crash_op(long conn, void *arg)
{
    (void)arg;
    return k_msg_send(conn, (long)"c", -1, 0, 0);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    ctl = rt_handle("supervisor");
    static struct rt_service counter = { .path = "/svc/counter", .wait_ms = 3000 };
    struct supervisor_list_rep rep;
    check("counter_running", find("counter", &rep) == 0 && rep.state == 1);
    uint64_t up0 = rep.uptime_ms;
    long n0 = rt_service_call(&counter, true, get_op, 0);
    check("counter_answers", n0 >= 1);

    k_thread_sleep(1000L * 1000000);             /* the supervisor dies at 300 ms, comes back */
    check("counter_adopted", find("counter", &rep) == 0 && rep.state == 1 && rep.restarts == 0 &&
                             rep.uptime_ms >= up0 + 900);
    check("same_life", rt_service_call(&counter, true, get_op, 0) == n0 + 1);
    check("quitter_stays_stopped", find("quitter", &rep) == 0 && rep.state == 0);
    check("log_adopted", find("log", &rep) == 0 && rep.state == 1 && rep.restarts == 0);

    /* The new supervisor supervises: a crash is restarted. */
    check("crash", rt_service_call(&counter, false, crash_op, 0) == -E_DEAD);
    check("restarted_by_new", rt_service_call(&counter, true, get_op, 0) == 1);
    check("restart_counted", find("counter", &rep) == 0 && rep.restarts == 1);
    printf("SUPERTEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}
