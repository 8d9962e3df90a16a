/*
 * Host tests for lib/base/manifest: a valid file using every key, each
 * kind of error reported with its line number (and parsing going on with
 * the next line), formatting of errors, and hostile text: one huge line,
 * no trailing newline, CRLF, NUL bytes, 10,000 lines.  The text is always
 * handed over in an exact-size heap block with no terminator, so ASan
 * reports any read past its end.
 */
#include "base/manifest.h"
#include "check.h"

static struct manifest m;

/* Parses the first N bytes of S from an exact-size heap copy. */
static unsigned parse_n(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    CHECK(p != NULL);
    memcpy(p, s, n);
    unsigned r = manifest_parse(p, n, &m);
    free(p);
    return r;
}

static unsigned parse(const char *s)
{
    return parse_n(s, strlen(s));
}

/* The formatted error I. */
static const char *err(unsigned i)
{
    static char buf[160];
    CHECK(i < m.nerrors);
    manifest_format_error(&m.errors[i], buf, sizeof(buf));
    return buf;
}

/* Parses S, which must give exactly one error, on line LINE, with MSG. */
static void one_error(const char *s, unsigned line, const char *msg)
{
    CHECK_EQ(parse(s), 1);
    CHECK_EQ(m.errors[0].line, line);
    CHECK_STR(err(0), msg);
}

static void test_valid_all_keys(void)
{
    const char *text =
        "# Kestrel boot manifest\n"
        "\n"
        "   # indented comment\n"
        "service log bin/log prio=40 restart=always backoff=50 limit=3 names=/dev/log\n"
        "service console  bin/console  prio=30 restart=on-failure irq=4,3 "
        "ioport=0x3f8-0x3ff,0x2f8-0x2ff,0x80 mmio=0xfee00000-0xfee00fff "
        "connect=log names=/dev/console,//dev/tty0/ heartbeat=2000 args=\"-v  x\" bootfs=1 debug=1\n";
    CHECK_EQ(parse(text), 0);
    CHECK_EQ(m.nservices, 2);
    CHECK_EQ(m.lines, 5);
    const struct manifest_service *s = manifest_find(&m, "console", 7);
    CHECK(s != NULL);
    CHECK_EQ(s->line, 5);
    CHECK_STR(s->program, "bin/console");
    CHECK_EQ(s->prio, 30);
    CHECK_EQ(s->restart, MANIFEST_RESTART_ON_FAILURE);
    CHECK_EQ(s->backoff_ms, MANIFEST_BACKOFF_DEFAULT);
    CHECK_EQ(s->heartbeat_ms, 2000);
    CHECK_EQ(s->bootfs, 1);
    CHECK_EQ(s->debug, 1);
    CHECK_STR(s->args, "-v  x");
    CHECK_EQ(s->nirq, 2);
    CHECK_EQ(s->irq[0], 4);
    CHECK_EQ(s->irq[1], 3);
    CHECK_EQ(s->nioport, 3);
    CHECK_EQ(s->ioport[0].start, 0x3f8);
    CHECK_EQ(s->ioport[0].end, 0x3ff);
    CHECK_EQ(s->ioport[2].start, 0x80);
    CHECK_EQ(s->ioport[2].end, 0x80);
    CHECK_EQ(s->nmmio, 1);
    CHECK_EQ(s->mmio[0].start, 0xfee00000);
    CHECK_EQ(s->mmio[0].end, 0xfee00fff);
    CHECK_EQ(s->nconnect, 1);
    CHECK_STR(s->connect[0], "log");
    CHECK_EQ(s->nnames, 2);
    CHECK_STR(s->names[1], "/dev/tty0");
    s = manifest_find(&m, "log", 3);
    CHECK(s != NULL);
    CHECK_EQ(s->restart, MANIFEST_RESTART_ALWAYS);
    CHECK_EQ(s->backoff_ms, 50);
    CHECK_EQ(s->limit, 3);
    CHECK(manifest_find(&m, "lo", 2) == NULL);
}

static void test_defaults(void)
{
    CHECK_EQ(parse("service a b"), 0);
    CHECK_EQ(m.nservices, 1);
    const struct manifest_service *s = &m.services[0];
    CHECK_STR(s->name, "a");
    CHECK_STR(s->program, "b");
    CHECK_EQ(s->prio, MANIFEST_PRIO_DEFAULT);
    CHECK_EQ(s->restart, MANIFEST_RESTART_NEVER);
    CHECK_EQ(s->heartbeat_ms, 0);
    CHECK_EQ(s->bootfs, 0);
    CHECK_EQ(s->debug, 0);
    CHECK_STR(s->args, "");
    CHECK_EQ(s->nirq + s->nioport + s->nmmio + s->nconnect + s->nnames, 0);
}

static void test_shipped_manifest(void)
{
    FILE *f = fopen(TEST_MANIFEST, "rb");
    CHECK(f != NULL);
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    CHECK(n > 0 && n < sizeof(buf));
    CHECK(memcmp(buf, "# Kestrel boot manifest\n", 24) == 0);
    CHECK_EQ(parse_n(buf, n), 0);
    CHECK_EQ(m.nerrors, 0);
    CHECK(manifest_find(&m, "log", 3) && manifest_find(&m, "procmgr", 7));
    /* Only what must have the boot image gets it: its file server and
     * the shell (which forks); the drivers and servers do not. */
    for (unsigned i = 0; i < m.nservices; i++) {
        const char *name = m.services[i].name;
        CHECK_EQ(m.services[i].bootfs, strcmp(name, "root") == 0 || strcmp(name, "sh") == 0);
    }
    CHECK(!manifest_find(&m, "supervisor", 10));
    /* The UART driver gets exactly its device: IRQ 4, COM1's eight ports. */
    const struct manifest_service *u = manifest_find(&m, "uart", 4);
    CHECK(u != NULL);
    CHECK_STR(u->program, "bin/uart");
    CHECK_EQ(u->restart, MANIFEST_RESTART_ALWAYS);
    CHECK(u->nirq == 1 && u->irq[0] == 4);
    CHECK(u->nioport == 1 && u->ioport[0].start == 0x3f8 && u->ioport[0].end == 0x3ff);
    CHECK_EQ(u->nmmio, 0);
    CHECK(u->nnames == 1);
    CHECK_STR(u->names[0], "/dev/uart");
    /* The PCI drivers are driver lines: instances matching their device,
     * each on its own name, none granted functions but through pci. */
    const struct manifest_service *b = manifest_find(&m, "vblk0", 5);
    const struct manifest_service *nt = manifest_find(&m, "vnet0", 5);
    CHECK(b && nt && !manifest_find(&m, "vblk", 4) && !manifest_find(&m, "vnet", 4));
    CHECK(manifest_matches(b, 0x1af4, 0x1042, 1, 0) && !manifest_matches(b, 0x1af4, 0x1041, 2, 0));
    CHECK(manifest_matches(nt, 0x1af4, 0x1041, 2, 0) && !manifest_matches(nt, 0x1af4, 0x1042, 1, 0));
    CHECK_STR(b->names[0], "/dev/vblk0");
    CHECK_STR(nt->names[0], "/dev/vnet0");
    CHECK_EQ(b->npci + nt->npci, 0);
}

static void test_errors_continue(void)
{
    const char *text =
        "service a bin/a\n"
        "service b bin/b prio=0\n"
        "service c bin/c\n"
        "bogus line\n"
        "service d bin/d colour=blue\n"
        "service e bin/e\n";
    CHECK_EQ(parse(text), 3);
    CHECK_EQ(m.nservices, 3);
    CHECK_STR(m.services[0].name, "a");
    CHECK_STR(m.services[1].name, "c");
    CHECK_STR(m.services[2].name, "e");
    CHECK_STR(err(0), "manifest:2: prio: out of range (1-255)");
    CHECK_EQ(m.errors[0].column, 17);
    CHECK_STR(err(1), "manifest:4: unknown statement (expected \"service\")");
    CHECK_STR(err(2), "manifest:5: colour: unknown key");
}

static void test_numbers(void)
{
    one_error("\nservice a b prio=256", 2, "manifest:2: prio: out of range (1-255)");
    one_error("service a b prio=12x", 1, "manifest:1: prio: not a number");
    one_error("service a b prio=", 1, "manifest:1: prio: not a number");
    one_error("service a b prio=-1", 1, "manifest:1: prio: not a number");
    one_error("service a b prio=0x", 1, "manifest:1: prio: not a number");
    one_error("service a b backoff=99999999999999999999999", 1,
              "manifest:1: backoff: not a number");
    one_error("service a b heartbeat=5", 1,
              "manifest:1: heartbeat: out of range (0 or 10-600000 ms)");
    one_error("service a b heartbeat=100 stall=9", 1,
              "manifest:1: stall: out of range (0 or 10-600000 ms)");
    one_error("service a b heartbeat=100 stall=600001", 1,
              "manifest:1: stall: out of range (0 or 10-600000 ms)");
    one_error("service a b stall=500", 1,
              "manifest:1: stall: needs heartbeat= (it is checked with the heartbeats)");
    CHECK_EQ(parse("service a b heartbeat=100 stall=2000"), 0);
    CHECK_EQ(m.services[0].stall_ms, 2000);
    CHECK_EQ(m.services[0].heartbeat_ms, 100);
    one_error("service a b bootfs=2", 1, "manifest:1: bootfs: out of range (0 or 1)");
    one_error("service a b debug=2", 1, "manifest:1: debug: out of range (0 or 1)");
    one_error("service a b limit=10001", 1, "manifest:1: limit: out of range (0-10000)");
    one_error("service a b irq=256", 1, "manifest:1: irq: out of range (0-255)");
    CHECK_EQ(parse("service a b prio=0xff heartbeat=0 backoff=3600000"), 0);
    CHECK_EQ(m.services[0].prio, 255);
}

static void test_ranges(void)
{
    one_error("service a b ioport=0x3ff-0x3f8", 1, "manifest:1: ioport: reversed range");
    one_error("service a b ioport=0x10-0x20,0x20-0x30", 1,
              "manifest:1: ioport: overlapping ranges");
    one_error("service a b ioport=0x10-0x20,0x0-0x100", 1,
              "manifest:1: ioport: overlapping ranges");
    one_error("service a b ioport=0x10000", 1, "manifest:1: ioport: address out of range");
    one_error("service a b mmio=0x2000-0x1000", 1, "manifest:1: mmio: reversed range");
    one_error("service a b mmio=1-", 1, "manifest:1: mmio: not a number");
    one_error("service a b mmio=0x1000-0x1fff,0x1fff", 1,
              "manifest:1: mmio: overlapping ranges");
    one_error("service a b irq=4,4", 1, "manifest:1: irq: duplicate irq");
    one_error("service a b irq=4,,5", 1, "manifest:1: irq: empty list item");
    one_error("service a b irq=", 1, "manifest:1: irq: empty list item");
    CHECK_EQ(parse("service a b mmio=0xffffffffffff0000-0xffffffffffffffff"), 0);
    CHECK_EQ(m.services[0].mmio[0].end, UINT64_MAX);
    one_error("service a b pci=0x10000", 1, "manifest:1: pci: address out of range");
    one_error("service a b pci=0x18-0x10", 1, "manifest:1: pci: reversed range");
    one_error("service a b pci=0x10-0x17,0x17", 1, "manifest:1: pci: overlapping ranges");
    one_error("service a b pci=0 pci=1", 1, "manifest:1: pci: duplicate key");
    CHECK_EQ(parse("service a b pci=0x0000-0xffff,"), 1);        /* an empty item */
    CHECK_EQ(parse("service a b pci=0x10,0x0000-0x0f"), 0);
    CHECK_EQ(m.services[0].npci, 2);
    CHECK_EQ(m.services[0].pci[0].start, 0x10u);
    CHECK_EQ(m.services[0].pci[1].end, 0x0fu);
}

static void test_lists_bounded(void)
{
    CHECK_EQ(parse("service a b irq=1,2,3,4,5,6,7,8"), 0);
    CHECK_EQ(m.services[0].nirq, 8);
    one_error("service a b irq=1,2,3,4,5,6,7,8,9", 1,
              "manifest:1: irq: too many items (8 at most)");
    one_error("service a b names=/a,/b,/c,/d,/e,/f,/g,/h,/i", 1,
              "manifest:1: names: too many items (8 at most)");
    one_error("service a b names=/a,/a/", 1, "manifest:1: names: duplicate prefix");
    one_error("service a b names=dev", 1,
              "manifest:1: names: bad prefix (absolute path expected)");
    one_error("service a b names=/..", 1,
              "manifest:1: names: bad prefix (absolute path expected)");
    one_error("service a b names=/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
              1, "manifest:1: names: prefix too long (63 bytes at most)");
    one_error("service a b view=/a,//a/.", 1, "manifest:1: view: duplicate prefix");
    one_error("service a b view=a", 1, "manifest:1: view: bad prefix (absolute path expected)");
    one_error("service a b view=/a/../..", 1,
              "manifest:1: view: bad prefix (absolute path expected)");
    one_error("service a b view=/1,/2,/3,/4,/5,/6,/7,/8,/9", 1,
              "manifest:1: view: too many items (8 at most)");
    CHECK_EQ(parse("service a b view=/svc/a,//dev/./x/ names=/svc/a"), 0);
    CHECK_EQ(m.services[0].nview, 2);
    CHECK_STR(m.services[0].view[0], "/svc/a");
    CHECK_STR(m.services[0].view[1], "/dev/x");
}

static void test_keys(void)
{
    one_error("service a b prio=1 prio=2", 1, "manifest:1: prio: duplicate key");
    one_error("service a b restart=sometimes", 1,
              "manifest:1: restart: must be never, always or on-failure");
    one_error("service a b =5", 1, "manifest:1: expected key=value");
    one_error("service a b prio", 1, "manifest:1: expected key=value");
    one_error("service a b verylongunknownkey=1", 1,
              "manifest:1: verylongunk: unknown key");
    one_error("service a b args=\"x", 1, "manifest:1: unterminated quote");
    one_error("service a b args=\"x\"y", 1, "manifest:1: args: text after the closing quote");
    one_error("service a b args=x\"y\"", 1,
              "manifest:1: args: quote inside an unquoted value");
    CHECK_EQ(parse("service a b args=\"say \\\"hi\\\" \\\\ # not a comment\""), 0);
    CHECK_STR(m.services[0].args, "say \"hi\" \\ # not a comment");
}

static void test_head_errors(void)
{
    one_error("service", 1, "manifest:1: missing service name");
    one_error("service   ", 1, "manifest:1: missing service name");
    one_error("service console", 1, "manifest:1: missing program");
    one_error("service console prio=3", 1, "manifest:1: missing program");
    one_error("service Console bin/c", 1,
              "manifest:1: bad service name (a-z, 0-9, - and _, 31 bytes at most)");
    one_error("service 9lives bin/c", 1,
              "manifest:1: bad service name (a-z, 0-9, - and _, 31 bytes at most)");
    one_error("service a /bin/a", 1,
              "manifest:1: program path must be relative to the boot image");
    one_error("service a bin/a$", 1, "manifest:1: bad character in program path");
    CHECK_EQ(m.errors[0].column, 16);
    one_error("services a b", 1, "manifest:1: unknown statement (expected \"service\")");
    CHECK_EQ(parse("service abcdefghijklmnopqrstuvwxyz01234 b"), 0);   /* 31 */
    CHECK_EQ(parse("service abcdefghijklmnopqrstuvwxyz012345 b"), 1);
    char line[128] = "service a ";
    memset(line + 10, 'p', 64);
    line[74] = 0;
    one_error(line, 1, "manifest:1: program path too long (63 bytes at most)");
    line[73] = 0;
    CHECK_EQ(parse(line), 0);
}

static void test_duplicates_and_connect(void)
{
    const char *text =
        "service log bin/log\n"
        "service ui bin/ui connect=log,ghost\n"
        "  service log bin/log2\n";
    CHECK_EQ(parse(text), 2);
    CHECK_EQ(m.nservices, 2);
    CHECK_STR(manifest_find(&m, "log", 3)->program, "bin/log");
    CHECK_STR(err(0), "manifest:3: duplicate service name");
    CHECK_EQ(m.errors[0].column, 11);
    CHECK_STR(err(1), "manifest:2: connect: connects to a service not in the manifest");
    one_error("service a b connect=a,a", 1, "manifest:1: connect: duplicate service name");
    one_error("service a b connect=Bad", 1, "manifest:1: connect: bad service name");
    one_error("service supervisor b", 1,
              "manifest:1: reserved name (init and the supervisor are not services)");
    one_error("service init b", 1,
              "manifest:1: reserved name (init and the supervisor are not services)");
    CHECK_EQ(parse("service a b connect=supervisor"), 0);
    CHECK_EQ(parse("service a b connect=init"), 1);     /* init serves no one */
}

static void test_too_many_services(void)
{
    static char text[8192];
    size_t n = 0;
    for (int i = 0; i < MANIFEST_SERVICES_MAX + 2; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "service s%d bin/s\n", i);
    CHECK_EQ(parse_n(text, n), 2);
    CHECK_EQ(m.nservices, MANIFEST_SERVICES_MAX);
    CHECK_STR(err(0), "manifest:33: too many services (32 at most)");
    CHECK_STR(err(1), "manifest:34: too many services (32 at most)");
}

static void test_huge_line(void)
{
    size_t n = 1u << 20;
    char *p = malloc(n);
    CHECK(p != NULL);
    memset(p, 'x', n);
    memcpy(p, "service a b args=", 17);
    CHECK_EQ(manifest_parse(p, n, &m), 1);
    CHECK_EQ(m.nservices, 0);
    CHECK_EQ(m.lines, 1);
    CHECK_STR(err(0), "manifest:1: line too long (1024 bytes at most)");
    free(p);
    /* exactly at the limit is fine; args is then too long */
    char line[MANIFEST_LINE_MAX + 1];
    memset(line, 'x', MANIFEST_LINE_MAX);
    memcpy(line, "service a b x=", 14);
    CHECK_EQ(parse_n(line, MANIFEST_LINE_MAX), 1);
    CHECK_STR(err(0), "manifest:1: x: unknown key");
    memcpy(line, "service a b args=", 17);
    CHECK_EQ(parse_n(line, MANIFEST_LINE_MAX), 1);
    CHECK_STR(err(0), "manifest:1: args: too long (127 bytes at most)");
}

static void test_line_ends(void)
{
    CHECK_EQ(parse("service a b prio=7"), 0);           /* no trailing LF */
    CHECK_EQ(m.services[0].prio, 7);
    CHECK_EQ(parse("# c\r\nservice a b prio=7\r\nservice c d args=\"x\"\r\n"), 0);
    CHECK_EQ(m.nservices, 2);
    CHECK_EQ(m.services[0].prio, 7);
    CHECK_STR(m.services[1].args, "x");
    CHECK_EQ(m.lines, 3);
    CHECK_EQ(parse("service a b\r"), 0);
    CHECK_EQ(parse(""), 0);
    CHECK_EQ(m.lines, 0);
    CHECK_EQ(parse("\n\n\n"), 0);
    CHECK_EQ(m.lines, 3);
    one_error("service a b\r\r\n", 1, "manifest:1: control character");
    one_error("\nservice a\rb c\n", 2, "manifest:2: control character");
    CHECK_EQ(parse("\tservice\ta\tb\tprio=9\t\n"), 0);
    CHECK_EQ(m.services[0].prio, 9);
}

static void test_nul_bytes(void)
{
    static const char text[] = "service a b\nservice c d\0prio=3\n\0\nservice e f";
    CHECK_EQ(parse_n(text, sizeof(text) - 1), 2);
    CHECK_EQ(m.nservices, 2);
    CHECK_STR(err(0), "manifest:2: NUL byte");
    CHECK_EQ(m.errors[0].column, 12);
    CHECK_STR(err(1), "manifest:3: NUL byte");
    CHECK_STR(m.services[1].name, "e");
    char z[64];
    memset(z, 0, sizeof(z));
    CHECK_EQ(parse_n(z, sizeof(z)), 1);
}

static void test_ten_thousand_lines(void)
{
    size_t cap = 10000 * 24;
    char *text = malloc(cap);
    CHECK(text != NULL);
    size_t n = 0;
    for (int i = 0; i < 10000; i++)
        n += (size_t)snprintf(text + n, cap - n, i % 2 ? "service s%d bin/s\n" : "bad %d\n", i);
    char *p = malloc(n);
    CHECK(p != NULL);
    memcpy(p, text, n);
    free(text);
    CHECK_EQ(manifest_parse(p, n, &m), 5000 + 5000 - MANIFEST_SERVICES_MAX);
    free(p);
    CHECK_EQ(m.lines, 10000);
    CHECK_EQ(m.nservices, MANIFEST_SERVICES_MAX);
    CHECK_EQ(m.nerrors, MANIFEST_ERRORS_MAX);
    CHECK_EQ(m.errors_dropped, 10000 - MANIFEST_SERVICES_MAX - MANIFEST_ERRORS_MAX);
    CHECK_STR(err(0), "manifest:1: unknown statement (expected \"service\")");
    CHECK_STR(err(1), "manifest:3: unknown statement (expected \"service\")");
}

static void test_format_error(void)
{
    struct manifest_error e = { 12345, 3, "prio", "out of range (1-255)" };
    char buf[64];
    const char *want = "manifest:12345: prio: out of range (1-255)";
    CHECK_EQ(manifest_format_error(&e, buf, sizeof(buf)), strlen(want));
    CHECK_STR(buf, want);
    char *small = malloc(10);
    CHECK(small != NULL);
    memset(small, 'Z', 10);
    CHECK_EQ(manifest_format_error(&e, small, 10), strlen(want));
    CHECK_STR(small, "manifest:");
    free(small);
    CHECK_EQ(manifest_format_error(&e, NULL, 0), strlen(want));
    struct manifest_error f = { 0, 0, "", "x" };
    CHECK_EQ(manifest_format_error(&f, buf, sizeof(buf)), 13);
    CHECK_STR(buf, "manifest:0: x");
}

static void test_reparse_resets(void)
{
    CHECK_EQ(parse("bad\nbad\n"), 2);
    CHECK_EQ(parse("service a b"), 0);
    CHECK_EQ(m.nerrors, 0);
    CHECK_EQ(m.errors_dropped, 0);
    CHECK_EQ(m.nservices, 1);
}

/* A driver line: its instances, in order, each with its number in its
 * name and names=, the line's match= and group. */
static void test_match_instances(void)
{
    const char *text =
        "service pci bin/pci\n"
        "service vblk bin/virtio-blk match=1af4:1042,class:0100,class:01 instances=2 "
        "connect=pci names=/dev/vblk#,/dev/disk/#/raw restart=always\n"
        "service vnet bin/virtio-net match=1AF4:1041 connect=pci,log names=/dev/vnet#\n"
        "service log bin/log\n"
        "service user bin/user connect=vblk1,vnet3\n";
    CHECK_EQ(parse(text), 0);
    CHECK_EQ(m.nservices, 1 + 2 + MANIFEST_INSTANCES_DEFAULT + 2);
    CHECK_STR(m.services[1].name, "vblk0");
    CHECK_STR(m.services[2].name, "vblk1");
    CHECK_STR(m.services[3].name, "vnet0");
    CHECK_STR(m.services[6].name, "vnet3");
    const struct manifest_service *b = manifest_find(&m, "vblk1", 5);
    CHECK(b != NULL);
    CHECK_STR(b->group, "vblk");
    CHECK_EQ(b->instance, 1);
    CHECK_EQ(b->instances, 2);
    CHECK_EQ(b->line, 2);
    CHECK_EQ(b->restart, MANIFEST_RESTART_ALWAYS);
    CHECK_STR(b->names[0], "/dev/vblk1");
    CHECK_STR(b->names[1], "/dev/disk/1/raw");
    CHECK_EQ(b->nmatch, 3);
    CHECK(b->match[0].kind == MANIFEST_MATCH_ID && b->match[0].vendor == 0x1af4 &&
          b->match[0].device == 0x1042);
    CHECK(b->match[1].kind == MANIFEST_MATCH_CLASS && b->match[1].class == 1 &&
          b->match[1].subclass == 0);
    CHECK(b->match[2].kind == MANIFEST_MATCH_CLASS && b->match[2].subclass == 0xff);
    CHECK(manifest_matches(b, 0x1af4, 0x1042, 0, 0));
    CHECK(manifest_matches(b, 0x8086, 0x1234, 1, 6));        /* class 01, any subclass */
    CHECK(!manifest_matches(b, 0x1af4, 0x1041, 2, 0));
    const struct manifest_service *n = manifest_find(&m, "vnet0", 5);
    CHECK(n && n->match[0].vendor == 0x1af4 && n->match[0].device == 0x1041);
    CHECK(manifest_matches(n, 0x1af4, 0x1041, 2, 0));
    CHECK(!manifest_matches(n, 0x1af4, 0x1042, 2, 0));
    CHECK(!manifest_find(&m, "vblk", 4) && !manifest_find(&m, "vblk2", 5));
    CHECK_STR(manifest_find(&m, "log", 3)->group, "");
    CHECK_EQ(manifest_find(&m, "log", 3)->nmatch, 0);
    /* connect= names instances, not the line */
    CHECK_EQ(parse("service pci p\nservice d p match=0001:0002 connect=pci instances=1\n"
                   "service u p connect=d\n"), 1);
    CHECK_STR(err(0), "manifest:3: connect: connects to a service not in the manifest");
    CHECK_EQ(parse("service pci p\nservice d p match=0001:0002 connect=pci instances=8\n"), 0);
    CHECK_EQ(m.nservices, 9);
    CHECK_STR(m.services[8].name, "d7");
}

/* Hostile match= values: each line is reported with its line and
 * skipped; the good lines around it stay. */
static void test_match_errors(void)
{
    static const struct { const char *line, *msg; } bad[] = {
        { "match=", "match: empty list item" },
        { "match=1af4", "match: bad device (vendor:device, 4 hex digits each, or class:CC[SS])" },
        { "match=1af4:", "match: bad device (vendor:device, 4 hex digits each, or class:CC[SS])" },
        { "match=1af4:10411", "match: bad device (vendor:device, 4 hex digits each, or class:CC[SS])" },
        { "match=1af:1041", "match: bad device (vendor:device, 4 hex digits each, or class:CC[SS])" },
        { "match=0x1af4:1041", "match: bad device (vendor:device, 4 hex digits each, or class:CC[SS])" },
        { "match=1af4-1041", "match: bad device (vendor:device, 4 hex digits each, or class:CC[SS])" },
        { "match=g000:1041", "match: bad device (vendor:device, 4 hex digits each, or class:CC[SS])" },
        { "match=1af4:1041:00", "match: bad device (vendor:device, 4 hex digits each, or class:CC[SS])" },
        { "match=ffff:1041", "match: vendor or device ffff matches no device" },
        { "match=1af4:FFFF", "match: vendor or device ffff matches no device" },
        { "match=class:", "match: bad class (class:CC or class:CCSS, hex)" },
        { "match=class:2", "match: bad class (class:CC or class:CCSS, hex)" },
        { "match=class:020", "match: bad class (class:CC or class:CCSS, hex)" },
        { "match=class:02000", "match: bad class (class:CC or class:CCSS, hex)" },
        { "match=class:zz", "match: bad class (class:CC or class:CCSS, hex)" },
        { "match=class:ff", "match: class ff matches no device" },
        { "match=class:ff00", "match: class ff matches no device" },
        { "match=CLASS:02", "match: bad device (vendor:device, 4 hex digits each, or class:CC[SS])" },
        { "match=1af4:1041,", "match: empty list item" },
        { "match=,1af4:1041", "match: empty list item" },
        { "match=1af4:1041,1AF4:1041", "match: duplicate device" },
        { "match=class:02,class:02", "match: duplicate device" },
        { "match=\"1af4:1041 1af4:1042\"", "match: bad device (vendor:device, 4 hex digits each, or class:CC[SS])" },
        { "match=0001:0001,0001:0002,0001:0003,0001:0004,0001:0005,0001:0006,0001:0007,"
          "0001:0008,0001:0009", "match: too many items (8 at most)" },
        { "match=1af4:1041 match=1af4:1042", "match: duplicate key" },
        { "match=1af4:1041 instances=0", "instances: out of range (1-8)" },
        { "match=1af4:1041 instances=9", "instances: out of range (1-8)" },
        { "match=1af4:1041 instances=x", "instances: not a number" },
        { "match=1af4:1041 names=/dev/d", "names: a driver line's prefix needs one \"#\" (the instance number)" },
        { "match=1af4:1041 names=/dev/d#/#", "names: a driver line's prefix needs one \"#\" (the instance number)" },
        { "match=1af4:1041 names=/dev/d#,/dev/e", "names: a driver line's prefix needs one \"#\" (the instance number)" },
        { "match=1af4:1041 pci=0x18", "pci: not on a driver line (its function comes from the PCI server)" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512], want[200];
        snprintf(text, sizeof(text), "service pci bin/pci\n\nservice drv bin/drv connect=pci %s\n"
                 "service after bin/after\n", bad[i].line);
        snprintf(want, sizeof(want), "manifest:3: %s", bad[i].msg);
        CHECK_EQ(parse(text), 1);
        CHECK_STR(err(0), want);
        CHECK_EQ(m.nservices, 2);
        CHECK(manifest_find(&m, "pci", 3) && manifest_find(&m, "after", 5));
        CHECK(!manifest_find(&m, "drv0", 4));
    }
    one_error("service d p match=1af4:1041", 1,
              "manifest:1: match: needs connect=pci (its devices come from the PCI server)");
    one_error("service pci p\nservice d p instances=2 connect=pci", 2,
              "manifest:2: instances: only with match=");
    one_error("service d p names=/dev/d#", 1,
              "manifest:1: names: \"#\" (the instance number) only with match=");
    one_error("service pci p\nservice abcdefghijabcdefghijabcdefghija p match=0001:0002 connect=pci", 2,
              "manifest:2: driver name too long (30 bytes at most: the instance number follows)");
    CHECK_EQ(parse("service pci p\nservice abcdefghijabcdefghijabcdefghij p match=0001:0002 connect=pci"), 0);
    CHECK_STR(m.services[1].name, "abcdefghijabcdefghijabcdefghij0");
    /* an instance's name taken: none of the line's instances */
    one_error("service pci p\nservice d1 p\nservice d p match=0001:0002 connect=pci", 3,
              "manifest:3: an instance's name is another service's");
    CHECK_EQ(m.nservices, 2);
    /* and one taken later: the later line is the duplicate */
    one_error("service pci p\nservice d p match=0001:0002 connect=pci\nservice d2 p", 3,
              "manifest:3: duplicate service name");
    /* instances count against the 32 services, all or none */
    static char text[4096];
    size_t n = (size_t)snprintf(text, sizeof(text), "service pci p\n");
    for (int i = 0; i < 29; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "service s%d p\n", i);
    n += (size_t)snprintf(text + n, sizeof(text) - n, "service d p match=0001:0002 connect=pci\n");
    CHECK_EQ(parse_n(text, n), 1);
    CHECK_STR(err(0), "manifest:31: too many services (32 at most, counting each instance)");
    CHECK_EQ(m.nservices, 30);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_match_instances),
    CHECK_TEST(test_match_errors),
    CHECK_TEST(test_valid_all_keys),
    CHECK_TEST(test_defaults),
    CHECK_TEST(test_shipped_manifest),
    CHECK_TEST(test_errors_continue),
    CHECK_TEST(test_numbers),
    CHECK_TEST(test_ranges),
    CHECK_TEST(test_lists_bounded),
    CHECK_TEST(test_keys),
    CHECK_TEST(test_head_errors),
    CHECK_TEST(test_duplicates_and_connect),
    CHECK_TEST(test_too_many_services),
    CHECK_TEST(test_huge_line),
    CHECK_TEST(test_line_ends),
    CHECK_TEST(test_nul_bytes),
    CHECK_TEST(test_ten_thousand_lines),
    CHECK_TEST(test_format_error),
    CHECK_TEST(test_reparse_resets),
};

CHECK_MAIN("manifest", tests)
