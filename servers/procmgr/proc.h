/*
 * procmgr's processes: the table of the processes it started (spawn), their
 * exit status until their parent waits, and each one's view of the
 * name space.  A process talks to procmgr through the connection it got at
 * start ("procmgr"), whose badge names its pid and this life of procmgr
 * (proc_badge): a process started by an earlier procmgr, whose pid may
 * have been given again, is not taken for the new one.  A service started
 * by init talks through a badge below PROC_BADGE_BASE.
 */
#ifndef KESTREL_PROCMGR_PROC_H
#define KESTREL_PROCMGR_PROC_H

#include <stdint.h>

#include "base/names.h"
#include "kestrel/msg.h"
#include "protocols/procmgr.h"

#define PROC_BADGE_BASE (1ULL << 56)    /* | life tag << 32 | pid */
#define PROC_MAX 64

/* CHAN: procmgr's own channel (death notices come through it as pulses). */
void proc_init(long chan);

/* The view of the client with BADGE: a service's (service_view), or the
 * empty view for a badge that names no live process. */
const struct names_view *proc_view(uint64_t badge);

/* The view of the service with BADGE (its manifest line's view=), NULL
 * for everything; procmgr.c keeps them. */
const struct names_view *service_view(uint64_t badge);

/* A pulse on procmgr's channel; false if it was not a death notice. */
int proc_pulse(const struct k_msg_info *info);

/* Handlers of protocols/procmgr.proto (ctx: the message's k_msg_info). */
long proc_spawn(void *ctx, long rcvid, const struct procmgr_spawn_req *req, const void *payload,
                size_t payload_len, struct procmgr_spawn_rep *rep);
long proc_wait(void *ctx, long rcvid, const struct procmgr_wait_req *req,
               struct procmgr_wait_rep *rep);
long proc_kill(void *ctx, long rcvid, const struct procmgr_kill_req *req,
               struct procmgr_kill_rep *rep);
long proc_ps(void *ctx, long rcvid, const struct procmgr_ps_req *req, struct procmgr_ps_rep *rep);
long proc_core(void *ctx, long rcvid, const struct procmgr_core_req *req,
               struct procmgr_core_rep *rep);
long proc_getpid(void *ctx, long rcvid, const struct procmgr_getpid_req *req,
                 struct procmgr_getpid_rep *rep);

#endif
