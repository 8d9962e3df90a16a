/*
 * Host fuzz test of every dispatch tools/mkproto generates (echo,
 * launcher, log, procmgr, supervisor): random, mutated-valid, truncated
 * and oversized messages, and every valid message of every client version
 * cut at every length, go into each protocol's NAME_dispatch.  This is
 * where init's launcher parser is fuzzed hardest: in the system only the
 * supervisor (or protofuzz as init's fake supervisor) can reach it.
 *
 * Every message sits in a malloc buffer of exactly its length (ASan and
 * UBSan catch any read past it).  An independent model of the rules
 * (tests/user/protomodel.h) says what must happen, and the handlers, one
 * per message generated from NAME_MESSAGES, check that they only ever see
 * well-formed requests: the model's message, the request struct of the
 * client's version zero-extended, the payload in place and of the length
 * the header gives, a zeroed reply.  Then the answer: a malformed message
 * gets exactly one error (E_INVAL or E_NOSYS) and no handler runs; a
 * well-formed one runs its handler once (E_NOSYS where the server has no
 * handler), and the handler's status comes back as one reply of exactly
 * the client version's reply size, one error, or nothing (PROTO_NO_REPLY).
 * Fixed seeds: reproducible.
 */
#include "check.h"

#include <stdbool.h>

#include "protocols/echo.h"
#include "protocols/launcher.h"
#include "protocols/log.h"
#include "protocols/procmgr.h"
#include "protocols/supervisor.h"
#include "../user/protomodel.h"

#define RCVID 41
#define ROUNDS 60000            /* random messages per protocol */
#define BIG 9000                /* the longest random message */

/* ---- what one dispatch did ---- */

static struct {
    const unsigned char *msg;   /* the message being dispatched */
    size_t len;
    struct pm_verdict v;        /* the model's verdict on it */
    long ret;                   /* what a handler returns */
    unsigned char fill;         /* and writes all over its reply */
    int calls;                  /* handlers that ran */
    unsigned called;            /* the message number of the last */
    size_t rep_size;            /* its reply struct */
    int replies, errors;
    long status, error;
    size_t rep_len;
    unsigned char rep[4096];
} cur;

long proto_reply(long rcvid, long status, const void *buf, size_t len)
{
    CHECK_EQ(rcvid, RCVID);
    CHECK(len <= sizeof(cur.rep));
    cur.replies++;
    cur.status = status;
    cur.rep_len = len;
    memcpy(cur.rep, buf, len);
    return 0;
}

long proto_error(long rcvid, long err)
{
    CHECK_EQ(rcvid, RCVID);
    CHECK(err > 0 && err <= 0xffff);            /* what msg_error takes */
    cur.errors++;
    cur.error = err;
    return 0;
}

/* Every handler comes here: the request must be the well-formed one the
 * model predicted. */
static long seen(unsigned msg, const void *req, size_t req_size, const void *payload,
                 size_t payload_len, bool has_payload, void *rep, size_t rep_size)
{
    cur.calls++;
    cur.called = msg;
    cur.rep_size = rep_size;
    CHECK_EQ(cur.v.err, 0);
    CHECK_EQ(msg, cur.v.msg);
    const unsigned char *body = cur.msg + sizeof(struct k_proto_hdr);
    CHECK(cur.v.body_len <= req_size);
    CHECK(memcmp(req, body, cur.v.body_len) == 0);
    for (size_t i = cur.v.body_len; i < req_size; i++)
        CHECK_EQ(((const unsigned char *)req)[i], 0);          /* zero-extended */
    if (has_payload) {
        CHECK_EQ(payload_len, cur.v.payload_len);
        CHECK(payload == body + cur.v.body_len);               /* in place, in bounds */
    }
    for (size_t i = 0; i < rep_size; i++)
        CHECK_EQ(((unsigned char *)rep)[i], 0);
    memset(rep, cur.fill, rep_size);
    return cur.ret;
}

/* One handler per message of each protocol, from NAME_MESSAGES. */
#define H_0(P, name) \
    static long h_##P##_##name(void *ctx, long rcvid, const struct P##_##name##_req *req, \
                               struct P##_##name##_rep *rep) \
    { \
        (void)ctx; \
        CHECK_EQ(rcvid, RCVID); \
        return seen(P##_##name##_number, req, sizeof(*req), NULL, 0, false, rep, sizeof(*rep)); \
    }
#define H_1(P, name) \
    static long h_##P##_##name(void *ctx, long rcvid, const struct P##_##name##_req *req, \
                               const void *payload, size_t payload_len, \
                               struct P##_##name##_rep *rep) \
    { \
        (void)ctx; \
        CHECK_EQ(rcvid, RCVID); \
        return seen(P##_##name##_number, req, sizeof(*req), payload, payload_len, true, rep, \
                    sizeof(*rep)); \
    }
#define NUMBER_(P, name, number) enum { P##_##name##_number = number };
#define NUMBER(P, name, number) NUMBER_(P, name, number)
#define HANDLER_(P, name, number, payload) NUMBER(P, name, number) H_##payload(P, name)
#define HANDLER(P, name, number, payload) HANDLER_(P, name, number, payload)
#define SLOT_(P, name) .name = h_##P##_##name,
#define SLOT(P, name) SLOT_(P, name)

/* A protocol: its handlers, a full table and an empty one, and a run. */
#define PROTOCOL(P, UP) \
    UP##_MESSAGES(P##_HANDLER) \
    static long run_##P(bool full, const void *m, size_t len) \
    { \
        static const struct P##_server all = { .ctx = NULL, UP##_MESSAGES(P##_SLOT) }; \
        static const struct P##_server none = { .ctx = NULL }; \
        return P##_dispatch(full ? &all : &none, RCVID, m, len); \
    }

#define echo_HANDLER(name, NAME, number, payload) HANDLER(echo, name, number, payload)
#define echo_SLOT(name, NAME, number, payload) SLOT(echo, name)
#define launcher_HANDLER(name, NAME, number, payload) HANDLER(launcher, name, number, payload)
#define launcher_SLOT(name, NAME, number, payload) SLOT(launcher, name)
#define log_HANDLER(name, NAME, number, payload) HANDLER(log, name, number, payload)
#define log_SLOT(name, NAME, number, payload) SLOT(log, name)
#define procmgr_HANDLER(name, NAME, number, payload) HANDLER(procmgr, name, number, payload)
#define procmgr_SLOT(name, NAME, number, payload) SLOT(procmgr, name)
#define supervisor_HANDLER(name, NAME, number, payload) HANDLER(supervisor, name, number, payload)
#define supervisor_SLOT(name, NAME, number, payload) SLOT(supervisor, name)

PROTOCOL(echo, ECHO)
PROTOCOL(launcher, LAUNCHER)
PROTOCOL(log, LOG)
PROTOCOL(procmgr, PROCMGR)
PROTOCOL(supervisor, SUPERVISOR)

struct protocol {
    const char *name;
    const struct proto_desc *(*desc)(void);
    long (*run)(bool full, const void *m, size_t len);
};

static const struct protocol protocols[] = {
    { "echo", echo_protocol, run_echo },
    { "launcher", launcher_protocol, run_launcher },
    { "log", log_protocol, run_log },
    { "procmgr", procmgr_protocol, run_procmgr },
    { "supervisor", supervisor_protocol, run_supervisor },
};
#define NPROTOCOLS (sizeof(protocols) / sizeof(protocols[0]))

/* ---- random numbers (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

/* ---- one message through one dispatch ---- */

static const long returns[] = { 0, 1, 7, 0x7fffffff, -E_INVAL, -E_NOENT, -E_BUSY, -E_PERM,
                                -E_TOOBIG, -E_DEAD, PROTO_NO_REPLY };

/* Dispatches BYTES[LEN] (copied into a buffer of exactly LEN bytes) with
 * the full table, or the empty one if !FULL, and checks what happened.
 * Returns the model's verdict. */
static long dispatch(const struct protocol *p, const unsigned char *bytes, size_t len, bool full)
{
    unsigned char *m = malloc(len ? len : 1);
    CHECK(m != NULL);
    if (len)
        memcpy(m, bytes, len);
    memset(&cur, 0, sizeof(cur));
    cur.msg = m;
    cur.len = len;
    cur.v = pm_judge(p->desc(), m, len);
    cur.ret = returns[below(sizeof(returns) / sizeof(returns[0]))];
    cur.fill = (unsigned char)(1 + below(255));
    p->run(full, m, len);
    if (cur.v.err) {
        CHECK_EQ(cur.calls, 0);
        CHECK_EQ(cur.replies, 0);
        CHECK_EQ(cur.errors, 1);
        CHECK_EQ(cur.error, cur.v.err);
    } else if (!full) {
        CHECK_EQ(cur.calls, 0);
        CHECK_EQ(cur.replies, 0);
        CHECK_EQ(cur.errors, 1);
        CHECK_EQ(cur.error, E_NOSYS);                 /* no handler */
    } else {
        CHECK_EQ(cur.calls, 1);
        CHECK_EQ(cur.called, cur.v.msg);
        if (cur.ret >= 0) {
            CHECK_EQ(cur.replies, 1);
            CHECK_EQ(cur.errors, 0);
            CHECK_EQ(cur.status, cur.ret);
            CHECK_EQ(cur.rep_len, cur.v.rep_len);     /* the client version's reply */
            CHECK(cur.rep_len <= cur.rep_size);
            for (size_t i = 0; i < cur.rep_len; i++)
                CHECK_EQ(cur.rep[i], cur.fill);
        } else if (cur.ret == PROTO_NO_REPLY) {
            CHECK_EQ(cur.replies + cur.errors, 0);
        } else {
            CHECK_EQ(cur.replies, 0);
            CHECK_EQ(cur.errors, 1);
            CHECK_EQ(cur.error, -cur.ret);
        }
    }
    free(m);
    return cur.v.err;
}

/* ---- messages ---- */

static void put_hdr(unsigned char *m, uint32_t id, uint16_t version, uint16_t msg, uint32_t plen)
{
    struct k_proto_hdr h = { id, version, msg, plen, 0 };
    memcpy(m, &h, sizeof(h));
}

static unsigned some_msg(const struct proto_desc *d)
{
    unsigned n;
    do
        n = 1 + (unsigned)below(d->nmsgs - 1u);
    while (!d->msgs[n].since);
    return n;
}

/* A valid message MSG of version VERSION with random fields and PLEN
 * payload bytes (0 if it takes none) into M; its length. */
static size_t valid(const struct proto_desc *d, unsigned msg, uint16_t version, size_t plen,
                    unsigned char *m)
{
    if (!d->msgs[msg].has_payload)
        plen = 0;
    size_t body = d->msgs[msg].req_size[version];
    put_hdr(m, d->id, version, (uint16_t)msg, (uint32_t)plen);
    for (size_t i = 0; i < body + plen; i++)
        m[16 + i] = (unsigned char)rnd();
    return 16 + body + plen;
}

static uint32_t edgy(void)
{
    static const uint32_t v[] = { 0, 1, 2, 3, 7, 8, 16, 64, 255, 256, 0xffff, 0x10000,
                                  0x7fffffff, 0x80000000u, 0xffffffffu };
    return below(4) ? v[below(sizeof(v) / sizeof(v[0]))] : (uint32_t)rnd();
}

static void mutate(const struct proto_desc *d, unsigned char *m, size_t *len)
{
    size_t n = *len;
    uint32_t v32;
    uint16_t v16;
    switch (below(9)) {
    case 0:
        for (unsigned i = 0, k = 1 + (unsigned)below(8); i < k && n; i++)
            m[below(n)] ^= (unsigned char)(1u << below(8));
        break;
    case 1:                                               /* message number */
        v16 = below(2) ? (uint16_t)some_msg(d) : (uint16_t)edgy();
        if (n >= 8)
            memcpy(m + 6, &v16, 2);
        break;
    case 2:                                               /* version */
        v16 = (uint16_t)(below(2) ? below(d->version + 2u) : edgy());
        if (n >= 6)
            memcpy(m + 4, &v16, 2);
        break;
    case 3:                                               /* payload_len */
        v32 = edgy();
        if (n >= 12)
            memcpy(m + 8, &v32, 4);
        break;
    case 4:                                               /* reserved, id */
        v32 = below(2) ? 1u << below(32) : (uint32_t)rnd();
        if (n >= 16)
            memcpy(m + (below(2) ? 12 : 0), &v32, 4);
        break;
    case 5:
        *len = below(n + 1);
        break;
    case 6: {                                             /* longer, header kept true */
        size_t k = 1 + below(64);
        if (n < 16 || n + k > BIG)
            break;
        for (size_t i = 0; i < k; i++)
            m[n + i] = (unsigned char)rnd();
        memcpy(&v32, m + 8, 4);
        v32 += (uint32_t)k;
        memcpy(m + 8, &v32, 4);
        *len = n + k;
        break;
    }
    case 7: {                                             /* longer, header not told */
        size_t k = 1 + below(64);
        if (n + k > BIG)
            break;
        for (size_t i = 0; i < k; i++)
            m[n + i] = (unsigned char)rnd();
        *len = n + k;
        break;
    }
    default:
        if (n)
            m[below(n)] = (unsigned char)rnd();
        break;
    }
}

/* ---- the tests ---- */

static unsigned char buf[BIG + 64];

/* Every valid message of every version, cut at every length and grown by
 * up to 16 bytes: only the exact one is well-formed; nor is one with a
 * payload its message does not take, however true its header. */
static void test_every_message_every_length(void)
{
    rng_state = 1;
    for (size_t pi = 0; pi < NPROTOCOLS; pi++) {
        const struct proto_desc *d = protocols[pi].desc();
        for (unsigned msg = 1; msg < d->nmsgs; msg++) {
            if (!d->msgs[msg].since)
                continue;
            for (uint16_t ver = d->msgs[msg].since; ver <= d->version; ver++) {
                static unsigned char good[BIG];
                size_t plens[] = { 0, 1, 7, 300 };
                for (size_t k = 0; k < 4; k++) {
                    size_t len = valid(d, msg, ver, plens[k], good);
                    for (size_t cut = 0; cut <= len + 16; cut++) {
                        memcpy(buf, good, len);
                        for (size_t i = len; i < cut; i++)
                            buf[i] = (unsigned char)rnd();
                        long err = dispatch(&protocols[pi], buf, cut, true);
                        CHECK_EQ(err, cut == len ? 0 : E_INVAL);
                    }
                    if (!d->msgs[msg].has_payload) {
                        for (uint32_t k = 1; k <= 8; k++) {   /* a payload it takes none of */
                            memcpy(buf, good, len);
                            memcpy(buf + 8, &k, 4);
                            memset(buf + len, 'p', k);
                            CHECK_EQ(dispatch(&protocols[pi], buf, len + k, true), E_INVAL);
                        }
                        break;
                    }
                }
            }
        }
    }
}

/* Each message in each version the server does not have for it (before
 * its since, 0, newer than the server): E_INVAL or E_NOSYS, whatever the
 * length. */
static void test_versions(void)
{
    rng_state = 2;
    for (size_t pi = 0; pi < NPROTOCOLS; pi++) {
        const struct proto_desc *d = protocols[pi].desc();
        for (unsigned msg = 1; msg < d->nmsgs; msg++) {
            if (!d->msgs[msg].since)
                continue;
            uint16_t vs[] = { 0, (uint16_t)(d->version + 1), 0x7fff, 0xffff };
            for (size_t k = 0; k < 4; k++) {
                size_t len = valid(d, msg, d->version, 5, buf);
                memcpy(buf + 4, &vs[k], 2);
                CHECK_EQ(dispatch(&protocols[pi], buf, len, true), vs[k] ? E_NOSYS : E_INVAL);
            }
            for (uint16_t v = 1; v < d->msgs[msg].since; v++) {
                size_t len = valid(d, msg, d->msgs[msg].since, 5, buf);
                memcpy(buf + 4, &v, 2);
                CHECK_EQ(dispatch(&protocols[pi], buf, len, true), E_INVAL);
            }
        }
        for (unsigned msg = 0; msg < 70000; msg += msg < 1100 ? 1 : 4099) {
            if (msg < d->nmsgs && d->msgs[msg].since)
                continue;
            put_hdr(buf, d->id, d->version, (uint16_t)msg, 0);
            memset(buf + 16, 0, 64);
            CHECK_EQ(dispatch(&protocols[pi], buf, 16 + 8 * below(8), true), E_NOSYS);
        }
    }
}

/* Random, mutated-valid and oversized messages. */
static void test_random_messages(void)
{
    rng_state = 3;
    unsigned long wellformed = 0;
    for (size_t pi = 0; pi < NPROTOCOLS; pi++) {
        const struct proto_desc *d = protocols[pi].desc();
        for (unsigned round = 0; round < ROUNDS; round++) {
            unsigned msg = some_msg(d);
            uint16_t ver = (uint16_t)(d->msgs[msg].since +
                                      below(d->version - d->msgs[msg].since + 1u));
            size_t len;
            switch (below(5)) {
            case 0:                                       /* valid */
                len = valid(d, msg, ver, below(3) ? below(40) : below(BIG - 200), buf);
                break;
            case 1:
            case 2:                                       /* mutated */
                len = valid(d, msg, ver, below(40), buf);
                for (unsigned i = 0, k = 1 + (unsigned)below(3); i < k; i++)
                    mutate(d, buf, &len);
                break;
            case 3:                                       /* truncated */
                len = valid(d, msg, ver, below(40), buf);
                len = below(len);
                break;
            default:                                      /* random, maybe a header */
                len = below(2) ? below(64) : below(BIG);
                for (size_t i = 0; i < len; i++)
                    buf[i] = (unsigned char)rnd();
                if (len >= 16 && below(2))
                    put_hdr(buf, d->id, ver, (uint16_t)msg,
                            below(2) ? (uint32_t)(len - 16 - (len - 16) % 8) : edgy());
                break;
            }
            wellformed += dispatch(&protocols[pi], buf, len, below(10) != 0) == 0;
        }
    }
    CHECK(wellformed > NPROTOCOLS * ROUNDS / 10);         /* the handlers were reached */
}

/* The tables agree with the generated structs: the newest version's
 * request and reply sizes are those of the structs. */
static void test_tables_match_structs(void)
{
#define SIZES(P, UP) \
    do { \
        const struct proto_desc *d = P##_protocol(); \
        CHECK_EQ(d->id, UP##_PROTO_ID); \
        CHECK_EQ(d->version, UP##_VERSION); \
        UP##_MESSAGES(P##_SIZE) \
    } while (0)
#define SIZE_(P, name, number) \
    CHECK_EQ(d->msgs[number].req_size[d->version], sizeof(struct P##_##name##_req)); \
    CHECK_EQ(d->msgs[number].rep_size[d->version], sizeof(struct P##_##name##_rep));
#define echo_SIZE(name, NAME, number, payload) SIZE_(echo, name, number)
#define launcher_SIZE(name, NAME, number, payload) SIZE_(launcher, name, number)
#define log_SIZE(name, NAME, number, payload) SIZE_(log, name, number)
#define procmgr_SIZE(name, NAME, number, payload) SIZE_(procmgr, name, number)
#define supervisor_SIZE(name, NAME, number, payload) SIZE_(supervisor, name, number)
    SIZES(echo, ECHO);
    SIZES(launcher, LAUNCHER);
    SIZES(log, LOG);
    SIZES(procmgr, PROCMGR);
    SIZES(supervisor, SUPERVISOR);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_tables_match_structs),
    CHECK_TEST(test_every_message_every_length),
    CHECK_TEST(test_versions),
    CHECK_TEST(test_random_messages),
};

CHECK_MAIN("protofuzz", tests)
