#ifndef KESTREL_ARCH_PIC_H
#define KESTREL_ARCH_PIC_H

/* Remaps the legacy 8259 PICs away from the exception vectors and masks
 * all their inputs (Kestrel routes interrupts through the IOAPIC). */
void pic_disable(void);

#endif
