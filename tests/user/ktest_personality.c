/*
 * ktest_personality: system calls redirected to a personality in the same
 * process (abi/kestrel/personality.h), tested in a child that is its own
 * personality: a small assembly entry records what it was given, answers
 * the test's own number (1000) with 4242 and forwards every other call
 * natively, from inside its range, as posix/ will.  Part of ktest
 * (tests/user/ktest.c includes this file).
 */
#include "kestrel/personality.h"

#define RD_TEST_NR 1000

/* What the entry saw; read by the child's checks. */
struct rd_seen {
    uint64_t rax, rdi, rsi, rdx, r10, r8, r9, rbx, rbp, r12, r13, r14, r15;
    uint64_t rip, rsp, frame, rflags;
    uint64_t tests, forwarded;
};
struct rd_seen rd_seen;

__asm__(
    "    .text\n"
    "    .global rd_entry, rd_start, rd_end\n"
    "rd_start:\n"
    "rd_entry:\n"
    "    cmpq $1000, %rax\n"
    "    jne 1f\n"
    "    movq %rax, rd_seen+0(%rip)\n"
    "    movq %rdi, rd_seen+8(%rip)\n"
    "    movq %rsi, rd_seen+16(%rip)\n"
    "    movq %rdx, rd_seen+24(%rip)\n"
    "    movq %r10, rd_seen+32(%rip)\n"
    "    movq %r8, rd_seen+40(%rip)\n"
    "    movq %r9, rd_seen+48(%rip)\n"
    "    movq %rbx, rd_seen+56(%rip)\n"
    "    movq %rbp, rd_seen+64(%rip)\n"
    "    movq %r12, rd_seen+72(%rip)\n"
    "    movq %r13, rd_seen+80(%rip)\n"
    "    movq %r14, rd_seen+88(%rip)\n"
    "    movq %r15, rd_seen+96(%rip)\n"
    "    movq 0(%rsp), %rcx\n"
    "    movq %rcx, rd_seen+104(%rip)\n"
    "    movq 16(%rsp), %rcx\n"
    "    movq %rcx, rd_seen+112(%rip)\n"
    "    movq %rsp, rd_seen+120(%rip)\n"
    "    movq 8(%rsp), %rcx\n"
    "    movq %rcx, rd_seen+128(%rip)\n"
    "    incq rd_seen+136(%rip)\n"
    "    movl $4242, %eax\n"
    "    jmp 2f\n"
    "1:  syscall\n"                       /* from inside the range: native */
    "    incq rd_seen+144(%rip)\n"
    "2:  movq 8(%rsp), %r11\n"
    "    pushq %r11\n"
    "    popfq\n"
    "    movq 0(%rsp), %rcx\n"
    "    movq 16(%rsp), %rsp\n"
    "    jmp *%rcx\n"
    "rd_end:\n");

extern char rd_entry[], rd_start[], rd_end[];

/* The test's own call: known values in every register the entry should
 * see unchanged; returns rax, and whether the callee-saved ones survived. */
static long rd_call(uint64_t *rip_after, uint64_t *rsp_at, bool *kept)
{
    long rax = RD_TEST_NR;
    uint64_t rip, rsp;
    long rdi = 1, rsi = 2, rdx = 3;
    register long r10 __asm__("r10") = 4;
    register long r8 __asm__("r8") = 5;
    register long r9 __asm__("r9") = 6;
    __asm__ volatile(
        "movq $0xb0b0, %%rbx\n movq $0x1212, %%r12\n movq $0x1313, %%r13\n"
        "movq $0x1414, %%r14\n movq $0x1515, %%r15\n"
        "movq %%rsp, %[rsp]\n"
        "syscall\n"
        "3: leaq 3b(%%rip), %%rcx\n"
        /* rdi = 0 when rbx and r12-r15 came back as they were */
        "movq %%rbx, %%rdi\n xorq $0xb0b0, %%rdi\n"
        "movq %%r12, %%rsi\n xorq $0x1212, %%rsi\n orq %%rsi, %%rdi\n"
        "movq %%r13, %%rsi\n xorq $0x1313, %%rsi\n orq %%rsi, %%rdi\n"
        "movq %%r14, %%rsi\n xorq $0x1414, %%rsi\n orq %%rsi, %%rdi\n"
        "movq %%r15, %%rsi\n xorq $0x1515, %%rsi\n orq %%rsi, %%rdi\n"
        : "+a"(rax), "=c"(rip), [rsp] "=m"(rsp), "+D"(rdi), "+S"(rsi), "+d"(rdx),
          "+r"(r10), "+r"(r8), "+r"(r9)
        :
        : "rbx", "r11", "r12", "r13", "r14", "r15", "memory");
    *rip_after = rip;
    *rsp_at = rsp;
    *kept = rdi == 0;
    return rax;
}

static char rd_stack[4096] __attribute__((aligned(16)));

/* The child: each failed check has its own status. */
static int redirect_child(bool bad_stack)
{
    if (k_personality_set((long)rd_entry, (long)rd_start, (long)rd_end) != 0)
        return 10;
    if (bad_stack) {
        k_personality_stack(0x1000);              /* forwarded; nothing is mapped there */
        uint64_t rip, rsp;
        bool kept;
        rd_call(&rip, &rsp, &kept);               /* the frame cannot be written: killed */
        return 11;
    }
    uint64_t rip, rsp;
    bool kept;
    long r = rd_call(&rip, &rsp, &kept);
    if (r != 4242 || !kept || rd_seen.tests != 1)
        return 12;
    if (rd_seen.rax != RD_TEST_NR || rd_seen.rdi != 1 || rd_seen.rsi != 2 || rd_seen.rdx != 3 ||
        rd_seen.r10 != 4 || rd_seen.r8 != 5 || rd_seen.r9 != 6)
        return 13;
    if (rd_seen.rbx != 0xb0b0 || rd_seen.r12 != 0x1212 || rd_seen.r15 != 0x1515)
        return 14;
    if (rd_seen.rip != rip || rd_seen.rsp != rsp)
        return 15;
    /* No stack given: the frame lies below the red zone, 16-byte aligned. */
    if (rd_seen.frame > rsp - 128 - sizeof(struct k_redirect) || rd_seen.frame & 15 ||
        rd_seen.frame < rsp - 4096)
        return 16;
    if (!(rd_seen.rflags & 0x200))
        return 17;                                /* the program's flags, interrupts on */
    /* Native calls made from C are forwarded and work. */
    uint64_t fw = rd_seen.forwarded;
    if (k_clock_get() <= 0 || rd_seen.forwarded != fw + 1)
        return 18;
    /* A stack of its own: the next frame is at its top. */
    if (k_personality_stack((long)(rd_stack + sizeof(rd_stack))) != 0)
        return 19;
    if (rd_call(&rip, &rsp, &kept) != 4242 || !kept ||
        rd_seen.frame != (uint64_t)(rd_stack + sizeof(rd_stack) - sizeof(struct k_redirect)))
        return 20;
    /* Off again: the test's number is an unknown native call. */
    if (k_personality_set(0, 0, 0) != 0)
        return 21;
    uint64_t tests = rd_seen.tests;
    if (rd_call(&rip, &rsp, &kept) != -E_NOSYS || rd_seen.tests != tests)
        return 22;
    return 0;
}

static bool test_personality_redirect(void)
{
    /* Hostile: nothing changes (this process is not redirected after). */
    CHECK_EQ(k_personality_set((long)rd_end, (long)rd_start, (long)rd_end), -E_INVAL);
    CHECK_EQ(k_personality_set((long)rd_entry, (long)rd_end, (long)rd_start), -E_INVAL);
    CHECK_EQ(k_personality_set((long)rd_entry, (long)rd_start, (long)rd_start), -E_INVAL);
    CHECK_EQ(k_personality_set(0x400000, 0x400000, (long)K_USER_TOP + 4096), -E_INVAL);
    CHECK_EQ(k_personality_set((long)KERNEL_PTR, (long)KERNEL_PTR, (long)KERNEL_PTR + 16),
             -E_INVAL);
    CHECK_EQ(k_personality_stack((long)KERNEL_PTR), -E_INVAL);
    CHECK_EQ(k_personality_stack(0), 0);
    CHECK_EQ(k_clock_get() > 0, 1);                   /* still native */
    long p = spawn("redirect", 0, 0, 0);
    CHECK(p > 0);
    CHECK_EQ(wait_status(p), 0);
    p = spawn("redirect-bad-stack", 0, 0, 0);
    CHECK(p > 0);
    CHECK_EQ(wait_status(p), K_EXIT_FAULT(14));
    return true;
}

/* ---- processes built by their creator: process_create, thread_start ---- */

/* The child's whole program: rdi = [r13] + [fs:0] + rbx, through its
 * stack, then process_exit(rdi). */
static const uint8_t pc_code[] = {
    0x49, 0x8b, 0x7d, 0x00,                               /* mov 0(%r13), %rdi */
    0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0,             /* mov %fs:0, %rax */
    0x48, 0x01, 0xc7,                                     /* add %rax, %rdi */
    0x48, 0x01, 0xdf,                                     /* add %rbx, %rdi */
    0x57, 0x5f,                                           /* push %rdi; pop %rdi */
    0xb8, 11, 0, 0, 0,                                    /* mov $NR_process_exit, %eax */
    0x0f, 0x05,                                           /* syscall */
    0xeb, 0xfe,                                           /* jmp . */
};
#define PC_NR(num, name, nargs) PC_NR_##name = num,
enum { KESTREL_SYSCALLS(PC_NR) };
#undef PC_NR
_Static_assert(PC_NR_process_exit == 11, "pc_code calls process_exit by number");

#define PC_CODE  0x400000L        /* where a static Linux program would be */
#define PC_DATA  0x600000L
#define PC_STACK 0x7000000L

static long pc_create(struct k_spawn_handle *h, unsigned nh, unsigned prio_max)
{
    struct k_spawn sp = { .nhandles = nh, .handles = h, .prio_max = prio_max,
                          .image = (uint32_t)rt_handle("bootfs") };
    return k_process_create((long)"built", 5, (long)&sp);
}

static bool test_process_create(void)
{
    long ch = k_chan_create(0), conn = k_chan_connect(ch, 0, 0);
    /* Hostile first: nothing is made. */
    struct k_spawn none = { 0 };
    CHECK_EQ(k_process_create((long)"x", 1, (long)&none), -E_PERM);      /* no image */
    CHECK_EQ(k_process_create((long)"x", 1, 0), -E_PERM);
    CHECK_EQ(k_process_create((long)"x", 0, (long)&none), -E_TOOBIG);
    CHECK_EQ(k_process_create((long)KERNEL_PTR, 4, (long)&none), -E_FAULT);
    struct k_spawn badh = { .nhandles = 1, .handles = (void *)KERNEL_PTR,
                            .image = (uint32_t)rt_handle("bootfs") };
    CHECK_EQ(k_process_create((long)"x", 1, (long)&badh), -E_FAULT);
    struct k_regs r = { .rip = PC_CODE, .rsp = PC_STACK + 4096 };
    CHECK_EQ(k_thread_start(ch, (long)&r, 0), -E_WRONGTYPE);
    CHECK_EQ(k_thread_start(0x7fff1234, (long)&r, 0), -E_BADHANDLE);

    struct k_spawn_handle h = { (uint32_t)conn, K_RIGHT_SEND, "conn" };
    long p = pc_create(&h, 1, 0);
    CHECK(p > 0);
    CHECK(h.handle > 0);                           /* now the child's number */
    CHECK_EQ(k_thread_start(p, 0, 0), -E_FAULT);
    CHECK_EQ(k_thread_start(p, (long)KERNEL_PTR, 0), -E_FAULT);
    struct k_regs bad = r;
    bad.rip = (uint64_t)KERNEL_PTR;
    CHECK_EQ(k_thread_start(p, (long)&bad, 0), -E_INVAL);
    bad = r;
    bad.rsp = 0x0000800000000000UL;                /* not canonical */
    CHECK_EQ(k_thread_start(p, (long)&bad, 0), -E_INVAL);
    bad = r;
    bad.fs_base = 0xffff800000000000UL;
    CHECK_EQ(k_thread_start(p, (long)&bad, 0), -E_INVAL);
    struct k_thread_attr high = { 200, K_SCHED_RR, 0 };    /* above its ceiling */
    CHECK_EQ(k_thread_start(p, (long)&r, (long)&high), -E_PERM);

    /* Its memory, from us: code at a Linux program's address, a
     * copy-on-write clone of our data, a stack. */
    long code = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    long mine = k_vmo_map(0, code, 0, 4096, K_PROT_READ | K_PROT_WRITE);
    CHECK(code > 0 && mine > 0);
    memcpy((void *)mine, pc_code, sizeof(pc_code));
    CHECK_EQ(k_vmo_map(p, code, 0, 4096, K_PROT_READ | K_PROT_EXEC | PC_CODE), PC_CODE);
    long data = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    uint64_t *d = (uint64_t *)k_vmo_map(0, data, 0, 4096, K_PROT_READ | K_PROT_WRITE);
    CHECK(data > 0 && (long)d > 0);
    d[0] = 30;
    d[1] = 10;
    long copy = k_vmo_clone(data);
    CHECK(copy > 0);
    d[0] = 99;                                     /* ours changes, the clone does not */
    CHECK_EQ(k_vmo_map(p, copy, 0, 4096, K_PROT_READ | PC_DATA), PC_DATA);
    long stack = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    CHECK_EQ(k_vmo_map(p, stack, 0, 4096, K_PROT_READ | K_PROT_WRITE | PC_STACK), PC_STACK);
    r.rbx = 2;
    r.r13 = PC_DATA;
    r.fs_base = PC_DATA + 8;
    long t = k_thread_start(p, (long)&r, 0);
    CHECK(t > 0);
    CHECK_EQ(wait_status(p), 42);                  /* 30 + 10 + 2 */
    k_handle_close(t);

    /* An empty process that is killed: dead at once, waited for, and
     * no thread can start in it. */
    p = pc_create(0, 0, 0);
    CHECK(p > 0);
    CHECK_EQ(k_process_watch(p, conn, 5), 0);
    CHECK_EQ(k_process_kill(p, 77), 0);
    struct k_msg_info info;
    CHECK_EQ(rt_msg_receive(ch, 0, 0, &info), 0);
    CHECK(info.code == 5 && info.value == 77);
    CHECK_EQ(k_thread_start(p, (long)&r, 0), -E_DEAD);
    CHECK_EQ(wait_status(p), 77);
    /* And one that is only closed. */
    p = pc_create(&h, 1, 0);
    CHECK(p > 0);
    k_handle_close(p);

    k_vm_unmap(0, mine, 4096);
    k_vm_unmap(0, (long)d, 4096);
    k_handle_close(code);
    k_handle_close(data);
    k_handle_close(copy);
    k_handle_close(stack);
    k_handle_close(conn);
    k_handle_close(ch);
    return true;
}

/* vm_clone: fork's address space.  The child runs our own code on a
 * copy of our memory: what it writes we do not see, and two mappings of
 * one object here are still one object there. */
static volatile long vc_marker = 1;
static volatile long *vc_alias_a, *vc_alias_b;
static char vc_stack[8192] __attribute__((aligned(16)));

static void vc_child(void)
{
    long seen = vc_marker;          /* the value when we were cloned */
    vc_marker = 3;
    *vc_alias_a = 77;               /* visible through the other mapping */
    long ok = vc_marker == 3 && *vc_alias_b == 77;
    k_process_exit(seen * 10 + ok);
}

static bool vm_clone_scenario(void)
{
    struct k_sysinfo before = sysinfo();
    long ch = k_chan_create(0);
    CHECK_EQ(k_vm_clone(0), -E_INVAL);                   /* ourselves */
    CHECK_EQ(k_vm_clone(ch), -E_WRONGTYPE);
    CHECK_EQ(k_vm_clone(0x7fff1234), -E_BADHANDLE);
    long alias = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    vc_alias_a = (volatile long *)k_vmo_map(0, alias, 0, 4096, K_PROT_READ | K_PROT_WRITE);
    vc_alias_b = (volatile long *)k_vmo_map(0, alias, 0, 4096, K_PROT_READ | K_PROT_WRITE);
    CHECK((long)vc_alias_a > 0 && (long)vc_alias_b > 0 && vc_alias_a != vc_alias_b);
    *vc_alias_a = 5;
    vc_marker = 2;
    /* made K_VMO_FORK_SHARED: the clone maps the object itself; a bad
     * flag (with another kind, or unknown bits) is refused */
    CHECK_EQ(k_vmo_create(4096, K_VMO_CONTIG | K_VMO_FORK_SHARED, 0, 0), -E_INVAL);
    CHECK_EQ(k_vmo_create(4096, K_VMO_ANON | 0x200, 0, 0), -E_INVAL);
    long shared = k_vmo_create(4096, K_VMO_ANON | K_VMO_FORK_SHARED, 0, 0);
    volatile long *sh = (volatile long *)k_vmo_map(0, shared, 0, 4096, K_PROT_READ | K_PROT_WRITE);
    CHECK((long)sh > 0);
    *sh = 7;

    long weak = k_handle_dup(ch, K_RIGHT_TRANSFER | K_RIGHT_READ);
    struct k_spawn_handle same = { (uint32_t)weak, K_RIGHTS_SAME, "same" };
    long p = pc_create(&same, 1, 0);              /* the child holds it as we do */
    CHECK(p > 0 && same.handle > 0);
    k_handle_close(weak);
    long noright = k_handle_dup(p, K_RIGHT_READ);
    CHECK_EQ(k_vm_clone(noright), -E_RIGHTS);
    k_handle_close(noright);
    CHECK_EQ(k_vm_clone(p), 0);
    vc_marker = 9;                                       /* after the clone: ours only */
    *vc_alias_a = 6;
    *sh = 8;                                             /* seen by the child too */
    long v = 0;
    CHECK_EQ(k_process_read(p, (long)sh, (long)&v, 8), 8);
    CHECK_EQ(v, 8);
    CHECK_EQ(k_process_read(p, (long)&vc_marker, (long)&v, 8), 8);
    CHECK_EQ(v, 2);
    CHECK_EQ(k_process_read(p, (long)vc_alias_b, (long)&v, 8), 8);
    CHECK_EQ(v, 5);
    struct k_regs r = { .rip = (uint64_t)vc_child,
                        .rsp = (uint64_t)(vc_stack + sizeof(vc_stack) - 8) };
    long t = k_thread_start(p, (long)&r, 0);
    CHECK(t > 0);
    CHECK_EQ(wait_status(p), 21);                        /* saw 2, aliases held */
    k_handle_close(t);
    CHECK_EQ(vc_marker, 9);
    CHECK_EQ(*vc_alias_b, 6);

    /* A target with a mapping in the way: an error, and nothing leaks. */
    p = pc_create(0, 0, 0);
    CHECK(p > 0);
    long in_way = k_vmo_create(4096, K_VMO_ANON, 0, 0);
    CHECK_EQ(k_vmo_map(p, in_way, 0, 4096, K_PROT_READ | (long)vc_alias_a), (long)vc_alias_a);
    CHECK(k_vm_clone(p) < 0);
    CHECK_EQ(k_process_kill(p, 1), 0);
    CHECK_EQ(wait_status(p), 1);
    p = pc_create(0, 0, 0);                              /* a dead one */
    CHECK_EQ(k_process_kill(p, 1), 0);
    CHECK_EQ(k_vm_clone(p), -E_DEAD);
    k_handle_close(p);
    k_handle_close(in_way);
    k_vm_unmap(0, (long)vc_alias_a, 4096);
    k_vm_unmap(0, (long)vc_alias_b, 4096);
    k_vm_unmap(0, (long)sh, 4096);
    k_handle_close(shared);
    k_handle_close(alias);
    k_handle_close(ch);
    for (int i = 0; i < 3; i++) {
        sysinfo();
        k_thread_sleep(2 * 1000000);
    }
    struct k_sysinfo after = sysinfo();
    CHECK_EQ(after.processes, before.processes);
    CHECK_EQ(after.threads, before.threads);
    return true;
}

/* In a child of its own: cloning gives our long-lived objects their
 * copy-on-write bitmaps for good, which the leak check around each test
 * would count; a child's go when it ends.  The child exits with the
 * failed check's line (0: all held). */
static int vm_clone_child(void)
{
    if (vm_clone_scenario())
        return 0;
    printf("ktest: vm_clone child: %s (line %d, got %ld, want %ld)\n", fail_text, fail_line,
           fail_got, fail_want);
    return fail_line ? fail_line : 1;
}

static bool test_vm_clone(void)
{
    struct k_spawn_handle h = { (uint32_t)rt_handle("bootfs"), K_RIGHT_READ, "bootfs" };
    long p = spawn("vm-clone", &h, 1, 0);
    CHECK(p > 0);
    CHECK_EQ(wait_status(p), 0);
    return true;
}
