#!/usr/bin/env bash
# Fetch Debian's linux-source-6.12 (bookworm-backports) and unpack it once
# into the cache. Prints the path of the pristine tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${BKEY_JIT_CACHE:-$HOME/.cache/bkey-jit}
src=$cache/linux-6.12

if [ -f "$src/.unpacked" ]; then
	echo "$src"
	exit 0
fi

mkdir -p "$cache/debs"
if ! ls "$cache"/debs/linux-source-6.12_*.deb >/dev/null 2>&1; then
	"$here/apt-private.sh" "$cache/debs" bookworm-backports all linux-source-6.12 >&2
fi
deb=$(ls "$cache"/debs/linux-source-6.12_*.deb | sort -V | tail -n 1)

tmp=$(mktemp -d "$cache/unpack.XXXXXX")
dpkg-deb -x "$deb" "$tmp"
tarball=$(ls "$tmp"/usr/src/linux-source-6.12*.tar.* | head -n 1)
rm -rf "$src"
mkdir -p "$src"
tar -xf "$tarball" -C "$src" --strip-components=1
rm -rf "$tmp"
touch "$src/.unpacked"
echo "$src"
