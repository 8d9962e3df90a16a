# Kestrel: one Makefile for the whole system.
#
#   make            build the kernel, the user programs and the boot image
#   make user       build only the user programs (lib/rt/rt.mk)
#   make protocols  generate the protocol headers (protocols/protocols.mk)
#   make run        boot in QEMU (SMP=4 MEM=1G by default; quit: Ctrl-A X)
#   make test       host unit tests + in-kernel self tests + boot checks
#   make bench      benchmarks, as "bench NAME VALUE UNIT" lines
#   make fuzz       the system call fuzzer under TCG (SEED= CALLS= SMP= RUNS= JOBS= FUZZARGS=)
#   make fuzz-proto the protocol fuzzer, clients then init's launcher (SEED= COUNT= SMP=)
#   make faults     fault injection into the block and network drivers (DRIVER= FAULTS= RUNS= JOBS= SEED=)
#   make busybox-suite  busybox's own test suite inside Kestrel (and its ash tests)
#   make gdb        boot halted with the gdbstub, then attach gdb
#   make deps       install the Debian packages everything needs
#
# Warnings are errors everywhere.  Outputs go to build/.

BUILD   ?= build
SMP     ?= 4
MEM     ?= 1G
ACCEL   ?= auto
APPEND  ?=
V       ?= 0
KSHIP   := $(if $(filter 1,$(SHIP)),-DKESTREL_SHIP)
Q       := $(if $(filter 1,$(V)),,@)
CC      := gcc
LD      := ld
OBJCOPY := objcopy

WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wstrict-prototypes -Wmissing-prototypes
# The kernel is built for size (-Os: kernel_image_bytes), except the
# message-passing and scheduling path, built for speed.
KOPT    ?= -Os
KHOT    := kernel/core/channel.c kernel/core/sched.c kernel/core/handle.c
KCFLAGS := -std=c11 $(WARN) $(KOPT) -g -ffreestanding -fno-stack-protector -fno-pic -fno-pie \
           -mno-red-zone -mcmodel=kernel -mgeneral-regs-only -fno-omit-frame-pointer \
           -fno-tree-loop-distribute-patterns -fno-strict-aliasing -fno-common \
           -ffunction-sections -fdata-sections \
           -Ikernel -Iabi -Ilib -MMD -MP $(KSHIP)
KASFLAGS := -g -Ikernel -Iabi -MMD -MP $(KSHIP)
KLDFLAGS := -nostdlib -z max-page-size=0x1000 -z noexecstack --gc-sections -T kernel/kernel.ld

KSRC := $(sort $(wildcard kernel/core/*.c kernel/arch/x86_64/*.c kernel/tests/*.c lib/base/*.c))
# SHIP=1: the kernel as shipped, without the in-kernel self tests
# (kernel_image_bytes is measured on it).  `make ship` builds it in build/ship.
ifeq ($(SHIP),1)
KSRC := $(filter-out kernel/tests/% kernel/arch/x86_64/selftest_% kernel/core/selftest.c,$(KSRC))
endif
KASM := $(sort $(wildcard kernel/arch/x86_64/*.S))
KOBJ := $(patsubst %.c,$(BUILD)/%.o,$(KSRC)) $(patsubst %.S,$(BUILD)/%.o,$(KASM))

BOOTIMAGE_FILES := $(shell find bootimage -type f 2>/dev/null)

.PHONY: all kernel run test bench gdb deps clean host-tests ship fuzz faults fuzz-proto suite-image busybox-suite
all: kernel user $(BUILD)/bootimage.cpio
kernel: $(BUILD)/kestrel.bin

# Generated protocol headers, then user programs, librt and the staged
# boot image directory.
-include protocols/protocols.mk
-include lib/rt/rt.mk

$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(KCFLAGS) $(if $(filter $<,$(KHOT)),-O2 -falign-functions=1 -falign-jumps=1 -falign-loops=1 -falign-labels=1) -c $< -o $@

$(BUILD)/ksyms0.o $(BUILD)/ksyms.o: $(BUILD)/%.o: $(BUILD)/%.c
	$(Q)$(CC) $(KCFLAGS) -c $< -o $@

$(BUILD)/%.o: %.S Makefile
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	$(Q)$(CC) $(KASFLAGS) -c $< -o $@

# Two-pass link: the symbol table for backtraces is generated from the
# first pass and linked into the second; it sits after .text, so no code
# address moves (checked below).
$(BUILD)/ksyms0.c: tools/mksyms
	@mkdir -p $(BUILD)
	$(Q)tools/mksyms > $@
$(BUILD)/kestrel.pass1.elf: $(KOBJ) $(BUILD)/ksyms0.o kernel/kernel.ld
	@echo "  LD      $@"
	$(Q)$(LD) $(KLDFLAGS) -o $@ $(KOBJ) $(BUILD)/ksyms0.o
$(BUILD)/ksyms.c: $(BUILD)/kestrel.pass1.elf tools/mksyms
	$(Q)tools/mksyms $< > $@
ifeq ($(SHIP),1)
# The shipped kernel carries no symbol names (decision 0007): its reports
# give addresses, which tools/symbolize turns into names.
$(BUILD)/kestrel.elf: $(BUILD)/kestrel.pass1.elf
	$(Q)cp $< $@
else
$(BUILD)/kestrel.elf: $(KOBJ) $(BUILD)/ksyms.o kernel/kernel.ld
	@echo "  LD      $@"
	$(Q)$(LD) $(KLDFLAGS) -o $@ $(KOBJ) $(BUILD)/ksyms.o
	$(Q)tools/mksyms $@ | cmp -s - $(BUILD)/ksyms.c || \
	    { echo "error: kernel text moved between link passes"; rm -f $@; exit 1; }
endif
$(BUILD)/kestrel.bin: $(BUILD)/kestrel.elf
	@echo "  OBJCOPY $@"
	$(Q)$(OBJCOPY) -O binary $< $@

# Packs the staging directory $(BUILD)/bootimage/ (see lib/rt/rt.mk).
$(BUILD)/bootimage.cpio: $(BUILD)/bootimage.stamp
	@echo "  CPIO    $@"
	$(Q)cd $(BUILD)/bootimage && find . -mindepth 1 | LC_ALL=C sort | \
	    cpio --quiet -o -H newc -R 0:0 --reproducible > $(abspath $@).tmp
	$(Q)mv $@.tmp $@

ship:
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/ship SHIP=1 kernel

deps:
	tools/setup

run: deps all
	tools/qemu --smp $(SMP) --mem $(MEM) --accel $(ACCEL) --append "$(APPEND)" --devices $(BUILD)/disk.img

gdb: deps all
	@echo "In another terminal: gdb $(BUILD)/kestrel.elf -ex 'target remote :1234' -ex 'hbreak kmain' -ex continue"
	tools/qemu --smp $(SMP) --mem $(MEM) --accel tcg --gdb --append "$(APPEND)"

test: deps all host-tests suite-image
	tools/runtests

# busybox's own test suite inside Kestrel (tools/busybox-suite, Debian's
# source fetched once into build/busybox-src/): suite-image packs
# build/bootimage-suite.cpio (make test boots a short run of it);
# busybox-suite runs the whole suite, then shell/ash_test.
suite-image: deps all
	tools/busybox-suite --image-only

busybox-suite: deps all
	tools/busybox-suite; s=$$?; tools/busybox-suite --ash && exit $$s

bench: deps all ship
	tools/bench

# tools/fuzz: SEED=S CALLS=N SMP=C runs one seed; without SEED, RUNS (6) new
# seeds on 1, 2 and 4 CPUs (only SMP's if it is given here).
FUZZ_OPTS = $(if $(SEED),--seed $(SEED)) $(if $(CALLS),--calls $(CALLS)) \
            $(if $(filter command line environment,$(origin SMP)),--smp $(SMP)) \
            $(if $(RUNS),--runs $(RUNS)) $(if $(JOBS),--jobs $(JOBS)) \
            $(if $(FUZZARGS),--args $(FUZZARGS))
fuzz: deps all
	tools/fuzz $(strip $(FUZZ_OPTS))

# tools/faults: RUNS (2) campaigns of FAULTS (10000) faults into each
# running driver of DRIVER (both: the virtio block and network drivers;
# blk or net: one), JOBS (2) at once, from SEED (1); each driver's summary
# line, then one across all.
DRIVER ?= both
FAULTS_OPTS = --driver $(DRIVER) $(if $(FAULTS),--faults $(FAULTS)) $(if $(RUNS),--runs $(RUNS)) \
              $(if $(JOBS),--jobs $(JOBS)) $(if $(SEED),--seed $(SEED))
faults: deps all
	tools/faults $(strip $(FAULTS_OPTS))

# tests/user/protofuzz.c: every protocol from a hostile client (procmgr, log,
# supervisor), then init's launcher from a fake supervisor; each boot must
# end "PROTOFUZZ DONE ... failed=0" (QEMU status 33).
PSEED  ?= $(if $(SEED),$(SEED),1)
PCOUNT ?= $(if $(COUNT),$(COUNT),1000000)
fuzz-proto: deps all
	tools/qemu --batch --accel tcg --smp $(if $(SMP),$(SMP),2) --mem 256M --append \
	    "panic=exit init=bin/init initargs=tests/protofuzz.manifest,protofuzz,0,$(PSEED),$(PCOUNT) initexit=qemu"; \
	    test $$? = 33 || { echo "fuzz-proto: clients: FAILED (seed $(PSEED))"; exit 1; }
	tools/qemu --batch --accel tcg --smp $(if $(SMP),$(SMP),2) --mem 256M --append \
	    "panic=exit init=bin/init initargs=tests/launchfuzz.manifest,bin/protofuzz,0,$(PSEED),$$(( $(PCOUNT) / 10 )) initexit=qemu"; \
	    test $$? = 33 || { echo "fuzz-proto: launcher: FAILED (seed $(PSEED))"; exit 1; }
	@echo "fuzz-proto: seed $(PSEED): passed"

clean:
	rm -rf $(BUILD)

-include tests/host/host.mk
-include $(KOBJ:.o=.d)
