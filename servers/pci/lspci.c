/*
 * lspci: lists the PCI functions the PCI server found (/dev/pci,
 * protocols/pci.proto), one line each as "BB:DD.F VVVV:DDDD class CCSSPP",
 * then, for a function bound to a driver instance (manifest match=) or
 * claimed, " driver NAME" and " (not running)" when no driver holds it
 * now; with -v each BAR under it.  Exit status 1 if the server cannot be
 * reached or answers badly.
 */
#include "base/string.h"
#include "kestrel/errors.h"
#include "protocols/pci.h"
#include "rt/rt.h"
#include "rt/service.h"
#include "rt/stdio.h"

int main(int argc, char **argv)
{
    bool verbose = argc > 1 && strcmp(argv[1], "-v") == 0;
    struct rt_service pci = { .path = "/dev/pci", .wait_ms = 5000 };
    long r = rt_service_connect(&pci);
    if (r < 0) {
        printf("lspci: cannot reach /dev/pci: %s\n", k_strerror(r));
        return 1;
    }
    for (uint32_t i = 0;; i++) {
        struct pci_list_req q = { .index = i };
        struct pci_list_rep f;
        r = pci_list(pci.conn, &q, &f);
        if (r == -E_NOENT)
            return 0;
        if (r < 0) {
            printf("lspci: function %u: %s\n", i, k_strerror(r));
            return 1;
        }
        f.driver[sizeof(f.driver) - 1] = 0;
        printf("%02x:%02x.%u %04x:%04x class %02x%02x%02x rev %02x%s%s%s%s\n", f.bus, f.dev,
               f.fn, f.vendor, f.device, f.class, f.subclass, f.progif, f.revision,
               f.msix ? " msix" : "", f.driver[0] ? " driver " : "", f.driver,
               f.driver[0] && !f.claimed ? " (not running)" : "");
        for (uint32_t b = 0; verbose && b < 6; b++) {
            struct pci_bar_req bq = { .index = i, .bar = b };
            struct pci_bar_rep br;
            if (pci_bar(pci.conn, &bq, &br) == 0 && br.size)
                printf("  bar%u %s %#lx size %#lx\n", b,
                       br.flags & PCI_BAR_IO ? "io" : br.flags & PCI_BAR_64 ? "mem64" : "mem32",
                       (unsigned long)br.base, (unsigned long)br.size);
        }
    }
}
