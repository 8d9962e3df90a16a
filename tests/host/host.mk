# Host unit tests (included by the top-level Makefile).
#
#   make host-tests   build one sanitized executable per tests/host/test_*.c
#   make host-check   build and run them all
#
# Each test links only the sources it tests; lib/base/string.c is never
# linked here, the host C library provides those functions.

HOST_CC     := gcc
HOST_CFLAGS := -std=c11 -Wall -Wextra -Werror -g -O1 \
               -fsanitize=address,undefined -fno-sanitize-recover=all \
               -DKESTREL_HOST -Ikernel -Iabi -Ilib -I$(BUILD)/gen
HOST_DIR    := $(BUILD)/host

# test name -> the sources it needs besides tests/host/test_<name>.c
HOST_TESTS       := $(patsubst tests/host/test_%.c,%,$(wildcard tests/host/test_*.c))
HOST_SRC_fmt     := lib/base/fmt.c
HOST_SRC_cpio    := lib/base/cpio.c
HOST_SRC_cmdline := lib/base/cmdline.c
HOST_SRC_pmm     := kernel/core/pmm.c
HOST_SRC_slab    := kernel/core/slab.c
HOST_SRC_acpi    := kernel/arch/x86_64/acpi_parse.c
HOST_SRC_multiboot := kernel/core/mb_parse.c
HOST_SRC_elf     := kernel/core/elf.c
HOST_SRC_malloc  := lib/rt/heap.c
HOST_SRC_corefile := lib/base/corefile.c
HOST_SRC_names   := lib/base/names.c
HOST_SRC_manifest := lib/base/manifest.c lib/base/names.c
HOST_SRC_proto   := lib/rt/proto.c
HOST_SRC_protofuzz := lib/rt/proto.c
HOST_SRC_ldisc   := servers/tty/ldisc.c

# test name -> extra prerequisites and flags (the ELF test also parses
# the real user program)
HOST_DEP_elf     := $(BUILD)/user/hello.elf
HOST_FLAGS_elf   := -DTEST_HELLO_ELF='"$(abspath $(BUILD)/user/hello.elf)"'
# (the core file test hands a host program and a synthesised core to gdb)
HOST_CRASH       := $(HOST_DIR)/corefile_crash
HOST_DEP_corefile := $(HOST_CRASH)
HOST_FLAGS_corefile := -DCOREFILE_CRASH='"$(abspath $(HOST_CRASH))"'
# the protocol fuzz test judges by the model the in-system fuzzer uses
HOST_DEP_protofuzz := tests/user/protomodel.h
# the line discipline lives with its server, servers/tty
HOST_DEP_ldisc   := servers/tty/ldisc.h
HOST_FLAGS_ldisc := -Iservers/tty
# the manifest test also parses the shipped bootimage/manifest
HOST_DEP_manifest   := bootimage/manifest
HOST_FLAGS_manifest := -DTEST_MANIFEST='"$(abspath bootimage/manifest)"'

HOST_BINS := $(addprefix $(HOST_DIR)/test_,$(HOST_TESTS))
# Few and small: every test depends on every header it could include.
HOST_HDRS := $(wildcard tests/host/*.h lib/base/*.h lib/rt/*.h kernel/core/*.h abi/kestrel/*.h kernel/arch/x86_64/*_parse.h) \
             $(PROTO_HDRS)

# Never run; static so that its memory is all in its ELF.
$(HOST_CRASH): tests/host/corefile_crash.c tests/host/host.mk
	@mkdir -p $(HOST_DIR)
	@echo "  HOSTCC  $@"
	$(Q)$(HOST_CC) -std=c11 -Wall -Wextra -Werror -static -O0 -g -fno-pie -no-pie -o $@ $<

define HOST_TEST_RULE
$(HOST_DIR)/test_$(1): tests/host/test_$(1).c $(HOST_SRC_$(1)) $(HOST_DEP_$(1)) $(HOST_HDRS) tests/host/host.mk
	@mkdir -p $(HOST_DIR)
	@echo "  HOSTCC  $$@"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) $(HOST_FLAGS_$(1)) -o $$@ tests/host/test_$(1).c $(HOST_SRC_$(1))
endef
$(foreach t,$(HOST_TESTS),$(eval $(call HOST_TEST_RULE,$(t))))

.PHONY: host-tests host-check
host-tests: $(HOST_BINS)

# Runs every binary even after a failure, then fails if any did.
host-check: host-tests
	@status=0; for t in $(HOST_BINS); do $$t || status=1; done; exit $$status
