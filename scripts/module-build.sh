#!/usr/bin/env bash
# make module: bcachefs.ko with bkey-jit inside, built out of tree for
# Debian's own kernel the way a DKMS package would be: fs/bcachefs of the
# matching linux-source-6.12 (scripts/fetch-kernel.sh), the project's
# bcachefs patches, then patches/module/ (bkey-jit linked into the module),
# with bkey-jit's sources in fs/bcachefs/bkey_jit/; built with
# make -C HEADERS M=DIR against linux-headers-RELEASE (scripts/debian-kernel.sh).
# The eBPF backend only: the distribution kernel exports no executable-memory
# primitive, so there is no vmalloc_exec and no native emitter.
#
# usage: module-build.sh   prints the path of build/module/bcachefs.ko
# env:   BKEY_JIT_DEBIAN_FLAVOUR etc., see scripts/debian-kernel.sh
#
# The build directory ($CACHE/module/RELEASE) is synced with rsync -c, so a
# re-run rebuilds only what changed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${BKEY_JIT_CACHE:-$HOME/.cache/bkey-jit}

bash "$repo/scripts/deps.sh"
# Debian's headers carry vmlinux, so kbuild generates the module's BTF, with
# pahole (as on a Debian machine with DKMS: dwarves)
if ! command -v pahole >/dev/null; then
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "module-build: installing dwarves (pahole)" >&2
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends dwarves >/dev/null
fi
pristine=$("$repo/scripts/fetch-kernel.sh")
release=$("$repo/scripts/debian-kernel.sh" release)
headers=$("$repo/scripts/debian-kernel.sh" headers)
build=$cache/module/$release
src=$build/src/fs/bcachefs
mkdir -p "$build"
exec 9>"$build.lock"
flock 9

# 1. the source, staged afresh: pristine fs/bcachefs, patched, plus bkey-jit
stage=$(mktemp -d "$build/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/fs"
cp -a "$pristine/fs/bcachefs" "$stage/fs/"
shopt -s nullglob
for p in "$repo"/patches/bcachefs/*.patch "$repo"/patches/module/*.patch; do
	if ! patch -d "$stage" -p1 --batch --forward -s --no-backup-if-mismatch <"$p"; then
		echo "module-build: ${p#"$repo"/} does not apply to fs/bcachefs of $pristine" >&2
		exit 1
	fi
done
shopt -u nullglob
jit=$stage/fs/bcachefs/bkey_jit
mkdir -p "$jit/arch/none" "$jit/compat"
cp "$repo"/bkey_jit*.c "$repo"/bkey_jit*.h "$repo"/vmalloc_exec.h "$jit/"
cp "$repo"/compat/bkey_jit_compat.h "$repo"/compat/bkey_jit_bpf_insn.h "$jit/compat/"
cp "$repo"/arch/none/bkey_jit_emit.c "$jit/arch/none/"

# 2. into the build directory; -c keeps unchanged files' mtimes, and kbuild's
#    outputs are left alone by --delete
mkdir -p "$build/src"
rsync -rc --delete --exclude='*.o' --exclude='.*.cmd' --exclude='*.ko' \
	--exclude='*.mod' --exclude='*.mod.c' --exclude='*.order' \
	--exclude='Module.symvers' --exclude='*.a' --exclude='.tmp*' \
	"$stage/fs/" "$build/src/fs/"

# 3. build against Debian's headers; their .kernelvariables pick Debian's
#    compiler (x86_64-linux-gnu-gcc-12), so vermagic and flags match
log=$build/build.log
if ! make -C "$headers" M="$src" -j"${BKEY_JIT_JOBS:-2}" modules >"$log" 2>&1; then
	tail -n 40 "$log" >&2
	echo "module-build: build failed (log: $log)" >&2
	exit 1
fi
# compiler warnings fail the build: the module is the product
if grep -E 'warning:|WARNING:' "$log" >&2; then
	echo "module-build: warnings (log: $log)" >&2
	exit 1
fi

# 4. the product, checked: vermagic is the headers' release, bkey-jit inside
out=$repo/build/module
mkdir -p "$out"
# without its DWARF, as Debian installs modules (INSTALL_MOD_STRIP); the BTF stays
strip --strip-debug -o "$out/bcachefs.ko" "$src/bcachefs.ko"
vermagic=$(/usr/sbin/modinfo -F vermagic "$out/bcachefs.ko")
case $vermagic in
"$release "*) ;;
*) echo "module-build: vermagic '$vermagic' is not $release's" >&2; exit 1 ;;
esac
for parm in bkey_jit.mode bkey_jit.backend; do
	/usr/sbin/modinfo -F parm "$out/bcachefs.ko" | grep -q "^$parm:" ||
		{ echo "module-build: no parameter $parm in bcachefs.ko" >&2; exit 1; }
done
echo "$release" >"$out/release"
echo "$out/bcachefs.ko"
