#ifndef KESTREL_ARCH_GDT_H
#define KESTREL_ARCH_GDT_H

/* Builds and loads this CPU's GDT and TSS (this_cpu() must be set). */
void gdt_load_cpu(void);

#endif
