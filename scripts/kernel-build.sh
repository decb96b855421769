#!/usr/bin/env bash
# Build the bkey-jit test kernel for one arch: cached tree (kernel-tree.sh),
# verified config (kernel-config.sh), make. Prints the image path on stdout;
# progress goes to stderr, the full make log to $CACHE/logs/.
#
# usage: kernel-build.sh ARCH [VARIANT]    ARCH = x86_64 | arm64 | riscv64
#        VARIANT = default | debug (x86_64: KASAN, lockdep, kmemleak)
#                  | clang (clang-16/lld-16 via LLVM=-16: kCFI, IBT/BTI)
#                  | module (x86_64: bcachefs as a module; also installs
#                    the modules into TREE/.bkey-jit/modules)
# env:   BKEY_JIT=auto|0|1, KCONFIG_EXTRA=...  (see kernel-config.sh)
#        JOBS (default nproc), BKEY_JIT_CACHE (default ~/.cache/bkey-jit)
set -euo pipefail

arch=${1:?usage: kernel-build.sh ARCH [VARIANT]}
variant=${2:-${KVARIANT:-default}}
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${BKEY_JIT_CACHE:-$HOME/.cache/bkey-jit}
name=$arch
[ "$variant" = default ] || name=$arch-$variant
# karch: the kernel's name for the arch (make ARCH=)
case $arch in
x86_64) karch=x86_64 cross='' image=arch/x86/boot/bzImage ;;
arm64) karch=arm64 cross=aarch64-linux-gnu- image=arch/arm64/boot/Image ;;
riscv64) karch=riscv cross=riscv64-linux-gnu- image=arch/riscv/boot/Image ;;
*) echo "kernel-build: bad ARCH $arch" >&2; exit 2 ;;
esac
llvm=()
[ "$variant" = clang ] && llvm=(LLVM=-16) # Makefile: LLVM=-16 -> clang-16, ld.lld-16, ...

# One build per tree at a time; kernel-tree.sh inherits the lock.
mkdir -p "$cache/trees" "$cache/logs"
exec 9>"$cache/trees/$name.lock"
if ! flock -n 9; then
	echo "kernel-build: another build of $name is running, waiting for it" >&2
	flock 9
fi
export BKEY_JIT_TREE_LOCKED=1

start=$(date +%s)
tree=$("$repo/scripts/kernel-tree.sh" "$arch" "$variant")
"$repo/scripts/kernel-config.sh" "$arch" "$tree" "$variant"

log=$cache/logs/kernel-build-$name.log
echo "kernel-build: make -j${JOBS:-$(nproc)} $name (log: $log)" >&2
# make in the background, a one-line progress report every 20 s
make -C "$tree" ARCH="$karch" CROSS_COMPILE="$cross" "${llvm[@]}" -j"${JOBS:-$(nproc)}" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT INT TERM
while kill -0 $pid 2>/dev/null; do
	for _ in $(seq 20); do kill -0 $pid 2>/dev/null && sleep 1; done
	kill -0 $pid 2>/dev/null || break
	echo "kernel-build: $(($(date +%s) - start))s, $(grep -c '^  [A-Z]' "$log") steps, last: $(grep '^  [A-Z]' "$log" | tail -n 1 | sed 's/^ *//')" >&2
done
rc=0
wait $pid || rc=$?
trap - EXIT INT TERM
if [ $rc -ne 0 ]; then
	echo "kernel-build: FAILED ($name, exit $rc); errors and last lines of $log:" >&2
	grep -E 'error:|Error [0-9]|undefined reference' "$log" | head -n 30 >&2 || true
	echo "----- tail -----" >&2
	tail -n 40 "$log" >&2
	exit 1
fi
grep -E 'warning:' "$log" | grep -E 'lib/bkey_jit/|fs/bcachefs/' | sort -u | head -n 20 | sed 's/^/kernel-build: /' >&2 || true
# Modular kernels: a fresh modules_install into the tree, for the initramfs
# (scripts/initramfs.sh --modules). Stripped: the guest only loads them.
if grep -q '^CONFIG_MODULES=y' "$tree/.config"; then
	rm -rf "$tree/.bkey-jit/modules"
	if ! make -s -C "$tree" ARCH="$karch" CROSS_COMPILE="$cross" "${llvm[@]}" \
		INSTALL_MOD_PATH="$tree/.bkey-jit/modules" INSTALL_MOD_STRIP=1 modules_install >>"$log" 2>&1; then
		echo "kernel-build: modules_install FAILED ($name); see $log" >&2
		exit 1
	fi
	echo "kernel-build: modules in $tree/.bkey-jit/modules: $(find "$tree/.bkey-jit/modules" -name '*.ko*' | wc -l)" >&2
fi
echo "kernel-build: $name done in $(($(date +%s) - start))s" >&2
echo "$tree/$image"
