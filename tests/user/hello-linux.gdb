# hello-linux.gdb: runs build/user/hello.elf on the Linux host under gdb,
# standing in for the kernel: fakes the start-up block at _start and prints
# each debug_write (syscall 0) and the process_exit (syscall 11) status.
# A smoke test of crt0, argv, stdio and the stubs before processes exist:
#     gdb -q -batch -x tests/user/hello-linux.gdb build/user/hello.elf
set pagination off
break *_start
run
# a start-up block at rsp-4096: magic, argc=2, argv, nhandles=1, handle "log"=7
set $b = $rsp - 4096
set {long}$b = 0x4b45535452454c31
set {long}($b+8) = 2
set {long}($b+16) = $b + 2048
set {long}($b+24) = 1
set {int}($b+32) = 7
set {int}($b+36) = 4
set {char[4]}($b+40) = "log"
set {long}($b+2048) = $b + 3000
set {long}($b+2056) = $b + 3100
set {long}($b+2064) = 0
set {char[6]}($b+3000) = "hello"
set {char[10]}($b+3100) = "two words"
set $rdi = $b
delete
catch syscall 0 11
continue
while $orig_rax == 0
  printf "debug_write: %s", (char *)$rdi
  set $rdi = -1
  continue
  continue
end
printf "process_exit(%d)\n", $rdi
kill
