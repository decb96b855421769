#!/usr/bin/env bash
# make demo: what a user runs. Build the x86-64 kernel with bkey-jit and
# the bcachefs patches, format an image, boot QEMU, mount, run a
# workload, remount (nodes read back from disk and their formats
# compiled), verify, and summarise: files, formats compiled, code bytes,
# JIT and generic unpack counts, and the in-kernel benchmark.
set -uo pipefail
cd "$(dirname "$0")/.."
arch=${DEMO_ARCH:-x86_64}
log=build/demo/demo-$arch.log
mkdir -p build/demo

echo "== bkey-jit demo ($arch) =="
echo "-- installing what is missing"
bash scripts/deps.sh || exit 1
echo "-- fetching linux-source-6.12 (cached after the first run)"
bash scripts/fetch-kernel.sh >/dev/null || exit 1
echo "-- building the kernel (cached; progress below)"
kernel=$(bash scripts/kernel-build.sh "$arch") || exit 1
echo "-- booting QEMU (TCG): mount, workload, remount, verify, fsck mount"
bash tests/mount/run.sh "$arch" --kernel "$kernel" --mode verify --bench 2>&1 | tee "$log" |
	grep -E '^(PASS|FAIL)' | sed 's/^/   /'
rc=${PIPESTATUS[0]}

stat() { grep -aE "GUEST-STATS: $1[[:space:]]" "$log" | awk '{ print $NF }' | tail -n 1; }
echo
echo "== summary =="
grep -a 'workload:' "$log" | sed 's/^ *guest: /  /' | tail -n 2
grep -a 'all btrees:' "$log" | sed 's/.*GUEST-NOTE: /  /'
printf '  formats compiled:        %s (cached now: %s, cache hits: %s)\n' \
	"$(stat compiles)" "$(stat formats_cached)" "$(stat cache_hits)"
printf '  executable code bytes:   %s in %s page(s), W^X\n' "$(stat code_bytes)" "$(stat exec_pages)"
printf '  unpacks by JIT code:     %s (each checked against generic C: %s mismatches)\n' \
	"$(stat jit_unpacks_verified)" "$(stat verify_mismatches)"
printf '  unpacks by generic C:    %s\n' "$(stat generic_unpacks)"
printf '  average compile time:    %s ns\n' "$(stat compile_ns_avg)"
echo
echo "== in-kernel benchmark (debugfs bkey_jit/bench; under TCG emulation timings are only indicative) =="
grep -a 'GUEST-BENCH:' "$log" | sed 's/.*GUEST-BENCH: /  /'
echo
tail -n 1 "$log"
echo "full log: $log"
exit "$rc"
