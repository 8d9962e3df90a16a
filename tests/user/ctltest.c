/*
 * ctltest: the supervisor's control interface (protocols/supervisor.proto)
 * as a service granted connect=init sees it: list the services, stop one,
 * start it, restart it, and the errors (unknown name, already running, a
 * command through a connection that is not a control one), and the core
 * file of a service that faulted, kept in memory by init: read back whole,
 * its size and checksum printed for runtests to compare with the copy on
 * the console.  Started from
 * bootimage/tests/control.manifest.  Prints TEST lines; exits 0 if all passed.
 */
#include "base/string.h"
#include "protocols/supervisor.h"
#include "rt/rt.h"
#include "rt/thread.h"
#include "rt/stdio.h"

static int failures;
static long ctl;

static void check(const char *name, int ok)
{
    printf("TEST %s user.control.%s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

static long list(uint32_t index, struct supervisor_list_rep *rep)
{
    struct supervisor_list_req req = { .index = index };
    memset(rep, 0, sizeof(*rep));
    return supervisor_list(ctl, &req, rep);
}

/* The state of NAME, polled until it is WANT (or two seconds pass). */
static long state_of(const char *name, uint32_t want, struct supervisor_list_rep *out)
{
    long end = k_clock_get() + 2000L * 1000000;
    for (;;) {
        struct supervisor_list_rep rep;
        for (uint32_t i = 0; list(i, &rep) == 0; i++) {
            if (strcmp(rep.name, name) == 0) {
                *out = rep;
                if (rep.state == want || k_clock_get() > end)
                    return rep.state;
                break;
            }
        }
        k_thread_sleep(5 * 1000000);
    }
}

/* The three commands take a name and reply nothing. */
static long stop(const char *service)
{
    struct supervisor_stop_req q;
    struct supervisor_stop_rep r;
    memset(&q, 0, sizeof(q));
    memcpy(q.name, service, strlen(service));
    return supervisor_stop(ctl, &q, &r);
}

static long start(const char *service)
{
    struct supervisor_start_req q;
    struct supervisor_start_rep r;
    memset(&q, 0, sizeof(q));
    memcpy(q.name, service, strlen(service));
    return supervisor_start(ctl, &q, &r);
}

static long restart(const char *service)
{
    struct supervisor_restart_req q;
    struct supervisor_restart_rep r;
    memset(&q, 0, sizeof(q));
    memcpy(q.name, service, strlen(service));
    return supervisor_restart(ctl, &q, &r);
}

/* The kept core of the crasher: read whole, piece by piece. */
static void kept_core(void)
{
    struct supervisor_core_req req = { .index = 0, .offset = 0 };
    static struct supervisor_core_rep rep;
    long r = -E_NOENT;
    for (int i = 0; i < 3000 && r == -E_NOENT; i++) {     /* not faulted, or not on the console, yet */
        r = supervisor_core(ctl, &req, &rep);
        if (r == -E_NOENT)
            k_thread_sleep(10 * 1000000);
    }
    check("core_kept", r == 0 && rep.count == 1 && strcmp(rep.service, "crasher") == 0 &&
                       rep.size > 64 && rep.len == sizeof(rep.data));
    check("core_is_elf", r == 0 && memcmp(rep.data, "\177ELF", 4) == 0);
    uint64_t size = rep.size, hash = 0xcbf29ce484222325ULL, got = 0;
    while (r == 0 && got < size) {
        req.offset = got;
        r = supervisor_core(ctl, &req, &rep);
        if (r < 0 || rep.len == 0 || rep.size != size)
            break;
        for (uint32_t i = 0; i < rep.len; i++)
            hash = (hash ^ (unsigned char)rep.data[i]) * 0x100000001b3ULL;
        got += rep.len;
    }
    check("core_read_whole", got == size);
    printf("ctltest core %s %lu %016lx\n", "crasher", (unsigned long)got, (unsigned long)hash);
    req.offset = size + 5;
    check("core_past_end", supervisor_core(ctl, &req, &rep) == 0 && rep.len == 0);
    req.offset = ~0ULL;
    check("core_offset_huge", supervisor_core(ctl, &req, &rep) == 0 && rep.len == 0);
    req = (struct supervisor_core_req){ .index = 1, .offset = 0 };
    check("core_no_such", supervisor_core(ctl, &req, &rep) == -E_NOENT);
    req.index = 0xffffffffu;
    check("core_index_huge", supervisor_core(ctl, &req, &rep) == -E_NOENT);
}

static volatile int caller_done;
static long caller_result;
static char caller_stack[8192] __attribute__((aligned(16)));

static long caller(void *conn)
{
    caller_result = k_msg_send((long)conn, (long)"x", -1, 0, 0);
    caller_done = 1;
    return 0;
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    ctl = rt_handle("supervisor");
    rt_heartbeat();
    struct supervisor_list_rep rep;
    check("list", list(0, &rep) == 0 && rep.count == 5 && strcmp(rep.name, "log") == 0);
    check("list_out_of_range", list(99, &rep) == -E_NOENT);
    check("sleeper_running", state_of("sleeper", 1, &rep) == 1);
    /* A call to the sleeper (which never receives) is in flight when it is
     * stopped for good: it fails at once, it does not wait forever. */
    struct rt_thread th;
    rt_thread_spawn(&th, caller, (void *)rt_handle("sleeper"), caller_stack, sizeof(caller_stack), 0);
    k_thread_sleep(20 * 1000000);
    check("stop", stop("sleeper") == 0);
    check("stopped", state_of("sleeper", 0, &rep) == 0 && rep.uptime_ms == 0);
    for (int i = 0; i < 200 && !caller_done; i++)
        k_thread_sleep(5 * 1000000);
    check("call_to_stopped_fails", caller_done && caller_result == -E_DEAD);
    check("later_call_fails", k_msg_send(rt_handle("sleeper"), (long)"x", -1, 0, 0) == -E_DEAD);
    check("stop_stopped", stop("sleeper") == -E_BUSY);
    check("start", start("sleeper") == 0);
    check("running_again", state_of("sleeper", 1, &rep) == 1);
    check("start_running", start("sleeper") == -E_BUSY);
    k_thread_sleep(50 * 1000000);
    state_of("sleeper", 1, &rep);
    long before = (long)rep.uptime_ms;
    check("restart", restart("sleeper") == 0);
    k_thread_sleep(20 * 1000000);
    check("restarted", state_of("sleeper", 1, &rep) == 1 && (long)rep.uptime_ms < before);
    check("unknown_name", stop("nosuch") == -E_NOENT);
    long hb = rt_handle("heartbeat");
    struct supervisor_list_req q = { .index = 0 };
    check("not_a_control_connection", supervisor_list(hb, &q, &rep) == -E_PERM);
    kept_core();

    /* Hostile messages on the control connection: a clean error each, and
     * the supervisor goes on answering. */
    check("garbage_short", k_msg_send(ctl, (long)"xyz", -3, 0, 0) == -E_INVAL);
    struct k_proto_hdr h = { SUPERVISOR_PROTO_ID, SUPERVISOR_VERSION, 99, 0, 0 };
    check("unknown_message", k_msg_send(ctl, (long)&h, -(long)sizeof(h), 0, 0) == -E_NOSYS);
    h.msg = SUPERVISOR_MSG_STOP;                           /* no request body */
    check("truncated_stop", k_msg_send(ctl, (long)&h, -(long)sizeof(h), 0, 0) == -E_INVAL);
    h.version = SUPERVISOR_VERSION + 1;
    check("future_version", k_msg_send(ctl, (long)&h, -(long)sizeof(h), 0, 0) == -E_NOSYS);
    check("empty", k_msg_send(ctl, 0, 0, 0, 0) == -E_INVAL);
    struct supervisor_stop_req nq;
    memset(&nq, 'A', sizeof(nq));                          /* no NUL in the name */
    struct supervisor_stop_rep nr;
    check("name_unterminated", supervisor_stop(ctl, &nq, &nr) == -E_NOENT);
    check("answers_after_hostile", list(0, &rep) == 0);

    /* A restart waiting out its backoff does not stop the supervisor from
     * answering, and stop cancels it. */
    check("backoff_waiting", state_of("flaky", 3, &rep) == 3 && rep.restarts == 1);
    check("stop_in_backoff", stop("flaky") == 0);
    check("stopped_in_backoff", state_of("flaky", 0, &rep) == 0);
    k_thread_sleep(100 * 1000000);
    check("backoff_cancelled", state_of("flaky", 0, &rep) == 0 && rep.restarts == 1);

    /* Pulses forged through a service's connections do not pass for the
     * supervisor's own (a death of service 0, a restart timer). */
    k_pulse_send(hb, 0, 0, 0);
    k_pulse_send(ctl, 0, 0, 0);
    k_pulse_send(hb, 0x2000 + 4, 0, 0);
    k_thread_sleep(20 * 1000000);
    check("forged_death_ignored", state_of("log", 1, &rep) == 1 && rep.restarts == 0 &&
                                  rep.uptime_ms > 20);
    check("forged_timer_ignored", state_of("flaky", 0, &rep) == 0 && rep.restarts == 1);
    printf("CTLTEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}
