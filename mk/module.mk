# bcachefs.ko for Debian's own kernel, built out of tree as DKMS would
# (scripts/module-build.sh: build/module/bcachefs.ko), and the mount test
# on Debian's kernel with it (tests/mount/run.sh --debian-kernel).
.PHONY: module check-debian-kernel

module:
	@bash scripts/module-build.sh

check-debian-kernel:
	@bash tests/mount/run.sh x86_64 --debian-kernel --mode verify
