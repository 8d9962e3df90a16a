/*
 * init: the first process.  It holds the authority the kernel hands out at
 * boot (the boot image, every interrupt, I/O port and MMIO range) and keeps
 * it; the policy belongs to the supervisor.  init reads the boot manifest,
 * creates a channel for each service, starts the supervisor
 * (bin/supervisor) and from then on starts a service only when the
 * supervisor asks (protocols/launcher.proto), each with exactly what its
 * line grants, nothing more:
 *   "chan"        a channel of its own, to serve on (it outlives each life
 *                 of the service, so connections to it survive restarts);
 *   NAME          a connection to each service named in connect=;
 *   "supervisor"  with connect=supervisor: the control interface;
 *   "heartbeat"   with heartbeat=MS or connect=: where its heartbeats go
 *                 and, for a service it connects to that serves it
 *                 wrongly, its complaint (supervisor.proto complain);
 *   "irq", "ioport", "mmio", "pci"  resources narrowed to the listed ranges;
 *   "policy"      (procmgr only) every service's names= and view=,
 *                 read-only: a service may attach only the prefixes its
 *                 line names, and sees only its view;
 *   "generation"  (procmgr only) the page where it counts changes of the
 *                 name space, the same page for every life of procmgr, so
 *                 that clients that keep resolutions see a restart too;
 *   "manifest"    (the service named pci only) the manifest, read-only:
 *                 the PCI server binds functions to the instances of its
 *                 driver lines (match=, decision 0026).
 * The supervisor gets its channel, a "launcher" connection to init and
 * the manifest ("manifest", read-only); the process handles it receives
 * from start can wait, kill and read a service, nothing else.
 *
 * A malformed line is reported with its line number and skipped; a service
 * that cannot start is reported and the others start anyway.
 *
 * publish attaches a service's names= in procmgr, on the service's channel
 * and with the service's badge (so procmgr's policy applies), from a thread
 * of its own: a procmgr that is slow or hung must not stop init answering
 * the supervisor.  The connection attached for a service's k-th name
 * (counting from 0) carries badge k, so a server with several names can
 * tell which one a path was resolved under (servers/pty: /dev/ptmx and
 * /dev/pts); servers with one name see badge 0 as before.
 *
 * The supervisor is restarted when it dies (after a backoff doubling from
 * 50 ms to 10 s); the services run on meanwhile.  init keeps each
 * service's process handle and start time so that a new supervisor can
 * take them over (launcher adopt) instead of starting them again, and
 * knows which ones the old one had given up on (ended).
 *
 * Arguments: [MANIFEST [SERVICE [MS [ARG...]]]] - the manifest's path in
 * the boot image (default "manifest"); with SERVICE, init exits with that
 * service's status once the supervisor reports it ended (test runs); with
 * MS (0: none), a chaos test: the supervisor is killed once, MS ms after
 * it starts, to prove that supervision recovers; the ARGs are given to
 * SERVICE after its line's args= at each start (a test's parameters, such
 * as a fuzzer's seed and count).
 *
 * Test mode, a fake supervisor: a SERVICE with a '/' (no service name has
 * one) is a program of the boot image that init starts in the
 * supervisor's place, with the ARGs and exactly the supervisor's handles,
 * and init ends with its exit status instead of restarting it.  This lets
 * a test drive the launcher interface itself (tests/user/protofuzz.c).
 * It weakens nothing: only the kernel command line selects it, and
 * whoever writes that chooses the first process (init=) anyway; the
 * program gets no more than bin/supervisor would.
 */
#include <stdbool.h>

#include "base/cpio.h"
#include "base/manifest.h"
#include "base/string.h"
#include "kestrel/msg.h"
#include "kestrel/rights.h"
#include "kestrel/supervise.h"
#include "kestrel/vm.h"
#include "protocols/launcher.h"
#include "protocols/procmgr.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "rt/thread.h"

#define MAX_HANDLES 24
#define LAUNCH_BADGE 0x4c41
#define SUPERVISOR_DIED 1       /* pulse codes on init's channel */
#define CHAOS_CODE 2
#define SUP_BACKOFF_MS 50
#define SUP_BACKOFF_MAX_MS 10000
#define SUPERVISOR_PRIO 45

static struct manifest manifest;
static const char *manifest_text;
static size_t manifest_len;
static long chans[MANIFEST_SERVICES_MAX];
static long procs[MANIFEST_SERVICES_MAX];      /* last start's process; 0: never started */
static long started[MANIFEST_SERVICES_MAX];    /* its clock */
static bool ended_flag[MANIFEST_SERVICES_MAX]; /* the supervisor gave up on it */
static long sup_chan;
static long policy_vmo = -1;     /* procmgr's attach policy (make_policy) */
static long gen_vmo = -1;        /* procmgr's generation page, kept across its lives */
static long manifest_vmo = -1;   /* the manifest, read-only, for the PCI server */

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

/* A read-only VMO holding LEN bytes of TEXT and a NUL; a handle (READ,
 * MAP, TRANSFER) or an error. */
static long text_vmo(const char *text, size_t len)
{
    long size = (long)((len + 1 + 4095) & ~(size_t)4095);
    long vmo = k_vmo_create(size, K_VMO_ANON, 0, 0);
    long base = vmo >= 0 ? k_vmo_map(0, vmo, 0, size, K_PROT_READ | K_PROT_WRITE) : vmo;
    if (base < 0) {
        if (vmo >= 0)
            k_handle_close(vmo);
        return base;
    }
    memcpy((void *)base, text, len);
    k_vm_unmap(0, base, size);
    long ro = k_handle_dup(vmo, K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_DUP | K_RIGHT_TRANSFER);
    k_handle_close(vmo);
    return ro;
}

/* procmgr's policy, from every names= and view= of the manifest: one line
 * "BADGE PREFIX" per prefix a service may attach, "v BADGE PREFIX" per
 * prefix it sees (the badge of the service's connections: index + 1).
 * Granted read-only to each start of procmgr, which reads it before
 * serving anyone. */
static void make_policy(void)
{
    static char text[2 * MANIFEST_SERVICES_MAX * MANIFEST_LIST_MAX * (MANIFEST_PREFIX_MAX + 16)];
    size_t len = 0;
    for (unsigned i = 0; i < manifest.nservices; i++) {
        for (unsigned k = 0; k < manifest.services[i].nnames; k++)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%u %s\n", i + 1,
                                    manifest.services[i].names[k]);
        for (unsigned k = 0; k < manifest.services[i].nview; k++)
            len += (size_t)snprintf(text + len, sizeof(text) - len, "v %u %s\n", i + 1,
                                    manifest.services[i].view[k]);
    }
    policy_vmo = text_vmo(text, len);
    if (policy_vmo < 0)
        printf("init: no memory for procmgr's policy: %s\n", k_strerror(policy_vmo));
    gen_vmo = k_vmo_create(4096, K_VMO_ANON | K_VMO_FORK_SHARED, 0, 0);   /* forks see it live */
    if (gen_vmo < 0)
        printf("init: no memory for procmgr's generation page: %s\n", k_strerror(gen_vmo));
}

/* The handles service S is granted; also reports grants that fail. */
static void build_grant(const struct manifest_service *s, unsigned index, struct grant *g)
{
    grant_add(g, chans[index], K_RIGHT_RECEIVE | K_RIGHT_DUP, "chan");
    if (strcmp(s->name, "procmgr") == 0 && policy_vmo >= 0)
        grant_add(g, k_handle_dup(policy_vmo, K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_TRANSFER),
                  K_RIGHT_READ | K_RIGHT_MAP, "policy");
    if (strcmp(s->name, "pci") == 0 && manifest_vmo >= 0)
        grant_add(g, k_handle_dup(manifest_vmo, K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_TRANSFER),
                  K_RIGHT_READ | K_RIGHT_MAP, "manifest");
    if (strcmp(s->name, "procmgr") == 0 && gen_vmo >= 0)
        grant_add(g, k_handle_dup(gen_vmo, K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP | K_RIGHT_TRANSFER),
                  K_RIGHT_READ | K_RIGHT_WRITE | K_RIGHT_MAP | K_RIGHT_TRANSFER, "generation");
    /* procmgr spawns processes: that takes the boot image (process_spawn's
     * capability); other services get it only with bootfs=1 (the image's
     * file server, a shell that forks). */
    if (strcmp(s->name, "procmgr") == 0)
        grant_add(g, k_handle_dup(rt_handle("bootfs"), K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_TRANSFER),
                  K_RIGHT_READ | K_RIGHT_MAP, "bootfs");
    else if (s->bootfs)              /* and may pass it on: to the processes it forks */
        grant_add(g, k_handle_dup(rt_handle("bootfs"), K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_TRANSFER),
                  K_RIGHT_READ | K_RIGHT_MAP | K_RIGHT_TRANSFER, "bootfs");
    if (s->heartbeat_ms || s->nconnect)
        grant_add(g, k_chan_connect(sup_chan, K_SUPERVISE_HEARTBEAT_BADGE + index, 0), K_RIGHT_SEND,
                  "heartbeat");
    for (unsigned i = 0; i < s->nconnect; i++) {
        if (strcmp(s->connect[i], "supervisor") == 0) {
            grant_add(g, k_chan_connect(sup_chan, K_SUPERVISE_CONTROL_BADGE + index, 0), K_RIGHT_SEND,
                      "supervisor");
            continue;
        }
        const struct manifest_service *to = manifest_find(&manifest, s->connect[i],
                                                          strlen(s->connect[i]));
        long ch = to ? chans[to - manifest.services] : -1;
        grant_add(g, ch >= 0 ? k_chan_connect(ch, index + 1, 0) : -1,
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
    for (unsigned i = 0; i < s->npci; i++)
        grant_add(g, k_resource_narrow(rt_handle("pci"), (long)s->pci[i].start,
                                       (long)(s->pci[i].end - s->pci[i].start + 1)),
                  K_RIGHTS_ALL, "pci");
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

static const char *until;       /* exit with this service's status when it ends */
static bool fake_supervisor;    /* UNTIL is a program started as the supervisor */
static char **test_args;        /* init's arguments after MS, for UNTIL */
static unsigned ntest_args;

/* Spawns PROGRAM with ARGS (and the test's arguments if EXTRA), the
 * handles of G (which are closed here but for the first, the channel) at
 * PRIO, its exceptions going to EXC (0: none); the process handle or an
 * error. */
static long spawn(const char *program, const char *args, bool extra, struct grant *g,
                  unsigned prio, long exc)
{
    static char buf[MANIFEST_ARGS_MAX + 1];
    size_t n = strnlen(args, MANIFEST_ARGS_MAX);
    memcpy(buf, args, n);
    buf[n] = 0;
    const char *argv[K_SPAWN_MAX_ARGS];
    argv[0] = program;
    unsigned argc = 1 + split_args(buf, argv + 1, K_SPAWN_MAX_ARGS - 1);
    for (unsigned i = 0; extra && i < ntest_args && argc < K_SPAWN_MAX_ARGS; i++)
        argv[argc++] = test_args[i];
    struct k_spawn sp = { .argc = argc, .nhandles = g->n, .argv = argv, .handles = g->h,
                          .priority = prio, .exception = (uint32_t)exc,
                          .image = (uint32_t)rt_handle("bootfs") };
    long p = k_process_spawn((long)program, (long)strlen(program), (long)&sp);
    for (unsigned i = 1; i < g->n; i++)        /* ours were copies; keep only the channel */
        k_handle_close(g->h[i].handle);
    return p;
}

static long start_service(unsigned index, long exc)
{
    const struct manifest_service *s = &manifest.services[index];
    struct grant g = { .n = 0 };
    build_grant(s, index, &g);
    bool extra = until && !fake_supervisor && strcmp(until, s->name) == 0;
    long p = spawn(s->program, s->args, extra, &g, s->prio, exc);
    if (p < 0) {
        printf("init: manifest:%u: %s: cannot start %s: %s\n", s->line, s->name, s->program,
               k_strerror(p));
        return p;
    }
    return p;                   /* the supervisor reports the start */
}

/* ---- publish: names= attached in procmgr, from a thread of its own ---- */

static volatile uint64_t publish_pending;      /* bit i: service i */
static long publish_chan, publish_wake;
static bool answered;           /* a service has answered init */

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static void publish_one(unsigned i, long pm_chan)
{
    const struct manifest_service *s = &manifest.services[i];
    long pm = k_chan_connect(pm_chan, i + 1, 0);         /* as the service: its policy applies */
    for (unsigned k = 0; k < s->nnames && pm >= 0; k++) {
        struct procmgr_attach_req req = { .flags = 2 };   /* replace this service's own */
        memcpy(req.prefix, s->names[k], strlen(s->names[k]));
        struct procmgr_attach_rep rep;
        long conn = k_chan_connect(chans[i], (long)k, 0);     /* badge: which name */
        long r = conn >= 0 ? k_handle_attach(conn, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1)
                           : conn;
        if (r >= 0)
            r = procmgr_attach(pm, &req, &rep);
        if (r >= 0 && !answered) {
            /* The first reply of a service at boot (nothing else talks to
             * a service that early): tools/bench reads this line, whose
             * TSC counts guest instructions since reset under TCG -icount. */
            uint64_t now = rdtsc();
            answered = true;
            printf("init: first reply from a service: procmgr attached %s (tsc %lu)\n",
                   s->names[k], (unsigned long)now);
        }
        if (r < 0)
            printf("init: %s: cannot publish %s: %s\n", s->name, s->names[k], k_strerror(r));
    }
    if (pm >= 0)
        k_handle_close(pm);
}

static long publisher_main(void *arg)
{
    (void)arg;
    const struct manifest_service *pm = manifest_find(&manifest, "procmgr", 7);
    for (;;) {                      /* for the life of init */
        struct k_msg_info info;
        if (k_msg_receive(publish_chan, 0, 0, (long)&info) != 0)
            continue;
        uint64_t todo = __atomic_exchange_n(&publish_pending, 0, __ATOMIC_ACQ_REL);
        for (unsigned i = 0; i < manifest.nservices && pm; i++)
            if (todo & (1ULL << i))
                publish_one(i, chans[pm - manifest.services]);
    }
    return 0;
}

static char publisher_stack[16384] __attribute__((aligned(16)));

/* ---- the launcher interface, for the supervisor only ---- */

static bool finished;
static long exit_status;

/* Attaches to the reply a copy of process handle P for the supervisor:
 * wait, kill, read, nothing else. */
/* The supervisor's handle to service I's process P: wait, kill, read
 * (core files) and, for a line with debug=1, write its memory and pass
 * that on (supervisor.proto's debug). */
static long give_process(unsigned i, long p)
{
    uint32_t rights = K_RIGHT_WAIT | K_RIGHT_MANAGE | K_RIGHT_READ |
                      (manifest.services[i].debug ? K_RIGHT_WRITE | K_RIGHT_TRANSFER : 0);
    long copy = k_handle_dup(p, rights | K_RIGHT_TRANSFER);
    long r = copy < 0 ? copy : k_handle_attach(copy, rights, 1);
    if (r < 0 && copy >= 0)
        k_handle_close(copy);
    return r < 0 ? r : 0;
}

static long on_start(void *ctx, long rcvid, const struct launcher_start_req *req,
                     struct launcher_start_rep *rep)
{
    const struct k_msg_info *info = ctx;
    (void)rcvid, (void)rep;
    if (req->index >= manifest.nservices)
        return -E_NOENT;
    long p = start_service(req->index, info->handle);
    if (p < 0)
        return p;
    unsigned i = req->index;
    if (procs[i] > 0)
        k_handle_close(procs[i]);
    procs[i] = p;
    started[i] = k_clock_get();
    ended_flag[i] = false;
    long r = give_process(i, p);
    if (r < 0)
        k_process_kill(p, K_EXIT_STOPPED);      /* it would run unsupervised */
    return r;
}

static long on_adopt(void *ctx, long rcvid, const struct launcher_adopt_req *req,
                     struct launcher_adopt_rep *rep)
{
    (void)ctx, (void)rcvid;
    if (req->index >= manifest.nservices)
        return -E_NOENT;
    unsigned i = req->index;
    /* Given up on is given up on, even if it never started (its program
     * is missing): a new supervisor must not try it again. */
    rep->state = ended_flag[i] ? 2 : procs[i] <= 0 ? 0 : 1;
    rep->started = started[i];
    return rep->state == 1 ? give_process(i, procs[i]) : 0;
}

static long on_publish(void *ctx, long rcvid, const struct launcher_publish_req *req,
                       struct launcher_publish_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    if (req->index >= manifest.nservices)
        return -E_NOENT;
    if (manifest.services[req->index].nnames == 0)
        return 0;
    __atomic_fetch_or(&publish_pending, 1ULL << req->index, __ATOMIC_ACQ_REL);
    k_pulse_send(publish_wake, 1, 0, 0);
    return 0;
}

static long on_ended(void *ctx, long rcvid, const struct launcher_ended_req *req,
                     struct launcher_ended_rep *rep)
{
    (void)ctx, (void)rcvid, (void)rep;
    if (req->index >= manifest.nservices)
        return -E_NOENT;
    unsigned i = req->index;
    ended_flag[i] = true;
    /* No one will serve its channel now: dropping it makes every client's
     * call fail with E_DEAD at once rather than wait for a server that is
     * not coming.  A later start gets a fresh channel (clients find it
     * through the name space again; services that connect= to it get a
     * connection to it when they start next). */
    long fresh = k_chan_create(0);
    if (fresh >= 0) {
        k_handle_close(chans[i]);
        chans[i] = fresh;
    }
    if (until && strcmp(until, manifest.services[i].name) == 0) {
        finished = true;
        exit_status = req->status;
    }
    return 0;
}

static struct launcher_server launcher = {
    .start = on_start, .publish = on_publish, .ended = on_ended, .adopt = on_adopt,
};

static long chaos_ms;            /* test runs: kill the supervisor once, this long after start */

static long start_supervisor(long self)
{
    struct grant g = { .n = 0 };
    grant_add(&g, sup_chan, K_RIGHT_RECEIVE | K_RIGHT_DUP, "chan");
    grant_add(&g, k_chan_connect(self, LAUNCH_BADGE, 0), K_RIGHT_SEND, "launcher");
    grant_add(&g, text_vmo(manifest_text, manifest_len), K_RIGHT_READ | K_RIGHT_MAP, "manifest");
    const char *program = fake_supervisor ? until : "bin/supervisor";
    long p = spawn(program, "", fake_supervisor, &g, SUPERVISOR_PRIO, 0);
    if (p < 0) {
        printf("init: cannot start %s: %s\n", program, k_strerror(p));
        return p;
    }
    long watch = k_chan_connect(self, 0, 0);
    k_process_watch(p, watch, SUPERVISOR_DIED);
    if (chaos_ms > 0) {
        long t = k_timer_create(watch, CHAOS_CODE, 0);
        if (t < 0 || k_timer_set(t, chaos_ms * 1000000, 0) < 0)
            printf("init: cannot arm the chaos test: %s\n", k_strerror(t));
    }
    k_handle_close(watch);
    printf("init: started supervisor (%s)\n", program);
    return p;
}

static long parse_ms(const char *s)
{
    long v = 0;
    for (; *s >= '0' && *s <= '9' && v < 1000000; s++)
        v = v * 10 + (*s - '0');
    return *s ? -1 : v;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "manifest";
    until = argc > 2 ? argv[2] : NULL;
    fake_supervisor = until && strchr(until, '/') != NULL;
    chaos_ms = argc > 3 ? parse_ms(argv[3]) : 0;
    test_args = argc > 4 ? argv + 4 : NULL;
    ntest_args = argc > 4 ? (unsigned)argc - 4 : 0;
    if (chaos_ms < 0) {
        printf("init: %s: not a number of milliseconds\n", argv[3]);
        return 1;
    }
    manifest_text = load_manifest(path, &manifest_len);
    if (!manifest_text) {
        printf("init: no manifest %s in the boot image\n", path);
        return 1;
    }
    manifest_parse(manifest_text, manifest_len, &manifest);
    for (unsigned i = 0; i < manifest.nerrors; i++) {
        char line[160];
        manifest_format_error(&manifest.errors[i], line, sizeof(line));
        printf("init: %s (line skipped)\n", line);
    }
    long self = k_chan_create(0);
    sup_chan = k_chan_create(0);
    for (unsigned i = 0; i < manifest.nservices; i++)
        chans[i] = k_chan_create(0);
    make_policy();
    manifest_vmo = text_vmo(manifest_text, manifest_len);
    publish_chan = k_chan_create(0);
    publish_wake = k_chan_connect(publish_chan, 0, 0);
    static struct rt_thread publisher;
    rt_thread_spawn(&publisher, publisher_main, 0, publisher_stack, sizeof(publisher_stack), 0);
    long sup = self >= 0 && sup_chan >= 0 ? start_supervisor(self) : -1;
    if (sup < 0)
        return 1;
    long backoff = SUP_BACKOFF_MS, sup_since = k_clock_get();
    while (!finished) {
        struct k_msg_info info;
        static uint64_t msg[32];
        long rcvid = k_msg_receive(self, (long)msg, -(long)sizeof(msg), (long)&info);
        if (rcvid == 0 && info.code == CHAOS_CODE && info.badge == 0 && sup > 0) {
            printf("init: chaos test: killing the supervisor\n");
            k_process_kill(sup, K_EXIT_STOPPED);
            continue;
        }
        if (rcvid == 0 && info.code == SUPERVISOR_DIED && info.badge == 0 && fake_supervisor) {
            printf("init: %s exited with status %ld\n", until, (long)info.value);
            exit_status = (long)info.value;    /* a test run of the launcher interface: over */
            break;
        }
        if (rcvid == 0 && info.code == SUPERVISOR_DIED && info.badge == 0) {
            printf("init: the supervisor exited with status %ld; services run on, unsupervised;"
                   " restarting it in %ld ms\n", (long)info.value, backoff);
            k_handle_close(sup);
            chaos_ms = 0;                       /* once */
            if (k_clock_get() - sup_since > 10L * SUP_BACKOFF_MAX_MS * 1000000)
                backoff = SUP_BACKOFF_MS;       /* it had been running well */
            k_thread_sleep(backoff * 1000000);  /* nothing else for init to do meanwhile */
            backoff = backoff * 2 > SUP_BACKOFF_MAX_MS ? SUP_BACKOFF_MAX_MS : backoff * 2;
            sup = start_supervisor(self);
            sup_since = k_clock_get();
            if (sup < 0)
                return 1;
            continue;
        }
        if (rcvid <= 0)
            continue;
        if (info.badge != LAUNCH_BADGE) {
            k_msg_error(rcvid, E_PERM);
            continue;
        }
        size_t len = info.send_len < sizeof(msg) ? info.send_len : sizeof(msg);
        launcher.ctx = &info;
        launcher_dispatch(&launcher, rcvid, msg, len);
        if (info.handle)                        /* the exception connection of a start */
            k_handle_close(info.handle);
    }
    return (int)exit_status;
}
