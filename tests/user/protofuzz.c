/*
 * protofuzz: the message protocols fuzzed by a hostile client.  Every
 * server of the system gets random, mutated-valid, truncated and
 * oversized messages, sent in random iov shapes with random reply buffers
 * and random handles attached, and each answer is judged:
 *
 *   - by the protocol rules (tests/user/protomodel.h): a malformed message
 *     must get exactly E_INVAL, an unknown one or one from a newer client
 *     E_NOSYS, with nothing written into the reply buffer and no handle;
 *     a well-formed one never E_NOSYS, its reply no longer than the reply
 *     struct of the client's version (the bytes past it keep a canary);
 *   - by what each message means (the oracles below): log's answers are
 *     all predictable, the supervisor's and procmgr's partly, the file
 *     servers' lightly (an error is FILE_ERR(errno), a message the server
 *     does not do E_NOSYS, a read no longer than asked, an open carries a
 *     connection);
 *   - by the server's life: a call failing with E_DEAD (the server died
 *     under it), a restart seen in the supervisor's list, or a call that
 *     does not return within HANG_S seconds (a watchdog thread) is a
 *     FAIL naming the protocol, the message and the seed.
 *
 * Three modes, told apart by the start-up handles and arguments:
 *   client     a service of bootimage/tests/protofuzz.manifest with
 *              connections to procmgr, log and the supervisor's control
 *              interface; it fuzzes those three, and the supervisor again
 *              through its heartbeat connection (which may send pulses
 *              only: every message must get E_PERM); and the file servers
 *              (protocols/file.proto) found through procmgr: ramfs at
 *              /tmp, pipe at /dev/pipe, devfs at /dev, procfs at /proc,
 *              each on its mount connection and on files opened before
 *              the campaign (tmp "fuzzfile" and "", a pipe's read end,
 *              dev "zero" and "", proc "meminfo" and "").  Replies that
 *              end in data (read, readdir, readlink, ioctl, open's
 *              redirect) may be longer than the reply struct by it; the
 *              open files are closed and /tmp emptied before the object
 *              counters are compared, and each server must then answer a
 *              fresh open, stat and read;
 *   child      the client spawns itself through procmgr (view /fuzz and
 *              /dev) once its own campaign is over: procmgr and log as a
 *              process sees them (a pid, a parent, a view; no names to
 *              attach), for a quarter of COUNT;
 *   launcher   started by init in the supervisor's place (init's test
 *              mode: initargs=tests/launchfuzz.manifest,bin/protofuzz,0,..)
 *              with the supervisor's handles; it plays the supervisor and
 *              fuzzes init's launcher interface, which nothing but the
 *              supervisor can reach (checked: a service gets no connection
 *              to init, and the supervisor's can be neither duplicated nor
 *              passed on).
 * Each run starts with a sweep: a valid request of every message in every
 * client version, truncated at every length and extended by a few bytes.
 * Then COUNT random messages (3% of them pulses).  Message I is made from
 * (SEED, I) alone, so a failure is reproduced by the same SEED with
 * COUNT > I.  Afterwards each server must still answer valid requests
 * correctly, the kernel's object counters must be back where they were
 * before (whatever the messages carried was closed, or kept on purpose and
 * released), and in launcher mode init's answers must agree with what it
 * was told.  Named checks (client_regressions, fs_regressions, the end of
 * launcher_main) keep the bugs the campaign found fixed whatever the seed.
 *
 * Arguments: [SEED [COUNT [PROGRESS]]], or child SEED COUNT PROGRESS
 * (init appends them from its own: initargs=MANIFEST,SERVICE,0,SEED,COUNT).
 * Prints a progress line every PROGRESS messages (default 5000; 0: none;
 * each reads the kernel's counters, which also has the kernel reap dead
 * processes), one "PROTOFUZZ FAIL ..." line per failure (the first
 * MAX_REPORTS of the campaign, every failed check), and last "PROTOFUZZ
 * DONE seed=S messages=N failed=F" (the child: "PROTOFUZZ CHILD DONE ...";
 * its messages count in N); exits 0 only if nothing failed.
 */
#include <stdbool.h>

#include "base/manifest.h"
#include "base/names.h"
#include "base/string.h"
#include "kestrel/exception.h"
#include "kestrel/rights.h"
#include "kestrel/supervise.h"
#include "kestrel/vm.h"
#include "protocols/file.h"
#include "srv/fileview.h"
#include "srv/pipering.h"
#include "protocols/launcher.h"
#include "protocols/log.h"
#include "protocols/procmgr.h"
#include "protocols/supervisor.h"
#include "rt/rt.h"
#include "rt/service.h"
#include "rt/stdio.h"
#include "rt/thread.h"
#include "protomodel.h"

#define DEFAULT_SEED 1
#define DEFAULT_COUNT 20000
#define PROGRESS 5000               /* default */
#define MAX_REPORTS 20
#define HANG_S 20
#define MSG_MAX (72 * 1024)         /* the longest message sent */
#define REP_MAX 4096                /* the largest reply buffer */
#define CANARY 0xa5
#define LIFE_CHECK 256              /* messages between looks at the services' restarts */
#define LOG_LINE_MAX 4096           /* log's longest line (protocols/log.proto) */
#define LOG_MSG_MAX (16 + sizeof(struct log_write_req) + LOG_LINE_MAX)  /* read whole */

static uint64_t seed = DEFAULT_SEED;
static bool child_mode;         /* a process procmgr spawned (see child_main) */
static uint32_t my_pid;         /* its pid, as getpid says */
static uint64_t count = DEFAULT_COUNT;
static uint64_t progress_every = PROGRESS;
static uint64_t messages, failed;
static uint64_t by_class[5], pulses, attached;   /* what was sent, for the summary */

/* ---- random numbers: splitmix64, one stream per message ---- */

struct rng {
    uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(struct rng *r, uint64_t n)
{
    return n ? rnd(r) % n : 0;
}

static bool chance(struct rng *r, unsigned percent)
{
    return below(r, 100) < percent;
}

static struct rng stream(uint64_t index, uint64_t salt)
{
    struct rng r = { seed * 0x2545f4914f6cdd1dULL ^ index * 0x9e3779b97f4a7c15ULL ^ salt ^
                     (child_mode ? 0xc41d : 0) };
    rnd(&r);
    return r;
}

/* An "interesting" 32-bit value: edges of ranges servers check. */
static uint32_t edgy(struct rng *r)
{
    static const uint32_t v[] = { 0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 127, 128,
                                  255, 256, 1023, 1024, 4095, 4096, 0x7fff, 0x8000, 0xffff,
                                  0x10000, 0x7fffffff, 0x80000000u, 0xfffffffeu, 0xffffffffu };
    return chance(r, 70) ? v[below(r, sizeof(v) / sizeof(v[0]))] : (uint32_t)rnd(r);
}

/* Text that does no harm on the console: no newline, no escape. */
static void quiet_text(struct rng *r, unsigned char *p, size_t n)
{
    static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789 ._-";
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)abc[below(r, sizeof(abc) - 1)];
}

/* ---- targets: one protocol on one connection ---- */

struct target;
/* Fills the request struct REQ (the newest version's, zeroed) and the
 * payload PAY[*PLEN] of a valid message MSG. */
typedef void (*fill_fn)(struct target *t, unsigned msg, struct rng *r, void *req,
                        unsigned char *pay, size_t *plen);
/* What a well-formed request must have got: NULL if R (and the reply REP,
 * GOT bytes of it in the buffer) is right, else why not. */
typedef const char *(*oracle_fn)(struct target *t, const struct pm_verdict *v, const void *req,
                                 const unsigned char *pay, long r, const void *rep, size_t got,
                                 long handle);
/* Makes a well-formed request harmless before it is sent (no real service
 * stopped, no real program spawned). */
typedef void (*guard_fn)(struct target *t, const struct pm_verdict *v, unsigned char *msg);

struct target {
    const char *name;
    const struct proto_desc *d;
    long conn;
    size_t whole_max;       /* longer messages get E_TOOBIG (0: the server reads a prefix) */
    fill_fn fill;
    oracle_fn oracle;
    guard_fn guard;
    unsigned weight;
    bool quiet;             /* its payloads reach the console: quiet text, rarely long */
    long refuse;            /* the connection may send nothing: every message gets this */
    uint64_t sent, wellformed, accepted, failed;
};

static const char *msg_name(const struct target *t, unsigned msg);

static unsigned char msgbuf[MSG_MAX + 64];
static unsigned char repbuf[REP_MAX + 64];
static unsigned char paybuf[MSG_MAX];

/* ---- failures ---- */

static volatile uint64_t cur_index;
static const char *volatile cur_target = "setup";
static volatile unsigned cur_msg;
static volatile uint64_t progress_tick;

static void hexdump(const unsigned char *p, size_t len)
{
    char line[3 * 48 + 1];
    size_t n = len < 48 ? len : 48, o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(line + o, sizeof(line) - o, "%02x", p[i]);
    line[o] = 0;
    printf("PROTOFUZZ   %lu bytes: %s%s\n", (unsigned long)len, line, len > n ? "..." : "");
}

static void fail_msg(struct target *t, uint64_t index, unsigned msg, const unsigned char *m,
                     size_t len, const char *why, long r)
{
    failed++;
    if (t)
        t->failed++;
    if (failed > MAX_REPORTS)
        return;
    printf("\nPROTOFUZZ FAIL seed=%lu message=%lu protocol=%s msg=%u(%s): %s (answer %ld %s)\n",
           (unsigned long)seed, (unsigned long)index, t ? t->name : "-", msg,
           t ? msg_name(t, msg) : "-", why, r, k_strerror(r));
    if (m)
        hexdump(m, len);
}

static void fail_check(const char *what, const char *why)
{
    failed++;
    printf("\nPROTOFUZZ FAIL seed=%lu check=%s: %s\n", (unsigned long)seed, what, why);
}

static void check(const char *what, bool ok, const char *why)
{
    if (!ok)
        fail_check(what, why);
}

/* The watchdog: a call that does not come back is a hang.  Writes to the
 * kernel's console itself (the log service may be the one hung). */
static long watchdog(void *arg)
{
    (void)arg;
    uint64_t last = ~0ULL;
    unsigned still = 0;
    for (;;) {
        k_thread_sleep(1000L * 1000000);
        uint64_t now = __atomic_load_n(&progress_tick, __ATOMIC_ACQUIRE);
        still = now == last ? still + 1 : 0;
        last = now;
        if (still < HANG_S)
            continue;
        char line[200];
        int n = snprintf(line, sizeof(line),
                         "\nPROTOFUZZ FAIL seed=%lu message=%lu protocol=%s msg=%u: no answer"
                         " for %d s (hang)\nPROTOFUZZ %s seed=%lu messages=%lu failed=%lu\n",
                         (unsigned long)seed, (unsigned long)cur_index, (const char *)cur_target,
                         cur_msg, HANG_S, child_mode ? "CHILD DONE" : "DONE",
                         (unsigned long)seed, (unsigned long)messages,
                         (unsigned long)failed + 1);
        rt_debug_write(line, (size_t)n);
        k_process_exit(2);
    }
    return 0;
}

static void tick(void)
{
    __atomic_add_fetch(&progress_tick, 1, __ATOMIC_RELEASE);
}

/* ---- kernel object counters ---- */

static struct k_sysinfo counters(void)
{
    struct k_sysinfo s;
    memset(&s, 0, sizeof(s));
    k_sys_info(K_INFO_KERNEL_OBJECTS, (long)&s, 0);
    return s;
}

static bool same_counters(const struct k_sysinfo *a, const struct k_sysinfo *b)
{
    return a->processes == b->processes && a->threads == b->threads &&
           a->channels == b->channels && a->connections == b->connections &&
           a->kmalloc_objects == b->kmalloc_objects;
}

/* The counters once they settle (dying processes reaped, work in flight
 * such as init's publishing done): equal to WANT, or without WANT the
 * same three readings 20 ms apart; at most a second of tries. */
static struct k_sysinfo settled(const struct k_sysinfo *want)
{
    struct k_sysinfo s = counters(), prev = s;
    for (int i = 0, same = 0; i < 50; i++) {
        if (want ? same_counters(&s, want) : same == 2)
            break;
        k_thread_sleep(20L * 1000000);
        prev = s;
        s = counters();
        same = same_counters(&s, &prev) ? same + 1 : 0;
    }
    return s;
}

static void compare_counters(const struct k_sysinfo *a, const struct k_sysinfo *b)
{
    char why[200];
    snprintf(why, sizeof(why),
             "before/after: processes %lu/%lu threads %lu/%lu channels %lu/%lu "
             "connections %lu/%lu kernel heap objects %lu/%lu",
             (unsigned long)a->processes, (unsigned long)b->processes,
             (unsigned long)a->threads, (unsigned long)b->threads,
             (unsigned long)a->channels, (unsigned long)b->channels,
             (unsigned long)a->connections, (unsigned long)b->connections,
             (unsigned long)a->kmalloc_objects, (unsigned long)b->kmalloc_objects);
    check("no_leaked_objects", same_counters(a, b), why);
    printf("protofuzz: kernel objects %s\n", why);
    printf("protofuzz: free memory before/after: %lu/%lu KiB\n",
           (unsigned long)(a->free_bytes >> 10), (unsigned long)(b->free_bytes >> 10));
}

/* ---- handles carried by messages ---- */

enum { ATT_NONE, ATT_CHANNEL, ATT_CONN_DEAD, ATT_VMO, ATT_COPY, ATT_TOO_MANY_RIGHTS, ATT_KINDS };

static long copy_source = -1;       /* a connection of ours that may travel (a copy of it) */

/* Maybe attaches a handle to the next send: a fresh object moved out of
 * our table (a server that keeps it must release it some day: the
 * counters tell), a copy of a connection of ours, or a request for rights
 * we lack (refused; nothing rides).  Returns what it did. */
static int maybe_attach(struct rng *r, unsigned percent)
{
    if (!chance(r, percent))
        return ATT_NONE;
    int kind = 1 + (int)below(r, ATT_KINDS - 1);
    uint32_t rights = (uint32_t)rnd(r) & K_RIGHTS_ALL;
    long h = -1;
    switch (kind) {
    case ATT_CHANNEL:
        h = k_chan_create(0);
        break;
    case ATT_CONN_DEAD: {
        long ch = k_chan_create(0);
        h = ch >= 0 ? k_chan_connect(ch, (long)below(r, 1000), 0) : ch;
        if (ch >= 0)
            k_handle_close(ch);             /* a connection to a channel nobody serves */
        break;
    }
    case ATT_VMO:
        h = k_vmo_create(4096, K_VMO_ANON, 0, 0);
        break;
    case ATT_COPY:
        if (copy_source < 0 || k_handle_attach(copy_source, rights & (K_RIGHT_SEND | K_RIGHT_DUP |
                                                                       K_RIGHT_TRANSFER), 0) < 0)
            return ATT_NONE;
        return kind;
    case ATT_TOO_MANY_RIGHTS:
        if (copy_source >= 0)
            k_handle_attach(copy_source, K_RIGHTS_ALL, 0);     /* E_RIGHTS: nothing rides */
        return ATT_NONE;
    }
    if (h < 0)
        return ATT_NONE;
    if (k_handle_attach(h, rights, 1) < 0) {
        k_handle_close(h);
        return ATT_NONE;
    }
    return kind;
}

/* ---- iov shapes ---- */

/* Cuts BUF[LEN] into a random number of parts (some empty) in IOV;
 * returns the count to pass, negative for one flat buffer. */
static long shape(struct rng *r, void *buf, size_t len, struct k_iov *iov)
{
    if (chance(r, 35))
        return -(long)len;
    unsigned parts = chance(r, 10) ? 1 + (unsigned)below(r, K_IOV_MAX) : 1 + (unsigned)below(r, 4);
    size_t cut[K_IOV_MAX + 1];
    cut[0] = 0;
    cut[parts] = len;
    for (unsigned i = 1; i < parts; i++)
        cut[i] = below(r, len + 1);
    for (unsigned i = 1; i < parts; i++)              /* sort the cuts */
        for (unsigned j = i; j > 1 && cut[j - 1] > cut[j]; j--) {
            size_t x = cut[j];
            cut[j] = cut[j - 1];
            cut[j - 1] = x;
        }
    for (unsigned i = 0; i < parts; i++)
        iov[i] = (struct k_iov){ (char *)buf + cut[i], cut[i + 1] - cut[i] };
    return (long)parts;
}

/* A reply buffer size: none, tiny, around the reply struct, or large. */
static size_t reply_cap(struct rng *r, size_t rep_len)
{
    switch (below(r, 8)) {
    case 0:
        return 0;
    case 1:
        return below(r, 8);
    case 2:
        return rep_len ? rep_len - 1 : 0;
    case 3:
        return rep_len + below(r, 64);
    case 4:
        return REP_MAX;
    default:
        return rep_len;
    }
}

/* ---- building messages ---- */

static void put_hdr(unsigned char *m, uint32_t proto, uint16_t version, uint16_t msg,
                    uint32_t plen, uint32_t reserved)
{
    struct k_proto_hdr h = { proto, version, msg, plen, reserved };
    memcpy(m, &h, sizeof(h));
}

static unsigned random_msg(struct target *t, struct rng *r)
{
    unsigned n;
    do
        n = 1 + (unsigned)below(r, t->d->nmsgs - 1u);
    while (t->d->msgs[n].since == 0);
    return n;
}

/* A valid message MSG of client version VERSION into M; its length. */
static size_t build_valid(struct target *t, unsigned msg, uint16_t version, struct rng *r,
                          unsigned char *m)
{
    uint64_t req[64];
    memset(req, 0, sizeof(req));
    size_t plen = 0;
    t->fill(t, msg, r, req, paybuf, &plen);
    size_t body = t->d->msgs[msg].req_size[version];
    put_hdr(m, t->d->id, version, (uint16_t)msg, (uint32_t)plen, 0);
    memcpy(m + 16, req, body);
    memcpy(m + 16 + body, paybuf, plen);
    return 16 + body + plen;
}

static uint16_t random_version(struct target *t, unsigned msg, struct rng *r)
{
    uint16_t since = t->d->msgs[msg].since;
    return (uint16_t)(since + below(r, t->d->version - since + 1u));
}

static const uint32_t protocol_ids[] = { LAUNCHER_PROTO_ID, LOG_PROTO_ID, PROCMGR_PROTO_ID,
                                         SUPERVISOR_PROTO_ID, FILE_PROTO_ID, 0xffffffffu };

/* One mutation of M[*LEN]. */
static void mutate(struct target *t, struct rng *r, unsigned char *m, size_t *len)
{
    size_t n = *len;
    switch (below(r, 12)) {
    case 0:
    case 1:                                            /* flip bits */
        for (unsigned i = 0, k = 1 + (unsigned)below(r, 8); i < k && n; i++)
            m[below(r, n)] ^= (unsigned char)(1u << below(r, 8));
        break;
    case 2: {                                          /* another message number */
        uint16_t v = chance(r, 50) ? (uint16_t)random_msg(t, r) : (uint16_t)edgy(r);
        if (n >= 8)
            memcpy(m + 6, &v, 2);
        break;
    }
    case 3: {                                          /* another version */
        static const uint16_t vs[] = { 0, 1, 2, 3, 0x7fff, 0xffff };
        uint16_t v = vs[below(r, sizeof(vs) / sizeof(vs[0]))];
        if (n >= 8)
            memcpy(m + 4, &v, 2);
        break;
    }
    case 4: {                                          /* payload_len off */
        uint32_t pl = 0;
        if (n >= 12)
            memcpy(&pl, m + 8, 4);
        static const int32_t d[] = { -1, 1, -8, 8, 0x10000 };
        pl = chance(r, 50) ? pl + (uint32_t)d[below(r, 5)] : edgy(r);
        if (n >= 12)
            memcpy(m + 8, &pl, 4);
        break;
    }
    case 5: {                                          /* reserved, protocol id */
        uint32_t v = chance(r, 50) ? 1u << below(r, 32) : protocol_ids[below(r, 6)];
        if (n >= 16)
            memcpy(m + (chance(r, 50) ? 12 : 0), &v, 4);
        break;
    }
    case 6:                                            /* truncated */
        *len = below(r, n + 1);
        break;
    case 7: {                                          /* bytes after the end */
        size_t k = 1 + below(r, 64);
        for (size_t i = 0; i < k && n + i < MSG_MAX; i++)
            m[n + i] = (unsigned char)rnd(r);
        *len = n + k < MSG_MAX ? n + k : MSG_MAX;
        break;
    }
    case 8:
    case 9: {                                          /* an edge value in the body */
        if (n > 20) {
            uint32_t v = edgy(r);
            memcpy(m + 16 + 4 * below(r, (n - 16) / 4), &v, 4);
        }
        break;
    }
    case 10: {                                         /* more payload, header kept true */
        size_t k = 1 + below(r, chance(r, 80) ? 64 : 2048);
        if (n + k > MSG_MAX || n < 16)
            break;
        quiet_text(r, m + n, k);
        uint32_t pl;
        memcpy(&pl, m + 8, 4);
        pl += (uint32_t)k;
        memcpy(m + 8, &pl, 4);
        *len = n + k;
        break;
    }
    default:                                           /* a random byte anywhere */
        if (n)
            m[below(r, n)] = (unsigned char)rnd(r);
        break;
    }
}

enum { CLASS_VALID, CLASS_MUTATED, CLASS_RANDOM, CLASS_TRUNCATED, CLASS_OVERSIZED };

/* Message INDEX for target T into msgbuf; its length. */
static size_t generate(struct target *t, struct rng *r, int *class)
{
    unsigned char *m = msgbuf;
    unsigned msg = random_msg(t, r);
    uint16_t version = random_version(t, msg, r);
    uint64_t c = below(r, 100);
    *class = c < 30 ? CLASS_VALID : c < 70 ? CLASS_MUTATED : c < 80 ? CLASS_RANDOM
           : c < 90 ? CLASS_TRUNCATED : CLASS_OVERSIZED;
    size_t len;
    switch (*class) {
    case CLASS_VALID:
        return build_valid(t, msg, version, r, m);
    case CLASS_MUTATED:
        len = build_valid(t, msg, version, r, m);
        for (unsigned i = 0, k = 1 + (unsigned)below(r, 3); i < k; i++)
            mutate(t, r, m, &len);
        return len;
    case CLASS_TRUNCATED:
        len = build_valid(t, msg, version, r, m);
        return below(r, len);
    case CLASS_OVERSIZED: {
        len = build_valid(t, msg, version, r, m);
        size_t want = chance(r, t->quiet ? 10 : 50) ? 256 + below(r, 4096)
                                                     : 4096 + below(r, MSG_MAX - 4096);
        if (want > len) {
            quiet_text(r, m + len, want - len);
            if (chance(r, 75)) {                       /* the header says so */
                uint32_t pl;
                memcpy(&pl, m + 8, 4);
                pl += (uint32_t)(want - len);
                memcpy(m + 8, &pl, 4);
            }
            len = want;
        }
        return len;
    }
    default: {                                         /* random bytes, maybe a header */
        len = chance(r, 50) ? below(r, 64) : chance(r, 80) ? below(r, 600) : below(r, 8192);
        size_t body = t->d->msgs[msg].req_size[version];
        for (size_t i = 0; i < len; i++)
            m[i] = (unsigned char)rnd(r);
        if (t->quiet && len > 16 + body)
            quiet_text(r, m + 16 + body, len - 16 - body);
        if (len >= 16 && chance(r, 70)) {
            uint32_t pl = chance(r, 50) && len >= 16 + body ? (uint32_t)(len - 16 - body)
                                                             : (uint32_t)edgy(r);
            put_hdr(m, t->d->id, chance(r, 80) ? version : (uint16_t)edgy(r),
                    chance(r, 80) ? (uint16_t)msg : (uint16_t)edgy(r), pl, 0);
        }
        return len;
    }
    }
}

/* ---- sending and judging one message ---- */

static bool canary_from(size_t from)
{
    for (size_t i = from; i < sizeof(repbuf); i++)
        if (repbuf[i] != CANARY)
            return false;
    return true;
}

/* Does a reply to MSG of T carry a handle when it succeeds? */
static bool gives_handle(const struct target *t, unsigned msg, const void *rep, size_t got);

/* What is done with a handle that came with a reply (closed, or a process
 * killed, waited for and closed). */
static void received_handle(struct target *t, const struct pm_verdict *v, long h);

/* May a well-formed message MSG to T be answered E_NOSYS (a file server
 * that does not do it)? */
static bool may_nosys(const struct target *t, unsigned msg);

/* Does T take writes longer than its whole_max (a file server's early path)? */
static bool takes_long_writes(const struct target *t);

/* Where the canary must start in a reply of RES to V (CAP the buffer, GOT
 * the reply struct's bytes in it): after the struct, or after the data
 * that follows it for the messages whose reply ends in data. */
static size_t reply_end(const struct target *t, const struct pm_verdict *v, long res, size_t cap,
                        size_t got);

/* Sends M[LEN] to T in random shapes, judges the answer. */
static void send_one(struct target *t, uint64_t index, struct rng *r, unsigned char *m, size_t len)
{
    struct pm_verdict v = pm_judge(t->d, m, len);
    if (t->whole_max && len > t->whole_max &&
        !(v.err == 0 && v.msg == FILE_MSG_WRITE && takes_long_writes(t)))
        v.err = E_TOOBIG;           /* (most file servers take writes of any length) */
    if (t->refuse)
        v.err = t->refuse;
    if (v.err == 0 && t->guard)
        t->guard(t, &v, m);
    cur_target = t->name;
    cur_msg = v.err == 0 ? v.msg : len >= 8 ? (unsigned)(m[6] | m[7] << 8) : 0;
    cur_index = index;
    tick();

    struct k_iov siov[K_IOV_MAX], riov[K_IOV_MAX];
    size_t latest = v.err == 0 ? t->d->msgs[v.msg].rep_size[t->d->version] : 64;
    size_t cap = reply_cap(r, latest);
    memset(repbuf, CANARY, sizeof(repbuf));
    long sparts = shape(r, m, len, siov);
    long rparts = shape(r, repbuf, cap, riov);
    int att = maybe_attach(r, 20);
    attached += att != ATT_NONE;
    long res = k_msg_send(t->conn, sparts < 0 ? (long)m : (long)siov, sparts,
                          rparts < 0 ? (long)repbuf : (long)riov, rparts);
    long h = k_handle_received();
    tick();
    messages++;
    t->sent++;

    const char *why = NULL;
    size_t got = cap < v.rep_len ? cap : v.rep_len;
    if (res == -E_DEAD) {
        why = "the server died under the call (crash)";
    } else if (v.err) {
        if (res != -v.err)
            why = v.err == E_INVAL ? "a malformed message not answered E_INVAL"
                : v.err == E_NOSYS ? "an unknown message not answered E_NOSYS"
                : v.err == E_PERM ? "a message through a connection that may send none not E_PERM"
                : "an oversized message not answered E_TOOBIG";
        else if (!canary_from(0))
            why = "an error reply wrote into the reply buffer";
        else if (h > 0)
            why = "an error reply carried a handle";
    } else {
        t->wellformed++;
        if (res == -E_NOSYS && !may_nosys(t, v.msg))
            why = "a well-formed message answered E_NOSYS";
        else if (!canary_from(res >= 0 ? reply_end(t, &v, res, cap, got) : 0))
            why = res >= 0 ? "a reply longer than the client version's reply struct"
                           : "an error reply wrote into the reply buffer";
        else if (h > 0 && (res < 0 || !gives_handle(t, v.msg, repbuf, got)))
            why = "a reply carried a handle it should not";
        else {
            uint64_t req[64];
            memset(req, 0, sizeof(req));
            memcpy(req, m + 16, v.body_len);
            why = t->oracle(t, &v, req, m + 16 + v.body_len, res, repbuf, got, h);
            t->accepted += res >= 0;
        }
    }
    if (h > 0)
        received_handle(t, v.err == 0 ? &v : NULL, h);
    if (why)
        fail_msg(t, index, cur_msg, m, len, why, res);
}

/* ---- the sweep: every message truncated at every length ---- */

static void sweep(struct target *t, uint64_t *index)
{
    static unsigned char valid[MSG_MAX];
    for (unsigned msg = 1; msg < t->d->nmsgs; msg++) {
        if (!t->d->msgs[msg].since)
            continue;
        for (uint16_t ver = t->d->msgs[msg].since; ver <= t->d->version; ver++) {
            struct rng r = stream(*index, 0x5eed);
            size_t len = build_valid(t, msg, ver, &r, valid);
            for (size_t cut = 0; cut <= len + 8; cut++) {
                struct rng s = stream(*index, 1);
                memcpy(msgbuf, valid, len);
                for (size_t i = len; i < cut; i++)
                    msgbuf[i] = (unsigned char)rnd(&s);
                send_one(t, (*index)++, &s, msgbuf, cut);
            }
        }
    }
}

/* ---- per-protocol knowledge ---- */

static const char *msg_name(const struct target *t, unsigned msg)
{
#define NAME_OF(name, NAME, number, payload) if (msg == number) return #name;
    if (t->d == procmgr_protocol()) {
        PROCMGR_MESSAGES(NAME_OF)
    } else if (t->d == supervisor_protocol()) {
        SUPERVISOR_MESSAGES(NAME_OF)
    } else if (t->d == log_protocol()) {
        LOG_MESSAGES(NAME_OF)
    } else if (t->d == launcher_protocol()) {
        LAUNCHER_MESSAGES(NAME_OF)
    } else if (t->d == file_protocol()) {
        FILE_MESSAGES(NAME_OF)
    }
#undef NAME_OF
    return "?";
}

static bool is_one_of(long r, const long *ok, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r == ok[i])
            return true;
    return false;
}
#define ONE_OF(r, ...) is_one_of((r), (const long[]){ __VA_ARGS__ }, \
                                 sizeof((const long[]){ __VA_ARGS__ }) / sizeof(long))

/* The supervisor's services, as its list says at the start. */
static struct supervisor_list_rep services[MANIFEST_SERVICES_MAX];
static unsigned nservices;
static int victim = -1;         /* the one service the fuzzer may stop and start */

/* -- log -- */

static uint32_t log_level_now = 1;   /* the log's level, as the fuzzer set it */

static void log_fill(struct target *t, unsigned msg, struct rng *r, void *reqp,
                     unsigned char *pay, size_t *plen)
{
    (void)t;
    switch (msg) {
    case LOG_MSG_WRITE: {
        struct log_write_req *q = reqp;
        q->severity = chance(r, 80) ? (uint32_t)below(r, 7) : edgy(r);
        if (chance(r, 70))
            memcpy(q->tag, "protofuzz", 9);
        else
            for (size_t i = 0; i < sizeof(q->tag); i++)
                q->tag[i] = (char)(chance(r, 50) ? 'a' + below(r, 26) : rnd(r));
        *plen = below(r, 48);
        quiet_text(r, pay, *plen);
        break;
    }
    case LOG_MSG_LEVEL: {
        struct log_level_req *q = reqp;
        q->severity = chance(r, 85) ? 4 : chance(r, 50) ? (uint32_t)below(r, 7) : edgy(r);
        break;
    }
    case LOG_MSG_PRINT:
        if (chance(r, 15)) {
            *plen = 1 + below(r, 40);
            quiet_text(r, pay, *plen - 1);
            pay[*plen - 1] = '\n';
        }
        break;
    default:
        break;
    }
}

static const char *log_oracle(struct target *t, const struct pm_verdict *v, const void *reqp,
                              const unsigned char *pay, long r, const void *rep, size_t got,
                              long handle)
{
    (void)t, (void)pay, (void)handle;
    switch (v->msg) {
    case LOG_MSG_WRITE: {
        const struct log_write_req *q = reqp;
        if (q->severity > 4)
            return r == -E_INVAL ? NULL : "write at a severity above fatal not refused";
        if (v->payload_len > LOG_LINE_MAX)
            return r == -E_TOOBIG ? NULL : "a write over LOG_LINE_MAX not answered E_TOOBIG";
        if (r != 0)
            return "a valid write refused";
        const struct log_write_rep *p = rep;
        return got < 8 || p->sequence > 0 ? NULL : "write: sequence 0";
    }
    case LOG_MSG_LEVEL: {
        const struct log_level_req *q = reqp;
        if (q->severity > 4)
            return r == -E_INVAL ? NULL : "level above fatal not refused";
        if (r != 0)
            return "a valid level refused";
        const struct log_level_rep *p = rep;
        uint32_t before = log_level_now;
        log_level_now = q->severity;
        return got < 4 || p->previous == before ? NULL : "level: previous is not the level set";
    }
    case LOG_MSG_PRINT: {
        if (v->payload_len > LOG_LINE_MAX)
            return r == -E_TOOBIG ? NULL : "a print over LOG_LINE_MAX not answered E_TOOBIG";
        if (r != 0)
            return "a valid print refused";
        const struct log_print_rep *p = rep;
        return got < 4 || p->bytes == v->payload_len ? NULL : "print: bytes is not the payload";
    }
    case LOG_MSG_STATS:
        return r == 0 ? NULL : "stats refused";
    }
    return "no such message";
}

/* -- supervisor -- */

static void sup_fill(struct target *t, unsigned msg, struct rng *r, void *reqp,
                     unsigned char *pay, size_t *plen)
{
    (void)t, (void)pay, (void)plen;
    switch (msg) {
    case SUPERVISOR_MSG_LIST: {
        struct supervisor_list_req *q = reqp;
        q->index = chance(r, 70) ? (uint32_t)below(r, nservices + 3) : edgy(r);
        break;
    }
    case SUPERVISOR_MSG_STOP:
    case SUPERVISOR_MSG_START:
    case SUPERVISOR_MSG_RESTART:
    case SUPERVISOR_MSG_DEBUG:
    case SUPERVISOR_MSG_COMPLAIN: {
        char *name = reqp;                 /* they start with char name[32] */
        static const char *const names[] = { "victim", "victim", "nosuch", "", "VICTIM",
                                             "victim ", "init", "supervisor" };
        uint64_t k = below(r, 10);
        if (k < 8) {
            const char *s = names[k];
            memcpy(name, s, strlen(s));
            if (k == 1)
                memcpy(name + 7, "junk", 4);           /* "victim\0junk" */
        } else if (k == 8) {
            memset(name, 'v', 32);                     /* no NUL */
        } else {
            for (size_t i = 0; i < 32; i++)
                name[i] = (char)rnd(r);
        }
        break;
    }
    case SUPERVISOR_MSG_CORE: {
        struct supervisor_core_req *q = reqp;
        q->index = chance(r, 70) ? (uint32_t)below(r, 6) : edgy(r);
        q->offset = chance(r, 50) ? below(r, 5000) : rnd(r);
        break;
    }
    }
}

/* A well-formed stop, start or restart never names a service other than
 * the victim (the others are what is being tested). */
static void sup_guard(struct target *t, const struct pm_verdict *v, unsigned char *m)
{
    (void)t;
    if (v->msg != SUPERVISOR_MSG_STOP && v->msg != SUPERVISOR_MSG_START &&
        v->msg != SUPERVISOR_MSG_RESTART && v->msg != SUPERVISOR_MSG_COMPLAIN)
        return;
    char name[33];
    memcpy(name, m + 16, 32);
    name[32] = 0;
    for (unsigned i = 0; i < nservices; i++)
        if ((int)i != victim && strcmp(name, services[i].name) == 0)
            m[16] = 'X';
}

static const char *sup_oracle(struct target *t, const struct pm_verdict *v, const void *reqp,
                              const unsigned char *pay, long r, const void *rep, size_t got,
                              long handle)
{
    (void)t, (void)pay, (void)handle;
    switch (v->msg) {
    case SUPERVISOR_MSG_LIST: {
        const struct supervisor_list_req *q = reqp;
        const struct supervisor_list_rep *p = rep;
        if (q->index >= nservices)
            return r == -E_NOENT ? NULL : "list past the last service not E_NOENT";
        if (r != 0)
            return "list of a service refused";
        if (got >= 32 && strncmp(p->name, services[q->index].name, 32) != 0)
            return "list: another name";
        if (got >= offsetof(struct supervisor_list_rep, count) + 4 && p->count != nservices)
            return "list: another count";
        return NULL;
    }
    case SUPERVISOR_MSG_STOP:
    case SUPERVISOR_MSG_START:
    case SUPERVISOR_MSG_RESTART: {
        char name[33];
        memcpy(name, reqp, 32);
        name[32] = 0;
        if (victim >= 0 && strcmp(name, services[victim].name) == 0)
            return ONE_OF(r, 0, -E_BUSY) ? NULL : "stop/start/restart of the victim: odd answer";
        return r == -E_NOENT ? NULL : "stop/start/restart of no service not E_NOENT";
    }
    case SUPERVISOR_MSG_CORE:
        return r == -E_NOENT ? NULL : "core: there is none, yet not E_NOENT";
    case SUPERVISOR_MSG_DEBUG:
    case SUPERVISOR_MSG_COMPLAIN: {
        /* No service here has debug=1; a control client may complain of
         * any (only the victim gets through the guard). */
        char name[33];
        memcpy(name, reqp, 32);
        name[32] = 0;
        bool known = false;
        for (unsigned i = 0; i < nservices; i++)
            known |= strcmp(name, services[i].name) == 0;
        if (!known)
            return r == -E_NOENT ? NULL : "debug/complain of no service not E_NOENT";
        if (v->msg == SUPERVISOR_MSG_DEBUG)
            return r == -E_PERM ? NULL : "debug of a service without debug=1 not E_PERM";
        return r == 0 ? NULL : "complain of the victim refused";
    }
    }
    return "no such message";
}

/* -- procmgr -- */

static void pm_fill(struct target *t, unsigned msg, struct rng *r, void *reqp,
                    unsigned char *pay, size_t *plen)
{
    (void)t;
    static const char *const paths[] = { "/fuzz", "/fuzz/a", "/fuzz/a/b", "/dev/log", "/dev/log/x",
                                         "/", "", "//fuzz/./a", "/fuzz/..", "/../x", "fuzz",
                                         "/fuzz/\x01", "/svc" };
    size_t npaths = sizeof(paths) / sizeof(paths[0]);
    switch (msg) {
    case PROCMGR_MSG_ATTACH: {
        struct procmgr_attach_req *q = reqp;
        q->flags = chance(r, 80) ? (uint32_t)below(r, 4) : edgy(r);
        if (chance(r, 80)) {
            const char *p = paths[below(r, npaths)];
            memcpy(q->prefix, p, strlen(p));
        } else {
            for (size_t i = 0; i < sizeof(q->prefix); i++)
                q->prefix[i] = chance(r, 50) ? '/' : (char)rnd(r);
        }
        break;
    }
    case PROCMGR_MSG_RESOLVE: {
        struct procmgr_resolve_req *q = reqp;
        q->candidate = chance(r, 80) ? (uint32_t)below(r, 3) : edgy(r);
        if (chance(r, 80)) {
            const char *p = paths[below(r, npaths)];
            *plen = strlen(p);
            memcpy(pay, p, *plen);
        } else {
            *plen = chance(r, 50) ? below(r, 300) : below(r, 1400);
            for (size_t i = 0; i < *plen; i++)
                pay[i] = chance(r, 20) ? '/' : chance(r, 90) ? 'a' : (unsigned char)rnd(r);
            if (*plen)
                pay[0] = '/';
        }
        break;
    }
    case PROCMGR_MSG_DETACH: {
        struct procmgr_detach_req *q = reqp;
        q->mount = chance(r, 80) ? (uint32_t)below(r, 70) : edgy(r);
        break;
    }
    case PROCMGR_MSG_SPAWN: {
        struct procmgr_spawn_req *q = reqp;
        static const char *const progs[] = { "bin/pmchild", "bin/pmchild", "bin/nosuch", "" };
        static const char *const args[] = { "exit", "pid", "ppid", "" };
        static const char *const views[] = { "/fuzz", "/dev", "/", "relative", "/fuzz/a" };
        unsigned argc = 1 + (unsigned)below(r, 3), nview = (unsigned)below(r, 3);
        q->argc = chance(r, 90) ? argc : edgy(r);
        q->nview = chance(r, 90) ? nview : edgy(r);
        q->priority = chance(r, 90) ? (uint32_t)below(r, 40) : edgy(r);
        size_t n = 0;
        for (unsigned i = 0; i < argc + nview; i++) {
            char num[12];
            snprintf(num, sizeof(num), "%u", (unsigned)below(r, 300));
            const char *s = i == 0 ? progs[below(r, 4)] : i == 1 ? args[below(r, 4)]
                          : i < argc ? num : views[below(r, 5)];
            size_t k = strlen(s);
            memcpy(pay + n, s, k + 1);
            n += k + 1;
        }
        *plen = n;
        break;
    }
    case PROCMGR_MSG_WAIT: {
        struct procmgr_wait_req *q = reqp;
        q->pid = chance(r, 50) ? 0 : (uint32_t)below(r, 64);
        q->flags = chance(r, 75) ? 1 : chance(r, 60) ? 0 : edgy(r);
        break;
    }
    case PROCMGR_MSG_KILL: {
        struct procmgr_kill_req *q = reqp;
        q->pid = chance(r, 80) ? (uint32_t)below(r, 64) : edgy(r);
        q->status = (int64_t)rnd(r);
        break;
    }
    case PROCMGR_MSG_PS: {
        struct procmgr_ps_req *q = reqp;
        q->index = chance(r, 80) ? (uint32_t)below(r, 20) : edgy(r);
        break;
    }
    case PROCMGR_MSG_CORE: {
        struct procmgr_core_req *q = reqp;
        q->index = chance(r, 70) ? (uint32_t)below(r, 6) : edgy(r);
        q->offset = chance(r, 50) ? below(r, 5000) : rnd(r);
        break;
    }
    default:
        break;
    }
}

/* A well-formed spawn starts only bin/pmchild, and only to exit at once
 * ("exit N", "pid", "ppid", or a word it does not know: status 100). */
static void pm_guard(struct target *t, const struct pm_verdict *v, unsigned char *m)
{
    (void)t;
    if (v->msg != PROCMGR_MSG_SPAWN)
        return;
    unsigned char *p = m + 16 + v->body_len, *end = p + v->payload_len;
    unsigned char *s0 = p, *s1 = NULL;
    while (p < end && *p)
        p++;
    if (p < end)
        s1 = p + 1;
    if (strnlen((const char *)s0, (size_t)(end - s0)) != 11 || memcmp(s0, "bin/pmchild", 11) != 0) {
        if (s0 < end)
            *s0 = '#';
        return;
    }
    if (!s1 || s1 >= end)
        return;
    size_t n = strnlen((const char *)s1, (size_t)(end - s1));
    bool quick = (n == 4 && memcmp(s1, "exit", 4) == 0) || (n == 3 && memcmp(s1, "pid", 3) == 0) ||
                 (n == 4 && memcmp(s1, "ppid", 4) == 0);
    if (!quick && n)
        *s1 = '#';
}

static const char *pm_oracle(struct target *t, const struct pm_verdict *v, const void *reqp,
                             const unsigned char *pay, long r, const void *rep, size_t got,
                             long handle)
{
    (void)t, (void)pay, (void)handle;
    switch (v->msg) {
    case PROCMGR_MSG_ATTACH:
        if (child_mode)         /* the policy names services only */
            return ONE_OF(r, -E_INVAL, -E_PERM) ? NULL : "a process attached a name";
        return ONE_OF(r, 0, -E_INVAL, -E_PERM, -E_FULL) ? NULL : "attach: odd answer";
    case PROCMGR_MSG_GENERATION: {
        if (r != 0 || handle <= 0)
            return "generation: no page";
        /* the page is procmgr's alone to write */
        if (k_vmo_map(0, handle, 0, 4096, K_PROT_READ | K_PROT_WRITE) != -E_RIGHTS)
            return "generation: the page came writable";
        long at = k_vmo_map(0, handle, 0, 4096, K_PROT_READ);
        if (at < 0)
            return "generation: the page does not map read-only";
        uint64_t now = *(volatile uint64_t *)at;
        k_vm_unmap(0, at, 4096);
        return got < 8 || now >= ((const struct procmgr_generation_rep *)rep)->generation
                   ? NULL : "generation: the page is behind the answer";
    }
    case PROCMGR_MSG_RESOLVE:
        if (v->payload_len == 0)
            return r == -E_INVAL ? NULL : "resolve of an empty path not E_INVAL";
        return ONE_OF(r, 0, -E_NOENT, -E_INVAL, -E_TOOBIG) ? NULL : "resolve: odd answer";
    case PROCMGR_MSG_DETACH: {
        const struct procmgr_detach_req *q = reqp;
        if (q->mount >= NAMES_MOUNTS_MAX)
            return r == -E_INVAL ? NULL : "detach of no mount not E_INVAL";
        if (child_mode)         /* no mount is a process's */
            return ONE_OF(r, -E_INVAL, -E_PERM) ? NULL : "a process detached a service's mount";
        return ONE_OF(r, 0, -E_INVAL, -E_PERM) ? NULL : "detach: odd answer";
    }
    case PROCMGR_MSG_SPAWN:
        return ONE_OF(r, 0, -E_INVAL, -E_PERM, -E_NOENT, -E_FULL) ? NULL : "spawn: odd answer";
    case PROCMGR_MSG_WAIT: {
        const struct procmgr_wait_req *q = reqp;
        if (q->flags & ~1u)
            return r == -E_INVAL ? NULL : "wait with unknown flags not E_INVAL";
        return ONE_OF(r, 0, -E_NOENT, -E_FULL) ? NULL : "wait: odd answer";
    }
    case PROCMGR_MSG_KILL:
        return ONE_OF(r, 0, -E_NOENT, -E_PERM) ? NULL : "kill: odd answer";
    case PROCMGR_MSG_PS: {
        const struct procmgr_ps_req *q = reqp;
        const struct procmgr_ps_rep *p = rep;
        if (r == 0 && got >= 4 && q->index >= p->count)
            return "ps: an entry past the count";
        return ONE_OF(r, 0, -E_NOENT) ? NULL : "ps: odd answer";
    }
    case PROCMGR_MSG_GETPID: {
        const struct procmgr_getpid_rep *p = rep;
        if (r != 0)
            return "getpid refused";
        if (child_mode)
            return got < 8 || (p->pid == my_pid && p->ppid == 0) ? NULL
                                                                : "getpid: another pid or parent";
        return got < 8 || (p->pid == 0 && p->ppid == 0) ? NULL : "getpid: a service has a pid";
    }
    case PROCMGR_MSG_CORE:
        return r == -E_NOENT ? NULL : "core: none of our children faulted, yet not E_NOENT";
    }
    return "no such message";
}

/* -- launcher (init), for the fake supervisor -- */

static struct manifest man;
static int state_model[MANIFEST_SERVICES_MAX];  /* 0 never, 1 started, 2 ended; -1 unknown */
static int idx_procmgr = -1, idx_victim = -1, idx_bad = -1;

static uint32_t launch_index(struct rng *r)
{
    uint64_t k = below(r, 10);
    if (k < 6)
        return (uint32_t)below(r, man.nservices);
    if (k < 8)
        return man.nservices + (uint32_t)below(r, 3);
    return edgy(r);
}

static void launch_fill(struct target *t, unsigned msg, struct rng *r, void *reqp,
                        unsigned char *pay, size_t *plen)
{
    (void)t, (void)pay, (void)plen;
    switch (msg) {
    case LAUNCHER_MSG_ENDED: {
        struct launcher_ended_req *q = reqp;
        q->index = launch_index(r);
        q->status = (int64_t)rnd(r);
        break;
    }
    default: {
        uint32_t *index = reqp;             /* start, publish, adopt: u32 index first */
        *index = launch_index(r);
        break;
    }
    }
}

static const char *launch_oracle(struct target *t, const struct pm_verdict *v, const void *reqp,
                                 const unsigned char *pay, long r, const void *rep, size_t got,
                                 long handle)
{
    (void)t, (void)pay;
    uint32_t index = *(const uint32_t *)reqp;
    bool in = index < man.nservices;
    if (!in)
        return r == -E_NOENT ? NULL : "a service past the manifest not E_NOENT";
    switch (v->msg) {
    case LAUNCHER_MSG_START:
        if (r == 0) {
            state_model[index] = 1;
            return handle > 0 ? NULL : "start: no process handle with the reply";
        }
        if ((int)index == idx_bad)
            return NULL;                        /* its program does not exist */
        state_model[index] = -1;                /* it may have been started, then killed */
        return ONE_OF(r, -E_WRONGTYPE, -E_RIGHTS, -E_BADHANDLE, -E_DEAD) ? NULL
                                                                          : "start: odd answer";
    case LAUNCHER_MSG_PUBLISH:
        return r == 0 ? NULL : "publish refused";
    case LAUNCHER_MSG_ENDED:
        if (r != 0)
            return "ended refused";
        state_model[index] = 2;
        return NULL;
    case LAUNCHER_MSG_ADOPT: {
        const struct launcher_adopt_rep *p = rep;
        if (r != 0)
            return "adopt refused";
        if (got >= 4 && state_model[index] >= 0 && p->state != (uint32_t)state_model[index])
            return "adopt: a state init was not told";
        if (got >= 4 && (p->state == 1) != (handle > 0))
            return "adopt: a process handle iff started";
        return NULL;
    }
    }
    return "no such message";
}

/* Kills and waits for process P (a handle from start), then closes it. */
static void end_process(long p)
{
    k_process_kill(p, K_EXIT_STOPPED);
    long status = 0;
    rt_process_wait(p, &status);
    k_handle_close(p);
}

static bool gives_handle(const struct target *t, unsigned msg, const void *rep, size_t got)
{
    if (t->d == procmgr_protocol())
        return msg == PROCMGR_MSG_RESOLVE || msg == PROCMGR_MSG_GENERATION;
    if (t->d == file_protocol())            /* an open's (not a redirect's), a pipe's ring */
        return (msg == FILE_MSG_OPEN && (got < 4 || ((const uint32_t *)rep)[0] != 0)) ||
               msg == FILE_MSG_RING || msg == FILE_MSG_VIEW;
    if (t->d == launcher_protocol())
        return msg == LAUNCHER_MSG_START ||
               (msg == LAUNCHER_MSG_ADOPT && (got < 4 || ((const uint32_t *)rep)[0] == 1));
    return false;
}

static void received_handle(struct target *t, const struct pm_verdict *v, long h)
{
    if (v && t->d == launcher_protocol() && v->msg == LAUNCHER_MSG_START)
        end_process(h);                         /* a new process: it goes at once */
    else
        k_handle_close(h);
}

/* ---- pulses ---- */

/* A pulse through T's connection, with a code servers give meaning to
 * (srv's stop and heartbeat, procmgr's deaths, the supervisor's timers
 * and deaths, init's chaos and supervisor death, heartbeats) or any. */
static void pulse(struct target *t, struct rng *r)
{
    static const long codes[] = { 0, 1, 2, 3, 0x5700, 0x5701, 0x20000, 0x20001, 0x1000, 0x1001,
                                  0x2000, 0x2001, K_HEARTBEAT_CODE, 0x7fffffff };
    long code = chance(r, 80) ? codes[below(r, sizeof(codes) / sizeof(codes[0]))]
                              : (long)(rnd(r) & 0xffffffff);
    long r2 = k_pulse_send(t->conn, code, (long)rnd(r), 0);
    messages++;
    pulses++;
    if (r2 < 0 && r2 != -E_FULL)
        fail_msg(t, cur_index, 0, NULL, 0, "a pulse refused", r2);
}

/* ---- the campaign ---- */

static struct target *targets[20];
static unsigned ntargets;
static long t0;

static void progress(uint64_t done, uint64_t total)
{
    long ms = (k_clock_get() - t0) / 1000000;
    printf("protofuzz: %lu/%lu random messages, %lu sent in all, %lu failed, %ld ms (%lu/s):",
           (unsigned long)done, (unsigned long)total, (unsigned long)messages,
           (unsigned long)failed, ms, ms ? (unsigned long)(messages * 1000 / (uint64_t)ms) : 0);
    struct k_sysinfo k = counters();
    printf(" kernel: %lu processes, %lu threads, %lu KiB free;", (unsigned long)k.processes,
           (unsigned long)k.threads, (unsigned long)(k.free_bytes >> 10));
    for (unsigned i = 0; i < ntargets; i++)
        printf(" %s %lu (%lu well-formed, %lu accepted)", targets[i]->name,
               (unsigned long)targets[i]->sent, (unsigned long)targets[i]->wellformed,
               (unsigned long)targets[i]->accepted);
    printf("\n");
}

/* Between messages: a look at whether a service restarted (client mode). */
static void (*life_check)(uint64_t index);

static void campaign(uint64_t *index)
{
    unsigned total = 0;
    for (unsigned i = 0; i < ntargets; i++)
        total += targets[i]->weight;
    for (uint64_t n = 0; n < count; n++) {
        struct rng r = stream(*index, 0);
        uint64_t pick = below(&r, total);
        struct target *t = targets[0];
        for (unsigned i = 0; i < ntargets; i++) {
            if (pick < targets[i]->weight) {
                t = targets[i];
                break;
            }
            pick -= targets[i]->weight;
        }
        if (chance(&r, 3)) {
            pulse(t, &r);
        } else {
            int class;
            size_t len = generate(t, &r, &class);
            by_class[class]++;
            send_one(t, *index, &r, msgbuf, len);
        }
        (*index)++;
        if (*index % LIFE_CHECK == 0)
            rt_heartbeat();                     /* -E_NOENT without a heartbeat handle */
        if (life_check && *index % LIFE_CHECK == 0)
            life_check(*index);
        if (progress_every && (n + 1) % progress_every == 0)
            progress(n + 1, count);
    }
}

/* ---- client mode: procmgr, log, the supervisor ---- */

static struct target t_procmgr = { "procmgr", NULL, -1, 16 + 16 + 4096, pm_fill, pm_oracle,
                                   pm_guard, 40, false, 0, 0, 0, 0, 0 };
static struct target t_log = { "log", NULL, -1, LOG_MSG_MAX, log_fill, log_oracle, NULL, 30, true,
                               0, 0, 0, 0, 0 };
static struct target t_sup = { "supervisor", NULL, -1, 0, sup_fill, sup_oracle, sup_guard, 25,
                               false, 0, 0, 0, 0, 0 };
/* The supervisor through our heartbeat connection, which may send pulses
 * and complain only of services our line connects to (guarded: none). */
static struct target t_beat = { "heartbeat", NULL, -1, 0, sup_fill, NULL, sup_guard, 5, false, E_PERM,
                                0, 0, 0, 0 };
static struct target t_launch = { "launcher", NULL, -1, 0, launch_fill, launch_oracle, NULL, 1,
                                  false, 0, 0, 0, 0, 0 };

/* -- the file servers (protocols/file.proto): tmpfs, pipes, /dev, ptys, /proc -- */

#define FERR(e) (-(4096L + (e)))    /* FILE_ERR(errno) */
#define FBIT(m) (1u << FILE_MSG_##m)
#define F_RAMFS ((((1u << 20) - 1) << 1 & ~FBIT(SIGNALS)) | FBIT(MKNOD) | FBIT(VIEW))
#define F_PIPE (FBIT(OPEN) | FBIT(READ) | FBIT(WRITE) | FBIT(STAT) | FBIT(SEEK) | FBIT(IOCTL) | \
                FBIT(NOTIFY) | FBIT(RING))
#define F_DEVFS (FBIT(OPEN) | FBIT(READ) | FBIT(WRITE) | FBIT(SEEK) | FBIT(STAT) | FBIT(READDIR) | \
                 FBIT(TRUNCATE) | FBIT(UTIMENS) | FBIT(FSYNC) | FBIT(STATFS) | FBIT(IOCTL) | \
                 FBIT(NOTIFY))
#define F_PROCFS (FBIT(OPEN) | FBIT(READ) | FBIT(WRITE) | FBIT(STAT) | FBIT(READDIR) | \
                  FBIT(READLINK) | FBIT(SEEK) | FBIT(STATFS) | FBIT(NOTIFY) | FBIT(IOCTL))
#define F_PTY (FBIT(OPEN) | FBIT(READ) | FBIT(WRITE) | FBIT(SEEK) | FBIT(STAT) | FBIT(READDIR) | \
               FBIT(FSYNC) | FBIT(IOCTL) | FBIT(NOTIFY) | FBIT(SIGNALS))
#define O_DIR_FLAG 0x10000

/* One file.proto connection: a server's mount (OPEN NULL), or a file
 * opened on it before the campaign. */
struct fs_target {
    struct target t;            /* first: a file target's struct target * is one of these */
    const char *path;           /* the mount, resolved through procmgr */
    const char *open;           /* NULL: the mount connection itself */
    uint32_t oflags, omode;
    uint32_t impl;              /* the messages the server does (the others: E_NOSYS) */
    bool nowait;                /* reads and writes get flag 1 (a pipe would wait) */
    bool long_writes;           /* writes of any length are taken (past whole_max) */
};

static const char *fs_oracle(struct target *t, const struct pm_verdict *v, const void *reqp,
                             const unsigned char *pay, long r, const void *rep, size_t got,
                             long handle);
static void fs_fill(struct target *t, unsigned msg, struct rng *r, void *reqp,
                    unsigned char *pay, size_t *plen);
static void fs_guard(struct target *t, const struct pm_verdict *v, unsigned char *m);

/* The servers' whole-message limits (their MSG_MAX; writes of any length). */
#define WHOLE_RAMFS (16 + 64 + 2 * 4096 + 64)
#define WHOLE_PIPE 512              /* lib/srv's SRV_BUFSIZE: its MSG_MAX is smaller */
#define WHOLE_DEVFS (16 + 64 + 4096)
#define WHOLE_PROCFS (16 + 64 + 4096 + 64)
#define WHOLE_PTY (16 + 64 + 512)
#define FS_T(name, whole, weight) { name, NULL, -1, whole, fs_fill, fs_oracle, fs_guard, weight, \
                                    true, 0, 0, 0, 0, 0 }

static struct fs_target fs_targets[] = {
    { FS_T("tmp", WHOLE_RAMFS, 6), "/tmp", NULL, 0, 0, F_RAMFS, false, true },
    { FS_T("tmp-file", WHOLE_RAMFS, 6), "/tmp", "fuzzfile", 0x42, 0644, F_RAMFS, false, true },
    { FS_T("tmp-dir", WHOLE_RAMFS, 3), "/tmp", "", O_DIR_FLAG, 0, F_RAMFS, false, true },
    { FS_T("pipe", WHOLE_PIPE, 6), "/dev/pipe", NULL, 0, 0, F_PIPE, true, true },
    { FS_T("pipe-read", WHOLE_PIPE, 6), "/dev/pipe", "", 0, 0, F_PIPE, true, true },
    { FS_T("pipe-fifo", WHOLE_PIPE, 4), "/dev/pipe", "fifo", 0, 0, F_PIPE, true, true },
    { FS_T("dev", WHOLE_DEVFS, 6), "/dev", NULL, 0, 0, F_DEVFS, false, true },
    { FS_T("dev-zero", WHOLE_DEVFS, 6), "/dev", "zero", 2, 0, F_DEVFS, false, true },
    { FS_T("dev-dir", WHOLE_DEVFS, 3), "/dev", "", O_DIR_FLAG, 0, F_DEVFS, false, true },
    { FS_T("ptmx", WHOLE_PTY, 3), "/dev/ptmx", NULL, 0, 0, F_PTY, true, true },
    { FS_T("ptmx-master", WHOLE_PTY, 6), "/dev/ptmx", "", 2, 0, F_PTY, true, true },
    { FS_T("pts-dir", WHOLE_PTY, 3), "/dev/pts", "", O_DIR_FLAG, 0, F_PTY, true, true },
    { FS_T("proc", WHOLE_PROCFS, 6), "/proc", NULL, 0, 0, F_PROCFS, false, false },
    { FS_T("proc-meminfo", WHOLE_PROCFS, 6), "/proc", "meminfo", 0, 0, F_PROCFS, false, false },
    { FS_T("proc-dir", WHOLE_PROCFS, 3), "/proc", "", O_DIR_FLAG, 0, F_PROCFS, false, false },
};
#define NFS_TARGETS (sizeof(fs_targets) / sizeof(fs_targets[0]))

static bool may_nosys(const struct target *t, unsigned msg)
{
    return t->d == file_protocol() && !(((const struct fs_target *)t)->impl & (1u << msg));
}

static bool takes_long_writes(const struct target *t)
{
    return t->d == file_protocol() && ((const struct fs_target *)t)->long_writes;
}

static size_t reply_end(const struct target *t, const struct pm_verdict *v, long res, size_t cap,
                        size_t got)
{
    if (t->d != file_protocol())
        return got;
    size_t data = 0;
    switch (v->msg) {
    case FILE_MSG_READ:
    case FILE_MSG_READDIR:
    case FILE_MSG_READLINK:
        data = (size_t)res;                 /* status: the data's bytes */
        break;
    case FILE_MSG_OPEN: {
        uint32_t mode;
        if (got < 4)
            return cap;
        memcpy(&mode, repbuf, 4);
        if (mode == 0)
            data = (size_t)res;             /* a redirect: the path, status its length */
        break;
    }
    case FILE_MSG_IOCTL:
        return cap;                         /* _IOR data of the request's own size */
    default:
        return got;
    }
    size_t end = v->rep_len + data;
    return end < cap ? end : cap;
}

static const char *const fs_names[] = { "", "fuzzfile", "a", "a/b", "d", "d/x", "l", ".", "..",
                                        "/abs", "a//b/", "zero", "null", "full", "random",
                                        "meminfo", "self", "self/stat", "1", "0", "nosuch",
                                        "d/../a", "x\x01y", "fuzzfile/x", "uptime", "mounts" };

static size_t fs_path(struct rng *r, unsigned char *pay)
{
    if (chance(r, 10))
        return 0;                           /* the directory itself (pipe: a new pipe) */
    if (chance(r, 85)) {
        const char *p = fs_names[below(r, sizeof(fs_names) / sizeof(fs_names[0]))];
        size_t n = strlen(p);
        memcpy(pay, p, n);
        return n;
    }
    size_t n = chance(r, 80) ? below(r, 64) : below(r, 4200);
    for (size_t i = 0; i < n; i++)
        pay[i] = chance(r, 15) ? '/' : chance(r, 90) ? (unsigned char)('a' + below(r, 3))
                                                      : (unsigned char)rnd(r);
    return n;
}

/* Two paths "a NUL b" (rename, link, symlink). */
static size_t fs_two(struct rng *r, unsigned char *pay)
{
    size_t n = fs_path(r, pay);
    if (n > 2048)
        n = 2048;
    if (chance(r, 90))
        pay[n++] = 0;
    return n + fs_path(r, pay + n);
}

static uint64_t fs_offset(struct rng *r)
{
    return chance(r, 40) ? ~0ULL : chance(r, 70) ? below(r, 9000) : chance(r, 50) ? edgy(r) : rnd(r);
}

static void fs_fill(struct target *t, unsigned msg, struct rng *r, void *reqp,
                    unsigned char *pay, size_t *plen)
{
    (void)t;
    static const uint32_t oflags[] = { 0, 1, 2, 0x42, 0xc2, 0x242, 0x402, O_DIR_FLAG, 0x20000,
                                       0x800, 0x41 };
    static const uint32_t ioctls[] = { 0x541b, 0x5401, 0x540f, 0x5410, 0x5413, 0x5414, 0x5421 };
    uint32_t mode = chance(r, 70) ? 0644 : edgy(r);
    switch (msg) {
    case FILE_MSG_OPEN: {
        struct file_open_req *q = reqp;
        q->flags = chance(r, 30) ? 0 : chance(r, 80) ? oflags[below(r, sizeof(oflags) /
                                                                      sizeof(oflags[0]))]
                                                      : edgy(r);
        q->mode = mode;
        *plen = fs_path(r, pay);
        break;
    }
    case FILE_MSG_READ: {
        struct file_read_req *q = reqp;
        q->offset = fs_offset(r);
        q->len = chance(r, 80) ? (uint32_t)below(r, 5000) : edgy(r);
        q->flags = chance(r, 80) ? (uint32_t)below(r, 2) : edgy(r);
        break;
    }
    case FILE_MSG_WRITE: {
        struct file_write_req *q = reqp;
        q->offset = fs_offset(r);
        q->flags = chance(r, 80) ? (uint32_t)below(r, 2) : edgy(r);
        *plen = chance(r, 95) ? below(r, 200) : below(r, 9000);
        quiet_text(r, pay, *plen);
        break;
    }
    case FILE_MSG_SEEK: {
        struct file_seek_req *q = reqp;
        q->offset = chance(r, 60) ? (int64_t)below(r, 9000) - 1000 : (int64_t)rnd(r);
        q->whence = chance(r, 85) ? (uint32_t)below(r, 4) : edgy(r);
        break;
    }
    case FILE_MSG_STAT: {
        struct file_stat_req *q = reqp;
        q->flags = chance(r, 80) ? (chance(r, 50) ? 0 : 0x100) : edgy(r);
        *plen = chance(r, 40) ? 0 : fs_path(r, pay);
        break;
    }
    case FILE_MSG_READDIR: {
        struct file_readdir_req *q = reqp;
        q->cookie = chance(r, 50) ? 0 : chance(r, 60) ? below(r, 40) : rnd(r);
        q->len = chance(r, 80) ? (uint32_t)below(r, 4096) : edgy(r);
        break;
    }
    case FILE_MSG_TRUNCATE: {
        struct file_truncate_req *q = reqp;
        q->size = chance(r, 80) ? below(r, 70000) : chance(r, 50) ? edgy(r) : rnd(r);
        *plen = chance(r, 50) ? 0 : fs_path(r, pay);
        break;
    }
    case FILE_MSG_UNLINK: {
        struct file_unlink_req *q = reqp;
        q->flags = chance(r, 80) ? (chance(r, 50) ? 0 : 0x200) : edgy(r);
        *plen = fs_path(r, pay);
        break;
    }
    case FILE_MSG_MKDIR: {
        struct file_mkdir_req *q = reqp;
        q->mode = chance(r, 70) ? 0755 : edgy(r);
        *plen = fs_path(r, pay);
        break;
    }
    case FILE_MSG_MKNOD: {
        struct file_mknod_req *q = reqp;
        static const uint32_t types[] = { 0010000, 0100000, 0, 0020000, 0060000, 0140000, 0170000 };
        q->mode = chance(r, 80) ? types[below(r, 7)] | 0644 : edgy(r);
        q->dev = chance(r, 80) ? 0 : rnd(r);
        *plen = fs_path(r, pay);
        break;
    }
    case FILE_MSG_RENAME: {
        struct file_rename_req *q = reqp;
        q->flags = chance(r, 80) ? (uint32_t)below(r, 3) : edgy(r);
        *plen = fs_two(r, pay);
        break;
    }
    case FILE_MSG_LINK:
    case FILE_MSG_SYMLINK:
        *plen = fs_two(r, pay);
        break;
    case FILE_MSG_READLINK:
        *plen = fs_path(r, pay);
        break;
    case FILE_MSG_CHMOD: {
        struct file_chmod_req *q = reqp;
        q->mode = mode;
        *plen = chance(r, 50) ? 0 : fs_path(r, pay);
        break;
    }
    case FILE_MSG_UTIMENS: {
        struct file_utimens_req *q = reqp;
        static const int64_t times[] = { -1, -2, 0, 1000000000, -3, INT64_MAX, INT64_MIN };
        q->atime_ns = chance(r, 80) ? times[below(r, 7)] : (int64_t)rnd(r);
        q->mtime_ns = chance(r, 80) ? times[below(r, 7)] : (int64_t)rnd(r);
        q->flags = chance(r, 80) ? (chance(r, 50) ? 0 : 0x100) : edgy(r);
        *plen = chance(r, 50) ? 0 : fs_path(r, pay);
        break;
    }
    case FILE_MSG_FSYNC: {
        struct file_fsync_req *q = reqp;
        q->flags = chance(r, 80) ? (uint32_t)below(r, 2) : edgy(r);
        break;
    }
    case FILE_MSG_IOCTL: {
        struct file_ioctl_req *q = reqp;
        q->cmd = chance(r, 80) ? ioctls[below(r, sizeof(ioctls) / sizeof(ioctls[0]))] : edgy(r);
        q->arg = chance(r, 50) ? below(r, 64) : rnd(r);
        *plen = chance(r, 50) ? 0 : below(r, 64);
        for (size_t i = 0; i < *plen; i++)
            pay[i] = (unsigned char)rnd(r);
        break;
    }
    case FILE_MSG_NOTIFY: {
        struct file_notify_req *q = reqp;
        q->events = chance(r, 80) ? (uint32_t)below(r, 32) : edgy(r);
        q->flags = chance(r, 80) ? (uint32_t)below(r, 2) : edgy(r);
        q->code = (int32_t)(chance(r, 50) ? 0x3000 + below(r, 4) : rnd(r));
        q->value = rnd(r);
        break;
    }
    case FILE_MSG_SIGNALS: {
        struct file_signals_req *q = reqp;
        q->code = (int32_t)rnd(r);
        q->flags = chance(r, 80) ? 0 : edgy(r);
        break;
    }
    default:
        break;
    }
}

/* Reads and writes of a pipe do not wait (nobody else writes or reads). */
static void fs_guard(struct target *t, const struct pm_verdict *v, unsigned char *m)
{
    if (!((struct fs_target *)t)->nowait)
        return;
    if (v->msg == FILE_MSG_READ)
        m[16 + 12] |= 1;
    else if (v->msg == FILE_MSG_WRITE)
        m[16 + 8] |= 1;
    else if (v->msg == FILE_MSG_OPEN)
        m[16 + 1] |= 0x08;          /* O_NONBLOCK: a FIFO's open would wait for the other end */
}

static bool file_error(long r)
{
    return r <= FERR(1) && r >= FERR(133);
}

static const char *fs_oracle(struct target *t, const struct pm_verdict *v, const void *reqp,
                             const unsigned char *pay, long r, const void *rep, size_t got,
                             long handle)
{
    (void)pay;
    const struct fs_target *f = (const struct fs_target *)t;
    if (!(f->impl & (1u << v->msg)))
        return r == -E_NOSYS ? NULL : "a message the server does not do not answered E_NOSYS";
    if (r < 0)
        return file_error(r) || ONE_OF(r, -E_NOMEM, -E_FULL) ? NULL
             : "an error neither FILE_ERR(errno) nor out of memory";
    switch (v->msg) {
    case FILE_MSG_VIEW: {
        /* Only a regular file open for reading has one; the object holds
         * at least its header page. */
        const struct file_view_rep *vr = rep;
        if (handle <= 0)
            return "view: a success with no handle";
        if (strcmp(t->name, "tmp-file") != 0)
            return "view: given for what is not an open regular file";
        return got >= sizeof(*vr) && (vr->bytes <= FILE_VIEW_PAGE || vr->bytes % FILE_VIEW_PAGE)
                   ? "view: an object too small or not whole pages" : NULL;
    }
    case FILE_MSG_RING: {
        /* Only an end has a ring; a read end is given no writer's part. */
        const struct file_ring_req *q = reqp;
        if (q->what == PIPE_RING_POKE)
            return handle > 0 ? "ring: a poke answered with a handle" : NULL;
        if (handle <= 0)
            return "ring: a success with no handle";
        if (q->what > PIPE_RING_SESSION)
            return "ring: a part that does not exist given";
        if (strcmp(t->name, "pipe-read") != 0)
            return "ring: given for what is not a pipe's end";
        return q->what == PIPE_RING_WAKE ? "ring: a read end given a writer's part" : NULL;
    }
    case FILE_MSG_OPEN: {
        uint32_t mode = 1;
        if (got >= 4)
            memcpy(&mode, rep, 4);
        if (got >= 4 && (mode == 0) != (r > 0))
            return "open: a redirect (mode 0) whose status is not its path's length, or not one";
        if (r > 0)          /* a redirect: status is the path's length (mode 0) */
            return handle > 0 ? "a redirect carried a connection" : NULL;
        return handle > 0 ? NULL : "open: no connection with the reply";
    }
    case FILE_MSG_READ: {
        const struct file_read_req *q = reqp;
        return (uint64_t)r <= q->len ? NULL : "read: more bytes than asked for";
    }
    case FILE_MSG_READDIR: {
        const struct file_readdir_req *q = reqp;
        return (uint64_t)r <= q->len ? NULL : "readdir: more bytes than asked for";
    }
    case FILE_MSG_WRITE:
        return (uint64_t)r <= v->payload_len ? NULL : "write: more bytes than sent";
    case FILE_MSG_STAT: {
        const struct file_stat_rep *p = rep;
        return got < 24 || p->mode != 0 ? NULL : "stat: mode 0";
    }
    }
    return NULL;
}

/* Opens NAME (flags FLAGS) on MOUNT: the open file's connection or an error. */
static long fs_open(long mount, const char *name, uint32_t flags, uint32_t mode)
{
    struct file_open_req q = { .flags = flags, .mode = mode };
    struct file_open_rep p;
    memset(&p, 0, sizeof(p));
    long r = file_open(mount, &q, name, strlen(name), &p, NULL, 0);
    long h = k_handle_received();
    if (r < 0 || h <= 0 || p.mode == 0) {
        if (h > 0)
            k_handle_close(h);
        return r < 0 ? r : -E_NOENT;
    }
    return h;
}

/* The file targets' connections: each server's mount through procmgr,
 * and the files opened on them.  Those that cannot be had are left out. */
static void fs_setup(void)
{
    for (size_t i = 0; i < NFS_TARGETS; i++) {
        struct fs_target *f = &fs_targets[i];
        f->t.d = file_protocol();
        char rest[64];
        long mount = rt_resolve(f->path, rest, sizeof(rest));
        if (mount < 0 || rest[0]) {
            printf("protofuzz: %s: %s does not resolve (%ld): left out\n", f->t.name, f->path,
                   mount);
            if (mount >= 0)
                k_handle_close(mount);
            continue;
        }
        if (f->open) {
            long h = fs_open(mount, f->open, f->oflags, f->omode);
            if (h > 0 && f->oflags & 0x40) {        /* created: with data (a VMO) from now on */
                struct file_write_req wq = { .offset = 0, .flags = 0 };
                struct file_write_rep wp;
                file_write(h, &wq, "x", 1, &wp);
            }
            k_handle_close(mount);
            if (h < 0) {
                printf("protofuzz: %s: open of \"%s\" on %s: %ld: left out\n", f->t.name, f->open,
                       f->path, h);
                continue;
            }
            mount = h;
        }
        f->t.conn = mount;
        targets[ntargets++] = &f->t;
    }
}

/* Everything under DIR (relative to MOUNT) removed, DEPTH levels down. */
static void tmp_clean(long mount, const char *dir, int depth)
{
    long d = fs_open(mount, dir, O_DIR_FLAG, 0);
    if (d < 0)
        return;
    for (int round = 0; round < 1000; round++) {
        unsigned char buf[2048];
        struct file_readdir_req q = { .cookie = 0, .len = sizeof(buf) };
        struct file_readdir_rep p;
        long n = file_readdir(d, &q, &p, buf, sizeof(buf));
        unsigned removed = 0, seen = 0;
        for (long o = 0; n > 0 && o + 19 < n;) {
            uint16_t reclen;
            memcpy(&reclen, buf + o + 16, 2);
            if (reclen < 20 || o + reclen > n)
                break;
            const char *name = (const char *)buf + o + 19;
            uint8_t type = buf[o + 18];
            o += reclen;
            if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                continue;
            seen++;
            char path[600];
            int k = snprintf(path, sizeof(path), "%s%s%s", dir, dir[0] ? "/" : "", name);
            if (k <= 0 || (size_t)k >= sizeof(path))
                continue;
            if (type == 4 && depth > 0)
                tmp_clean(mount, path, depth - 1);
            struct file_unlink_req uq = { .flags = type == 4 ? 0x200 : 0 };
            struct file_unlink_rep up;
            if (file_unlink(mount, &uq, path, (size_t)k, &up) == 0)
                removed++;
        }
        if (!seen || !removed)
            break;
    }
    k_handle_close(d);
}

/* After the campaign: the open files closed (what they hold released),
 * /tmp emptied. */
static void fs_cleanup(void)
{
    for (size_t i = 0; i < NFS_TARGETS; i++)
        if (fs_targets[i].t.conn >= 0) {
            k_handle_close(fs_targets[i].t.conn);
            fs_targets[i].t.conn = -1;
        }
    long mount = rt_resolve("/tmp", NULL, 0);
    if (mount >= 0) {
        tmp_clean(mount, "", 4);
        k_handle_close(mount);
    }
}

/* Each file server still answers a valid open, stat and read (and tmpfs
 * a write), through a fresh resolve. */
static void fs_final_checks(void)
{
    static const struct { const char *path, *name; uint32_t flags; } f[] = {
        { "/tmp", "check", 0x42 }, { "/dev/pipe", "", 0 }, { "/dev", "zero", 2 },
        { "/proc", "meminfo", 0 },
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        char why[120];
        long mount = rt_resolve(f[i].path, NULL, 0);
        long h = mount >= 0 ? fs_open(mount, f[i].name, f[i].flags, 0644) : mount;
        snprintf(why, sizeof(why), "%s: resolve and open of \"%s\": %ld", f[i].path, f[i].name, h);
        check("fs_open", h > 0, why);
        if (h > 0) {
            long r = 0;
            if (i == 0) {
                struct file_write_req wq = { .offset = 0, .flags = 0 };
                struct file_write_rep wp;
                r = file_write(h, &wq, "hello", 5, &wp);
                snprintf(why, sizeof(why), "%s: write: %ld", f[i].path, r);
                check("fs_write", r == 5, why);
            }
            struct file_stat_req sq = { .flags = 0 };
            struct file_stat_rep sp;
            memset(&sp, 0, sizeof(sp));
            r = file_stat(h, &sq, NULL, 0, &sp);
            snprintf(why, sizeof(why), "%s: stat: %ld mode %o", f[i].path, r, sp.mode);
            check("fs_stat", r == 0 && sp.mode != 0 && (i != 0 || sp.size == 5), why);
            char buf[64];
            memset(buf, 1, sizeof(buf));
            struct file_read_req rq = { .offset = i == 0 ? 0 : ~0ULL, .len = 16, .flags = 1 };
            struct file_read_rep rp;
            r = file_read(h, &rq, &rp, buf, sizeof(buf));
            snprintf(why, sizeof(why), "%s: read: %ld", f[i].path, r);
            bool ok = i == 0 ? r == 5 && memcmp(buf, "hello", 5) == 0
                    : i == 1 ? r == 0 || r == FERR(11)
                    : i == 2 ? r == 16 && buf[0] == 0 && buf[15] == 0 : r > 0;
            check("fs_read", ok, why);
            k_handle_close(h);
            if (i == 0) {
                struct file_unlink_req uq = { .flags = 0 };
                struct file_unlink_rep up;
                check("fs_unlink", file_unlink(mount, &uq, "check", 5, &up) == 0, "/tmp: unlink");
            }
        }
        if (mount >= 0)
            k_handle_close(mount);
    }
}

/* Named checks of what the campaign found in the file servers: the early
 * write paths of pipe and devfs (and ramfs's, the same code) took a write
 * from a client newer than the protocol (E_NOSYS due) or with a reserved
 * field set (E_INVAL due); devfs answered a read longer than the reader's
 * buffer E_FAULT after writing part of it. */
static void fs_regressions(void)
{
    static const struct { const char *path, *name; uint32_t flags; size_t len; } f[] = {
        { "/tmp", "regress", 0x42, 600 }, { "/tmp", "regress", 0x42, 40 },
        { "/dev/pipe", "", 0, 40 }, { "/dev", "null", 2, 40 }, { "/dev", "null", 2, 600 },
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        long mount = rt_resolve(f[i].path, NULL, 0);
        long h = mount >= 0 ? fs_open(mount, f[i].name, f[i].flags, 0644) : mount;
        char why[120];
        for (int k = 0; k < 2 && h > 0; k++) {          /* version 2, then reserved 1 */
            size_t body = sizeof(struct file_write_req), len = 16 + body + f[i].len;
            memset(msgbuf, 'w', len);
            put_hdr(msgbuf, FILE_PROTO_ID, k ? FILE_VERSION : FILE_VERSION + 1, FILE_MSG_WRITE,
                    (uint32_t)f[i].len, k ? 1 : 0);
            memset(msgbuf + 16, 0, body);
            memset(msgbuf + 16, 0xff, 8);               /* at the position */
            long r = k_msg_send(h, (long)msgbuf, -(long)len, (long)repbuf, -8);
            snprintf(why, sizeof(why), "%s: a %zu-byte write %s: %ld", f[i].path, len,
                     k ? "with reserved 1 not E_INVAL" : "of version 2 not E_NOSYS", r);
            check("fs_write_header_checked", r == (k ? -E_INVAL : -E_NOSYS), why);
        }
        if (h > 0)
            k_handle_close(h);
        if (i == 0 && mount >= 0) {
            struct file_unlink_req uq = { .flags = 0 };
            struct file_unlink_rep up;
            file_unlink(mount, &uq, "regress", 7, &up);
        }
        if (i == 3 && mount >= 0 && (h = fs_open(mount, "zero", 0, 0)) > 0) {
            struct file_read_req rq = { .offset = ~0ULL, .len = 65536, .flags = 0 };
            unsigned char buf[24];
            memset(buf, 1, sizeof(buf));
            struct k_proto_hdr hd = { FILE_PROTO_ID, FILE_VERSION, FILE_MSG_READ, 0, 0 };
            memcpy(msgbuf, &hd, 16);
            memcpy(msgbuf + 16, &rq, sizeof(rq));
            long r = k_msg_send(h, (long)msgbuf, -(long)(16 + sizeof(rq)), (long)buf,
                                -(long)sizeof(buf));
            snprintf(why, sizeof(why), "/dev/zero: a 65536-byte read into 24 bytes: %ld", r);
            check("devfs_read_clamped", r == 16 && buf[8] == 0 && buf[23] == 0, why);
            k_handle_close(h);
        }
        if (mount >= 0)
            k_handle_close(mount);
    }
}

static long list(uint32_t index, struct supervisor_list_rep *rep)
{
    struct supervisor_list_req req = { .index = index };
    memset(rep, 0, sizeof(*rep));
    return supervisor_list(t_sup.conn, &req, rep);
}

static uint64_t last_life_check;

static void client_life_check(uint64_t index)
{
    for (unsigned i = 0; i < nservices; i++) {
        if ((int)i == victim)
            continue;
        struct supervisor_list_rep now;
        long r = list(i, &now);
        if (r == 0 && now.restarts == services[i].restarts && now.state == 1)
            continue;
        char why[96];
        snprintf(why, sizeof(why), "service %s restarted, or not running (state %u, restarts %u)"
                 " after a message in [%lu, %lu)", services[i].name, now.state, now.restarts,
                 (unsigned long)last_life_check, (unsigned long)index);
        fail_check("no_restarts", why);
        services[i].restarts = now.restarts;   /* reported once */
    }
    last_life_check = index;
}

/* Our mounts are detached (the fuzzer's and the one init published for
 * our names=, which an attach with flag 2 may have replaced) and /fuzz
 * attached again as init had (on our channel); our children are killed
 * and waited for. */
static void client_cleanup(void)
{
    for (uint32_t id = 0; id < NAMES_MOUNTS_MAX && !child_mode; id++) {
        struct procmgr_detach_req q = { .mount = id };
        struct procmgr_detach_rep p;
        procmgr_detach(t_procmgr.conn, &q, &p);
    }
    struct procmgr_attach_req aq = { .flags = 2, .prefix = "/fuzz" };
    struct procmgr_attach_rep ap;
    long conn = child_mode ? -1 : k_chan_connect(rt_handle("chan"), 0, 0);
    long r = conn >= 0 ? k_handle_attach(conn, K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 1)
                       : conn;
    if (!child_mode)
        check("attach_again", r >= 0 && procmgr_attach(t_procmgr.conn, &aq, &ap) == 0,
              "/fuzz not attached again");
    for (uint32_t i = 0;; i++) {
        struct procmgr_ps_req q = { .index = i };
        struct procmgr_ps_rep p;
        memset(&p, 0, sizeof(p));
        if (procmgr_ps(t_procmgr.conn, &q, &p) < 0)
            break;
        struct procmgr_kill_req kq = { .pid = p.pid, .status = 9 };
        struct procmgr_kill_rep kp;
        procmgr_kill(t_procmgr.conn, &kq, &kp);          /* E_PERM for others' */
    }
    for (;;) {
        struct procmgr_wait_req q = { .pid = 0, .flags = 0 };
        struct procmgr_wait_rep p;
        if (procmgr_wait(t_procmgr.conn, &q, &p) < 0)
            break;
    }
}

/* Named checks of what the campaign found once, so that each stays fixed
 * whatever the seed: the supervisor closes the handles messages bring
 * (it kept every one); log takes well-formed lines longer than lib/srv's
 * receive buffer (it answered E_INVAL, "malformed"). */
static void client_regressions(void)
{
    struct k_sysinfo before = settled(NULL);
    for (int i = 0; i < 64; i++) {
        long ch = k_chan_create(0);
        if (ch < 0 || k_handle_attach(ch, K_RIGHT_DUP | K_RIGHT_TRANSFER, 1) < 0)
            break;
        struct supervisor_list_rep rep;
        if (i % 3 == 0)
            list(0, &rep);                                   /* answered */
        else if (i % 3 == 1 || t_beat.conn < 0)
            k_msg_send(t_sup.conn, (long)"junk", -4, 0, 0);  /* malformed */
        else
            k_msg_send(t_beat.conn, (long)"junk", -4, 0, 0); /* refused: E_PERM */
    }
    struct k_sysinfo after = settled(&before);
    check("supervisor_closes_attached_handles", after.channels == before.channels,
          "the supervisor kept handles that came with messages");

    static char line[1200];
    memset(line, '=', sizeof(line));
    line[sizeof(line) - 1] = '\n';
    struct log_print_req pq;
    struct log_print_rep pp = { .bytes = 0 };
    memset(&pq, 0, sizeof(pq));
    long r = log_print(t_log.conn, &pq, line, sizeof(line), &pp);
    check("log_long_print", r == 0 && pp.bytes == sizeof(line), "a 1200-byte print refused");
    struct log_write_req wq = { .severity = 4, .tag = "protofuzz" };
    struct log_write_rep wp = { .sequence = 0 };
    r = log_write(t_log.conn, &wq, line, 700, &wp);
    check("log_long_write", r == 0 && wp.sequence > 0, "a 700-byte write refused");
    r = log_print(t_log.conn, &pq, paybuf, LOG_LINE_MAX + 1, &pp);
    check("log_too_long", r == -E_TOOBIG, "a print over LOG_LINE_MAX not answered E_TOOBIG");
    r = log_print(t_log.conn, &pq, paybuf, LOG_MSG_MAX, &pp);
    check("log_far_too_long", r == -E_TOOBIG, "a print over LOG_MSG_MAX not answered E_TOOBIG");
}

/* Each service answers valid requests, and none restarted. */
static void client_final_checks(long started_ms)
{
    struct log_stats_req sq;
    struct log_stats_rep sp;
    memset(&sq, 0, sizeof(sq));
    check("log_stats", log_stats(t_log.conn, &sq, &sp) == 0 && sp.records > 0, "log stats");
    struct log_print_req pq;
    struct log_print_rep pp = { .bytes = 0 };
    memset(&pq, 0, sizeof(pq));
    check("log_print", log_print(t_log.conn, &pq, "protofuzz: log answers\n", 23, &pp) == 0 &&
                       pp.bytes == 23, "log print");
    struct log_level_req lq = { .severity = 1 };
    struct log_level_rep lp;
    check("log_level", log_level(t_log.conn, &lq, &lp) == 0 && lp.previous == log_level_now,
          "log level: previous is not the level last set");

    struct procmgr_getpid_req gq;
    struct procmgr_getpid_rep gp = { .pid = 1, .ppid = 1 };
    memset(&gq, 0, sizeof(gq));
    check("procmgr_getpid", procmgr_getpid(t_procmgr.conn, &gq, &gp) == 0 && gp.pid == 0,
          "procmgr getpid");
    struct procmgr_resolve_req rq = { .candidate = 0 };
    struct procmgr_resolve_rep rp;
    long r = procmgr_resolve(t_procmgr.conn, &rq, "/dev/log", 8, &rp);
    long via = r == 0 ? k_handle_received() : -1;
    check("procmgr_resolve", r == 0 && via > 0 && rp.rest_len == 0, "resolve /dev/log");
    if (via > 0) {
        check("log_through_name_space", log_stats(via, &sq, &sp) == 0, "log stats through /dev/log");
        k_handle_close(via);
    }
    static const char child[] = "bin/pmchild\0exit\0" "7";
    struct procmgr_spawn_req cq = { .argc = 3, .nview = 0, .priority = 0 };
    struct procmgr_spawn_rep cp = { .pid = 0 };
    r = procmgr_spawn(t_procmgr.conn, &cq, child, sizeof(child), &cp);
    struct procmgr_wait_req wq = { .pid = cp.pid, .flags = 0 };
    struct procmgr_wait_rep wp = { .pid = 0, .status = 0 };
    check("procmgr_spawn_wait", r == 0 && procmgr_wait(t_procmgr.conn, &wq, &wp) == 0 &&
                                wp.pid == cp.pid && wp.status == 7, "spawn and wait for a child");

    long elapsed = k_clock_get() / 1000000 - started_ms;
    for (unsigned i = 0; i < nservices; i++) {
        struct supervisor_list_rep now;
        r = list(i, &now);
        char why[120];
        snprintf(why, sizeof(why), "%s: list %ld, state %u, restarts %u, uptime %lu ms "
                 "(%lu ms before, %ld ms since)", services[i].name, r, now.state, now.restarts,
                 (unsigned long)now.uptime_ms, (unsigned long)services[i].uptime_ms, elapsed);
        if ((int)i == victim)
            check("victim_listed", r == 0 && strcmp(now.name, "victim") == 0, why);
        else
            check("not_restarted", r == 0 && now.state == 1 && now.restarts == 0 &&
                                   now.uptime_ms + 50 >= services[i].uptime_ms + (uint64_t)elapsed,
                  why);
    }
    if (victim >= 0) {           /* started again if the fuzzer left it stopped */
        struct supervisor_start_req q;
        struct supervisor_start_rep p;
        memset(&q, 0, sizeof(q));
        memcpy(q.name, "victim", 6);
        r = supervisor_start(t_sup.conn, &q, &p);
        check("victim_start", r == 0 || r == -E_BUSY, "start the victim");
    }
}

/* procmgr as a process sees it: protofuzz spawned as our child (view
 * /fuzz and /dev), fuzzing procmgr and log with a process's badge (pid,
 * parent, view, the spawns of a process) for a quarter of COUNT.  Its exit
 * status: the messages it sent, or minus its failures. */
static void run_child(void)
{
    char s1[24], s2[24], s3[24];
    snprintf(s1, sizeof(s1), "%lu", (unsigned long)seed);
    snprintf(s2, sizeof(s2), "%lu", (unsigned long)(count / 4));
    snprintf(s3, sizeof(s3), "%lu", (unsigned long)progress_every);
    static char strs[128];
    size_t n = 0;
    const char *parts[] = { "bin/protofuzz", "child", s1, s2, s3, "/fuzz", "/dev" };
    for (size_t i = 0; i < 7; i++) {
        size_t k = strlen(parts[i]) + 1;
        memcpy(strs + n, parts[i], k);
        n += k;
    }
    struct procmgr_spawn_req q = { .argc = 5, .nview = 2, .priority = 0 };
    struct procmgr_spawn_rep p = { .pid = 0 };
    cur_target = "child";
    long r = procmgr_spawn(t_procmgr.conn, &q, strs, n, &p);
    check("child_spawned", r == 0, "protofuzz could not spawn itself");
    if (r < 0)
        return;
    for (;;) {                  /* polled, so that the watchdog sees us alive */
        struct procmgr_wait_req wq = { .pid = p.pid, .flags = 1 };
        struct procmgr_wait_rep wp = { .pid = 0, .status = 0 };
        r = procmgr_wait(t_procmgr.conn, &wq, &wp);
        tick();
        if (r < 0 || wp.pid == p.pid) {
            check("child_passed", r == 0 && wp.status >= 0, "the child fuzzer failed");
            if (r == 0 && wp.status >= 0)
                messages += (uint64_t)wp.status;
            else if (r == 0)
                failed += (uint64_t)-wp.status - 1;   /* check() counted one */
            break;
        }
        rt_heartbeat();
        k_thread_sleep(50L * 1000000);
    }
    struct log_level_req lq = { .severity = 4 };   /* the child changed it as it liked */
    struct log_level_rep lp;
    if (log_level(t_log.conn, &lq, &lp) == 0)
        log_level_now = 4;
}

static int child_main(void)
{
    t_procmgr.d = procmgr_protocol();
    t_log.d = log_protocol();
    t_procmgr.conn = rt_handle("procmgr");
    t_log.conn = rt_handle("log");
    if (t_procmgr.conn < 0 || t_log.conn < 0) {
        printf("protofuzz: a child needs connections procmgr and log\n");
        return 1;
    }
    copy_source = t_log.conn;
    struct procmgr_getpid_req gq;
    struct procmgr_getpid_rep gp = { .pid = 0, .ppid = 0 };
    memset(&gq, 0, sizeof(gq));
    check("child_getpid", procmgr_getpid(t_procmgr.conn, &gq, &gp) == 0 && gp.pid > 0 &&
                          gp.ppid == 0, "a child of a service: no pid, or a parent pid");
    my_pid = gp.pid;
    struct procmgr_resolve_req rq = { .candidate = 0 };
    struct procmgr_resolve_rep rp;
    check("child_view", procmgr_resolve(t_procmgr.conn, &rq, "/svc/x", 6, &rp) == -E_NOENT,
          "a path outside the child's view resolves");
    struct log_level_req lq = { .severity = 4 };
    struct log_level_rep lp;
    if (log_level(t_log.conn, &lq, &lp) == 0)
        log_level_now = 4;
    targets[ntargets++] = &t_procmgr;
    targets[ntargets++] = &t_log;
    t0 = k_clock_get();
    uint64_t index = 0;
    for (unsigned i = 0; i < ntargets; i++)
        sweep(targets[i], &index);
    campaign(&index);
    cur_target = "cleanup";
    client_cleanup();
    struct procmgr_spawn_req cq = { .argc = 2, .nview = 0, .priority = 0 };
    struct procmgr_spawn_rep cp = { .pid = 0 };
    static const char child[] = "bin/pmchild\0ppid";     /* exits with its parent's pid */
    long r = procmgr_spawn(t_procmgr.conn, &cq, child, sizeof(child), &cp);
    struct procmgr_wait_req wq = { .pid = cp.pid, .flags = 0 };
    struct procmgr_wait_rep wp = { .pid = 0, .status = 0 };
    check("child_spawn_wait", r == 0 && procmgr_wait(t_procmgr.conn, &wq, &wp) == 0 &&
                              wp.pid == cp.pid && wp.status == (long)my_pid,
          "a grandchild's parent is not the child");
    return 0;
}

static int client_main(void)
{
    t_procmgr.d = procmgr_protocol();
    t_log.d = log_protocol();
    t_sup.d = supervisor_protocol();
    t_beat.d = supervisor_protocol();
    t_beat.conn = rt_handle("heartbeat");
    t_procmgr.conn = rt_handle("procmgr");
    t_log.conn = rt_handle("log");
    t_sup.conn = rt_handle("supervisor");
    if (t_procmgr.conn < 0 || t_log.conn < 0 || t_sup.conn < 0) {
        printf("protofuzz: needs connections procmgr, log and supervisor\n");
        return 1;
    }
    copy_source = t_log.conn;
    /* Nothing but the supervisor reaches init's launcher interface: a
     * service gets no connection to init whatever its line says. */
    check("no_launcher_connection", rt_handle("launcher") < 0 && rt_handle("init") < 0,
          "a service holds a connection to init");
    while (nservices < MANIFEST_SERVICES_MAX && list(nservices, &services[nservices]) == 0) {
        if (strcmp(services[nservices].name, "victim") == 0)
            victim = (int)nservices;
        nservices++;
    }
    check("services_listed", nservices >= 3, "the supervisor lists fewer than 3 services");
    struct log_level_req lq = { .severity = 4 };
    struct log_level_rep lp;
    if (log_level(t_log.conn, &lq, &lp) == 0)
        log_level_now = 4;
    targets[ntargets++] = &t_procmgr;
    targets[ntargets++] = &t_log;
    targets[ntargets++] = &t_sup;
    if (t_beat.conn >= 0)
        targets[ntargets++] = &t_beat;

    struct k_sysinfo before = settled(NULL);
    fs_setup();
    long started_ms = k_clock_get() / 1000000;
    for (unsigned i = 0; i < nservices; i++)        /* uptimes from now on */
        list(i, &services[i]);
    t0 = k_clock_get();
    uint64_t index = 0;
    for (unsigned i = 0; i < ntargets; i++)
        sweep(targets[i], &index);
    printf("protofuzz: sweep done: %lu messages (every message, every version, every length)\n",
           (unsigned long)messages);
    life_check = client_life_check;
    client_life_check(index);
    campaign(&index);
    client_life_check(index);
    cur_target = "cleanup";
    fs_cleanup();
    client_cleanup();           /* before the child: our zombies would fill procmgr's table */
    run_child();
    client_final_checks(started_ms);
    fs_final_checks();
    fs_regressions();
    client_regressions();
    struct k_sysinfo after = settled(&before);
    compare_counters(&before, &after);
    return 0;
}

/* ---- launcher mode: init's interface, played as the supervisor ---- */

static long launch(uint16_t msg, uint32_t index, int64_t status, long *handle, uint32_t *state)
{
    long r;
    *handle = -1;
    if (msg == LAUNCHER_MSG_START) {
        struct launcher_start_req q = { .index = index };
        struct launcher_start_rep p;
        r = launcher_start(t_launch.conn, &q, &p);
    } else if (msg == LAUNCHER_MSG_ENDED) {
        struct launcher_ended_req q = { .index = index, .status = status };
        struct launcher_ended_rep p;
        r = launcher_ended(t_launch.conn, &q, &p);
    } else if (msg == LAUNCHER_MSG_PUBLISH) {
        struct launcher_publish_req q = { .index = index };
        struct launcher_publish_rep p;
        r = launcher_publish(t_launch.conn, &q, &p);
    } else {
        struct launcher_adopt_req q = { .index = index };
        struct launcher_adopt_rep p = { .state = 99 };
        r = launcher_adopt(t_launch.conn, &q, &p);
        if (state)
            *state = p.state;
    }
    long h = k_handle_received();
    if (h > 0)
        *handle = h;
    return r;
}

/* The same state before the campaign and after it: every service started
 * once more and killed (procmgr given time to answer a queued publish),
 * then reported ended (init makes each a fresh channel). */
static void canonical(void)
{
    long h;
    for (unsigned i = 0; i < man.nservices; i++) {
        long r = launch(LAUNCHER_MSG_START, i, 0, &h, NULL);
        if (r == 0 && (int)i == idx_procmgr)
            k_thread_sleep(50L * 1000000);
        if (h > 0)
            end_process(h);
        check("canonical_start", (r == 0) == ((int)i != idx_bad), "start in the canonical state");
        state_model[i] = r == 0 ? 1 : state_model[i];
    }
    for (unsigned i = 0; i < man.nservices; i++) {
        check("canonical_ended", launch(LAUNCHER_MSG_ENDED, i, 0, &h, NULL) == 0, "ended");
        state_model[i] = 2;
    }
}

static int launcher_main(void)
{
    t_launch.d = launcher_protocol();
    t_launch.conn = rt_handle("launcher");
    long vmo = rt_handle("manifest");
    long size = vmo >= 0 ? k_vmo_size(vmo) : -1;
    long base = size > 0 ? k_vmo_map(0, vmo, 0, size, K_PROT_READ) : -1;
    if (base < 0) {
        printf("protofuzz: no manifest\n");
        return 1;
    }
    manifest_parse((const char *)base, strnlen((const char *)base, (size_t)size), &man);
    for (unsigned i = 0; i < man.nservices; i++) {
        if (strcmp(man.services[i].name, "procmgr") == 0)
            idx_procmgr = (int)i;
        if (strcmp(man.services[i].name, "victim") == 0)
            idx_victim = (int)i;
        if (strcmp(man.services[i].name, "bad") == 0)
            idx_bad = (int)i;
    }
    check("launch_manifest", idx_procmgr >= 0 && idx_victim >= 0 && idx_bad >= 0,
          "the manifest needs procmgr, victim and bad");
    /* The launcher connection cannot be passed on: only the supervisor
     * ever holds a connection to init. */
    check("launcher_not_transferable", k_handle_attach(t_launch.conn, K_RIGHT_SEND, 0) == -E_RIGHTS,
          "the launcher connection can be attached to a message");
    check("launcher_not_duplicable", k_handle_dup(t_launch.conn, K_RIGHT_SEND) == -E_RIGHTS,
          "the launcher connection can be duplicated");
    long exc_chan = k_chan_create(0);
    copy_source = k_chan_connect(exc_chan, 1, 0);   /* a would-be exception connection */
    targets[ntargets++] = &t_launch;

    canonical();
    struct k_sysinfo before = settled(NULL);
    long pm = -1;
    check("start_procmgr", launch(LAUNCHER_MSG_START, (uint32_t)idx_procmgr, 0, &pm, NULL) == 0 &&
                           pm > 0, "start procmgr");
    state_model[idx_procmgr] = 1;
    t0 = k_clock_get();
    uint64_t index = 0;
    sweep(&t_launch, &index);
    printf("protofuzz: sweep done: %lu messages (every message, every length)\n",
           (unsigned long)messages);
    campaign(&index);
    cur_target = "cleanup";
    if (pm > 0)
        end_process(pm);
    canonical();
    struct k_sysinfo after = settled(&before);
    compare_counters(&before, &after);

    /* init answers what it was told. */
    long h;
    uint32_t st = 99;
    for (unsigned i = 0; i < man.nservices; i++) {
        long r = launch(LAUNCHER_MSG_ADOPT, i, 0, &h, &st);
        check("adopt_after", r == 0 && st == 2 && h < 0, "adopt after ended: not state 2");
        if (h > 0)
            k_handle_close(h);
    }
    long r = launch(LAUNCHER_MSG_START, (uint32_t)idx_victim, 0, &h, NULL);
    check("start_victim", r == 0 && h > 0 && k_process_kill(h, 77) == 0, "start the victim");
    long status = 0;
    check("victim_killed", h > 0 && rt_process_wait(h, &status) == 0 && status == 77,
          "the victim's process handle does not wait");
    if (h > 0)
        k_handle_close(h);
    r = launch(LAUNCHER_MSG_ADOPT, (uint32_t)idx_victim, 0, &h, &st);
    check("adopt_started", r == 0 && st == 1 && h > 0, "adopt after a start: not state 1");
    if (h > 0)
        k_handle_close(h);
    check("publish", launch(LAUNCHER_MSG_PUBLISH, (uint32_t)idx_victim, 0, &h, NULL) == 0, "publish");
    check("ended", launch(LAUNCHER_MSG_ENDED, (uint32_t)idx_victim, 0, &h, NULL) == 0, "ended");
    check("start_bad", launch(LAUNCHER_MSG_START, (uint32_t)idx_bad, 0, &h, NULL) < 0 && h < 0,
          "a service whose program does not exist started");
    check("past_the_end", launch(LAUNCHER_MSG_ADOPT, man.nservices, 0, &h, NULL) == -E_NOENT,
          "adopt past the last service");
    /* A service the supervisor gave up on without its ever starting is
     * still one it gave up on: a new supervisor must not try again. */
    launch(LAUNCHER_MSG_ENDED, (uint32_t)idx_bad, 0, &h, NULL);
    r = launch(LAUNCHER_MSG_ADOPT, (uint32_t)idx_bad, 0, &h, &st);
    check("adopt_given_up_never_started", r == 0 && st == 2 && h < 0,
          "adopt of a service that never started and was given up on: not state 2");
    return 0;
}

static uint64_t number(const char *s, uint64_t dflt)
{
    uint64_t v = 0;
    if (!s || !*s)
        return dflt;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return dflt;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

static char watchdog_stack[16384] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
    child_mode = argc > 1 && strcmp(argv[1], "child") == 0;
    int a = child_mode ? 2 : 1;
    seed = number(argc > a ? argv[a] : NULL, DEFAULT_SEED);
    count = number(argc > a + 1 ? argv[a + 1] : NULL, DEFAULT_COUNT);
    progress_every = number(argc > a + 2 ? argv[a + 2] : NULL, PROGRESS);
    bool launcher_mode = rt_handle("launcher") >= 0;
    printf("protofuzz: %s mode, seed=%lu count=%lu\n",
           launcher_mode ? "launcher" : child_mode ? "child" : "client", (unsigned long)seed,
           (unsigned long)count);
    static struct rt_thread wd;
    if (rt_thread_spawn(&wd, watchdog, 0, watchdog_stack, sizeof(watchdog_stack), 0) < 0)
        printf("protofuzz: no watchdog: a hang will not be reported\n");
    int r = launcher_mode ? launcher_main() : child_mode ? child_main() : client_main();
    for (unsigned i = 0; i < ntargets; i++)
        printf("protofuzz: %s: %lu sent, %lu well-formed, %lu accepted, %lu failed\n",
               targets[i]->name, (unsigned long)targets[i]->sent,
               (unsigned long)targets[i]->wellformed, (unsigned long)targets[i]->accepted,
               (unsigned long)targets[i]->failed);
    printf("protofuzz: random messages: %lu valid, %lu mutated, %lu random, %lu truncated, "
           "%lu oversized; %lu pulses; %lu carried a handle\n", (unsigned long)by_class[0],
           (unsigned long)by_class[1], (unsigned long)by_class[2], (unsigned long)by_class[3],
           (unsigned long)by_class[4], (unsigned long)pulses, (unsigned long)attached);
    long ms = (k_clock_get() - t0) / 1000000;
    printf("protofuzz: %lu messages in %ld ms: %lu per second\n", (unsigned long)messages, ms,
           ms > 0 ? (unsigned long)(messages * 1000 / (uint64_t)ms) : 0);
    printf("\nPROTOFUZZ %s seed=%lu messages=%lu failed=%lu\n", child_mode ? "CHILD DONE" : "DONE",
           (unsigned long)seed, (unsigned long)messages, (unsigned long)failed);
    if (child_mode)             /* what run_child reads */
        return failed || r ? -(int)(failed < 1000000 ? failed + 1 : 1000000)
                           : (int)(messages < 0x7fffffff ? messages : 0x7fffffff);
    return r || failed ? 1 : 0;
}
