/*
 * supervisor: starts the services of the boot manifest and keeps them
 * running.  It holds no authority of its own over devices or the boot
 * image: init starts each service on its request (protocols/launcher.proto)
 * with exactly what the service's line grants, and hands back a process
 * handle that can wait for, kill and read the service, nothing else.
 *
 * What it does with them:
 *   - learns of each death by a pulse (process_watch, code = service
 *     index) and logs it with a time stamp;
 *   - restarts by the line's policy (restart=, backoff= doubling after
 *     each restart up to a minute, limit=), the backoff on a one-shot
 *     timer so that the loop goes on serving meanwhile; a service past its
 *     limit is reported as failed;
 *   - detects hangs: a service with heartbeat=MS must pulse through its
 *     "heartbeat" handle; a timer checks every 2 MS and a service silent
 *     for a whole check is killed as hung (K_EXIT_HUNG), then restarted
 *     like any other death; with stall=MS too, so is one that holds a
 *     request (received, not answered) that long, as the kernel says;
 *   - re-publishes names: after each start of a service with names=, and
 *     for every running service after each start of procmgr, init attaches
 *     the names in procmgr (launcher publish);
 *   - is every service's exception handler: a fault gives one line and a
 *     core file (rt/coredump.h), kept in memory and copied to the console
 *     after the service has been let go (a restart does not wait for the
 *     slow console);
 *   - serves the control interface (protocols/supervisor.proto) to
 *     services granted connect=supervisor: list, stop, start, restart,
 *     core.
 * When it will not start a service again by itself it tells init (launcher
 * ended), which test runs use to end with that service's status.
 *
 * Driver instances (a manifest line with match=, decision 0026) are not
 * started at boot: each waits (state NODEV) for the PCI server, the
 * service named pci, to report a function bound to it (a K_DEVICE_CODE
 * pulse through pci's heartbeat connection).  The report can start only
 * a driver line's instance, the program its line names, with what its
 * line grants: pci chooses which instances have a device, never what
 * runs.  From then on the instance is a service like any other (restart,
 * heartbeats, core files, stop and start); an instance never reported
 * stays NODEV and start refuses it (E_NOENT).  A supervisor that was
 * restarted knows the devices of the instances it adopts; pci's next start
 * reports every binding again.
 *
 * If the supervisor dies, init starts a new one, which takes over the
 * services still running (launcher adopt: their process handles and start
 * times) instead of starting them again; a service that died meanwhile
 * shows up at once as a death (the watch on a dead process fires) and is
 * restarted by its policy; one the old supervisor had given up on stays
 * stopped.  Restart counts and backoffs start afresh.
 *
 * Pulses on its channel: deaths (code = index), heartbeat checks
 * (TICK_CODE + index), restart timers (RESTART_CODE + index) and
 * heartbeats (K_HEARTBEAT_CODE, badge K_SUPERVISE_HEARTBEAT_BADGE + index).
 *
 * Start-up handles: "chan" (its channel, made by init), "launcher",
 * "manifest" (the manifest's text, read-only).
 */
#include <stdbool.h>

#include "base/manifest.h"
#include "base/string.h"
#include "kestrel/exception.h"
#include "kestrel/msg.h"
#include "kestrel/rights.h"
#include "kestrel/supervise.h"
#include "kestrel/vm.h"
#include "protocols/launcher.h"
#include "protocols/supervisor.h"
#include "rt/coredump.h"
#include "rt/held.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/thread.h"

#define TICK_CODE 0x1000
#define RESTART_CODE 0x2000
#define BACKOFF_MAX_MS 60000

enum state { STOPPED, RUNNING, FAILED, WAITING, NODEV };   /* list's state numbers */

static struct manifest manifest;
static long launcher, chan, watch_conn, exc_chan;
static long procs[MANIFEST_SERVICES_MAX];
static enum state state[MANIFEST_SERVICES_MAX];
static unsigned restarts[MANIFEST_SERVICES_MAX];
static uint32_t deaths[MANIFEST_SERVICES_MAX][4];   /* by a fault, hung, otherwise, complained of */
#define CORES_PRINTED 3
static uint32_t cores_made[MANIFEST_SERVICES_MAX];    /* exception thread only */
static bool heard[MANIFEST_SERVICES_MAX];
static struct rt_held held[MANIFEST_SERVICES_MAX];  /* stall=: what it holds, at each check */
static bool stopping[MANIFEST_SERVICES_MAX], restarting[MANIFEST_SERVICES_MAX];
static long started_at[MANIFEST_SERVICES_MAX];
static long timers[MANIFEST_SERVICES_MAX];       /* restart backoff, one-shot */
static int procmgr_index = -1;
static int pci_index = -1;                       /* the PCI server, which reports devices */
static bool has_device[MANIFEST_SERVICES_MAX];   /* a driver instance pci reported */
static unsigned device_fn[MANIFEST_SERVICES_MAX];
static uint64_t own_badge;      /* of this life's own pulses; see pulse() */
static struct rt_cores cores = { .who = "supervisor" };
static volatile int cores_pending;               /* captured, not yet on the console */
#define EXC_PRIO 2      /* the exception thread's own priority: see exception_main */

/* "supervisor: [seconds.millis] " */
static void stamp(void)
{
    long ms = k_clock_get() / 1000000;
    printf("supervisor: [%ld.%03ld] ", ms / 1000, ms % 1000);
}

static void ended(unsigned i, long status)
{
    /* Its core file reaches the console first (a test run ends at once),
     * unless that takes more than 10 s (the copy runs at low priority). */
    for (int i = 0; i < 2000 && __atomic_load_n(&cores_pending, __ATOMIC_ACQUIRE) > 0; i++)
        k_thread_sleep(5 * 1000000);
    struct launcher_ended_req req = { .index = i, .status = status };
    struct launcher_ended_rep rep;
    launcher_ended(launcher, &req, &rep);
}

static void publish(unsigned i)
{
    if (manifest.services[i].nnames == 0)
        return;
    struct launcher_publish_req req = { .index = i };
    struct launcher_publish_rep rep;
    long r = launcher_publish(launcher, &req, &rep);
    if (r < 0)
        printf("supervisor: %s: cannot publish its names: %s\n", manifest.services[i].name,
               k_strerror(r));
}

/* Takes charge of process P, service I, started at clock STARTED. */
static void take(unsigned i, long p, long started)
{
    procs[i] = p;
    state[i] = RUNNING;
    started_at[i] = started;
    heard[i] = true;                 /* a fresh life gets a whole period */
    long w = k_process_watch(p, watch_conn, i);
    if (w < 0)
        printf("supervisor: %s: cannot watch it: %s\n", manifest.services[i].name, k_strerror(w));
}

/* A service init started for an earlier supervisor: taken over if it was
 * started and not given up on; true if so or if it needs no start. */
static bool adopt(unsigned i)
{
    struct launcher_adopt_req req = { .index = i };
    struct launcher_adopt_rep rep = { .state = 0 };
    long r = launcher_adopt(launcher, &req, &rep);
    if (r < 0 || rep.state == 0)
        return false;                           /* never started: start it */
    if (rep.state == 2) {
        stamp();
        printf("%s stays stopped (given up on before the supervisor restarted)\n",
               manifest.services[i].name);
        return true;
    }
    long p = k_handle_received();
    if (p <= 0)
        return false;
    long exc = k_chan_connect(exc_chan, i + 1, 0);
    if (exc < 0 || k_exception_set(p, exc) < 0)
        printf("supervisor: %s: no exception handler: %s\n", manifest.services[i].name,
               k_strerror(exc));
    if (exc >= 0)
        k_handle_close(exc);
    take(i, p, (long)rep.started);
    stamp();
    printf("adopted %s (%s)\n", manifest.services[i].name, manifest.services[i].program);
    publish(i);                                 /* procmgr may have restarted meanwhile */
    return true;
}

/* Has init start service I and takes charge of it; false if it did not
 * start (init has said why). */
static bool start(unsigned i)
{
    struct launcher_start_req req = { .index = i };
    struct launcher_start_rep rep;
    long exc = k_chan_connect(exc_chan, i + 1, 0);     /* its exceptions, from its first instruction */
    if (exc < 0 || k_handle_attach(exc, K_RIGHT_SEND, 1) < 0)
        printf("supervisor: %s: no exception handler: %s\n", manifest.services[i].name,
               k_strerror(exc));
    long r = launcher_start(launcher, &req, &rep);
    long p = r < 0 ? r : k_handle_received();
    if (p <= 0) {
        procs[i] = -1;
        state[i] = STOPPED;
        return false;
    }
    take(i, p, k_clock_get());
    stamp();
    printf("started %s (%s)\n", manifest.services[i].name, manifest.services[i].program);
    publish(i);
    if ((int)i == procmgr_index)     /* a new procmgr knows no names: publish all again */
        for (unsigned j = 0; j < manifest.nservices; j++)
            if (j != i && state[j] == RUNNING)
                publish(j);
    return true;
}

/* ---- faults ---- */

/* The exception thread: a core file for each faulting service, which is
 * then killed with its fault status (the restart policy applies).  It
 * handles an exception at the faulting thread's priority (inherited with
 * the message) and copies the core to the console after the reply at its
 * own, EXC_PRIO: the death, the restart and everything else go first. */
static long exception_main(void *arg)
{
    (void)arg;
    for (;;) {              /* for the life of the supervisor */
        struct k_exception e;
        struct k_msg_info info;
        long rcvid = k_msg_receive(exc_chan, (long)&e, -(long)sizeof(e), (long)&info);
        if (rcvid <= 0)
            continue;
        /* The badge names the service; the process that faulted, whose
         * handle came with the message, is the service or one it made
         * with its handler (K_SPAWN_EXCEPTION_INHERIT: a forked Linux
         * child, whose death restarts nothing: only procs[i] is watched). */
        unsigned i = (unsigned)info.badge - 1;
        struct rt_core core = { .vmo = 0 };
        long proc = info.handle > 0 ? (long)info.handle : -1;
        bool ours = i < manifest.nservices && proc > 0 && info.send_len == sizeof(e);
        if (ours) {
            __atomic_fetch_add(&cores_pending, 1, __ATOMIC_ACQ_REL);
            rt_core_capture(&cores, manifest.services[i].name, manifest.services[i].program,
                            proc, &e, RT_CORE_ANY_OWNER, &core);
        }
        k_msg_reply(rcvid, K_EXIT_FAULT(e.vector), 0, 0);
        if (proc > 0)
            k_handle_close(proc);
        if (ours) {
            /* A service's first few to the console; after that, only
             * kept (a driver under fault injection dies thousands of
             * times: the console would be nothing else). */
            bool print = ++cores_made[i] <= CORES_PRINTED;
            if (cores_made[i] == CORES_PRINTED + 1)
                printf("supervisor: %s: more core files are kept in memory only (supervisor "
                       "core reads them)\n", manifest.services[i].name);
            rt_core_finish(&cores, &core, print);
            __atomic_fetch_sub(&cores_pending, 1, __ATOMIC_ACQ_REL);
        }
    }
    return 0;
}

static char exc_stack[32768] __attribute__((aligned(16)));

/* ---- heartbeats ---- */

/* A timer checks S's heartbeats every two periods. */
static void watch_heartbeat(unsigned i)
{
    const struct manifest_service *s = &manifest.services[i];
    if (!s->heartbeat_ms)
        return;
    long t = k_timer_create(watch_conn, TICK_CODE + i, 0);
    long period = 2L * s->heartbeat_ms * 1000000;
    if (t < 0 || k_timer_set(t, period, period) < 0)
        printf("supervisor: %s: cannot watch its heartbeat: %s\n", s->name, k_strerror(t));
}

/* Every two heartbeat periods: silent, or (stall=) holding a request for
 * that long as the kernel tells, is hung.  The second catches a service
 * whose loop goes on (and heartbeats) but never answers: its own watch
 * (lib/srv's stall_ms) is its code, and code that went wrong may skip it. */
static void heartbeat_check(unsigned i)
{
    const struct manifest_service *s = &manifest.services[i];
    long held_ns = 0;
    if (state[i] != RUNNING)
        held[i].n = 0;
    else if (s->stall_ms && heard[i])
        held_ns = rt_held_look(&held[i], procs[i]);
    bool stalled = s->stall_ms && held_ns >= (long)s->stall_ms * 1000000;
    if (state[i] == RUNNING && (!heard[i] || stalled)) {
        k_process_kill(procs[i], K_EXIT_HUNG);   /* first: printing may wait */
        held[i].n = 0;
        stamp();
        if (!heard[i])
            printf("%s: no heartbeat for %u ms; killed it\n", s->name, 2 * s->heartbeat_ms);
        else
            printf("%s: a request held for %ld ms; killed it\n", s->name, held_ns / 1000000);
    }
    heard[i] = false;
}

/* ---- deaths and restarts ---- */

static bool wants_restart(const struct manifest_service *s, unsigned i, long status)
{
    if (stopping[i]) {
        stopping[i] = false;
        stamp();
        printf("%s stopped on request\n", s->name);
        return false;
    }
    if (s->restart == MANIFEST_RESTART_NEVER ||
        (s->restart == MANIFEST_RESTART_ON_FAILURE && status == 0))
        return false;
    if (s->limit && restarts[i] >= s->limit) {
        stamp();
        printf("%s failed: %u restarts, the limit; not started again\n", s->name, restarts[i]);
        state[i] = FAILED;
        return false;
    }
    return true;
}

/* Arms the restart of service I after its backoff (doubled after each
 * restart, at most a minute). */
static bool schedule_restart(unsigned i)
{
    const struct manifest_service *s = &manifest.services[i];
    uint64_t delay = s->backoff_ms;
    for (unsigned r = 0; r < restarts[i] && delay < BACKOFF_MAX_MS; r++)
        delay *= 2;
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    if (timers[i] <= 0)
        timers[i] = k_timer_create(watch_conn, RESTART_CODE + i, 0);
    long r = timers[i] > 0 ? k_timer_set(timers[i], (long)delay * 1000000, 0) : timers[i];
    if (r < 0) {
        printf("supervisor: %s: cannot arm its restart: %s\n", s->name, k_strerror(r));
        return false;
    }
    restarts[i]++;
    state[i] = WAITING;
    stamp();
    printf("%s: restart %u in %lu ms\n", s->name, restarts[i], (unsigned long)delay);
    return true;
}

static void death(unsigned i, long status)
{
    const struct manifest_service *s = &manifest.services[i];
    deaths[i][(status & ~0xffL) == K_EXIT_FAULT(0) ? 0 : status == K_EXIT_HUNG ? 1 :
              status == K_EXIT_FAULTY ? 3 : 2]++;
    stamp();
    printf("%s exited with status %ld\n", s->name, status);
    k_handle_close(procs[i]);
    procs[i] = -1;
    state[i] = STOPPED;
    if (restarting[i]) {                        /* requested: at once, no backoff */
        restarting[i] = false;
        if (start(i))
            return;
    } else if (wants_restart(s, i, status) && schedule_restart(i)) {
        return;
    }
    ended(i, status);
}

static void restart_due(unsigned i)
{
    if (state[i] != WAITING)
        return;                                 /* started or stopped meanwhile */
    if (!start(i))
        ended(i, -E_NOENT);
}

/* ---- driver instances ---- */

/* pci reports function FN bound to instance I: the first report starts
 * it; later ones (pci restarted) change nothing. */
static void device_found(unsigned i, unsigned fn)
{
    if (i >= manifest.nservices || !manifest.services[i].nmatch)
        return;                                 /* only a driver line's instance */
    const char *name = manifest.services[i].name;
    if (has_device[i] && device_fn[i] == 0xffff) {
        device_fn[i] = fn;                      /* adopted: now we know which */
        return;
    }
    if (has_device[i]) {
        if (device_fn[i] != fn)
            printf("supervisor: %s: pci now reports device %02x:%02x.%u (it had %02x:%02x.%u); "
                   "ignored\n", name, fn >> 8, (fn >> 3) & 31, fn & 7, device_fn[i] >> 8,
                   (device_fn[i] >> 3) & 31, device_fn[i] & 7);
        return;
    }
    has_device[i] = true;
    device_fn[i] = fn;
    stamp();
    printf("%s: device %02x:%02x.%u (pci)\n", name, fn >> 8, (fn >> 3) & 31, fn & 7);
    if (state[i] == NODEV && !start(i))
        ended(i, -E_NOENT);
}

/* ---- the control interface (protocols/supervisor.proto) ---- */

static int find_service(const char *name, size_t max)
{
    const struct manifest_service *s = manifest_find(&manifest, name, strnlen(name, max));
    return s ? (int)(s - manifest.services) : -1;
}

static long on_list(void *ctx, long rcvid, const struct supervisor_list_req *req,
                    struct supervisor_list_rep *rep)
{
    (void)ctx, (void)rcvid;
    rep->count = manifest.nservices;
    if (req->index >= manifest.nservices)
        return -E_NOENT;
    unsigned i = req->index;
    memcpy(rep->name, manifest.services[i].name, strlen(manifest.services[i].name));
    rep->state = state[i];
    rep->restarts = restarts[i];
    rep->uptime_ms = state[i] == RUNNING ? (uint64_t)(k_clock_get() - started_at[i]) / 1000000 : 0;
    rep->faults = deaths[i][0], rep->hangs = deaths[i][1], rep->exits = deaths[i][2];
    rep->complaints = deaths[i][3];
    return 0;
}

static long on_stop(void *ctx, long rcvid, const struct supervisor_stop_req *req,
                    struct supervisor_stop_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    int i = find_service(req->name, sizeof(req->name));
    if (i < 0)
        return -E_NOENT;
    if (state[i] == WAITING) {                  /* cancel the pending restart */
        state[i] = STOPPED;
        stamp();
        printf("%s stopped on request\n", manifest.services[i].name);
        ended((unsigned)i, K_EXIT_STOPPED);
        return 0;
    }
    if (state[i] != RUNNING)
        return -E_BUSY;                          /* not running */
    stopping[i] = true;
    return k_process_kill(procs[i], K_EXIT_STOPPED);
}

static long on_start(void *ctx, long rcvid, const struct supervisor_start_req *req,
                     struct supervisor_start_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    int i = find_service(req->name, sizeof(req->name));
    if (i < 0)
        return -E_NOENT;
    if (state[i] == RUNNING)
        return -E_BUSY;                          /* already running */
    if (manifest.services[i].nmatch && !has_device[i])
        return -E_NOENT;                         /* a driver instance with no device */
    restarts[i] = 0;
    return start((unsigned)i) ? 0 : -E_NOENT;
}

static long on_restart(void *ctx, long rcvid, const struct supervisor_restart_req *req,
                       struct supervisor_restart_rep *rep)
{
    int i = find_service(req->name, sizeof(req->name));
    if (i < 0)
        return -E_NOENT;
    if (state[i] != RUNNING)
        return on_start(ctx, rcvid, (const struct supervisor_start_req *)req,
                        (struct supervisor_start_rep *)rep);
    restarting[i] = true;
    return k_process_kill(procs[i], K_EXIT_STOPPED);
}

static long on_core(void *ctx, long rcvid, const struct supervisor_core_req *req,
                    struct supervisor_core_rep *rep)
{
    (void)ctx, (void)rcvid;
    return rt_core_get(&cores, RT_CORE_ANY_OWNER, req->index, req->offset, &rep->count,
                       rep->service, &rep->size, &rep->time_ms, rep->data, &rep->len,
                       sizeof(rep->data));
}

/* The caller (service index CALLER) says NAME serves it wrongly: kill
 * it, if the caller's line connects to it (a control client may name any
 * service); its restart policy does the rest. */
static long caller = -1;              /* the message's service, or -1: a control client */

static long on_complain(void *ctx, long rcvid, const struct supervisor_complain_req *req,
                        struct supervisor_complain_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    int i = find_service(req->name, sizeof(req->name));
    if (caller >= 0) {                          /* only of a service its line connects to */
        const struct manifest_service *c = &manifest.services[caller];
        bool listed = false;
        for (unsigned k = 0; k < c->nconnect && i >= 0; k++)
            listed |= strcmp(c->connect[k], manifest.services[i].name) == 0;
        if (!listed)
            return -E_PERM;
    }
    if (i < 0)
        return -E_NOENT;
    if (state[i] != RUNNING)
        return 0;                               /* gone already */
    long r = k_process_kill(procs[i], K_EXIT_FAULTY);
    stamp();
    printf("%s: %s complains it serves it wrongly; killed it\n", manifest.services[i].name,
           caller >= 0 ? manifest.services[caller].name : "a control client");
    return r;
}

static long on_debug(void *ctx, long rcvid, const struct supervisor_debug_req *req,
                     struct supervisor_debug_rep *rep)
{
    (void)ctx, (void)rcvid;
    int i = find_service(req->name, sizeof(req->name));
    if (i < 0)
        return -E_NOENT;
    if (!manifest.services[i].debug)
        return -E_PERM;
    if (state[i] != RUNNING || procs[i] <= 0)
        return -E_NOENT;
    rep->restarts = restarts[i];
    return k_handle_attach(procs[i], K_RIGHT_READ | K_RIGHT_WRITE, 0);
}

static const struct supervisor_server control = {
    .list = on_list, .stop = on_stop, .start = on_start, .restart = on_restart, .core = on_core,
    .debug = on_debug, .complain = on_complain,
};

/* Through a heartbeat connection, only complain. */
static const struct supervisor_server heartbeat_calls = { .complain = on_complain };

/* Whether MSG (LEN of SEND_LEN bytes) is a well-formed complain: all a
 * heartbeat connection may send (anything else there is E_PERM). */
static bool complaint(const void *msg, size_t len, uint64_t send_len)
{
    const struct k_proto_hdr *h = msg;
    return len == send_len && len == sizeof(*h) + sizeof(struct supervisor_complain_req) &&
           h->proto == SUPERVISOR_PROTO_ID && h->msg == SUPERVISOR_MSG_COMPLAIN &&
           h->version >= 3 && h->version <= SUPERVISOR_VERSION && !h->payload_len && !h->reserved;
}

/* A message: a command, if it came through a control connection, or a
 * complaint through a heartbeat connection; refused otherwise.  No command takes a
 * handle: one that came with the message is closed, whatever the answer
 * (kept, a client could fill the supervisor's handle table). */
static void control_message(long rcvid, const struct k_msg_info *info, const void *msg)
{
    size_t len = info->send_len < 256 ? info->send_len : 256;
    if (info->badge >= K_SUPERVISE_CONTROL_BADGE &&
        info->badge < K_SUPERVISE_CONTROL_BADGE + manifest.nservices) {
        caller = -1;
        supervisor_dispatch(&control, rcvid, msg, len);
    } else if (info->badge >= K_SUPERVISE_HEARTBEAT_BADGE &&
               info->badge < K_SUPERVISE_HEARTBEAT_BADGE + manifest.nservices &&
               complaint(msg, len, info->send_len)) {
        caller = (long)(info->badge - K_SUPERVISE_HEARTBEAT_BADGE);
        supervisor_dispatch(&heartbeat_calls, rcvid, msg, len);
    } else {
        k_msg_error(rcvid, E_PERM);
    }
    if (info->handle)
        k_handle_close(info->handle);
}

/* A pulse: a heartbeat through a service's heartbeat connection, or one of
 * this supervisor's own (deaths, timers: badge own_badge, which no service
 * holds and no earlier supervisor had: the watches an earlier one set on
 * the services still fire into the same channel, and are ignored). */
static void pulse(const struct k_msg_info *info)
{
    unsigned n = manifest.nservices;
    if (info->code == K_HEARTBEAT_CODE) {
        uint64_t i = info->badge - K_SUPERVISE_HEARTBEAT_BADGE;
        if (info->badge >= K_SUPERVISE_HEARTBEAT_BADGE && i < n)
            heard[i] = true;
    } else if (info->code == K_DEVICE_CODE) {
        if (pci_index >= 0 && info->badge == K_SUPERVISE_HEARTBEAT_BADGE + (unsigned)pci_index)
            device_found(K_DEVICE_INDEX(info->value), K_DEVICE_FN(info->value));
    } else if (info->badge != own_badge) {
        return;                                 /* forged, or an earlier supervisor's */
    } else if (info->code >= TICK_CODE && info->code < TICK_CODE + (int)n) {
        heartbeat_check((unsigned)info->code - TICK_CODE);
    } else if (info->code >= RESTART_CODE && info->code < RESTART_CODE + (int)n) {
        restart_due((unsigned)info->code - RESTART_CODE);
    } else if (info->code >= 0 && info->code < (int)n) {
        death((unsigned)info->code, (long)info->value);
    }
}

/* The manifest init handed over ("manifest"); false if there is none. */
static bool read_manifest(void)
{
    long vmo = rt_handle("manifest");
    long size = vmo >= 0 ? k_vmo_size(vmo) : -1;
    long base = size > 0 ? k_vmo_map(0, vmo, 0, size, K_PROT_READ) : -1;
    if (base < 0)
        return false;
    const char *text = (const char *)base;
    manifest_parse(text, strnlen(text, (size_t)size), &manifest);   /* init reported errors */
    return true;
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    launcher = rt_handle("launcher");
    chan = rt_handle("chan");
    if (launcher < 0 || chan < 0 || !read_manifest()) {
        printf("supervisor: missing start-up handles (start me from init)\n");
        return 1;
    }
    own_badge = (1ULL << 40) | ((uint64_t)k_clock_get() & 0xffffffffffULL);
    watch_conn = k_chan_connect(chan, (long)own_badge, 0);
    exc_chan = k_chan_create(0);
    static struct rt_thread exc_thread;
    struct k_thread_attr low = { .priority = EXC_PRIO, .policy = K_SCHED_RR, .cpu_mask = 0 };
    rt_thread_spawn(&exc_thread, exception_main, 0, exc_stack, sizeof(exc_stack), &low);
    const struct manifest_service *pm = manifest_find(&manifest, "procmgr", 7);
    procmgr_index = pm ? (int)(pm - manifest.services) : -1;
    const struct manifest_service *pci = manifest_find(&manifest, "pci", 3);
    pci_index = pci ? (int)(pci - manifest.services) : -1;
    for (unsigned i = 0; i < manifest.nservices; i++) {
        if (manifest.services[i].nmatch) {      /* a driver instance: when pci reports its device */
            if (adopt(i))
                has_device[i] = true, device_fn[i] = 0xffff;
            else
                state[i] = NODEV;
        } else if (!adopt(i) && !start(i)) {
            ended(i, -E_NOENT);
        }
        watch_heartbeat(i);
    }
    for (;;) {              /* for the life of the system */
        struct k_msg_info info;
        static uint64_t msg[32];
        long rcvid = k_msg_receive(chan, (long)msg, -(long)sizeof(msg), (long)&info);
        if (rcvid > 0)
            control_message(rcvid, &info, msg);
        else if (rcvid == 0)
            pulse(&info);
    }
}
