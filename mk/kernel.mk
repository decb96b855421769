# Kernel build + KUnit targets, included by the top-level Makefile.
# The scripts do all the caching (~/.cache/bkey-jit/trees/...), so these
# targets are always run and cheap when nothing changed.
KERNEL_REPO := $(CURDIR)
KERNEL_SCRIPTS := $(KERNEL_REPO)/scripts

.PHONY: kernel-x86_64 kernel-arm64 kunit kunit-x86_64 kunit-arm64 kunit-debug \
	kunit-bpf kunit-clang kunit-clang-x86_64 kunit-clang-arm64

kernel-x86_64:
	$(KERNEL_SCRIPTS)/kernel-build.sh x86_64

kernel-arm64:
	$(KERNEL_SCRIPTS)/kernel-build.sh arm64

kunit: kunit-x86_64 kunit-arm64

kunit-x86_64:
	$(KERNEL_SCRIPTS)/kunit-run.sh x86_64

kunit-arm64:
	$(KERNEL_SCRIPTS)/kunit-run.sh arm64

kunit-debug:
	$(KERNEL_SCRIPTS)/kunit-run.sh x86_64 debug

# bkey_jit's eBPF backend through the kernel's BPF JIT: every test kernel
# has CONFIG_BPF_JIT, so this is the x86_64 and arm64 suites
kunit-bpf: kunit

# clang-16/lld-16 kernels with kCFI (+ IBT on x86_64, BTI on arm64): the
# indirect calls into JIT code must pass the checks (kernel/config/clang*)
kunit-clang: kunit-clang-x86_64 kunit-clang-arm64

kunit-clang-x86_64:
	$(KERNEL_SCRIPTS)/kunit-run.sh x86_64 clang

kunit-clang-arm64:
	$(KERNEL_SCRIPTS)/kunit-run.sh arm64 clang
