/*
 * crt0: the entry point of every native user program.
 *
 * The kernel starts the first thread at _start with rdi = struct k_startup *
 * and rsp 16-byte aligned.  We clear rbp (ends frame-pointer backtraces),
 * keep the block in rt_startup, let rt_args_init check it, call
 * main(rt_argc, rt_argv) and pass its status to rt_exit, which never
 * returns.  Each `call` runs with rsp 16-byte aligned, as the ABI wants.
 */
    .section .text.start, "ax"
    .globl _start
    .type _start, @function
_start:
    xor %ebp, %ebp
    mov %rdi, rt_startup(%rip)
    call rt_args_init
    mov rt_argc(%rip), %edi
    mov rt_argv(%rip), %rsi
    call main
    mov %eax, %edi
    call rt_exit
    ud2
    .size _start, . - _start

/* A thread made by rt_thread_spawn starts here: rdi = struct rt_thread *,
 * rsp 16-byte aligned; the call gives rt_thread_main the usual alignment. */
    .text
    .globl rt_thread_entry
    .type rt_thread_entry, @function
rt_thread_entry:
    xor %ebp, %ebp
    call rt_thread_main
    ud2
    .size rt_thread_entry, . - rt_thread_entry

    .section .note.GNU-stack, "", @progbits
