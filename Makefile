# SPDX-License-Identifier: GPL-2.0
#
# bkey-jit userspace build and the project's entry points. The kernel side
# is built by scripts/kernel-build.sh from a cached Linux 6.12 tree (see
# mk/kernel.mk); this file builds the same sources as a userspace library.

REPO		:= $(CURDIR)
BUILD		:= build
HOST_ARCH	:= $(shell uname -m)

CORE_SRCS	:= bkey_jit.c bkey_jit_plan.c bkey_jit_format.c bkey_jit_emit.c \
		   bkey_jit_bpf_lower.c user/vmalloc_exec_user.c \
		   user/rcu_user.c user/rhashtable_user.c user/workqueue_user.c \
		   user/bkey_jit_random_user.c user/bkey_jit_bpf_user.c tests/ebpf_interp.c
HDRS		:= $(wildcard *.h compat/*.h arch/*/*.h)
CFLAGS_COMMON	:= -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
		   -Wno-missing-field-initializers -I$(REPO) -I$(BUILD)/gen -MMD -MP

# Per-flavour settings: native, arm64 (cross, static, run with qemu), asan.
native_CC	:= gcc
native_CFLAGS	:= $(CFLAGS_COMMON)
native_LDFLAGS	:= -lpthread
native_ARCH	:= $(if $(filter x86_64,$(HOST_ARCH)),x86,$(if $(filter aarch64,$(HOST_ARCH)),arm64,none))
native_RUN	:=

arm64_CC	:= aarch64-linux-gnu-gcc
arm64_CFLAGS	:= $(CFLAGS_COMMON)
arm64_LDFLAGS	:= -static -lpthread
arm64_ARCH	:= arm64
arm64_RUN	:= qemu-aarch64-static

asan_CC		:= gcc
asan_CFLAGS	:= $(CFLAGS_COMMON) -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
asan_LDFLAGS	:= -fsanitize=address,undefined -lpthread
asan_ARCH	:= $(native_ARCH)
asan_RUN	:=

FLAVOURS	:= native arm64 asan
TESTS		:= test_unpack bench

.PHONY: all deps user user-arm64 check check-user bench-user fuzz kunit demo patches clean

all: user

deps:
	@bash scripts/deps.sh

# 6.12's __bkey_cmp_bits() for the compare's differential test and the
# benchmark: cut out of the fetched Linux 6.12 tree at build time
# (scripts/cmp-bits.sh), never kept in the repository.
CMP_BITS_H	:= $(BUILD)/gen/bch_cmp_bits.h

$(CMP_BITS_H): scripts/cmp-bits.sh
	bash scripts/cmp-bits.sh $@

# build/<flavour>/libbkeyjit.a and build/<flavour>/<test>
define flavour_rules
$(1)_OBJS := $$(patsubst %.c,$(BUILD)/$(1)/%.o,$$(CORE_SRCS) arch/$$($(1)_ARCH)/bkey_jit_emit.c)

$(BUILD)/$(1)/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$($(1)_CC) $$($(1)_CFLAGS) -c -o $$@ $$<

$(BUILD)/$(1)/libbkeyjit.a: $$($(1)_OBJS)
	@rm -f $$@
	$$(if $$(filter arm64,$(1)),aarch64-linux-gnu-ar,ar) rcs $$@ $$^

$(BUILD)/$(1)/tests/test_unpack.o $(BUILD)/$(1)/tests/bench.o: $(CMP_BITS_H)

$(BUILD)/$(1)/%: $(BUILD)/$(1)/tests/%.o $(BUILD)/$(1)/libbkeyjit.a
	$$($(1)_CC) -o $$@ $$^ $$($(1)_LDFLAGS)

-include $$(wildcard $(BUILD)/$(1)/*.d $(BUILD)/$(1)/*/*.d $(BUILD)/$(1)/*/*/*.d)
endef
$(foreach f,$(FLAVOURS),$(eval $(call flavour_rules,$(f))))

.PRECIOUS: $(BUILD)/%.o $(BUILD)/%.a

user: $(BUILD)/native/libbkeyjit.a
	@mkdir -p $(BUILD)/user/include/compat
	@cp $(BUILD)/native/libbkeyjit.a $(BUILD)/user/libbkeyjit.a
	@cp bkey_jit.h bkey_jit_types.h vmalloc_exec.h $(BUILD)/user/include/
	@cp compat/*.h $(BUILD)/user/include/compat/
	@echo "built $(BUILD)/user/libbkeyjit.a"

user-arm64: $(BUILD)/arm64/libbkeyjit.a

check-user: $(foreach f,$(FLAVOURS),$(BUILD)/$(f)/test_unpack)
	@bash scripts/check-user.sh

check:
	@bash scripts/check.sh

bench-user: $(BUILD)/native/bench $(BUILD)/arm64/bench
	@bash scripts/bench-user.sh

clean:
	rm -rf $(BUILD)

# bcachefs's old x86-64 emitter for bench's comparison: cut out of the
# fetched Linux 6.12 tree at build time (scripts/old-emitter.sh), never
# kept in the repository. x86-64 hosts only: the code it emits runs there.
ifeq ($(native_ARCH),x86)
OLD_EMIT_C	:= $(BUILD)/native/gen/bch_old_emit.c

$(OLD_EMIT_C): scripts/old-emitter.sh
	bash scripts/old-emitter.sh $@

$(BUILD)/native/gen/bch_old_emit.o: $(OLD_EMIT_C) tests/old_emit_shim.h
	$(native_CC) $(native_CFLAGS) -Wno-sign-compare -c -o $@ $<

$(BUILD)/native/tests/bench.o: native_CFLAGS += -DBENCH_OLD_EMIT
$(BUILD)/native/bench: $(BUILD)/native/gen/bch_old_emit.o
endif

-include $(wildcard mk/*.mk)

# libFuzzer target, built with clang and ASan+UBSan.
FUZZ_BIN	:= $(BUILD)/fuzz/fuzz_unpack
FUZZ_SECONDS	?= 60
FUZZ_SRCS	:= tests/fuzz_unpack.c $(CORE_SRCS) arch/$(native_ARCH)/bkey_jit_emit.c

$(FUZZ_BIN): $(FUZZ_SRCS) $(HDRS) tests/ref_unpack.h
	@mkdir -p $(dir $@)
	clang -O1 -g -std=gnu11 -I$(REPO) -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ $(FUZZ_SRCS) -lpthread

fuzz: $(FUZZ_BIN)
	@bash scripts/fuzz.sh $(FUZZ_BIN) $(FUZZ_SECONDS)

demo:
	@bash scripts/demo.sh
