#!/usr/bin/env bash
# Fetch Debian's newest linux-source-6.12 (bookworm-security carries the
# newest 6.12.y stable release) and unpack it once into the cache. Prints
# the path of the pristine tree, $CACHE/linux-<version>.
#
# env: BKEY_JIT_KERNEL_VERSION=6.12.117-1~deb12u1 pins a Debian version;
#      BKEY_JIT_KERNEL_SUITE (default bookworm-security) picks the suite.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${BKEY_JIT_CACHE:-$HOME/.cache/bkey-jit}
suite=${BKEY_JIT_KERNEL_SUITE:-bookworm-security}
mkdir -p "$cache/debs"

# The version: pinned, else the suite's candidate (the private apt lists are
# refreshed at most daily), else the newest .deb already in the cache.
version=${BKEY_JIT_KERNEL_VERSION:-}
if [ -z "$version" ]; then
	version=$("$here/apt-private.sh" --candidate "$suite" "$(dpkg --print-architecture)" linux-source-6.12 2>/dev/null || true)
fi
if [ -z "$version" ] || [ "$version" = "(none)" ]; then
	deb=$(ls "$cache"/debs/linux-source-6.12_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
	[ -n "$deb" ] || { echo "fetch-kernel: no linux-source-6.12 in $suite" >&2; exit 1; }
	version=$(dpkg-deb -f "$deb" Version)
fi
upstream=${version%%-*}
src=$cache/linux-$upstream

if [ -f "$src/.unpacked" ]; then
	echo "$src"
	exit 0
fi

deb=$(ls "$cache"/debs/linux-source-6.12_"${version//\~/?}"_*.deb 2>/dev/null | head -n 1 || true)
if [ -z "$deb" ]; then
	"$here/apt-private.sh" "$cache/debs" "$suite" "$(dpkg --print-architecture)" "linux-source-6.12=$version" >&2
	deb=$(ls "$cache"/debs/linux-source-6.12_*.deb | grep -F "$(sed 's/:/%3a/' <<<"$version")" | head -n 1)
fi

tmp=$(mktemp -d "$cache/unpack.XXXXXX")
dpkg-deb -x "$deb" "$tmp"
tarball=$(ls "$tmp"/usr/src/linux-source-6.12*.tar.* | head -n 1)
rm -rf "$src"
mkdir -p "$src"
tar -xf "$tarball" -C "$src" --strip-components=1
rm -rf "$tmp"
touch "$src/.unpacked"
echo "$src"
