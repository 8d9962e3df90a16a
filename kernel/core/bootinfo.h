/*
 * bootinfo: what the boot loader told us (Multiboot v1), copied into kernel
 * memory at the very start so that nothing depends on the loader's memory
 * afterwards: the memory map, the command line and the modules (the boot
 * image).
 */
#ifndef KESTREL_CORE_BOOTINFO_H
#define KESTREL_CORE_BOOTINFO_H

#include <stdbool.h>
#include <stdint.h>

#define BOOT_MAX_REGIONS 128
#define BOOT_MAX_MODULES 16
#define BOOT_CMDLINE_MAX 1024

enum { REGION_RAM = 1, REGION_RESERVED = 2, REGION_ACPI = 3, REGION_NVS = 4, REGION_BAD = 5 };

struct boot_region {
    uint64_t base;
    uint64_t len;
    uint32_t type;
};

struct boot_module {
    uint64_t start;           /* physical, [start, end) */
    uint64_t end;
    char name[64];
};

struct bootinfo {
    char cmdline[BOOT_CMDLINE_MAX];
    struct boot_region regions[BOOT_MAX_REGIONS];
    unsigned nregions;
    struct boot_module modules[BOOT_MAX_MODULES];
    unsigned nmodules;
    uint64_t info_phys;       /* the loader's structure, reserved until parsed */
};

extern struct bootinfo bootinfo;

/* Parses the Multiboot information; panics with a clear message if the
 * loader is not Multiboot compliant or gave no memory map. */
void bootinfo_parse(uint32_t magic, uint64_t info_phys);

/* Value of a command-line option (see lib/base/cmdline.h); false when
 * absent.  Malformed options are reported on the console. */
bool boot_option(const char *key, char *val, unsigned long valsize);

#endif
