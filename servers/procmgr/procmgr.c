/*
 * procmgr: the path-name space (QNX resource-manager prefixes).  A server
 * attaches a prefix and hands procmgr a connection to itself; resolve
 * finds the server for a path - longest prefix first, matching whole path
 * components, overlapping mounts in order - and answers with a copy of
 * that connection and the rest of the path.  Paths are untrusted: they are
 * normalised (lib/base/names) and refused when empty, too long, relative,
 * with NUL or control bytes, or climbing above "/".
 *
 * Start-up handles: "chan".  Process management (spawn, wait, ps) and
 * per-group views come in later versions of the protocol.
 */
#include "base/names.h"
#include "base/string.h"
#include "kestrel/errors.h"
#include "kestrel/rights.h"
#include "protocols/procmgr.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "srv/srv.h"

static struct names_table table;
static long conns[NAMES_MOUNTS_MAX];        /* server id -> connection handle */
static struct srv server;

static long name_error(int err)
{
    return err == NAMES_ENOENT ? -E_NOENT : err == NAMES_EFULL ? -E_FULL : -E_INVAL;
}

static long on_attach(void *ctx, long rcvid, const struct procmgr_attach_req *req,
                      struct procmgr_attach_rep *rep)
{
    struct k_msg_info *info = ctx;
    (void)rcvid;
    if (info->handle == 0)
        return -E_INVAL;                        /* no connection to the server came with it */
    unsigned id = 0;
    while (id < NAMES_MOUNTS_MAX && conns[id])
        id++;
    if (id == NAMES_MOUNTS_MAX) {
        k_handle_close(info->handle);
        return -E_FULL;
    }
    size_t len = strnlen(req->prefix, sizeof(req->prefix));
    int r = names_attach(&table, req->prefix, len, id, req->flags & 1 ? NAMES_BEFORE : 0);
    if (r < 0) {
        k_handle_close(info->handle);
        return name_error(r);
    }
    conns[id] = info->handle;
    info->handle = 0;                           /* kept */
    rep->mount = id;
    return 0;
}

static long on_resolve(void *ctx, long rcvid, const struct procmgr_resolve_req *req,
                       const void *path, size_t path_len, struct procmgr_resolve_rep *rep)
{
    (void)ctx, (void)rcvid;
    static struct names_result res;
    int r = names_resolve(&table, NULL, path, path_len, &res);
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
    (void)ctx, (void)rcvid, (void)rep;
    if (req->mount >= NAMES_MOUNTS_MAX || !conns[req->mount])
        return -E_INVAL;
    names_detach(&table, req->mount);
    k_handle_close(conns[req->mount]);
    conns[req->mount] = 0;
    return 0;
}

static long on_message(struct srv_msg *m)
{
    struct procmgr_server tbl = { .ctx = &m->info, .attach = on_attach, .resolve = on_resolve,
                                  .detach = on_detach };
    procmgr_dispatch(&tbl, m->rcvid, m->data, m->len);
    return SRV_REPLIED;                         /* an unkept handle: srv closes it */
}

static const struct srv_ops ops = { .message = on_message };

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    names_init(&table);
    return srv_main(&server, "procmgr", &ops, 0);   /* one thread: the table has no lock */
}
