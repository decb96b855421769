#!/usr/bin/env bash
# Build the kernel, boot it with an init that only powers off (built-in KUnit
# suites run during boot, before init), and check the log with ktap-check.py.
#
# usage: kunit-run.sh ARCH [VARIANT]    ARCH = x86_64 | arm64 | riscv64
#   riscv64 (no busybox for it in Debian 12) boots with no init at all:
#   kunit_shutdown=poweroff ends the boot right after the suites, before
#   init and before the DEBUG_WX check, so that check is not asked for.
# env:   KUNIT_EXPECT="suite pattern ..."  suites that must have run, on top
#          of the defaults: list-kunit-test, vmalloc_exec and bkey_jit (when
#          CONFIG_BKEY_JIT_KUNIT_TEST=y), and tests/kunit-suites.txt lines
#        KUNIT_TIMEOUT (seconds; default 900, debug 2400)
#        plus kernel-build.sh's (BKEY_JIT, KCONFIG_EXTRA, JOBS)
# The log is kept at $CACHE/logs/kunit-ARCH[-VARIANT].log. The last line of
# the output is "N passed, N failed, N skipped" (KUnit test cases).
set -euo pipefail

arch=${1:?usage: kunit-run.sh ARCH [VARIANT]}
variant=${2:-${KVARIANT:-default}}
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${BKEY_JIT_CACHE:-$HOME/.cache/bkey-jit}
name=$arch
[ "$variant" = default ] || name=$arch-$variant
timeout=${KUNIT_TIMEOUT:-900}
[ "$variant" = default ] || timeout=${KUNIT_TIMEOUT:-2400}

image=$("$repo/scripts/kernel-build.sh" "$arch" "$variant")
tree=${image%/arch/*}

expect=(list-kunit-test)
if grep -q '^CONFIG_BKEY_JIT_KUNIT_TEST=y' "$tree/.config"; then
	expect+=(bkey_jit)
	# the allocator's suite exists only where the allocator does
	! grep -q '^CONFIG_VMALLOC_EXEC=y' "$tree/.config" || expect+=(vmalloc_exec)
else
	echo "kunit-run: CONFIG_BKEY_JIT_KUNIT_TEST is off (sources not there yet?): not expecting the bkey_jit suites" >&2
fi
if [ -f "$repo/tests/kunit-suites.txt" ]; then
	while read -r s _; do
		case $s in '' | '#'*) ;; *) expect+=("$s") ;; esac
	done <"$repo/tests/kunit-suites.txt"
fi
# shellcheck disable=SC2206 # word splitting wanted
expect+=(${KUNIT_EXPECT:-})

work=$cache/kunit/$name
mkdir -p "$work" "$cache/logs"
# The init: a kmemleak scan when the kernel has kmemleak (debug variant), so
# leaks from the suites show up in the log; then return, which powers off.
cat >"$work/init.sh" <<'INIT'
#!/bin/sh
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
fi
echo "kunit-run: init done"
INIT
append=kunit.enable=1 check_args=()
if [ "$arch" = riscv64 ]; then
	: | cpio -o -H newc --quiet | gzip -n >"$work/initramfs.cpio.gz" # empty
	append="$append kunit_shutdown=poweroff"
	check_args=(--no-wx --boot-marker 'reboot: Power down')
else
	"$repo/scripts/initramfs.sh" "$arch" "$work/initramfs.cpio.gz" "$work/init.sh"
fi

log=$cache/logs/kunit-$name.log
echo "kunit-run: booting $name (timeout ${timeout}s, log $log)" >&2
start=$(date +%s)
rc=0
"$repo/scripts/qemu-run.sh" "$arch" "$image" "$work/initramfs.cpio.gz" \
	--append "$append" --timeout "$timeout" --log "$log" >/dev/null || rc=$?
echo "kunit-run: qemu exit $rc after $(($(date +%s) - start))s" >&2

exp_args=()
for e in "${expect[@]}"; do exp_args+=(--expect "$e"); done
"$repo/scripts/ktap-check.py" "$log" "${exp_args[@]}" "${check_args[@]}"
