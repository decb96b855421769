#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build and run the arm64 emitter self-test under qemu-user, then
# disassemble every function it emitted and check that each one decodes
# to real instructions (no .inst / undefined) and that objdump counts
# exactly nr_insns instructions per function.
#
#   tests/emit_arm64_selftest.sh
#
# Needs gcc-aarch64-linux-gnu, binutils-aarch64-linux-gnu, qemu-user-static.
set -euo pipefail

cd "$(dirname "$0")/.."
top=$(pwd)
tmp=$(mktemp -d /tmp/emit_arm64.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

CC=${CC:-aarch64-linux-gnu-gcc}
OBJDUMP=${OBJDUMP:-aarch64-linux-gnu-objdump}
QEMU=${QEMU:-qemu-aarch64-static}

# The backend must also build freestanding, warning-free.
for src in arch/arm64/bkey_jit_emit.c bkey_jit_emit.c; do
	$CC -c -O2 -ffreestanding -Wall -Wextra -Werror -I"$top" \
		-o "$tmp/emit.o" "$src"
done

$CC -static -O2 -g -Wall -Wextra -Werror -I"$top" -o "$tmp/a64t" \
	tests/emit_arm64_selftest.c arch/arm64/bkey_jit_emit.c bkey_jit_emit.c

rc=0
$QEMU "$tmp/a64t" "$tmp/code.bin" || rc=$?

# One disassembly of all functions back to back; the index maps offsets
# to functions.
$OBJDUMP -D -z -b binary -maarch64 "$tmp/code.bin" > "$tmp/code.dis"

if grep -E '\.inst|undefined|\(bad\)' "$tmp/code.dis" | head -5 | grep -q .; then
	echo "objdump: undecodable instructions:" >&2
	grep -E '\.inst|undefined|\(bad\)' "$tmp/code.dis" | head -5 >&2
	rc=1
fi

awk '
	FNR == NR { start[$1] = 1; want[$1] = $2; name[$1] = $3; nf++; next }
	/^ *[0-9a-f]+:\t/ {
		addr = substr($1, 1, length($1) - 1)
		if (addr in start)
			cur = addr
		got[cur]++
	}
	END {
		bad = 0
		for (a in start)
			if (got[a] != want[a]) {
				if (bad++ < 10)
					printf("objdump: %s: %d insns, nr_insns %d\n",
					       name[a], got[a], want[a]) > "/dev/stderr"
			}
		printf("objdump: %d functions checked, %d count mismatches\n", nf, bad)
		exit bad != 0
	}
' "$tmp/code.bin.idx" "$tmp/code.dis" || rc=1

# The HEADER sequence, as the disassembler sees it.
if ! grep -q 'bfxil' "$tmp/code.dis"; then
	echo "objdump: no bfxil in the header code" >&2
	rc=1
fi

exit $rc
