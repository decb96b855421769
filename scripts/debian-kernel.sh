#!/usr/bin/env bash
# Debian's own kernel matching the linux-source-6.12 that fetch-kernel.sh
# unpacked: its headers (to build bcachefs.ko against, as DKMS would) and
# its image (to boot it under QEMU). Both are fetched as .debs with
# apt-private.sh and unpacked with dpkg-deb into the cache, so the machine's
# own packages are never touched and no root is needed; headers installed on
# the machine (apt-get install linux-headers-RELEASE) are used as they are
# when their version is the source's.
#
# usage: debian-kernel.sh version   Debian version of the source and packages
#        debian-kernel.sh release   kernel release (uname -r), e.g.
#                                   6.12.117+deb12-cloud-amd64
#        debian-kernel.sh headers   prints the headers tree (for make -C)
#        debian-kernel.sh image     prints the unpacked image package root
#                                   (boot/vmlinuz-RELEASE, lib/modules/RELEASE)
# env:   BKEY_JIT_DEBIAN_FLAVOUR (default cloud-amd64),
#        BKEY_JIT_DEBIAN_ABI (default derived from the version: 6.12.117-1~deb12u1
#        gives 6.12.117+deb12), BKEY_JIT_KERNEL_SUITE (default bookworm-security)
set -euo pipefail

what=${1:?usage: debian-kernel.sh version|release|headers|image}
here=$(cd "$(dirname "$0")" && pwd)
cache=${BKEY_JIT_CACHE:-$HOME/.cache/bkey-jit}
suite=${BKEY_JIT_KERNEL_SUITE:-bookworm-security}
flavour=${BKEY_JIT_DEBIAN_FLAVOUR:-cloud-amd64}
arch=$(dpkg --print-architecture)

# The version is the one of the source tree fetch-kernel.sh unpacked: the
# newest linux-source .deb of that upstream release in the cache.
pristine=$("$here/fetch-kernel.sh")
upstream=${pristine##*/linux-}
srcdeb=$(ls "$cache"/debs/linux-source-6.12_"$upstream"-*_all.deb 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$srcdeb" ] || { echo "debian-kernel: no linux-source .deb for $upstream in $cache/debs" >&2; exit 1; }
version=$(dpkg-deb -f "$srcdeb" Version)

# Debian's ABI name: upstream release + the distribution tag of a stable
# update (~deb12u1 -> +deb12).
abi=${BKEY_JIT_DEBIAN_ABI:-}
if [ -z "$abi" ]; then
	tag=$(sed -n 's/.*~\(deb[0-9][0-9]*\)u[0-9]*$/\1/p' <<<"$version")
	[ -n "$tag" ] || { echo "debian-kernel: cannot derive the ABI from $version; set BKEY_JIT_DEBIAN_ABI" >&2; exit 1; }
	abi=$upstream+$tag
fi
release=$abi-$flavour
# one directory per release; the stamp says which package version it holds
dir=$cache/debian-kernel/$release

fetch() { # PACKAGE... (at $version) into $cache/debs, once
	local p need=()
	for p in "$@"; do
		ls "$cache/debs/${p}_${version}_"*.deb >/dev/null 2>&1 || need+=("$p=$version")
	done
	[ ${#need[@]} = 0 ] || "$here/apt-private.sh" "$cache/debs" "$suite" "$arch" "${need[@]}" >&2
}
deb_of() { ls "$cache/debs/${1}_${version}_"*.deb | head -n 1; }

case $what in
version) echo "$version" ;;
release) echo "$release" ;;
headers)
	sys=/usr/src/linux-headers-$release
	if [ -f "$sys/Module.symvers" ] && [ -e "$sys/scripts/basic/fixdep" ] &&
		[ "$(dpkg-query -W -f='${Version}' "linux-headers-$release" 2>/dev/null)" = "$version" ]; then
		echo "$sys"
		exit 0
	fi
	root=$dir/headers
	if [ "$(cat "$root/.unpacked" 2>/dev/null)" != "$version" ]; then
		pkgs=("linux-headers-$release" "linux-headers-$abi-common" "linux-kbuild-$abi")
		fetch "${pkgs[@]}"
		rm -rf "$root"
		mkdir -p "$root"
		for p in "${pkgs[@]}"; do dpkg-deb -x "$(deb_of "$p")" "$root"; done
		# The flavour's Makefile includes the common one by its absolute
		# installed path; the scripts/ and tools/ links are relative.
		sed -i "s#^include /usr/src/#include $root/usr/src/#" \
			"$root/usr/src/linux-headers-$release/Makefile"
		echo "$version" >"$root/.unpacked"
	fi
	echo "$root/usr/src/linux-headers-$release"
	;;
image)
	root=$dir/image
	if [ "$(cat "$root/.unpacked" 2>/dev/null)" != "$version" ]; then
		fetch "linux-image-$release-unsigned"
		rm -rf "$root"
		mkdir -p "$root"
		dpkg-deb -x "$(deb_of "linux-image-$release-unsigned")" "$root"
		# The package ships no modules.dep (the postinst runs depmod):
		# make it here, for the insmod order of what the tests load.
		/usr/sbin/depmod -b "$root" "$release"
		echo "$version" >"$root/.unpacked"
	fi
	echo "$root"
	;;
*) echo "debian-kernel: usage: debian-kernel.sh version|release|headers|image" >&2; exit 2 ;;
esac
