/*
 * Supervision conventions between init (the supervisor, for now) and the
 * services it starts.  A service whose manifest line has heartbeat=MS gets
 * a start-up handle "supervisor" and sends a pulse with K_HEARTBEAT_CODE
 * through it at least every MS milliseconds (rt_heartbeat()); one that
 * stays silent for two periods is taken as hung, killed with K_EXIT_HUNG
 * and restarted by its policy.
 */
#ifndef KESTREL_ABI_SUPERVISE_H
#define KESTREL_ABI_SUPERVISE_H

#define K_HEARTBEAT_CODE 0x4842
#define K_EXIT_HUNG      0x200

#endif
