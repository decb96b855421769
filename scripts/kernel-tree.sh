#!/usr/bin/env bash
# Prepare the cached, patched kernel build tree for one arch (and variant)
# and sync the repo's kernel-side sources into its lib/bkey_jit/.
#
# usage: kernel-tree.sh ARCH [VARIANT]     ARCH = x86_64 | arm64 | riscv64
# prints the tree path: $CACHE/trees/ARCH (VARIANT other than "default"
# gets its own tree, $CACHE/trees/ARCH-VARIANT, so configs never fight;
# VARIANT=clang's objects are clang's, which gcc trees must never reuse;
# VARIANT=stock applies no patch at all).
#
# Incremental by design: the tree is copied from the pristine source once;
# patches (patches/kernel/*.patch, then patches/bcachefs/*.patch) are applied
# once and recorded in a stamp; when the patch set changes, the files the old
# set touched are restored from pristine (fresh mtimes, so make rebuilds
# what depends on them) and the new set is applied. Objects survive.
set -euo pipefail

arch=${1:?usage: kernel-tree.sh ARCH [VARIANT]}
variant=${2:-${KVARIANT:-default}}
case $arch in x86_64 | arm64 | riscv64) ;; *) echo "kernel-tree: bad ARCH $arch" >&2; exit 2 ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${BKEY_JIT_CACHE:-$HOME/.cache/bkey-jit}
pristine=$("$repo/scripts/fetch-kernel.sh")
name=$arch
[ "$variant" = default ] || name=$arch-$variant
tree=$cache/trees/$name
meta=$tree/.bkey-jit # our bookkeeping inside the tree
mkdir -p "$cache/trees"

# Serialize against another kernel-tree/kernel-build run on the same tree
# (kernel-build.sh already holds the lock and says so).
if [ -z "${BKEY_JIT_TREE_LOCKED:-}" ]; then
	exec 9>"$cache/trees/$name.lock"
	flock 9
fi

# 1. copy of the pristine tree, once per kernel version. Real copy, not
#    hardlinks: patch and rsync must never write through into the pristine tree.
if [ ! -f "$meta/copied" ] || [ "$(cat "$meta/copied")" != "$pristine" ]; then
	echo "kernel-tree: copying pristine tree to $tree" >&2
	rm -rf "$tree"
	cp -a --reflink=auto "$pristine" "$tree.tmp.$$"
	mv "$tree.tmp.$$" "$tree"
	mkdir -p "$meta/applied"
	echo "$pristine" >"$meta/copied"
fi

# 2. patches, applied exactly once per patch set.
# kernel wiring first, then the bcachefs changes; each set in name order
shopt -s nullglob
patches=("$repo"/patches/kernel/*.patch "$repo"/patches/bcachefs/*.patch)
shopt -u nullglob
# VARIANT=stock: pristine 6.12 with the bench config, the baseline of
# make bench-kernel; no patch, so bcachefs is exactly as 6.12 ships it.
[ "$variant" != stock ] || patches=()
want=$(cat /dev/null "${patches[@]}" | sha256sum | cut -d' ' -f1)
have=$(cat "$meta/patches.sha256" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
	# Restore whatever the previously applied set touched (both sides of
	# each diff, so files it created are removed too).
	for p in "$meta"/applied/*.patch; do
		[ -e "$p" ] || continue
		sed -n -e 's#^--- a/\([^\t ]*\).*#\1#p' -e 's#^+++ b/\([^\t ]*\).*#\1#p' "$p"
	done | sort -u | while read -r f; do
		rm -f "$tree/$f"
		# plain cp (no -p): a fresh mtime makes make rebuild dependents
		if [ -e "$pristine/$f" ]; then cp "$pristine/$f" "$tree/$f"; fi
	done
	rm -f "$meta"/applied/*.patch "$meta/patches.sha256"
	i=0
	for p in "${patches[@]}"; do
		echo "kernel-tree: applying ${p#"$repo"/}" >&2
		# dry run first, so a patch that does not apply leaves no half state
		if ! patch -d "$tree" -p1 --batch --forward --dry-run -s <"$p" >/dev/null ||
			! patch -d "$tree" -p1 --batch --forward -s --no-backup-if-mismatch <"$p"; then
			echo "kernel-tree: FAILED to apply ${p#"$repo"/} on linux $(make -s -C "$tree" kernelversion 2>/dev/null)" >&2
			patch -d "$tree" -p1 --batch --forward --dry-run <"$p" >&2 || true
			exit 1
		fi
		i=$((i + 1))
		cp "$p" "$meta/applied/$(printf %03d $i)-$(basename "$p")"
	done
	echo "$want" >"$meta/patches.sha256"
fi

# 3. the repo's kernel sources into lib/bkey_jit/. -c compares contents, so
#    unchanged files keep their mtimes and make rebuilds only what changed.
mkdir -p "$tree/lib/bkey_jit"
# The leading excludes also keep --delete away from kbuild's outputs (*.o,
# .*.cmd) in the synced subdirectories such as arch/x86/.
rsync -rc --delete \
	--exclude='.*' --exclude='*.o' --exclude='*.a' --exclude='*.order' --exclude='*.mod*' \
	--include='/Kconfig' --include='/Kbuild' --include='/*.c' --include='/*.h' \
	--include='/compat/***' --include='/arch/***' \
	--include='/tests/' --include='/tests/*_kunit.c' --include='/tests/*.h' \
	--exclude='*' \
	"$repo/" "$tree/lib/bkey_jit/"

echo "$tree"
