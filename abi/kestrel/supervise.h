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
 */
#ifndef KESTREL_ABI_SUPERVISE_H
#define KESTREL_ABI_SUPERVISE_H

#define K_HEARTBEAT_CODE 0x4842
#define K_EXIT_HUNG      0x200
#define K_EXIT_STOPPED   0x300      /* stopped on request (supervisor stop/restart) */
#define K_EXIT_FAULTY    0x400      /* killed on a client's complaint (supervisor complain) */

#define K_SUPERVISE_HEARTBEAT_BADGE 0x1u
#define K_SUPERVISE_CONTROL_BADGE   0x10000u

#endif
