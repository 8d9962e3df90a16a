#ifndef KESTREL_ARCH_SERIAL_H
#define KESTREL_ARCH_SERIAL_H

/* COM1, 115200 8N1, polled: the kernel's debug console. */
void serial_init(void);
void serial_putc(char c);

#endif
