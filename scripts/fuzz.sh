#!/usr/bin/env bash
# Run the libFuzzer target for a bounded time from a seed corpus of valid
# formats; print a pass/fail line.
# usage: fuzz.sh FUZZ_BINARY SECONDS
set -euo pipefail
bin=$1 secs=$2
corpus=$(dirname "$bin")/corpus
mkdir -p "$corpus"

# Seeds: a few valid formats (key_u64s nr_fields bits[6] offsets[6]) + key.
seed() {
	python3 - "$corpus/$1" "$2" "${3:-0,0,0,0,0,0}" <<'PY'
import struct, sys, random
path, bits = sys.argv[1], [int(b) for b in sys.argv[2].split(",")]
offs = [int(o, 0) for o in sys.argv[3].split(",")]
u64s = (24 + sum(bits) + 63) // 64
fmt = struct.pack("<BB6B6Q", u64s, 6, *bits, *offs)
key = bytes(random.Random(len(path)).getrandbits(8) for _ in range(40))
open(path, "wb").write(fmt + key)
PY
}
seed simple 0,20,0,8,0,0
seed straddle 40,50,30,20,10,40
seed current 64,64,32,32,32,64
seed wide 0,64,32,0,0,63
# Adversarial: ENDBR64/ENDBR32, ret and syscall bytes in the offsets.
seed endbr 0,20,0,0,0,0 0xfa1e0ff3fa1e0ff3,0xfa1e0ff30000,0xfa1e0ff3,0xfb1e0ff3,0xfa1e0ff3,0x0ff3c3050f
seed endbr-packed 8,9,20,0,0,0 0x0fa1e0ff300,0xfa1e0ff3,0xfa1e0ff3,0,0,0

log=$(dirname "$bin")/fuzz.log
if "$bin" -max_total_time="$secs" -max_len=128 -print_final_stats=1 \
	"$corpus" >"$log" 2>&1; then
	runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
	echo "ok fuzz_unpack: $runs inputs in ${secs}s, no mismatch"
	echo "1 passed, 0 failed"
else
	tail -n 30 "$log"
	echo "not ok fuzz_unpack (see $log)"
	echo "0 passed, 1 failed"
	exit 1
fi
