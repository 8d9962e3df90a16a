/*
 * procmgr: the path-name space (QNX resource-manager prefixes).  A server
 * attaches a prefix and hands procmgr a connection to itself; resolve
 * finds the server for a path - longest prefix first, matching whole path
 * components, overlapping mounts in order - and answers with a copy of
 * that connection and the rest of the path.  Paths are untrusted: they are
 * normalised (lib/base/names) and refused when empty, too long, relative,
 * with NUL or control bytes, or climbing above "/".
 *
 * Who may attach what: init hands procmgr a policy (start-up handle
 * "policy", see load_policy) with, for each client badge, the prefixes its
 * manifest line grants (names=); a client may attach only inside them, and
 * a client the policy does not name may attach nothing.  Resolving is open
 * to every client, through the client's view: a service whose line has
 * view= sees only those prefixes (and so do the processes it spawns); one
 * without sees everything.
 *
 * A service attaching with flag 2 (its new life after a restart) replaces
 * the mounts it already holds at that prefix rather than adding one.
 *
 * The table's generation: a page only procmgr writes, counting changes to
 * the table, bumped before an attach, replace or detach is answered.  A
 * client that keeps resolutions (the Linux personality, for open) maps it
 * read-only (message generation) and trusts a kept answer only while the
 * count is the one it read before asking.  A view is fixed for a
 * process's life, so only the table's changes count.
 *
 * Processes (spawn, wait, kill, ps) are in proc.c; a process resolves
 * through its view (proc_view), the prefixes its parent gave it.
 *
 * Start-up handles: "chan", "policy", "generation" (init's, kept across
 * restarts), "log" (passed on to children).
 */
#include <stdbool.h>

#include "base/manifest.h"
#include "base/names.h"
#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "proc.h"
#include "protocols/procmgr.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "srv/srv.h"

#define POLICIES MANIFEST_SERVICES_MAX
#define POLICY_PREFIXES MANIFEST_LIST_MAX

struct policy {
    uint64_t badge;             /* 0: unused slot */
    unsigned n, nview;
    char prefix[POLICY_PREFIXES][NAMES_PREFIX_MAX + 1];     /* may attach */
    char view_prefix[POLICY_PREFIXES][NAMES_PREFIX_MAX + 1];
    struct names_view view;     /* made from view_prefix once loaded, if nview */
};

static struct policy policies[POLICIES];
static struct names_table table;
static long conns[NAMES_MOUNTS_MAX];        /* server id -> connection handle */
static uint64_t owners[NAMES_MOUNTS_MAX];   /* server id -> badge of who attached it */
static char mounted[NAMES_MOUNTS_MAX][NAMES_PREFIX_MAX + 1];
static struct srv server;
static long gen_vmo = -1;
static volatile uint64_t *gen;              /* NULL: no page (out of memory at start) */

static void table_changed(void)
{
    if (gen)
        __atomic_store_n(gen, *gen + 1, __ATOMIC_RELEASE);
}

/* init's page ("generation"), the same for every life of ours: a restart
 * starts from an empty table, and moves the count past what any client
 * read from the last life.  Without it (a test playing init), a page of
 * our own. */
static void gen_init(void)
{
    gen_vmo = rt_handle("generation");
    if (gen_vmo < 0)
        gen_vmo = k_vmo_create(4096, K_VMO_ANON | K_VMO_FORK_SHARED, 0, 0);
    long at = gen_vmo >= 0 ? k_vmo_map(0, gen_vmo, 0, 4096, K_PROT_READ | K_PROT_WRITE) : -1;
    if (at < 0) {
        printf("procmgr: no page for the name space's generation (%ld): clients keep nothing\n", at);
        return;
    }
    gen = (volatile uint64_t *)at;
    table_changed();
}

static long name_error(int err)
{
    return err == NAMES_ENOENT ? -E_NOENT : err == NAMES_EFULL ? -E_FULL : -E_INVAL;
}

static struct policy *policy_of(uint64_t badge)
{
    for (unsigned i = 0; i < POLICIES; i++)
        if (policies[i].badge == badge)
            return &policies[i];
    return NULL;
}

/* May the client with BADGE attach PREFIX (normalised)? */
static bool may_attach(uint64_t badge, const char *prefix, size_t len)
{
    const struct policy *p = policy_of(badge);
    for (unsigned i = 0; p && i < p->n; i++)
        if (names_covers(p->prefix[i], strlen(p->prefix[i]), prefix, len) > 0)
            return true;
    return false;
}

static bool policy_loaded;

const struct names_view *service_view(uint64_t badge)
{
    static const struct names_view nothing = { .count = 0 };
    if (!policy_loaded)
        return &nothing;
    const struct policy *p = badge ? policy_of(badge) : NULL;
    return p && p->nview ? &p->view : NULL;
}

/* One policy line into the table, "BADGE PREFIX" (may attach) or
 * "v BADGE PREFIX" (sees); false if malformed. */
static bool policy_line(const char *line, size_t len)
{
    uint64_t badge = 0;
    size_t i = 0;
    bool view = len > 2 && line[0] == 'v' && line[1] == ' ';
    if (view)
        i = 2;
    size_t digits = i;
    while (i < len && line[i] >= '0' && line[i] <= '9' && badge < (1ULL << 40))
        badge = badge * 10 + (uint64_t)(line[i++] - '0');
    if (i == digits || i == len || line[i] != ' ' || badge == 0)
        return false;
    struct policy *p = policy_of(badge);
    if (!p && (p = policy_of(0)) != NULL)
        *p = (struct policy){ .badge = badge, .n = 0, .nview = 0 };
    unsigned *count = p ? (view ? &p->nview : &p->n) : NULL;
    if (!p || *count == POLICY_PREFIXES)
        return false;
    char *out = view ? p->view_prefix[*count] : p->prefix[*count];
    int n = names_normalize(line + i + 1, len - i - 1, out, NAMES_PREFIX_MAX + 1);
    if (n < 0)
        return false;
    (*count)++;
    return true;
}

/* Each service's view= as a names_view (narrowed from everything). */
static void make_views(void)
{
    struct names_view root;
    names_view_root(&root);
    for (unsigned i = 0; i < POLICIES; i++) {
        struct policy *p = &policies[i];
        if (!p->badge || !p->nview)
            continue;
        struct names_str want[POLICY_PREFIXES];
        for (unsigned k = 0; k < p->nview; k++)
            want[k] = (struct names_str){ p->view_prefix[k], strlen(p->view_prefix[k]) };
        if (names_view_derive(&root, want, p->nview, &p->view) < 0)
            p->view.count = 0;                  /* cannot happen (normalised): sees nothing */
    }
}

/* The start-up handle "policy": a VMO init fills with one line per granted
 * prefix, "BADGE PREFIX\n" (the client's connection badge and a names=
 * entry of its manifest line) or "v BADGE PREFIX\n" (a view= entry), NUL
 * after the last.  Read before serving, so no request is ever judged
 * without it.  Without a policy, no one may attach and services see
 * nothing (their views are unknown): closed, not open. */
static void load_policy(void)
{
    size_t len;
    const char *text = rt_handle_text("policy", &len);
    if (!text) {
        printf("procmgr: no policy from init: no client may attach or resolve\n");
        return;
    }
    policy_loaded = true;
    for (size_t start = 0, i = 0; i <= len; i++) {
        if (i < len && text[i] != '\n')
            continue;
        if (i > start && !policy_line(text + start, i - start)) {
            char shown[81];
            size_t n = i - start < sizeof(shown) - 1 ? i - start : sizeof(shown) - 1;
            memcpy(shown, text + start, n);
            shown[n] = 0;
            printf("procmgr: policy line \"%s\" ignored\n", shown);
        }
        start = i + 1;
    }
    make_views();
}

static long on_attach(void *ctx, long rcvid, const struct procmgr_attach_req *req,
                      struct procmgr_attach_rep *rep)
{
    struct k_msg_info *info = ctx;
    (void)rcvid;
    if (info->handle == 0)
        return -E_INVAL;                        /* no connection to the server came with it */
    /* On any error the connection stays unkept and srv closes it. */
    char norm[NAMES_PREFIX_MAX + 1];
    int nlen = names_normalize(req->prefix, strnlen(req->prefix, sizeof(req->prefix)), norm,
                               sizeof(norm));
    if (nlen < 0)
        return name_error(nlen);
    if (!may_attach(info->badge, norm, (size_t)nlen))
        return -E_PERM;                         /* outside what its manifest line grants */
    if (req->flags & ~3u)
        return -E_INVAL;
    for (unsigned id = 0; id < NAMES_MOUNTS_MAX && (req->flags & 2); id++)
        if (conns[id] && owners[id] == info->badge && strcmp(mounted[id], norm) == 0) {
            k_handle_close(conns[id]);          /* the same service again: replace */
            conns[id] = info->handle;
            table_changed();
            info->handle = 0;
            rep->mount = id;
            return 0;
        }
    unsigned id = 0;
    while (id < NAMES_MOUNTS_MAX && conns[id])
        id++;
    if (id == NAMES_MOUNTS_MAX)
        return -E_FULL;
    int r = names_attach(&table, norm, (size_t)nlen, id, req->flags & 1 ? NAMES_BEFORE : 0);
    if (r < 0)
        return name_error(r);
    conns[id] = info->handle;
    owners[id] = info->badge;
    memcpy(mounted[id], norm, (size_t)nlen + 1);
    table_changed();
    info->handle = 0;                           /* kept */
    rep->mount = id;
    return 0;
}

static long on_resolve(void *ctx, long rcvid, const struct procmgr_resolve_req *req,
                       const void *path, size_t path_len, struct procmgr_resolve_rep *rep)
{
    const struct k_msg_info *info = ctx;
    (void)rcvid;
    static struct names_result res;
    int r = names_resolve(&table, proc_view(info->badge), path, path_len, &res);
    if (r < 0)
        return name_error(r);
    if (req->candidate >= res.count)
        return -E_NOENT;
    const struct names_candidate *c = &res.c[req->candidate];
    if (c->rest_len > sizeof(rep->rest))
        return -E_TOOBIG;
    rep->count = res.count;
    rep->rest_len = c->rest_len;
    memcpy(rep->rest, res.path + c->rest_off, c->rest_len);
    k_handle_attach(conns[c->server], K_RIGHT_SEND | K_RIGHT_DUP | K_RIGHT_TRANSFER, 0);
    return 0;
}

static long on_detach(void *ctx, long rcvid, const struct procmgr_detach_req *req,
                      struct procmgr_detach_rep *rep)
{
    const struct k_msg_info *info = ctx;
    (void)rcvid, (void)rep;
    if (req->mount >= NAMES_MOUNTS_MAX || !conns[req->mount])
        return -E_INVAL;
    if (owners[req->mount] != info->badge)
        return -E_PERM;                         /* only who attached it */
    names_detach(&table, req->mount);
    k_handle_close(conns[req->mount]);
    conns[req->mount] = 0;
    table_changed();
    return 0;
}

static long on_generation(void *ctx, long rcvid, const struct procmgr_generation_req *req,
                          struct procmgr_generation_rep *rep)
{
    (void)ctx, (void)rcvid, (void)req;
    if (!gen)
        return -E_NOMEM;
    rep->generation = *gen;
    k_handle_attach(gen_vmo, K_RIGHT_READ | K_RIGHT_MAP, 0);
    return 0;
}

/* The largest message: a spawn with its strings. */
#define MSG_MAX (sizeof(struct k_proto_hdr) + sizeof(struct procmgr_spawn_req) + 4096)

static long on_message(struct srv_msg *m)
{
    static uint64_t whole[(MSG_MAX + 7) / 8];   /* one thread: see main */
    long r = srv_whole(m, whole, MSG_MAX);
    if (r < 0)
        return r;
    struct procmgr_server tbl = {
        .ctx = &m->info, .attach = on_attach, .resolve = on_resolve, .detach = on_detach,
        .spawn = proc_spawn, .wait = proc_wait, .kill = proc_kill, .ps = proc_ps,
        .getpid = proc_getpid, .core = proc_core, .generation = on_generation,
    };
    procmgr_dispatch(&tbl, m->rcvid, m->data, m->len);
    return SRV_REPLIED;                         /* an unkept handle: srv closes it */
}

static void on_pulse(struct srv *s, const struct k_msg_info *info)
{
    (void)s;
    proc_pulse(info);
}

static const struct srv_ops ops = { .message = on_message, .pulse = on_pulse };

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    names_init(&table);
    gen_init();
    load_policy();
    proc_init(rt_handle("chan"));
    return srv_main(&server, "procmgr", &ops, 0);   /* one thread: the table has no lock */
}
