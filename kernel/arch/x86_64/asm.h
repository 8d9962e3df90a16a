/* Constants shared by assembly and C in arch/x86_64. */
#ifndef KESTREL_ARCH_ASM_H
#define KESTREL_ARCH_ASM_H

#define KERNEL_VMA   0xffffffff80000000
#define DIRECT_MAP   0xffff800000000000

#define CR0_PE (1 << 0)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_PGE (1 << 7)

#define MSR_EFER 0xC0000080
#define EFER_SCE (1 << 0)
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)

#define GDT_KCODE 0x08
#define GDT_KDATA 0x10
#define GDT_UDATA 0x23
#define GDT_UCODE 0x2b
#define GDT_TSS   0x30

#endif
