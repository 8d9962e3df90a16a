# Message protocols (included by the top-level Makefile before the user
# programs and host tests, which depend on the generated headers).
#
#   make protocols   generate $(BUILD)/gen/protocols/NAME.h for every
#                    protocols/NAME.proto (tools/mkproto)
#
# Code includes them as "protocols/NAME.h" with -I$(BUILD)/gen.  The
# reference docs/protocols/NAME.md is committed: `tools/mkproto` rewrites
# it, `tools/mkproto --check` (run by make test) checks it is current.

PROTO_SRC  := $(sort $(wildcard protocols/*.proto))
PROTO_HDRS := $(patsubst protocols/%.proto,$(BUILD)/gen/protocols/%.h,$(PROTO_SRC))

$(BUILD)/gen/protocols/%.h: protocols/%.proto tools/mkproto
	@mkdir -p $(dir $@)
	@echo "  PROTO   $<"
	$(Q)tools/mkproto $< $@.tmp && mv $@.tmp $@

.PHONY: protocols
protocols: $(PROTO_HDRS)
