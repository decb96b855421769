#!/usr/bin/env bash
# bcachefs + bkey_jit on an architecture with no bkey-jit emitter (and so no
# VMALLOC_EXEC): the kernel must build and link, with bkey_jit built in on
# the generic C unpack (arch/none) and the allocator's stubs inlined away.
#
# usage: tests/kernel-generic-build.sh [ARCH]    ARCH = riscv64 (default)
# Prints PASS/FAIL lines and "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
arch=${1:-riscv64}
case $arch in
riscv64) nm=riscv64-linux-gnu-nm ;;
*) echo "kernel-generic-build: no emitter-less ARCH $arch set up" >&2; exit 2 ;;
esac
pass=0 fail=0
ok()  { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit $?; }

t0=$(date +%s)
if image=$("$repo/scripts/kernel-build.sh" "$arch") && [ -s "$image" ]; then
	ok "$arch kernel built and linked ($(du -k "$image" | cut -f1) KiB image, $(($(date +%s) - t0))s)"
else
	bad "$arch kernel build"; finish
fi
tree=${image%/arch/*}

# the configuration this leg exists for
want_cfg() {
	if grep -qx "$1" "$tree/.config"; then ok ".config: $1"; else bad ".config: want $1"; fi
}
want_cfg CONFIG_BCACHEFS_FS=y
want_cfg CONFIG_BKEY_JIT=y
want_cfg CONFIG_BKEY_JIT_KUNIT_TEST=y
# unmet dependencies (no x86-64/arm64): absent from .config, not just unset
if grep -q '^CONFIG_VMALLOC_EXEC=' "$tree/.config"; then
	bad ".config: VMALLOC_EXEC on $arch"
else
	ok ".config: no VMALLOC_EXEC"
fi

# what got linked: the generic backend only
members=$(ar t "$tree/lib/bkey_jit/built-in.a" 2>/dev/null | sed 's#^.*lib/bkey_jit/##')
if grep -qx 'arch/none/bkey_jit_emit.o' <<<"$members" &&
	! grep -qE '^arch/(x86|arm64)/' <<<"$members"; then
	ok "backend: arch/none only ($(wc -l <<<"$members") objects in lib/bkey_jit)"
else
	bad "backend: lib/bkey_jit/built-in.a has: $(tr '\n' ' ' <<<"$members")"
fi
if grep -q 'tests/vmalloc_exec_kunit.o' <<<"$members"; then
	bad "vmalloc_exec KUnit suite built without VMALLOC_EXEC"
else
	ok "no vmalloc_exec KUnit suite without VMALLOC_EXEC"
fi

syms=$("$nm" "$tree/vmlinux")
for s in bkey_jit_get bkey_jit_put bkey_jit_unpack_generic bkey_jit_unpack_slow \
	bkey_jit_arch_emit bkey_format_validate bch2_fs_open; do
	if grep -qE " [Tt] $s\$" <<<"$syms"; then ok "vmlinux: $s"; else bad "vmlinux: no $s"; fi
done
# the stubs are static inline: no allocator code, no references
if grep -qE ' vmalloc_exec_' <<<"$syms"; then
	bad "vmlinux has vmalloc_exec symbols: $(grep -E ' vmalloc_exec_' <<<"$syms" | head -n 3 | tr '\n' ' ')"
else
	ok "vmlinux: no vmalloc_exec code (stubs inlined)"
fi
finish
