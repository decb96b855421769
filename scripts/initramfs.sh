#!/usr/bin/env bash
# Build a busybox initramfs for the test kernel.
#
# usage: initramfs.sh ARCH OUT.cpio.gz INIT_SCRIPT [EXTRA_FILE...]
#   ARCH        x86_64 | arm64 (arm64 busybox-static comes from the Debian
#               arm64 .deb, fetched once into $CACHE/busybox-arm64)
#   INIT_SCRIPT runs as the guest's init, after a preamble that mounts
#               proc/sys/devtmpfs/debugfs, points stdio at /dev/console and
#               runs `busybox --install -s`. Any #! it has is honoured (/bin/sh
#               is busybox). When it returns, the guest powers off (poweroff -f),
#               so qemu exits; its exit status is printed as
#               "bkey-jit-init: exit N" for the host side to check.
#   EXTRA_FILE  copied to /bin (static test programs).
# env:  INITRAMFS_MODULES=DIR  a modules_install tree (DIR/lib/modules/...),
#               copied in so the guest can modprobe
set -euo pipefail

arch=${1:?usage: initramfs.sh ARCH OUT.cpio.gz INIT_SCRIPT [EXTRA_FILE...]}
out=${2:?usage: initramfs.sh ARCH OUT.cpio.gz INIT_SCRIPT [EXTRA_FILE...]}
init=${3:?usage: initramfs.sh ARCH OUT.cpio.gz INIT_SCRIPT [EXTRA_FILE...]}
shift 3
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${BKEY_JIT_CACHE:-$HOME/.cache/bkey-jit}

case $arch in
x86_64)
	[ "$(uname -m)" = x86_64 ] || { echo "initramfs: x86_64 busybox only on x86_64 hosts" >&2; exit 2; }
	busybox=/bin/busybox # busybox-static (scripts/deps.sh)
	;;
arm64)
	bbdir=$cache/busybox-arm64
	busybox=$bbdir/root/bin/busybox
	if [ ! -x "$busybox" ]; then
		mkdir -p "$bbdir"
		ls "$bbdir"/busybox-static_*_arm64.deb >/dev/null 2>&1 ||
			"$repo/scripts/apt-private.sh" "$bbdir" bookworm arm64 busybox-static >&2
		rm -rf "$bbdir/root"
		dpkg-deb -x "$(ls "$bbdir"/busybox-static_*_arm64.deb | sort -V | tail -n 1)" "$bbdir/root"
	fi
	;;
*) echo "initramfs: bad ARCH $arch" >&2; exit 2 ;;
esac
[ -x "$busybox" ] || { echo "initramfs: no static busybox at $busybox (run scripts/deps.sh)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,root,etc}
cp "$busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
install -m 0755 "$init" "$stage/init.test"
for f in "$@"; do
	cp -L "$f" "$stage/bin/"
done
if [ -n "${INITRAMFS_MODULES:-}" ]; then
	[ -d "$INITRAMFS_MODULES/lib/modules" ] ||
		{ echo "initramfs: no lib/modules in $INITRAMFS_MODULES" >&2; exit 1; }
	mkdir -p "$stage/lib"
	cp -a "$INITRAMFS_MODULES/lib/modules" "$stage/lib/"
fi

# The preamble is /init. No /dev/console node is shipped (that would need
# root to mknod), so it mounts devtmpfs first and reopens the console.
cat >"$stage/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
mount -t tmpfs tmpfs /tmp
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
echo "bkey-jit-init: start"
rc=0
/init.test || rc=$?
echo "bkey-jit-init: exit $rc"
sync
poweroff -f
INIT
chmod 0755 "$stage/init"

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -n -6 >"$out.tmp"
mv "$out.tmp" "$out"
