/*
 * selftest: in-kernel tests, registered by macro, run when the command line
 * says selftest=all (every test that is not opt-in) or selftest=a,b (those
 * named, opt-in ones included).  Each prints one line that tools/runtests
 * reads:  "TEST PASS kernel.NAME"  or  "TEST FAIL kernel.NAME: why".
 *
 *     SELFTEST(pmm_alloc_free) {
 *         uint64_t pa = frame_alloc();
 *         ST_CHECK(pa != PMM_NONE);
 *         ...
 *         return true;
 *     }
 */
#ifndef KESTREL_CORE_SELFTEST_H
#define KESTREL_CORE_SELFTEST_H

#include <stdbool.h>

#include "core/printk.h"

struct selftest {
    const char *name;
    bool (*fn)(void);
    bool opt_in;              /* runs only when named (fault tests) */
};

#define SELFTEST_DEFINE(tname, optin)                                         \
    static bool selftest_fn_##tname(void);                                    \
    static const struct selftest selftest_##tname                              \
        __attribute__((used, section(".selftests"), aligned(8))) = {           \
            #tname, selftest_fn_##tname, optin };                              \
    static bool selftest_fn_##tname(void)

#define SELFTEST(tname) SELFTEST_DEFINE(tname, false)
#define SELFTEST_OPTIN(tname) SELFTEST_DEFINE(tname, true)

/* Fails the current test with the condition's text and location. */
#define ST_CHECK(cond)                                                        \
    do {                                                                      \
        if (!(cond)) {                                                        \
            selftest_fail_reason(#cond, __FILE__, __LINE__);                  \
            return false;                                                     \
        }                                                                     \
    } while (0)

void selftest_fail_reason(const char *what, const char *file, int line);

/* Runs the tests SPEC selects and ends the QEMU run with the outcome. */
_Noreturn void selftest_run(const char *spec);

#endif
