/*
 * User memory copies.  The range is checked against the user half in C
 * (core/vm.h); here `rep movsq` then `rep movsb` do the copy, and a fault
 * on a user page that is not mapped (or not writable) is absorbed through
 * the exception table: the call returns -1 instead of crashing the kernel.
 *
 * int arch_user_copy(void *dst, const void *src, size_t len)
 */
    .text
    .global arch_user_copy
arch_user_copy:
    movq %rdx, %rcx
    shrq $3, %rcx
user_copy_words:
    rep movsq
    movl %edx, %ecx
    andl $7, %ecx
user_copy_bytes:
    rep movsb
    xorl %eax, %eax
    ret
user_copy_fault:
    movl $-1, %eax
    ret

    .section .extable, "a"
    .quad user_copy_words, user_copy_fault
    .quad user_copy_bytes, user_copy_fault
