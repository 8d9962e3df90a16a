/*
 * captest: started by init from bootimage/tests/caps.manifest, it checks
 * that it holds exactly what its manifest line grants (irq=5,
 * ioport=0x60-0x64, mmio=0xb0000000-0xb0000fff, connect=log) and nothing
 * else.  Prints TEST PASS/FAIL user.caps.NAME lines; exits 0 if all passed.
 */
#include "base/string.h"
#include "kestrel/msg.h"
#include "kestrel/resource.h"
#include "kestrel/rights.h"
#include "kestrel/vm.h"
#include "protocols/log.h"
#include "rt/rt.h"
#include "rt/stdio.h"

static int failures;

static void check(const char *name, int ok)
{
    printf("TEST %s user.caps.%s\n", ok ? "PASS" : "FAIL", name);
    failures += !ok;
}

static void test_irq(void)
{
    long irq = rt_handle("irq"), ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    long h = k_irq_attach(irq, 5, conn, 1);
    check("irq_granted", h > 0);
    check("irq_other_refused", k_irq_attach(irq, 6, conn, 1) == -E_PERM);
    check("irq_no_widening", k_resource_narrow(irq, 4, 2) == -E_PERM);
    k_handle_close(h);
    k_handle_close(conn);
    k_handle_close(ch);
}

static void test_ranges(void)
{
    long io = rt_handle("ioport"), mmio = rt_handle("mmio");
    long sub = k_resource_narrow(io, 0x60, 5);
    check("ioport_granted", sub > 0);
    check("ioport_other_refused", k_resource_narrow(io, 0x70, 1) == -E_PERM);
    long ecam = k_vmo_create(4096, K_VMO_PHYS, 0xb0000000, mmio);
    check("mmio_granted", ecam > 0);
    check("mmio_other_refused", k_vmo_create(4096, K_VMO_PHYS, 0xb0001000, mmio) == -E_PERM);
    k_handle_close(sub);
    k_handle_close(ecam);
}

static void test_nothing_else(void)
{
    check("no_boot_image", rt_handle("bootfs") < 0);
    check("no_procmgr_connection", rt_handle("procmgr") < 0);
    check("own_channel", rt_handle("chan") > 0);
    check("args_passed", rt_startup && rt_startup->argc == 3 &&
                         strcmp(rt_startup->argv[1], "one") == 0 &&
                         strcmp(rt_startup->argv[2], "two") == 0);
}

static void test_log(void)
{
    struct log_write_req req = { .severity = 1 };
    memcpy(req.tag, "captest", 8);
    struct log_write_rep rep = { 0 };
    const char *text = "hello from a service with a connection to log";
    long r = log_write(rt_handle("log"), &req, text, strlen(text), &rep);
    check("log_connection", r == 0 && rep.sequence >= 1);
    req.severity = 9;
    check("log_bad_severity", log_write(rt_handle("log"), &req, "x", 1, &rep) == -E_INVAL);
    char junk[5] = "junk";
    check("log_truncated_message", k_msg_send(rt_handle("log"), (long)junk, -5, 0, 0) == -E_INVAL);
    check("log_empty_message", k_msg_send(rt_handle("log"), 0, 0, 0, 0) == -E_INVAL);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    test_irq();
    test_ranges();
    test_nothing_else();
    test_log();
    printf("CAPTEST DONE: %d failed\n", failures);
    return failures ? 1 : 0;
}
