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

# counters at the end, minus those before the first mount (KUnit ran at boot)
stat() { grep -aE "GUEST-STATS: $1[[:space:]]" "$log" | awk '{ print $NF }' | tail -n 1; }
stat0() { grep -aE "GUEST-STATS0: $1[[:space:]]" "$log" | awk '{ print $NF }' | tail -n 1; }
delta() { echo $(( $(stat "$1" || echo 0) - $(stat0 "$1" || echo 0) )); }
echo
echo "== summary =="
grep -a 'workload:' "$log" | sed 's/^ *guest: /  /' | tail -n 2
grep -a 'all btrees:' "$log" | sed 's/.*GUEST-NOTE: /  /'
grep -a 'formats cached while mounted' "$log" | sed 's/.*GUEST-NOTE: /  /'
printf '  formats compiled:        %s during the mounts (%s cache hits)\n' \
	"$(delta compiles)" "$(delta cache_hits)"
grep -a 'GUEST-FORMATS:' "$log" | head -n 3 | sed 's/.*GUEST-FORMATS: /    e.g. /'
printf '  unpacks+compares by JIT: %s, each checked against the generic C: %s mismatches\n' \
	"$(delta jit_unpacks_verified)" "$(delta verify_mismatches)"
printf '  by generic C:            %s (verify mode runs both)\n' "$(delta generic_unpacks)"
printf '  executable memory:       %s allocations, %s pages now, never W+X\n' \
	"$(delta exec_allocs)" "$(stat exec_pages)"
printf '  average compile time:    %s ns (TCG; text_poke dominates)\n' "$(stat compile_ns_avg)"
echo
echo "== in-kernel benchmark (debugfs bkey_jit/bench; under TCG emulation timings are only indicative) =="
grep -a 'GUEST-BENCH:' "$log" | sed 's/.*GUEST-BENCH: /  /'
echo
tail -n 1 "$log"
echo "full log: $log"
exit "$rc"
