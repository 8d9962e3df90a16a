/*
 * selftest: the runner for the tests registered with SELFTEST() (see
 * selftest.h).  Tests run one after another on the BSP with interrupts on,
 * after the whole kernel is up.  The run ends QEMU through isa-debug-exit
 * with PASS or FAIL so that tools/runtests does not wait for a time limit.
 */
#include "core/selftest.h"

#include "arch/x86_64/qemu.h"
#include "base/cmdline.h"
#include "base/string.h"

extern const struct selftest __selftests_start[], __selftests_end[];

static const char *fail_what, *fail_file;
static int fail_line;

void selftest_fail_reason(const char *what, const char *file, int line)
{
    fail_what = what;
    fail_file = file;
    fail_line = line;
}

static bool selected(const struct selftest *t, const char *spec)
{
    if (cmdline_list_has(spec, t->name))
        return true;
    return !t->opt_in && cmdline_list_has(spec, "all");
}

_Noreturn void selftest_run(const char *spec)
{
    unsigned passed = 0, failed = 0;
    for (const struct selftest *t = __selftests_start; t < __selftests_end; t++) {
        if (!selected(t, spec))
            continue;
        fail_what = NULL;
        kprintf("TEST RUN kernel.%s\n", t->name);
        if (t->fn()) {
            kprintf("TEST PASS kernel.%s\n", t->name);
            passed++;
        } else {
            kprintf("TEST FAIL kernel.%s: %s (%s:%d)\n", t->name,
                    fail_what ? fail_what : "returned false",
                    fail_file ? fail_file : "?", fail_line);
            failed++;
        }
    }
    /* Every name asked for must exist: a typo is a failure, not a pass. */
    const char *p = spec;
    while (*p) {
        char name[64];
        unsigned n = 0;
        while (p[n] && p[n] != ',' && n + 1 < sizeof(name)) {
            name[n] = p[n];
            n++;
        }
        name[n] = 0;
        bool known = strcmp(name, "all") == 0;
        for (const struct selftest *t = __selftests_start; t < __selftests_end && !known; t++)
            known = strcmp(t->name, name) == 0;
        if (!known) {
            kprintf("TEST FAIL kernel.%s: no such self test\n", name);
            failed++;
        }
        p += n;
        while (*p && *p != ',')
            p++;
        if (*p == ',')
            p++;
    }
    kprintf("SELFTESTS DONE: %u passed, %u failed\n", passed, failed);
    qemu_exit(failed ? QEMU_EXIT_FAIL : QEMU_EXIT_PASS);
}
