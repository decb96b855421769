# Kernel build + KUnit targets, included by the top-level Makefile.
# The scripts do all the caching (~/.cache/bkey-jit/trees/...), so these
# targets are always run and cheap when nothing changed.
KERNEL_REPO := $(CURDIR)
KERNEL_SCRIPTS := $(KERNEL_REPO)/scripts

.PHONY: kernel-x86_64 kernel-arm64 kunit kunit-x86_64 kunit-arm64 kunit-debug

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
