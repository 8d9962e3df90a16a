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
