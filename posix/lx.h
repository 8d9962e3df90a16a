/*
 * lx: what the parts of the Linux personality share (posix/linux.c: the
 * loader and the call table; posix/fd.c: file descriptors; posix/proc.c:
 * processes).  Numbers are Linux x86-64's (the ABI the programs were
 * built for); the names are ours.
 */
#ifndef KESTREL_POSIX_LX_H
#define KESTREL_POSIX_LX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error numbers (Linux's; the file protocol's FILE_ERR(e) is 4096 + e). */
#define LX_EPERM 1
#define LX_ENOENT 2
#define LX_ESRCH 3
#define LX_EINTR 4
#define LX_EIO 5
#define LX_ENOEXEC 8
#define LX_EBADF 9
#define LX_ECHILD 10
#define LX_EAGAIN 11
#define LX_ENOMEM 12
#define LX_EACCES 13
#define LX_EFAULT 14
#define LX_EBUSY 16
#define LX_EEXIST 17
#define LX_EXDEV 18
#define LX_ENODEV 19
#define LX_ENOTDIR 20
#define LX_EISDIR 21
#define LX_EINVAL 22
#define LX_EMFILE 24
#define LX_ENOTTY 25
#define LX_ESPIPE 29
#define LX_EPIPE 32
#define LX_ERANGE 34
#define LX_ENAMETOOLONG 36
#define LX_ENOSYS 38
#define LX_ELOOP 40
#define LX_ETIMEDOUT 110
#define LX_E2BIG 7
#define FILE_ERR_BASE 4096
#define LX_ARGS_MAX 1024              /* strings in argv and in envp */

/* open flags, fcntl, AT_*, file types. */
#define LX_O_ACCMODE 3
#define LX_O_WRONLY 1
#define LX_O_RDWR 2
#define LX_O_CREAT 0100
#define LX_O_EXCL 0200
#define LX_O_NOCTTY 0400
#define LX_O_TRUNC 01000
#define LX_O_APPEND 02000
#define LX_O_NONBLOCK 04000
#define LX_O_DIRECTORY 0200000
#define LX_O_NOFOLLOW 0400000
#define LX_O_CLOEXEC 02000000
#define LX_O_PATH 010000000
#define LX_AT_FDCWD (-100)
#define LX_AT_SYMLINK_NOFOLLOW 0x100
#define LX_AT_REMOVEDIR 0x200
#define LX_AT_EMPTY_PATH 0x1000
#define LX_F_DUPFD 0
#define LX_F_GETFD 1
#define LX_F_SETFD 2
#define LX_F_GETFL 3
#define LX_F_SETFL 4
#define LX_F_GETLK 5
#define LX_F_SETLK 6
#define LX_F_SETLKW 7
#define LX_F_DUPFD_CLOEXEC 1030
#define LX_FD_CLOEXEC 1
#define LX_S_IFMT 0170000
#define LX_S_IFDIR 0040000
#define LX_S_IFCHR 0020000
#define LX_S_IFREG 0100000
#define LX_S_IFLNK 0120000
#define LX_S_IFIFO 0010000

/* What lx_entry saved, in its push order; the kernel's k_redirect frame
 * (rip, rflags, rsp) lies right after it. */
struct lx_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
};

/* What a fork's parent and child write at once (copy-on-write faults,
 * each a page copied): kept together at the start of the data segment
 * (lib/rt/user.ld), so it is a page or two, not one per variable. */
#define LX_HOT __attribute__((section(".data.hot")))

/* The personality's state (one thread per process so far). */
struct lx_state {
    uint64_t brk_start, brk_end, brk_mapped;
    uint64_t tid_address;
    uint64_t fs_base;               /* the program's (arch_prctl) */
    uint64_t pid, ppid, pgid, sid;
    uint32_t umask;
    char exe[72];                   /* "/" + the program's path in the boot image */
    char cwd[256];                  /* absolute, no trailing slash but for "/" */
    uint8_t nosys_said[512 / 8];
    long chan, self;                /* our channel (signals, children's news) and a connection to it */
    long parent;                    /* a connection to our parent's channel (0: none) */
    long procfs;                    /* our /proc/self/kestrel (0: none yet) */
    char comm[16];                  /* what ps shows */
    char cmdline[1024];             /* argv, NUL-separated */
    size_t cmdline_len;
    char state;                     /* 'R' running, 'T' stopped */
    uint64_t affinity;              /* sched_setaffinity's CPUs (0: all), kept across fork and exec */
    bool trace;                     /* KESTREL_TRACE=1 in the environment at exec: each call said */
    bool shared_first;              /* KESTREL_SHARED=first at exec: pipes' rings and files' views at once */
};
extern struct lx_state lx;

/* The program's memory, checked (posix/linux.c). */
bool lx_copy_in(void *dst, uint64_t addr, size_t len);
bool lx_copy_out(uint64_t addr, const void *src, size_t len);
bool lx_writable(uint64_t addr, size_t len);
/* Whether [ADDR, ADDR+LEN) is mapped readable (WRITE: writable) for a
 * plain copy; lx_vm_changed after any unmap or protection change. */
bool lx_mem_ok(uint64_t addr, size_t len, bool write);
/* After a false lx_mem_ok: the list was whole, so the answer is final
 * (else the kernel may know of more mappings). */
bool lx_mem_listed(void);
void lx_vm_changed(void);
/* A NUL-terminated string of the program's into BUF (CAP bytes); 0 or
 * -LX_EFAULT / -LX_ENAMETOOLONG. */
long lx_copy_str(char *buf, size_t cap, uint64_t addr);
/* Seconds since 1970 (posix/linux.c). */
uint64_t lx_wall_seconds(void);
/* A Kestrel error (kernel's, or a file server's FILE_ERR) as -errno. */
long lx_errno(long e);

/* The top of the stack our redirected calls run on (posix/linux.c). */
void *lx_stack_top(void);

/* File descriptors (posix/fd.c). */
#define LX_NFD 1024                 /* RLIMIT_NOFILE, as prlimit says (Linux's soft default) */
void lx_fd_init(void);
long lx_fd_call(uint64_t nr, const uint64_t *a, bool *served);
/* For fork: every descriptor's handle (HANDLES[i] for fd FDS[i]), at
 * most MAX; the count.  lx_fd_renumber gives each its number in the child. */
unsigned lx_fd_handles(int *fds, long *handles, unsigned max);
/* PATH (DIRFD-relative) made absolute and normal in OUT (256 bytes). */
long lx_abspath(long dirfd, const char *path, char *out);
/* execve's open: a connection to the regular file at the absolute PATH
 * with an execute bit, its size (as it opened) in *SIZE; or -errno
 * (EACCES for a directory or a file without an execute bit, as Linux). */
long lx_open_file(const char *path, uint64_t *size);
/* The open file C from offset 0 to its end into BUF (CAP bytes reached
 * first: -ENOMEM), then C closed: the byte count or -errno. */
long lx_read_conn(long c, void *buf, size_t cap);
/* mmap of a file: LEN bytes of regular file FD from OFFSET into DST (the
 * rest zero); SHARED_WRITE: it must be open for writing too.  Bytes read,
 * or -errno (EBADF, EACCES, ENODEV: not a regular file). */
long lx_fd_map_read(long fd, uint64_t offset, void *dst, size_t len, bool shared_write);
/* execve: close the descriptors marked close-on-exec. */
void lx_fd_exec(void);
/* A connection to the file at absolute PATH, and a write on one. */
long lx_open_conn(const char *path, uint32_t flags);
long lx_conn_write(long conn, const void *buf, size_t len);
/* procfs learns what it shows of us (posix/proc.c): name, arguments, ids, state. */
void lx_proc_describe(const char *comm, int argc, char *const *argv);
void lx_proc_report(void);
/* In a new child: its own registration with its terminal. */
void lx_fd_fork_child(void);
void lx_fd_renumber(int fd, long handle);

/* Pipes through their shared ring (posix/pipe.c), per descriptor. */
struct pipe_ring;
struct lx_ring {
    struct pipe_ring *r;            /* mapped (PIPE_VA), or NULL */
    long wait, chain;               /* a read end's wait channel, and our connection to it */
    long wake;                      /* a write end's connection to the wait channel */
    long session;                   /* our session at the server (ring, barrier) */
    uint32_t token;                 /* the session's token for the writers' lock */
    uint32_t gen;                   /* changes when the descriptor's ring does */
    uint16_t waiters;               /* our threads waiting on it (its close waits for them) */
    uint8_t uses;                   /* reads and writes by message so far */
    bool off;                       /* no ring: messages always */
};
#define LX_RING_NONE (-0x7fff0000L)  /* not done: use a message */
/* A read or write of LEN bytes at BUF on the pipe end whose connection is
 * CONN: bytes, -errno (-LX_EPIPE: the caller raises SIGPIPE), or
 * LX_RING_NONE when a message must do it.  A write may do part (the ring
 * was short of room) and leave the rest to a message. */
long lx_ring_read(struct lx_ring *x, long conn, uint64_t buf, uint64_t len, bool nonblock);
long lx_ring_write(struct lx_ring *x, long conn, uint64_t buf, uint64_t len, bool nonblock);
/* The descriptor closes: its ring and handles go. */
void lx_ring_drop(struct lx_ring *x);
/* After a pipe's end closed: a message on a SESSION at the pipe server,
 * answered after it heard of the close (the header's counts are new). */
void lx_ring_barrier(long session);
/* The same after a child was reaped (its ends closed), if we have a ring
 * (posix/fd.c: any session of ours). */
void lx_fd_ring_barrier(void);
/* A regular file's data mapped for pread with no message (posix/view.c). */
struct lx_view {
    const uint8_t *data;            /* mapped (VIEW_VA): the bytes, then the header page */
    uint64_t bytes;
    uint8_t uses;                   /* preads by message so far */
    bool off;                       /* no view: messages always */
};
/* pread of LEN bytes at OFFSET into BUF from the open file CONN: bytes, or
 * LX_RING_NONE when a message must do it. */
long lx_view_pread(struct lx_view *v, long conn, uint64_t buf, uint64_t len, uint64_t offset);
void lx_view_drop(struct lx_view *v);
/* In a fork's child: the handles were the parent's; the mapping stays. */
void lx_ring_fork_child(struct lx_ring *x);

/* execve (posix/linux.c): does not return when it works. */
long lx_execve(uint64_t upath, uint64_t uargv, uint64_t uenvp);

/* Threads and futexes (posix/thread.c).  Each thread's struct sits at the
 * base of its 64 KiB personality stack block. */
struct lx_thread {
    uint64_t tid;
    uint64_t clear_tid;             /* CLONE_CHILD_CLEARTID, set_tid_address */
    long fchan, fself;              /* its futex channel and a connection to it */
    long handle;                    /* its kernel thread (0: the main one) */
    bool main;
};
struct lx_thread *lx_thread_self(void);
void lx_lock_take(void);
void lx_lock_give(void);
void lx_lock_reset(void);
long lx_futex(uint64_t addr, uint64_t op, uint64_t val, uint64_t uts, uint64_t addr2, uint64_t val3);
long lx_thread_clone(struct lx_regs *r, uint64_t flags, uint64_t stack, uint64_t ptid,
                     uint64_t ctid, uint64_t tls);
_Noreturn void lx_thread_exit(long status);

/* Processes (posix/proc.c). */
/* execve: signal handlers go back to their defaults (ignored stay ignored). */
void lx_proc_exec(void);
/* A write found no reader: SIGPIPE, whose default action ends us (a
 * handler cannot run yet: then, and when ignored, the write fails EPIPE). */
void lx_sigpipe(void);
/* Signals, before the program goes on (lx_syscall): RET is the call's
 * result (-LX_ERESTARTSYS: interrupted), NR its number.  Returns what rax
 * becomes; *RESTART: nothing to run, start the call again. */
long lx_sig_deliver(struct lx_regs *r, void *fx, long ret, uint64_t nr, bool *restart);
long lx_sigreturn(struct lx_regs *r, void *fx);
bool lx_sig_attention(void);
void lx_sig_attend(void);
/* A background process touched its terminal: SIG (SIGTTIN, SIGTTOU) for
 * its group and -LX_ERESTARTSYS; when it ignores or blocks it, -LX_EIO
 * for SIGTTIN and 0 (it goes on) for SIGTTOU, as on Linux. */
long lx_sig_tty_background(int sig);
/* sigsuspend, ppoll, pselect6: M is the mask until the call ends (or the
 * handler it ran returns); under such a mask, whether a signal is pending
 * that it lets act now (false outside one). */
void lx_sig_mask_during(uint64_t m);
bool lx_sig_deliverable(void);
#define LX_ERESTARTSYS 512
void lx_proc_init(void);
long lx_proc_call(uint64_t nr, const uint64_t *a, struct lx_regs *r, bool *served);
/* Waits for one pulse on our channel (a child's death is recorded on the
 * way): 1 a file server's notify, 0 timed out (TIMEOUT_NS < 0: never). */
long lx_wait_pulse(long timeout_ns);

#endif
