/*
 * log: the system log service (protocols/log.proto).  Each line a client
 * writes is numbered, stamped with the writer's tag and pid, and printed on
 * the console; lines below the current level are counted but not printed.
 * Built on the server framework (lib/srv) with the generated dispatch,
 * which checks every message before a handler sees it.
 *
 * print (version 2) is a process's standard output: its bytes go to the
 * console as they are, a whole message at a time, so that lines of
 * different processes do not mix.  Until a console driver exists the log
 * service's own output (and so the console) is the kernel's debug port.
 *
 * Start-up handles: "chan" (the channel clients connect to, from init).
 */
#include "base/string.h"
#include "protocols/log.h"
#include "rt/lock.h"
#include "rt/rt.h"
#include "rt/stdio.h"
#include "srv/srv.h"

struct log_state {
    uint64_t sequence;
    uint32_t level;
    uint64_t dropped;
    uint64_t prints, print_bytes;
    volatile int lock;
};

/* The longest line (the payload of write and print); a longer one gets
 * E_TOOBIG.  Messages up to this are read whole (srv_whole): lib/srv's
 * receive buffer holds only the first SRV_BUFSIZE bytes. */
#define LOG_LINE_MAX 4096
#define LOG_MSG_MAX (sizeof(struct k_proto_hdr) + sizeof(struct log_write_req) + LOG_LINE_MAX)

static struct log_state state = { .level = 1 };
static struct srv server;

static const char *const severity[] = { "debug", "info", "warning", "error", "fatal" };

static long on_write(void *ctx, long rcvid, const struct log_write_req *req, const void *payload,
                     size_t payload_len, struct log_write_rep *rep)
{
    struct log_state *s = ctx;
    (void)rcvid;
    if (req->severity > 4)
        return -E_INVAL;
    if (payload_len > LOG_LINE_MAX)
        return -E_TOOBIG;
    rt_lock(&s->lock);
    rep->sequence = ++s->sequence;
    bool show = req->severity >= s->level;
    s->dropped += !show;
    rt_unlock(&s->lock);
    if (show) {
        char tag[sizeof(req->tag) + 1];
        memcpy(tag, req->tag, sizeof(req->tag));
        tag[sizeof(req->tag)] = 0;
        printf("log %lu %s %s: %.*s\n", (unsigned long)rep->sequence, severity[req->severity],
               tag, (int)payload_len, (const char *)payload);
    }
    return 0;
}

static long on_level(void *ctx, long rcvid, const struct log_level_req *req,
                     struct log_level_rep *rep)
{
    struct log_state *s = ctx;
    (void)rcvid;
    if (req->severity > 4)
        return -E_INVAL;
    rep->previous = s->level;
    s->level = req->severity;
    return 0;
}

static long on_print(void *ctx, long rcvid, const struct log_print_req *req, const void *payload,
                     size_t payload_len, struct log_print_rep *rep)
{
    struct log_state *s = ctx;
    (void)rcvid, (void)req;
    if (payload_len > LOG_LINE_MAX)
        return -E_TOOBIG;
    long r = payload_len ? rt_debug_write(payload, payload_len) : 0;
    if (r < 0)
        return r;
    rt_lock(&s->lock);
    s->prints++;
    s->print_bytes += payload_len;
    rt_unlock(&s->lock);
    rep->bytes = (uint32_t)payload_len;
    return 0;
}

static long on_stats(void *ctx, long rcvid, const struct log_stats_req *req,
                     struct log_stats_rep *rep)
{
    struct log_state *s = ctx;
    (void)rcvid, (void)req;
    rt_lock(&s->lock);
    *rep = (struct log_stats_rep){ .records = s->sequence, .dropped = s->dropped,
                                   .prints = s->prints, .print_bytes = s->print_bytes };
    rt_unlock(&s->lock);
    return 0;
}

static const struct log_server table = { .ctx = &state, .write = on_write, .level = on_level,
                                         .print = on_print, .stats = on_stats };

static long on_message(struct srv_msg *m)
{
    static uint64_t whole[(LOG_MSG_MAX + 7) / 8];   /* one thread: srv_main */
    long r = srv_whole(m, whole, LOG_MSG_MAX);
    if (r < 0)
        return r;
    log_dispatch(&table, m->rcvid, m->data, m->len);
    return SRV_REPLIED;
}

static const struct srv_ops ops = { .message = on_message };

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    return srv_main(&server, "log", &ops, &state);
}
