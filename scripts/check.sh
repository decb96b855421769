#!/usr/bin/env bash
# The project's test command (make check): every suite, userspace and
# kernel, each summarised in one line, then the total as "N passed, N failed".
#
# Each step's own "N passed, N failed" line is added to the total; a step
# that prints none counts as one test, passed or failed by its exit status.
# CHECK_QUICK=1 shortens the long runs (for iterating; CI runs the full set);
# CHECK_NO_KERNEL=1 skips every QEMU leg, CHECK_NO_DEBUG=1 the KASAN one.
set -uo pipefail

cd "$(dirname "$0")/.."
out=build/check
mkdir -p "$out"
total_pass=0 total_fail=0
quick=${CHECK_QUICK:-0}

step() {
	local name=$1
	shift
	local log=$out/$name.log start=$SECONDS rc line p f
	printf '%-28s ' "$name"
	"$@" >"$log" 2>&1
	rc=$?
	line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
		f=$(sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\3/' <<<"$line")
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	elif [ "$rc" -eq 0 ]; then
		p=1 f=0
	else
		p=0 f=1
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	printf '%s (%d passed, %d failed, %ds)\n' "$([ "$f" -eq 0 ] && echo ok || echo FAIL)" \
		"$p" "$f" $((SECONDS - start))
	grep -E '^(# |not ok|FAIL)' "$log" | grep -v '^# refused' | head -n 12 | sed 's/^/    /'
	if [ "$f" -ne 0 ]; then
		echo "    --- last lines of $log ---"
		tail -n 15 "$log" | sed 's/^/    /'
	fi
}

skip() {
	printf '%-28s skipped: %s\n' "$1" "$2"
}

n_random=100000 n_keys=96 n_arm=10000 n_asan=20000 fuzz_secs=60
if [ "$quick" = 1 ]; then
	n_random=5000 n_keys=32 n_arm=1000 n_asan=1000 fuzz_secs=10
fi

step deps bash scripts/deps.sh
step build make -s -j"$(nproc)" user build/native/test_unpack build/arm64/test_unpack \
	build/asan/test_unpack build/native/test_compat build/arm64/test_compat \
	build/asan/test_compat
step diff-x86_64 build/native/test_unpack --random $n_random --keys $n_keys \
	--dump $out/x86.dump
step encoding-x86_64 python3 tests/check-encoding.py x86 $out/x86.dump
step diff-arm64-qemu qemu-aarch64-static build/arm64/test_unpack --random $n_arm \
	--keys 48 --dump $out/arm64.dump
step encoding-arm64 python3 tests/check-encoding.py arm64 $out/arm64.dump
step diff-asan-ubsan build/asan/test_unpack --random $n_asan --keys 32
# The kernel APIs the userspace build stands in for: rhashtable, RCU, work items.
step compat-x86_64 build/native/test_compat
step compat-arm64-qemu qemu-aarch64-static build/arm64/test_compat
step compat-asan-ubsan build/asan/test_compat

for t in tests/emit_x86_selftest.sh tests/emit_arm64_selftest.sh tests/format_selftest.sh; do
	if [ -f "$t" ]; then
		step "$(basename "$t" .sh)" bash "$t"
	fi
done

step fuzz make -s fuzz FUZZ_SECONDS=$fuzz_secs

if [ -f scripts/kunit-run.sh ] && [ "${CHECK_NO_KERNEL:-0}" != 1 ]; then
	step kunit-x86_64 bash scripts/kunit-run.sh x86_64
	step kunit-arm64 bash scripts/kunit-run.sh arm64
else
	skip kunit "no kernel scripts or CHECK_NO_KERNEL=1"
fi

if [ -f tests/mount/run.sh ] && [ "${CHECK_NO_KERNEL:-0}" != 1 ]; then
	for arch in x86_64 arm64; do
		step "mount-$arch-verify" bash tests/mount/run.sh $arch --mode verify
	done
	step mount-x86_64-off bash tests/mount/run.sh x86_64 --mode off
	step mount-x86_64-cap bash tests/mount/run.sh x86_64 --mode on --cap 64
	# JIT spraying through a sparse file: blinded code after the remount
	step mount-x86_64-spray bash tests/mount/run.sh x86_64 --mode on --spray \
		--btree-node-size 32k
	# bcachefs as distributions build it (=m, bkey_jit built in), and the
	# remount + verify with 256 MiB and most of it pinned: btree-cache
	# shrinker at work, hung-task timeout 10 s
	step mount-x86_64-module bash tests/mount/run.sh x86_64 --variant module --mode verify
	step mount-x86_64-pressure bash tests/mount/run.sh x86_64 --pressure --mode verify \
		--btree-node-size 32k
	# Debian's own kernel, unmodified, with make module's bcachefs.ko:
	# bkey-jit through the kernel's BPF JIT (about 5 minutes warm, plus
	# about 8 for the first module build)
	step mount-debian-kernel bash tests/mount/run.sh x86_64 --debian-kernel --mode verify
else
	skip mount "no mount tests or CHECK_NO_KERNEL=1"
fi

# An arch with no emitter and no VMALLOC_EXEC: bcachefs + bkey_jit build
# and link with arch/none, and pass KUnit there through the eBPF backend
# and the riscv64 BPF JIT (every test kernel has CONFIG_BPF_JIT).
if [ -f tests/kernel-generic-build.sh ] && [ "${CHECK_NO_KERNEL:-0}" != 1 ]; then
	step build-riscv64 bash tests/kernel-generic-build.sh riscv64
	step kunit-riscv64 bash scripts/kunit-run.sh riscv64
fi

# The debug leg: KASAN, lockdep and kmemleak kernel, same suites, clean log.
if [ -f scripts/kunit-run.sh ] && [ "${CHECK_NO_KERNEL:-0}" != 1 ] &&
	[ "${CHECK_NO_DEBUG:-0}" != 1 ]; then
	step kunit-x86_64-debug bash scripts/kunit-run.sh x86_64 debug
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
