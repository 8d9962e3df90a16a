/*
 * Supervision conventions between the supervisor (servers/supervisor) and
 * the services init starts for it.  A service whose manifest line has
 * heartbeat=MS gets a start-up handle "heartbeat" and sends a pulse with
 * K_HEARTBEAT_CODE through it at least every MS milliseconds
 * (rt_heartbeat()); one that stays silent for two periods is taken as
 * hung, killed with K_EXIT_HUNG and restarted by its policy.  A service
 * whose line has connect=supervisor gets a handle "supervisor" to the
 * control interface (protocols/supervisor.proto).
 *
 * Badges of the connections to the supervisor's channel, service index I:
 * heartbeats K_SUPERVISE_HEARTBEAT_BADGE + I, control
 * K_SUPERVISE_CONTROL_BADGE + I.
 *
 * Driver instances (manifest match=, decision 0026): the PCI server (the
 * service named "pci") reports each function it bound to an instance
 * with a pulse through its heartbeat connection, code K_DEVICE_CODE,
 * value K_DEVICE_VALUE(instance's service index, K_PCI_FN of the
 * function); the supervisor starts an instance only on such a report,
 * and takes it only from that connection and only for a driver line's
 * instance.
 */
#ifndef KESTREL_ABI_SUPERVISE_H
#define KESTREL_ABI_SUPERVISE_H

#define K_HEARTBEAT_CODE 0x4842
#define K_DEVICE_CODE    0x4456
#define K_DEVICE_VALUE(index, fn) ((unsigned long)(index) | (unsigned long)(fn) << 16)
#define K_DEVICE_INDEX(value)     ((unsigned)((value) & 0xffff))
#define K_DEVICE_FN(value)        ((unsigned)(((value) >> 16) & 0xffff))
#define K_EXIT_HUNG      0x200
#define K_EXIT_STOPPED   0x300      /* stopped on request (supervisor stop/restart) */
#define K_EXIT_FAULTY    0x400      /* killed on a client's complaint (supervisor complain) */

#define K_SUPERVISE_HEARTBEAT_BADGE 0x1u
#define K_SUPERVISE_CONTROL_BADGE   0x10000u

#endif
