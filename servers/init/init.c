/*
 * init: the first process.  It reads the boot manifest from the boot image
 * and starts each service with exactly the capabilities its line grants,
 * nothing more:
 *   "chan"      a channel of its own, to serve on;
 *   NAME        a connection to each service named in connect=;
 *   "irq", "ioport", "mmio"   resources narrowed to the listed ranges;
 *   "policy"    (procmgr only) every service's names=, read-only: a
 *               service may attach only the prefixes its line names.
 * A malformed line is reported with its line number and skipped; a service
 * that cannot start is reported and the others start anyway.  init then
 * watches its services (the supervisor's work until that service exists):
 * each death is logged with a time stamp, and a service whose restart
 * policy allows it is started again after its backoff, doubled after each
 * restart, until its limit of restarts; then it is reported as failed.
 * A service with heartbeat=MS gets a "supervisor" connection (badge: its
 * index + 1) and must pulse K_HEARTBEAT_CODE through it; a timer checks
 * every 2 MS, and a service silent for a whole check is killed as hung
 * (K_EXIT_HUNG) and restarted like any other death.
 *
 * Faults: every service's exceptions come to init's exception thread,
 * which writes a core file to the console (core.c) and lets the service
 * die with its fault status.
 *
 * Pulses on init's channel: death notices (code = service index), heartbeat
 * checks (TICK_CODE + index) and heartbeats (K_HEARTBEAT_CODE, badge).
 *
 * Arguments: [MANIFEST [SERVICE]] - the manifest's path in the boot image
 * (default "manifest"); with SERVICE, init exits with that service's
 * status when it ends (test runs).
 */
#include <stdbool.h>

#include "base/cpio.h"
#include "base/manifest.h"
#include "base/string.h"
#include "kestrel/msg.h"
#include "kestrel/rights.h"
#include "kestrel/supervise.h"
#include "kestrel/vm.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/thread.h"
#include "core.h"
#include "protocols/supervisor.h"

#define MAX_HANDLES 24

static struct manifest manifest;
static long chans[MANIFEST_SERVICES_MAX];
static long policy_vmo = -1;     /* procmgr's attach policy (make_policy) */
static long procs[MANIFEST_SERVICES_MAX];
static unsigned restarts[MANIFEST_SERVICES_MAX];
static bool heard[MANIFEST_SERVICES_MAX];
static long init_chan;
static long exc_chan;
static long watch_conn;
static unsigned alive;
/* control: stop requested / restart requested / failed (limit) / started at */
static bool stopping[MANIFEST_SERVICES_MAX], restarting[MANIFEST_SERVICES_MAX];
static bool failed[MANIFEST_SERVICES_MAX];
static long started_at[MANIFEST_SERVICES_MAX];

#define CTL_BADGE 0x10000     /* + service index: control connections (connect=init) */
#define K_EXIT_STOPPED 0x300

#define TICK_CODE 0x1000

struct grant {
    struct k_spawn_handle h[MAX_HANDLES];
    unsigned n;
};

static void grant_add(struct grant *g, long handle, uint32_t rights, const char *name)
{
    if (handle < 0) {
        printf("init: cannot grant %s: %s\n", name, k_strerror(handle));
        return;
    }
    if (g->n == MAX_HANDLES)
        return;
    struct k_spawn_handle *h = &g->h[g->n++];
    *h = (struct k_spawn_handle){ (uint32_t)handle, rights, "" };
    size_t n = strlen(name);
    if (n >= sizeof(h->name))
        n = sizeof(h->name) - 1;
    memcpy(h->name, name, n);
}

static const char *load_manifest(const char *path, size_t *len)
{
    long bootfs = rt_handle("bootfs");
    long size = bootfs >= 0 ? k_vmo_size(bootfs) : -1;
    long base = size > 0 ? k_vmo_map(0, bootfs, 0, size, K_PROT_READ) : -1;
    struct cpio_entry e;
    if (base <= 0 || cpio_find((const void *)base, (size_t)size, path, &e) != CPIO_OK)
        return NULL;
    *len = e.size;
    return e.data;
}

/* procmgr's attach policy, from every names= of the manifest: a VMO with
 * one line "BADGE PREFIX" per granted prefix (the badge of the service's
 * connections: index + 1), NUL after the last.  Granted read-only to each
 * start of procmgr, which reads it before serving anyone. */
static void make_policy(void)
{
    static char text[MANIFEST_SERVICES_MAX * MANIFEST_LIST_MAX * (MANIFEST_PREFIX_MAX + 16)];
    size_t len = 0;
    for (unsigned i = 0; i < manifest.nservices; i++)
        for (unsigned k = 0; k < manifest.services[i].nnames; k++)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%u %s\n", i + 1,
                                    manifest.services[i].names[k]);
    long size = (long)((len + 1 + 4095) & ~(size_t)4095);
    long vmo = k_vmo_create(size, K_VMO_ANON, 0, 0);
    long base = vmo >= 0 ? k_vmo_map(0, vmo, 0, size, K_PROT_READ | K_PROT_WRITE) : vmo;
    if (base < 0) {
        printf("init: no memory for procmgr's policy: %s\n", k_strerror(base));
        return;
    }
    memcpy((void *)base, text, len);
    policy_vmo = vmo;
}

/* The handles service S is granted; also reports grants that fail. */
static void build_grant(const struct manifest_service *s, unsigned index, struct grant *g)
{
    grant_add(g, chans[index], K_RIGHT_RECEIVE | K_RIGHT_DUP, "chan");
    if (strcmp(s->name, "procmgr") == 0 && policy_vmo >= 0)
        grant_add(g, k_handle_dup(policy_vmo, K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_TRANSFER),
                  K_RIGHT_READ | K_RIGHT_MAP, "policy");
    if (s->heartbeat_ms)
        grant_add(g, k_chan_connect(init_chan, index + 1), K_RIGHT_SEND, "supervisor");
    for (unsigned i = 0; i < s->nconnect; i++) {
        if (strcmp(s->connect[i], "init") == 0) {
            grant_add(g, k_chan_connect(init_chan, CTL_BADGE + index), K_RIGHT_SEND, "init");
            continue;
        }
        const struct manifest_service *to = manifest_find(&manifest, s->connect[i],
                                                          strlen(s->connect[i]));
        long ch = to ? chans[to - manifest.services] : -1;
        grant_add(g, ch >= 0 ? k_chan_connect(ch, index + 1) : -1,
                  K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, s->connect[i]);
    }
    for (unsigned i = 0; i < s->nirq; i++)
        grant_add(g, k_resource_narrow(rt_handle("irq"), s->irq[i], 1), K_RIGHTS_ALL, "irq");
    for (unsigned i = 0; i < s->nioport; i++)
        grant_add(g, k_resource_narrow(rt_handle("ioport"), (long)s->ioport[i].start,
                                       (long)(s->ioport[i].end - s->ioport[i].start + 1)),
                  K_RIGHTS_ALL, "ioport");
    for (unsigned i = 0; i < s->nmmio; i++)
        grant_add(g, k_resource_narrow(rt_handle("mmio"), (long)s->mmio[i].start,
                                       (long)(s->mmio[i].end - s->mmio[i].start + 1)),
                  K_RIGHTS_ALL, "mmio");
}

static unsigned split_args(char *args, const char **argv, unsigned max)
{
    unsigned n = 0;
    for (char *p = args; *p && n < max;) {
        while (*p == ' ')
            *p++ = 0;
        if (*p)
            argv[n++] = p;
        while (*p && *p != ' ')
            p++;
    }
    return n;
}

static long start_service(const struct manifest_service *s, unsigned index, long watch)
{
    struct grant g = { .n = 0 };
    build_grant(s, index, &g);
    static char args[MANIFEST_ARGS_MAX + 1];
    memcpy(args, s->args, sizeof(args));
    const char *argv[K_SPAWN_MAX_ARGS];
    argv[0] = s->program;
    unsigned argc = 1 + split_args(args, argv + 1, K_SPAWN_MAX_ARGS - 1);
    struct k_spawn sp = { .argc = argc, .nhandles = g.n, .argv = argv, .handles = g.h,
                          .priority = s->prio };
    long p = k_process_spawn((long)s->program, (long)strlen(s->program), (long)&sp);
    for (unsigned i = 1; i < g.n; i++)        /* ours were copies; keep only the channel */
        k_handle_close(g.h[i].handle);
    if (p < 0) {
        printf("init: manifest:%u: %s: cannot start %s: %s\n", s->line, s->name, s->program,
               k_strerror(p));
        return p;
    }
    k_process_watch(p, watch, index);
    started_at[index] = k_clock_get();
    long exc = k_chan_connect(exc_chan, index + 1);
    if (exc < 0 || k_exception_set(p, exc) < 0)
        printf("init: %s: no exception handler: %s\n", s->name, k_strerror(exc));
    if (exc >= 0)
        k_handle_close(exc);
    printf("init: started %s (%s)\n", s->name, s->program);
    return p;
}

/* The exception thread: a core file for each faulting service, which is
 * then killed with its fault status (the restart policy applies). */
static long exception_main(void *arg)
{
    (void)arg;
    for (;;) {              /* for the life of init */
        struct k_exception e;
        struct k_msg_info info;
        long rcvid = k_msg_receive(exc_chan, (long)&e, -(long)sizeof(e), (long)&info);
        if (rcvid <= 0)
            continue;
        unsigned i = (unsigned)info.badge - 1;
        if (i < manifest.nservices && procs[i] >= 0 && info.send_len == sizeof(e))
            core_dump(manifest.services[i].name, manifest.services[i].program, procs[i], &e);
        k_msg_reply(rcvid, K_EXIT_FAULT(e.vector), 0, 0);
    }
    return 0;
}

static char exc_stack[32768] __attribute__((aligned(16)));

/* A timer checks S's heartbeats every two periods. */
static void watch_heartbeat(const struct manifest_service *s, unsigned i, long watch)
{
    if (!s->heartbeat_ms)
        return;
    long t = k_timer_create(watch, TICK_CODE + i, 0);
    long period = 2L * s->heartbeat_ms * 1000000;
    if (t < 0 || k_timer_set(t, period, period) < 0)
        printf("init: %s: cannot watch its heartbeat: %s\n", s->name, k_strerror(t));
}

static void stamp(void);

/* Heartbeats and heartbeat checks; false for anything else. */
static bool heartbeat_event(const struct k_msg_info *info)
{
    if (info->code == K_HEARTBEAT_CODE) {
        if (info->badge >= 1 && info->badge <= manifest.nservices)
            heard[info->badge - 1] = true;
        return true;
    }
    if (info->code < TICK_CODE || (unsigned)info->code >= TICK_CODE + manifest.nservices)
        return false;
    unsigned i = (unsigned)info->code - TICK_CODE;
    if (!heard[i] && procs[i] >= 0) {
        stamp();
        printf("%s: no heartbeat for %u ms; killing it\n", manifest.services[i].name,
               2 * manifest.services[i].heartbeat_ms);
        k_process_kill(procs[i], K_EXIT_HUNG);
    }
    heard[i] = false;
    return true;
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
    rep->state = procs[i] >= 0 ? 1 : failed[i] ? 2 : 0;
    rep->restarts = restarts[i];
    rep->uptime_ms = procs[i] >= 0 ? (uint64_t)(k_clock_get() - started_at[i]) / 1000000 : 0;
    return 0;
}

static long on_stop(void *ctx, long rcvid, const struct supervisor_stop_req *req,
                    struct supervisor_stop_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    int i = find_service(req->name, sizeof(req->name));
    if (i < 0)
        return -E_NOENT;
    if (procs[i] < 0)
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
    if (procs[i] >= 0)
        return -E_BUSY;                          /* already running */
    failed[i] = false;
    restarts[i] = 0;
    procs[i] = start_service(&manifest.services[i], (unsigned)i, watch_conn);
    if (procs[i] < 0)
        return procs[i];
    alive++;
    return 0;
}

static long on_restart(void *ctx, long rcvid, const struct supervisor_restart_req *req,
                       struct supervisor_restart_rep *rep)
{
    int i = find_service(req->name, sizeof(req->name));
    if (i < 0)
        return -E_NOENT;
    if (procs[i] < 0)
        return on_start(ctx, rcvid, (const struct supervisor_start_req *)req,
                        (struct supervisor_start_rep *)rep);
    restarting[i] = true;
    return k_process_kill(procs[i], K_EXIT_STOPPED);
}

static long on_core(void *ctx, long rcvid, const struct supervisor_core_req *req,
                    struct supervisor_core_rep *rep)
{
    (void)ctx, (void)rcvid;
    return core_get(req->index, req->offset, rep);
}

static const struct supervisor_server control = {
    .list = on_list, .stop = on_stop, .start = on_start, .restart = on_restart, .core = on_core,
};

/* A message on init's channel: a command, if it came through a control
 * connection; refused otherwise (heartbeat connections send pulses). */
static void control_message(long rcvid, const struct k_msg_info *info, const void *msg)
{
    if (info->badge < CTL_BADGE) {
        k_msg_error(rcvid, E_PERM);
        return;
    }
    size_t len = info->send_len < 256 ? info->send_len : 256;
    supervisor_dispatch(&control, rcvid, msg, len);
}

/* "init: [seconds.millis] " */
static void stamp(void)
{
    long ms = k_clock_get() / 1000000;
    printf("init: [%ld.%03ld] ", ms / 1000, ms % 1000);
}

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
        failed[i] = true;
        return false;
    }
    return true;
}

/* Starts S again after its backoff (doubled after each restart, at most
 * a minute). */
static long restart(const struct manifest_service *s, unsigned i, long watch)
{
    uint64_t delay = s->backoff_ms;
    for (unsigned r = 0; r < restarts[i] && delay < 60000; r++)
        delay *= 2;
    if (delay > 60000)
        delay = 60000;
    restarts[i]++;
    stamp();
    printf("%s: restart %u in %lu ms\n", s->name, restarts[i], (unsigned long)delay);
    k_thread_sleep((long)delay * 1000000);
    procs[i] = start_service(s, i, watch);
    return procs[i];
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "manifest";
    const char *until = argc > 2 ? argv[2] : NULL;
    size_t len;
    const char *text = load_manifest(path, &len);
    if (!text) {
        printf("init: no manifest %s in the boot image\n", path);
        return 1;
    }
    manifest_parse(text, len, &manifest);
    for (unsigned i = 0; i < manifest.nerrors; i++) {
        char line[160];
        manifest_format_error(&manifest.errors[i], line, sizeof(line));
        printf("init: %s (line skipped)\n", line);
    }
    long me = k_chan_create(0), watch = k_chan_connect(me, 0);
    init_chan = me;
    watch_conn = watch;
    exc_chan = k_chan_create(0);
    static struct rt_thread exc_thread;
    rt_thread_spawn(&exc_thread, exception_main, 0, exc_stack, sizeof(exc_stack), 0);
    for (unsigned i = 0; i < manifest.nservices; i++)
        chans[i] = k_chan_create(0);
    make_policy();
    for (unsigned i = 0; i < manifest.nservices; i++) {
        procs[i] = start_service(&manifest.services[i], i, watch);
        alive += procs[i] >= 0;
        watch_heartbeat(&manifest.services[i], i, watch);
    }
    while (alive) {
        struct k_msg_info info;
        static uint64_t msg[32];
        long rcvid = k_msg_receive(me, (long)msg, -(long)sizeof(msg), (long)&info);
        if (rcvid > 0)
            control_message(rcvid, &info, msg);
        if (rcvid != 0)
            continue;
        if (heartbeat_event(&info))
            continue;
        if ((unsigned)info.code >= manifest.nservices)
            continue;
        unsigned i = (unsigned)info.code;
        const struct manifest_service *s = &manifest.services[i];
        long status = (long)info.value;
        stamp();
        printf("%s exited with status %ld\n", s->name, status);
        k_handle_close(procs[i]);
        procs[i] = -1;
        if (restarting[i]) {                     /* requested: at once, no backoff */
            restarting[i] = false;
            procs[i] = start_service(s, i, watch);
            if (procs[i] >= 0)
                continue;
        } else if (wants_restart(s, i, status) && restart(s, i, watch) >= 0) {
            continue;
        }
        alive--;
        if (until && strcmp(until, s->name) == 0)
            return (int)status;
    }
    return 0;
}
