# Native user programs (included by the top-level Makefile).
#
#   make user        build librt.a and every declared program
#
# A program is declared in one line at the end of this file:
#     $(call user_program,NAME,SOURCES...)
# and is built as $(BUILD)/user/NAME.elf, linked with crt0, librt.a and
# lib/rt/user.ld, and packed into the boot image as bin/NAME.
#
# The boot image is staged in $(BUILD)/bootimage/: the files of
# bootimage/ plus bin/NAME for each program (debug information stripped);
# the top-level Makefile packs that directory into bootimage.cpio.

USER_CFLAGS  := -std=c11 -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
                -O2 -g -ffreestanding -fno-stack-protector -fno-pie \
                -fno-omit-frame-pointer -fno-tree-loop-distribute-patterns \
                -Iabi -Ilib -I$(BUILD)/gen -MMD -MP
USER_ASFLAGS := -g -Iabi -Ilib -MMD -MP
USER_LDFLAGS := -no-pie -static -nostdlib -Wl,-T,lib/rt/user.ld \
                -Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack -Wl,--build-id=none
UBUILD := $(BUILD)/user
UOBJ   := $(UBUILD)/obj

RT_SRC := $(sort $(wildcard lib/rt/*.c)) lib/base/fmt.c lib/base/string.c \
          lib/base/cmdline.c lib/base/cpio.c lib/base/names.c lib/base/manifest.c \
          lib/base/corefile.c \
          $(wildcard lib/srv/*.c)
RT_OBJ := $(patsubst %.c,$(UOBJ)/%.o,$(RT_SRC))
RT_CRT0 := $(UOBJ)/lib/rt/crt0.o
RT_LIB := $(UBUILD)/librt.a

USER_PROGRAMS :=
USER_DEPS := $(RT_OBJ:.o=.d) $(RT_CRT0:.o=.d)

# Generated protocol headers exist before anything compiles (afterwards
# the .d files name the ones each object includes).
$(UOBJ)/%.o: %.c lib/rt/rt.mk | $(PROTO_HDRS)
	@mkdir -p $(dir $@)
	@echo "  UCC     $<"
	$(Q)$(CC) $(USER_CFLAGS) -c $< -o $@

$(UOBJ)/%.o: %.S lib/rt/rt.mk
	@mkdir -p $(dir $@)
	@echo "  UAS     $<"
	$(Q)$(CC) $(USER_ASFLAGS) -c $< -o $@

$(RT_LIB): $(RT_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

# $(call user_program,NAME,SOURCES): $(BUILD)/user/NAME.elf, bin/NAME.
define USER_PROGRAM_RULE
USER_PROGRAMS += $(1)
USER_OBJ_$(1) := $$(patsubst %,$(UOBJ)/%.o,$$(basename $(2)))
USER_DEPS += $$(USER_OBJ_$(1):.o=.d)
$(UBUILD)/$(1).elf: $(RT_CRT0) $$(USER_OBJ_$(1)) $(RT_LIB) lib/rt/user.ld
	@echo "  ULD     $$@"
	$(Q)$(CC) $(USER_LDFLAGS) -o $$@ $(RT_CRT0) $$(USER_OBJ_$(1)) $(RT_LIB) -lgcc
endef
user_program = $(eval $(call USER_PROGRAM_RULE,$(1),$(2)))

# ---- programs ----
$(call user_program,hello,tests/user/hello.c)
$(call user_program,ktest,tests/user/ktest.c)
$(call user_program,init,servers/init/init.c)
$(call user_program,supervisor,servers/supervisor/supervisor.c)
$(call user_program,log,servers/log/log.c)
$(call user_program,uart,drivers/uart/uart.c)
$(call user_program,pci,servers/pci/pci.c)
$(call user_program,lspci,servers/pci/lspci.c)
$(call user_program,pcitest,tests/user/pcitest.c)
$(call user_program,dmatest,tests/user/dmatest.c lib/virtio/virtio.c)
$(call user_program,virtio-blk,drivers/virtio-blk/virtio-blk.c lib/virtio/virtio.c)
$(call user_program,blktest,tests/user/blktest.c lib/bdev/bdev.c)
$(call user_program,drvtest,tests/user/drvtest.c lib/bdev/bdev.c)
$(call user_program,faults,tests/user/faults.c tests/user/faults_blk.c lib/bdev/bdev.c)
$(call user_program,netfaults,tests/user/faults.c tests/user/faults_net.c lib/netdev/netdev.c)
$(call user_program,bdevtest,tests/user/bdevtest.c lib/bdev/bdev.c)
$(call user_program,blkbench,tests/user/blkbench.c lib/bdev/bdev.c lib/netdev/netdev.c)
$(call user_program,virtio-net,drivers/virtio-net/virtio-net.c lib/virtio/virtio.c)
$(call user_program,nettest,tests/user/nettest.c lib/netdev/netdev.c)
$(call user_program,procmgr,servers/procmgr/procmgr.c servers/procmgr/proc.c)
$(call user_program,nametest,tests/user/nametest.c)
$(call user_program,captest,tests/user/captest.c)
$(call user_program,hangtest,tests/user/hangtest.c)
$(call user_program,counter,tests/user/counter.c)
$(call user_program,restarttest,tests/user/restarttest.c)
$(call user_program,ctltest,tests/user/ctltest.c)
$(call user_program,attachtest,tests/user/attachtest.c)
$(call user_program,ipcbench,tests/user/ipcbench.c)
$(call user_program,echo_test,tests/user/echo_test.c)
$(call user_program,pmtest,tests/user/pmtest.c)
$(call user_program,pmchild,tests/user/pmchild.c)
$(call user_program,viewtest,tests/user/viewtest.c)
$(call user_program,ramfs,servers/ramfs/ramfs.c)
$(call user_program,tty,servers/tty/tty.c servers/tty/ldisc.c)
$(call user_program,pty,servers/pty/pty.c servers/tty/ldisc.c)
$(call user_program,pipe,servers/pipe/pipe.c)
$(call user_program,procfs,servers/procfs/procfs.c)
$(call user_program,uartkill,tests/user/uartkill.c)
$(call user_program,devfs,servers/devfs/devfs.c)
$(call user_program,supertest,tests/user/supertest.c)
$(call user_program,uarttest,tests/user/uarttest.c)
$(call user_program,protofuzz,tests/user/protofuzz.c)
$(call user_program,sysfuzz,tests/fuzz/sysfuzz.c)
$(call user_program,linux,posix/linux.c posix/fd.c posix/proc.c posix/thread.c posix/pipe.c posix/view.c posix/entry.S)

# ---- static Linux programs (musl-gcc -static), run by bin/linux ----
# tests/linux/NAME.c becomes $(BUILD)/linux/NAME and linux/NAME in the
# boot image.
LINUX_PROGRAMS := hello fuzz bench blkbench forktest fstest exectest sigtest pipetest devtest proctest ttywriter threadtest ptytest
LINUX_CFLAGS := -static -O2 -Wall -Wextra -Werror
LINUX_ELFS := $(patsubst %,$(BUILD)/linux/%,$(LINUX_PROGRAMS))
# Debian's busybox-static, unmodified (installed by tools/setup), as
# linux/busybox.
BUSYBOX := /bin/busybox

$(BUILD)/linux/%: tests/linux/%.c lib/rt/rt.mk
	@mkdir -p $(dir $@)
	@echo "  MUSLCC  $<"
	$(Q)musl-gcc $(LINUX_CFLAGS) -o $@ $< -lpthread

# ---- outputs ----
USER_ELFS := $(patsubst %,$(UBUILD)/%.elf,$(USER_PROGRAMS))

.PHONY: user
user: $(USER_ELFS)

# Rebuilt from scratch each time, so no stale file reaches the image.
$(BUILD)/bootimage.stamp: $(BOOTIMAGE_FILES) $(USER_ELFS) $(LINUX_ELFS) $(wildcard $(BUSYBOX)) Makefile lib/rt/rt.mk
	@echo "  STAGE   $(BUILD)/bootimage/"
	$(Q)rm -rf $(BUILD)/bootimage && mkdir -p $(BUILD)/bootimage/bin
	$(Q)cp -R bootimage/. $(BUILD)/bootimage/
	$(Q)$(foreach p,$(USER_PROGRAMS),$(OBJCOPY) --strip-debug $(UBUILD)/$(p).elf $(BUILD)/bootimage/bin/$(p) &&) true
	$(Q)mkdir -p $(BUILD)/bootimage/linux && cp $(LINUX_ELFS) $(BUILD)/bootimage/linux/
	$(Q)test -x $(BUSYBOX) || { echo "$(BUSYBOX) is missing: run tools/setup (Debian's busybox-static)" >&2; exit 1; }
	$(Q)cp $(BUSYBOX) $(BUILD)/bootimage/linux/busybox
	$(Q)# busybox's applets as links in bin/ (where no native program has the name)
	$(Q)cd $(BUILD)/bootimage && for a in $$($(BUSYBOX) --list); do \
	    [ -e bin/$$a ] || ln -s ../linux/busybox bin/$$a; done
	$(Q)mkdir -p $(BUILD)/bootimage/tmp $(BUILD)/bootimage/dev $(BUILD)/bootimage/proc \
	    $(BUILD)/bootimage/root
	$(Q)touch $@

-include $(USER_DEPS)
