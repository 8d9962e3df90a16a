/*
 * bootinfo: Multiboot v1 parsing (see bootinfo.h).  Runs before paging_init,
 * when only physical memory below 1 GiB is reachable (through the boot
 * mapping at KERNEL_VMA); anything the loader put higher is reported and
 * ignored rather than read.  The memory map and module list are parsed by
 * mb_parse.c (pure, host-tested); this file reaches the loader's memory,
 * copies strings and reports.
 */
#include "core/bootinfo.h"

#include "arch/x86_64/asm.h"
#include "base/cmdline.h"
#include "base/string.h"
#include "core/mb_parse.h"
#include "core/printk.h"

#define MB_LOADER_MAGIC 0x2BADB002
#define MBI_MEM      (1u << 0)
#define MBI_CMDLINE  (1u << 2)
#define MBI_MODS     (1u << 3)
#define MBI_MMAP     (1u << 6)

#define EARLY_LIMIT (1UL << 30)

struct mb_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline;
    uint32_t mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
} __attribute__((packed));

struct bootinfo bootinfo;

static const void *early_ptr(uint64_t phys, uint64_t len)
{
    if (phys >= EARLY_LIMIT || len > EARLY_LIMIT - phys)
        return 0;
    return (const void *)(phys + KERNEL_VMA);
}

static void copy_string(char *dst, unsigned size, uint64_t phys)
{
    dst[0] = 0;
    const char *s = early_ptr(phys, 1);
    if (!s)
        return;
    unsigned i = 0;
    while (i + 1 < size && phys + i < EARLY_LIMIT && s[i]) {
        dst[i] = s[i];
        i++;
    }
    dst[i] = 0;
    if (phys + i < EARLY_LIMIT && s[i])
        kprintf("boot: string at %#lx truncated to %u bytes\n", phys, size - 1);
}

static void parse_mmap(const struct mb_info *mbi)
{
    const uint8_t *p = early_ptr(mbi->mmap_addr, mbi->mmap_length);
    if (!p)
        panic("boot: memory map at %#x is out of reach", mbi->mmap_addr);
    struct mb_mmap_result res;
    int r = mb_mmap_parse(p, mbi->mmap_length, bootinfo.regions, BOOT_MAX_REGIONS, &res);
    bootinfo.nregions = res.nregions;
    if (r == MB_ESIZE)
        panic("boot: malformed memory map entry at offset %lu", (unsigned long)res.bad_offset);
    if (r == MB_ETRUNC)
        kprintf("boot: memory map entry at offset %lu runs past the map; it and the rest ignored\n",
                (unsigned long)res.bad_offset);
    if (res.dropped)
        kprintf("boot: more than %d memory regions; %u ignored\n", BOOT_MAX_REGIONS, res.dropped);
    if (res.trailing)
        kprintf("boot: %lu stray bytes at the end of the memory map ignored\n",
                (unsigned long)res.trailing);
}

static void parse_modules(const struct mb_info *mbi)
{
    uint64_t len = (uint64_t)mbi->mods_count * MB_MOD_ENTRY_LEN;
    const void *list = early_ptr(mbi->mods_addr, len);
    struct mb_module mods[BOOT_MAX_MODULES];
    struct mb_mods_result res;
    if (!list || mb_mods_parse(list, len, mbi->mods_count, mods, BOOT_MAX_MODULES, &res) != MB_OK) {
        kprintf("boot: module list at %#x is out of reach; no modules\n", mbi->mods_addr);
        return;
    }
    if (res.bad)
        kprintf("boot: %u modules have end before start; ignored\n", res.bad);
    if (res.dropped)
        kprintf("boot: more than %d modules; %u ignored\n", BOOT_MAX_MODULES, res.dropped);
    for (unsigned i = 0; i < res.nmodules; i++) {
        struct boot_module *bm = &bootinfo.modules[i];
        bm->start = mods[i].start;
        bm->end = mods[i].end;
        copy_string(bm->name, sizeof(bm->name), mods[i].string);
    }
    bootinfo.nmodules = res.nmodules;
}

void bootinfo_parse(uint32_t magic, uint64_t info_phys)
{
    if (magic != MB_LOADER_MAGIC)
        panic("boot: not started by a Multiboot loader (magic %#x)", magic);
    const struct mb_info *mbi = early_ptr(info_phys, sizeof(*mbi));
    if (!mbi)
        panic("boot: Multiboot information at %#lx is out of reach", info_phys);
    bootinfo.info_phys = info_phys;
    if (mbi->flags & MBI_CMDLINE)
        copy_string(bootinfo.cmdline, sizeof(bootinfo.cmdline), mbi->cmdline);
    if (!(mbi->flags & MBI_MMAP))
        panic("boot: the loader gave no memory map");
    parse_mmap(mbi);
    if (mbi->flags & MBI_MODS)
        parse_modules(mbi);
}

bool boot_option(const char *key, char *val, unsigned long valsize)
{
    int r = cmdline_get(bootinfo.cmdline, key, val, valsize);
    if (r == CMDLINE_ETOOLONG)
        kprintf("boot: option %s is too long (max %lu bytes); ignored\n", key, valsize - 1);
    else if (r == CMDLINE_EQUOTE)
        kprintf("boot: unterminated quote in the command line; options ignored\n");
    return r == CMDLINE_FOUND;
}
