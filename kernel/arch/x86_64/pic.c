/*
 * pic: the legacy 8259 interrupt controllers.  Kestrel uses the IOAPIC, but
 * the BIOS leaves the 8259s live with IRQ0 on vector 8, where a timer tick
 * would look like a double fault.  pic_disable moves them to vectors
 * 0x20-0x2f (out of the exception range) and masks every line.
 */
#include "arch/x86_64/pic.h"
#include "arch/x86_64/cpu.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1

static void io_wait(void)
{
    outb(0x80, 0);
}

void pic_disable(void)
{
    outb(PIC1_CMD, 0x11);      /* ICW1: init, expect ICW4 */
    io_wait();
    outb(PIC2_CMD, 0x11);
    io_wait();
    outb(PIC1_DATA, 0x20);     /* ICW2: vector base */
    io_wait();
    outb(PIC2_DATA, 0x28);
    io_wait();
    outb(PIC1_DATA, 4);        /* ICW3: slave on IRQ2 */
    io_wait();
    outb(PIC2_DATA, 2);
    io_wait();
    outb(PIC1_DATA, 1);        /* ICW4: 8086 mode */
    io_wait();
    outb(PIC2_DATA, 1);
    io_wait();
    outb(PIC1_DATA, 0xff);     /* mask everything */
    outb(PIC2_DATA, 0xff);
}
