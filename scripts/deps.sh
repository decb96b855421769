#!/usr/bin/env bash
# Install every Debian package bkey-jit needs. Idempotent: only installs
# what dpkg does not already report as installed.
set -euo pipefail

PKGS=(
	build-essential make gcc binutils
	gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu libc6-dev-arm64-cross
	qemu-user-static qemu-system-x86 qemu-system-arm
	gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu qemu-system-misc opensbi
	busybox-static cpio flex bison bc libelf-dev libssl-dev
	clang llvm lld clang-16 lld-16 llvm-16 libclang-rt-14-dev
	valgrind python3 gnuplot-nox kmod rsync xz-utils git
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' \
		|| missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
