/*
 * drvtest: drivers started by device match (manifest match=, decision
 * 0026), boot pci_drivers (bootimage/tests/drv.manifest): two virtio
 * block disks of different sizes, no virtio network device.
 *
 * As the test (no arguments, a plain service with connect=pci): the
 * supervisor started vblk0 and vblk1, one per disk, and neither vblk2
 * (no third disk) nor any vnet instance (state 4, no device); the PCI
 * server's list names the driver of each function; each instance serves
 * its own disk (its size, and a pattern written through each that the
 * host finds on that image only, tools/runtests); vblk1 restarted by the
 * supervisor drives the same function again and its disk takes another
 * write; hostile calls: a claim of a function bound to an instance (from
 * a plain service), start of an instance with no device, a forged
 * device report, list past the end, a truncated claim.
 *
 * As "grab" (the instance grab0 of a driver line of its own, bound to
 * q35's SMBus controller 8086:2930): it claims its own function, and
 * cannot claim another instance's (vblk0's disk by vendor:device, or
 * "the second match"), then stays.
 *
 * "drvtest: ok WHAT" / "FAIL WHAT", then "DRVTEST DONE: N failed".
 */
#include <stdbool.h>

#include "base/string.h"
#include "bdev/bdev.h"
#include "kestrel/errors.h"
#include "kestrel/proto.h"
#include "kestrel/supervise.h"
#include "protocols/pci.h"
#include "protocols/supervisor.h"
#include "rt/rt.h"
#include "rt/stdio.h"

#define NODEV 4                 /* supervisor list: a driver instance with no device */
#define RUNNING 1
#define SECTOR_A 100            /* written through each disk before the restart */
#define SECTOR_B 101            /* through vblk1 after it */

static int failed;
static long sup, pci;

static void check(int ok, const char *what)
{
    printf("drvtest: %s %s\n", ok ? "ok" : "FAIL", what);
    failed += !ok;
}

/* Service NAME as the supervisor lists it; its index or -1. */
static long service(const char *name, struct supervisor_list_rep *out)
{
    for (uint32_t i = 0;; i++) {
        struct supervisor_list_req q = { .index = i };
        if (supervisor_list(sup, &q, out) < 0)
            return -1;
        out->name[sizeof(out->name) - 1] = 0;
        if (strcmp(out->name, name) == 0)
            return i;
    }
}

/* Waits up to 10 s for NAME to be running (and, with EXITS >= 0, to have
 * more deaths than EXITS); whether it is. */
static bool wait_running(const char *name, long exits)
{
    struct supervisor_list_rep r;
    for (int i = 0; i < 1000; i++) {
        if (service(name, &r) >= 0 && r.state == RUNNING && (long)r.exits > exits)
            return true;
        k_thread_sleep(10 * 1000000L);
    }
    return false;
}

/* The function pci lists with DRIVER claimed (waiting up to 10 s for the
 * claim); its index or -1. */
static long driven_by(const char *driver, struct pci_list_rep *out)
{
    for (int t = 0; t < 1000; t++) {
        for (uint32_t i = 0;; i++) {
            struct pci_list_req q = { .index = i };
            if (pci_list(pci, &q, out) < 0)
                break;
            out->driver[sizeof(out->driver) - 1] = 0;
            if (strcmp(out->driver, driver) == 0 && out->claimed)
                return i;
        }
        k_thread_sleep(10 * 1000000L);
    }
    return -1;
}

/* A claim; its function's index or an error.  The device connection is
 * kept in *KEEP if KEEP, else closed at once. */
static long claim_keep(long conn, uint16_t vendor, uint16_t device, uint16_t instance, long *keep)
{
    struct pci_claim_req q = { .vendor = vendor, .device = device, .class = 0xff,
                               .subclass = 0xff, .instance = instance };
    struct pci_claim_rep r;
    long e = pci_claim(conn, &q, &r);
    if (e >= 0) {
        long h = k_handle_received();
        if (keep)
            *keep = h;
        else if (h > 0)
            k_handle_close(h);          /* released: the server stops the device */
        return r.index;
    }
    return e;
}

static long claim(long conn, uint16_t vendor, uint16_t device, uint16_t instance)
{
    return claim_keep(conn, vendor, device, instance, NULL);
}

static void pattern(uint8_t *p, const char *tag)
{
    for (unsigned i = 0; i < 512; i++)
        p[i] = (uint8_t)tag[i % strlen(tag)];
}

/* ---- as grab0: a driver instance of its own ---- */

__attribute__((noreturn)) static void grab_main(void)
{
    long dev = -1;
    long r = claim_keep(pci, PCI_ANY, PCI_ANY, 0, &dev);
    struct pci_list_rep f;
    struct pci_list_req q = { .index = (uint32_t)r };
    bool own = r >= 0 && pci_list(pci, &q, &f) == 0 && f.vendor == 0x8086 &&
               f.device == 0x2930 && strcmp(f.driver, "grab0") == 0;
    check(own && dev > 0, "grab0: its claim gives its own function, 8086:2930");
    check(claim(pci, 0x1af4, 0x1042, 0) == -E_PERM,
          "grab0: a claim of another instance's device (1af4:1042): E_PERM");
    check(claim(pci, PCI_ANY, PCI_ANY, 1) == -E_PERM, "grab0: a claim of a second match: E_PERM");
    check(claim(pci, PCI_ANY, PCI_ANY, 0xffff) == -E_PERM, "grab0: instance 0xffff: E_PERM");
    check(claim(pci, 0x8086, 0x2930, 0) == -E_BUSY,
          "grab0: its own function again while it holds it: E_BUSY");
    printf("drvtest: grab0 done\n");
    for (;;)                        /* hold the device until the test ends */
        k_thread_sleep(1000L * 1000000L);
}

/* ---- as the test ---- */

static void states(void)
{
    check(wait_running("vblk0", -1) && wait_running("vblk1", -1),
          "vblk0 and vblk1 started, one per disk");
    struct supervisor_list_rep r;
    check(service("vblk2", &r) >= 0 && r.state == NODEV && r.uptime_ms == 0,
          "vblk2 (no third disk) not started: no device");
    bool vnet = true;
    for (int i = 0; i < 4; i++) {
        char name[8] = "vnet0";
        name[4] = (char)('0' + i);
        vnet &= service(name, &r) >= 0 && r.state == NODEV;
    }
    check(vnet, "no vnet instance started (no network device)");
    check(service("vnet", &r) < 0 && service("vblk", &r) < 0,
          "a driver line's own name is no service");
}

/* The listing: each disk named with its driver; returns vblk1's function. */
static long listing(struct pci_list_rep *f1)
{
    struct pci_list_rep f0, g;
    long i0 = driven_by("vblk0", &f0), i1 = driven_by("vblk1", f1);
    check(i0 >= 0 && i1 >= 0 && i0 < i1 && f0.device == 0x1042 && f1->device == 0x1042,
          "list: the disks' drivers are vblk0 and vblk1, in bus order");
    check(driven_by("grab0", &g) >= 0 && g.device == 0x2930, "list: the SMBus's driver is grab0");
    printf("drvtest: vblk0 drives %02x:%02x.%u, vblk1 %02x:%02x.%u\n", f0.bus, f0.dev, f0.fn,
           f1->bus, f1->dev, f1->fn);
    return i1;
}

static void disks(struct bdev *b0, struct bdev *b1)
{
    long r0 = bdev_open(b0, rt_handle("vblk0"), 64 << 10);
    long r1 = bdev_open(b1, rt_handle("vblk1"), 64 << 10);
    check(r0 == 0 && r1 == 0, "a session with each instance");
    if (r0 || r1)
        return;
    check(b0->info.sectors == 8192 && b1->info.sectors == 16384,
          "vblk0 serves the 4 MiB disk, vblk1 the 8 MiB one");
    pattern(b0->buf, "KESTREL-VBLK0-A:");
    pattern(b1->buf, "KESTREL-VBLK1-A:");
    check(bdev_write(b0, SECTOR_A, 1, 0) == 512 && bdev_write(b1, SECTOR_A, 1, 0) == 512 &&
          bdev_flush(b0) == 0 && bdev_flush(b1) == 0,
          "a write through each disk");
    uint8_t want[512];
    pattern(want, "KESTREL-VBLK0-A:");
    memset(b0->buf, 0, 512);
    check(bdev_read(b0, SECTOR_A, 1, 0) == 512 && memcmp(b0->buf, want, 512) == 0,
          "vblk0 reads back its own write");
}

static void restart(struct bdev *b1, long i1, const struct pci_list_rep *before)
{
    struct supervisor_list_rep r;
    long exits = service("vblk1", &r) >= 0 ? (long)r.exits : 0;
    struct supervisor_restart_req q = { 0 };
    memcpy(q.name, "vblk1", 6);
    struct supervisor_restart_rep rr;
    check(supervisor_restart(sup, &q, &rr) == 0 && wait_running("vblk1", exits),
          "vblk1 restarted by the supervisor");
    struct pci_list_rep after;
    long j = driven_by("vblk1", &after);
    check(j == i1 && after.bus == before->bus && after.dev == before->dev &&
          after.fn == before->fn, "the restarted vblk1 drives the same function");
    pattern(b1->buf, "KESTREL-VBLK1-B:");
    check(bdev_write(b1, SECTOR_B, 1, 0) == 512 && bdev_flush(b1) == 0,
          "a write through the restarted vblk1");
}

static void hostile(void)
{
    check(claim(pci, 0x1af4, 0x1042, 0) == -E_PERM,
          "a plain service's claim of a function bound to an instance: E_PERM");
    check(claim(pci, 0x8086, 0x2930, 0) == -E_PERM,
          "a plain service's claim of grab0's function: E_PERM");
    check(claim(pci, 0x1af4, 0x1041, 0) == -E_NOENT, "a claim of a device not there: E_NOENT");
    struct pci_list_req lq = { .index = 0xffffffffu };
    struct pci_list_rep lr;
    check(pci_list(pci, &lq, &lr) == -E_NOENT, "list past the end: E_NOENT");
    /* a claim cut short: the header and 3 bytes of its request */
    static uint8_t buf[64], rep[128];
    struct k_proto_hdr h = { .proto = PCI_PROTO_ID, .version = PCI_VERSION, .msg = PCI_MSG_CLAIM };
    memcpy(buf, &h, sizeof(h));
    long e = k_msg_send(pci, (long)buf, -(long)(sizeof(h) + 3), (long)rep, -(long)sizeof(rep));
    check(e == -E_INVAL, "a truncated claim: E_INVAL");
    struct supervisor_start_req sq = { 0 };
    memcpy(sq.name, "vblk2", 6);
    struct supervisor_start_rep sr;
    check(supervisor_start(sup, &sq, &sr) == -E_NOENT, "start of an instance with no device: E_NOENT");
    /* A device report from anyone but pci is ignored. */
    struct supervisor_list_rep r;
    long v2 = service("vblk2", &r);
    long hb = rt_handle("heartbeat");
    check(v2 >= 0 && k_pulse_send(hb, K_DEVICE_CODE, (long)K_DEVICE_VALUE(v2, 0x18), 0) == 0,
          "a forged device report sent");
    k_thread_sleep(300 * 1000000L);
    check(service("vblk2", &r) >= 0 && r.state == NODEV, "a forged device report starts nothing");
}

int main(int argc, char **argv)
{
    sup = rt_handle("supervisor");
    pci = rt_handle("pci");
    if (argc > 1 && strcmp(argv[1], "grab") == 0 && pci >= 0)
        grab_main();
    if (sup < 0 || pci < 0) {
        printf("drvtest: needs connect=pci,supervisor,vblk0,vblk1\n");
        return 1;
    }
    states();
    struct pci_list_rep f1;
    long i1 = listing(&f1);
    static struct bdev b0, b1;
    disks(&b0, &b1);
    restart(&b1, i1, &f1);
    hostile();
    printf("DRVTEST DONE: %d failed\n", failed);
    return failed ? 1 : 0;
}
