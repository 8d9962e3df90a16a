/*
 * start: what happens around main (see rt.h): the start-up block and its
 * handles, exit and abort.  rt_startup is written once by crt0.S before
 * anything else runs and only read afterwards.
 */
#include "rt/rt.h"
#include "kestrel/supervise.h"
#include "kestrel/vm.h"
#include "rt/stdio.h"

#include "base/string.h"

struct k_startup *rt_startup;
int rt_argc;
char **rt_argv;

void rt_args_init(void);

static char *no_args[1];

#define K_STARTUP_NAME_MAX sizeof(((struct k_startup_handle *)0)->name)

/* Called by crt0.S: a block without the right magic counts as absent. */
void rt_args_init(void)
{
    if (rt_startup && rt_startup->magic != K_STARTUP_MAGIC)
        rt_startup = 0;
    if (rt_startup && rt_startup->argv) {
        rt_argc = (int)rt_startup->argc;
        rt_argv = rt_startup->argv;
    } else {
        rt_argc = 0;
        rt_argv = no_args;
    }
}

long rt_handle(const char *name)
{
    if (!rt_startup || strnlen(name, K_STARTUP_NAME_MAX) == K_STARTUP_NAME_MAX)
        return -1;
    uint64_t n = rt_startup->nhandles;
    if (n > K_STARTUP_MAX_HANDLES)
        n = K_STARTUP_MAX_HANDLES;
    for (uint64_t i = 0; i < n; i++) {
        const struct k_startup_handle *h = &rt_startup->handles[i];
        if (strncmp(h->name, name, K_STARTUP_NAME_MAX) == 0)
            return h->handle;
    }
    return -1;
}

const char *rt_handle_text(const char *name, size_t *len)
{
    long vmo = rt_handle(name);
    long size = vmo >= 0 ? k_vmo_size(vmo) : -1;
    long base = size > 0 ? k_vmo_map(0, vmo, 0, size, K_PROT_READ) : -1;
    if (base < 0)
        return NULL;
    *len = strnlen((const char *)base, (size_t)size);
    return (const char *)base;
}

void rt_exit(int status)
{
    rt_stdout_flush();
    for (;;)
        k_process_exit(status);
}

void rt_abort(const char *why)
{
    const char *prog = rt_argc > 0 && rt_argv[0] ? rt_argv[0] : "?";
    rt_stdout_flush();
    printf("%s: abort: %s\n", prog, why);
    rt_exit(-E_FAULT);
}

long rt_heartbeat(void)
{
    long sup = rt_handle("heartbeat");
    return sup < 0 ? -E_NOENT : k_pulse_send(sup, K_HEARTBEAT_CODE, 0, 0);
}
