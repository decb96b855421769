#!/usr/bin/env bash
# Userspace self-check of tools/bcachefs-format.c: formats image files,
# re-reads them (--check, plus an independent CRC-32C in python when
# available) and exercises the error paths.  No kernel or root needed.
#
# Usage: tests/format_selftest.sh [BUILD_DIR]   (default: build)
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
tool=$build/tools/bcachefs-format
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

pass=0
fail=0
ok()  { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

mkdir -p "$build/tools"
if ! cc -O2 -Wall -Wextra -Werror -o "$tool" "$root/tools/bcachefs-format.c"; then
	bad "build bcachefs-format"
	echo "$pass passed, $fail failed"
	exit 1
fi
ok "build bcachefs-format"

# expect_ok NAME CMD...: exit 0
expect_ok() {
	local name=$1; shift
	if "$@" >"$tmp/out" 2>&1; then ok "$name"; else bad "$name"; cat "$tmp/out"; fi
}

# expect_err NAME PATTERN CMD...: non-zero exit and message matching PATTERN
expect_err() {
	local name=$1 pat=$2; shift 2
	if "$@" >"$tmp/out" 2>&1; then
		bad "$name (exit 0)"
	elif grep -qi -- "$pat" "$tmp/out"; then
		ok "$name"
	else
		bad "$name (message: $(head -c 200 "$tmp/out"))"
	fi
}

le16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }
size_of() { stat -c %s "$1"; }

# --- good formats ---
for sz in 256M 1G 64M 20G; do
	img=$tmp/img-$sz
	expect_ok "format $sz" "$tool" --size "$sz" --label "selftest" "$img"
	expect_ok "check $sz" "$tool" --check "$img"
done

img=$tmp/img-256M
[ "$(size_of "$img")" = 268435456 ] && ok "size 256M is 268435456 bytes" ||
	bad "size 256M is $(size_of "$img")"

# magic at sector 8 + 24, layout magic at sector 7
magic=$(od -An -tx1 -j $((8 * 512 + 24)) -N16 "$img" | tr -d ' \n')
[ "$magic" = c68573f666ce90a9d96a60cf803df7ef ] && ok "sb magic" || bad "sb magic $magic"
lmagic=$(od -An -tx1 -j $((7 * 512)) -N16 "$img" | tr -d ' \n')
[ "$lmagic" = c68573f666ce90a9d96a60cf803df7ef ] && ok "layout magic" || bad "layout magic $lmagic"

# version 1.13 = 1037, version_min too
[ "$(le16 "$img" $((8 * 512 + 16)))" = 1037 ] && ok "version 1.13" || bad "version"
[ "$(le16 "$img" $((8 * 512 + 18)))" = 1037 ] && ok "version_min 1.13" || bad "version_min"

# independent CRC-32C over [sb+16, end of vstruct)
if command -v python3 >/dev/null; then
	if python3 - "$img" <<'PY'
import struct, sys
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xffffffff
assert crc32c(b"123456789") == 0xE3069283
img = open(sys.argv[1], "rb").read(1 << 20)
off = 8 * 512
u64s = struct.unpack_from("<I", img, off + 124)[0]
end = off + 752 + 8 * u64s
lo, hi = struct.unpack_from("<QQ", img, off)
sys.exit(0 if (lo == crc32c(img[off + 16:end]) and hi == 0) else 1)
PY
	then ok "independent crc32c matches"; else bad "independent crc32c"; fi
else
	echo "SKIP: python3 missing, no independent crc32c"
fi

# uuids differ between runs
expect_ok "format again" "$tool" --size 256M "$tmp/img-b"
u1=$(od -An -tx1 -j $((8 * 512 + 40)) -N16 "$img" | tr -d ' \n')
u2=$(od -An -tx1 -j $((8 * 512 + 40)) -N16 "$tmp/img-b" | tr -d ' \n')
[ "$u1" != "$u2" ] && [ "$u1" != 00000000000000000000000000000000 ] &&
	ok "random uuid" || bad "uuid $u1 / $u2"

# extending an existing smaller file, small btree nodes
truncate -s 1M "$tmp/grow"
expect_ok "extend existing file" "$tool" --size 128M --btree-node-size 64k "$tmp/grow"
[ "$(size_of "$tmp/grow")" = 134217728 ] && ok "file extended" || bad "file not extended"
expect_ok "check 64k btree nodes" "$tool" --check "$tmp/grow"

# corruption is detected
cp "$img" "$tmp/corrupt"
printf 'X' | dd of="$tmp/corrupt" bs=1 seek=$((8 * 512 + 100)) conv=notrunc 2>/dev/null
expect_err "check detects corruption" "bad csum" "$tool" --check "$tmp/corrupt"
expect_err "check missing file" "cannot open" "$tool" --check "$tmp/none"
truncate -s 16M "$tmp/zero"
expect_err "check rejects zero file" "bad magic" "$tool" --check "$tmp/zero"

# --- error paths ---
expect_err "too small" "too small" "$tool" --size 4M "$tmp/small"
expect_err "bad size" "bad size" "$tool" --size 12Q "$tmp/x"
expect_err "negative size" "bad size" "$tool" --size -5M "$tmp/x"
expect_err "zero size" "bad size" "$tool" --size 0 "$tmp/x"
expect_err "unwritable path" "cannot open" "$tool" --size 256M "$tmp/no/such/dir/img"
expect_err "label too long" "label" "$tool" --size 256M --label \
	0123456789012345678901234567890123 "$tmp/x"
expect_err "bad btree node size" "btree node" "$tool" --size 256M --btree-node-size 3000 "$tmp/x"
expect_err "bucket smaller than node" "smaller than btree node" "$tool" --size 256M \
	--btree-node-size 256k --bucket-size 64k "$tmp/x"
expect_err "missing file, no size" "cannot open" "$tool" "$tmp/missing"
[ ! -e "$tmp/missing" ] && ok "missing file not created" || bad "missing file created"
: >"$tmp/empty"
expect_err "existing empty file, no size" "too small" "$tool" "$tmp/empty"
expect_err "no arguments" "usage" "$tool"
if [ "$(id -u)" != 0 ]; then
	chmod 0444 "$img"
	expect_err "read-only file" "cannot open" "$tool" --size 256M "$img"
else
	expect_err "directory as image" "cannot open\|neither" "$tool" --size 256M "$tmp"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
