/*
 * Handle rights: each handle carries a mask of these bits, and a system
 * call checks the bits it needs (E_RIGHTS if one is missing).  handle_dup
 * can only keep or drop bits, never add them.  Shared by kernel and user.
 */
#ifndef KESTREL_ABI_RIGHTS_H
#define KESTREL_ABI_RIGHTS_H

#define K_RIGHT_DUP      (1u << 0)  /* handle_dup may copy the handle */
#define K_RIGHT_TRANSFER (1u << 1)  /* may be passed to another process */
#define K_RIGHT_READ     (1u << 2)  /* read the object (VMO contents, state) */
#define K_RIGHT_WRITE    (1u << 3)  /* write the object (a process: process_write) */
#define K_RIGHT_MAP      (1u << 4)  /* vmo_map */
#define K_RIGHT_SEND     (1u << 5)  /* msg_send, pulse_send on a connection */
#define K_RIGHT_RECEIVE  (1u << 6)  /* msg_receive on a channel */
#define K_RIGHT_MANAGE   (1u << 7)  /* kill a process, set thread priority, revoke a channel */
#define K_RIGHT_SIGNAL   (1u << 8)  /* pulses from the kernel (irq, timer) */
#define K_RIGHT_WAIT     (1u << 9)  /* thread_join, process_wait */

#define K_RIGHTS_ALL     ((1u << 10) - 1)

#endif
