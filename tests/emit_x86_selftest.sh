#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Build and run the x86-64 encoder self-test (x86-64 hosts, needs gcc and
# objdump from binutils). Usage: tests/emit_x86_selftest.sh [output binary]
set -e
cd "$(dirname "$0")/.."
out=${1:-/tmp/emit_x86_selftest}
gcc -O2 -g -Wall -Wextra -Werror -I. -o "$out" \
	tests/emit_x86_selftest.c arch/x86/bkey_jit_emit.c bkey_jit_emit.c
# The backend must also build the way the kernel builds it: freestanding.
for src in arch/x86/bkey_jit_emit.c bkey_jit_emit.c; do
	gcc -c -O2 -ffreestanding -fno-builtin -Wall -Wextra -Werror -I. \
		-o "$out.o" "$src"
done
rm -f "$out.o"
exec "$out"
