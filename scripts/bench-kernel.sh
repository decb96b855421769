#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench-kernel: bcachefs metadata work on a mounted filesystem, in
# guest instructions, for stock 6.12 against the patched kernel with
# bkey-jit off, on, and on with the eBPF backend.
#
# QEMU runs TCG with one vCPU and -icount shift=0: the guest clock advances
# exactly one ns per guest instruction while the vCPU runs, so a phase
# timed inside the guest (tools/bench-phase.c, busy = wall - idle, from
# /proc/timer_list) is the number of instructions the guest executed for
# it, the same on every host and on every run up to what the workload
# itself varies. TCG's own speed (host time) says nothing about the
# guest's code: a TCG-translated instruction costs the host anything from
# one to hundreds of host instructions, depending on what it is.
#
# Kernels: scripts/kernel-build.sh x86_64 bench (patched, bkey-jit built in)
# and x86_64 stock (pristine 6.12, no patch); same config: common + x86_64
# + bench fragment (no KUnit, no debug checks, CONFIG_PROFILING,
# tickless idle). Each config boots with profile=4; /proc/profile is
# saved before and after each phase and decoded on the host with
# readprofile (scripts/bench-kernel-report.py).
#
# env: BENCH_KERNEL_CONFIGS  configs to run (default "stock off on ebpf cap";
#                            cap: mode on with bkey_jit.code_cap=1, so no
#                            code fits and every format runs the generic C)
#      BENCH_KERNEL_RUNS     runs per config (default 2)
#      BENCH_KERNEL_NDIRS    directories (default 200)
#      BENCH_KERNEL_NFILES   files per directory (default 100: 20 000 files)
#      BENCH_KERNEL_PROFILE  0 to boot without profile= (default 1)
#      BENCH_KERNEL_PROFILE_SHIFT  profile=N: one counter per 2^N bytes of
#                            kernel text (default 4: a 3 MB buffer, whose
#                            reads around each phase cost ~3M instructions;
#                            profile=1 is 4x that, and it shows in the profile)
#      BENCH_KERNEL_SMOKE=1  one config (on), one run, 10 x 20 files, no
#                            profile, no plot, in build/bench-kernel-smoke:
#                            does the pipeline work (1.5 minutes with the
#                            kernel built)
#      BENCH_KERNEL_PARALLEL qemu runs at a time (default 2)
#      JOBS                  kernel build jobs (default: kernel-build.sh's)
# output: build/bench-kernel/{results.csv,results.txt,bench-kernel.png,
#         profile.txt,inkernel.txt,console-*.log}
# Ends with "N passed, N failed" (the runs, not performance targets).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=$repo/build/bench-kernel
configs=${BENCH_KERNEL_CONFIGS:-stock off on ebpf cap}
runs=${BENCH_KERNEL_RUNS:-2}
ndirs=${BENCH_KERNEL_NDIRS:-200}
nfiles=${BENCH_KERNEL_NFILES:-100}
profile=${BENCH_KERNEL_PROFILE:-1}
pshift=${BENCH_KERNEL_PROFILE_SHIFT:-4}
smoke=${BENCH_KERNEL_SMOKE:-0}
if [ "$smoke" = 1 ]; then
	configs=${BENCH_KERNEL_CONFIGS:-on}
	runs=1 ndirs=10 nfiles=20 profile=0
	out=$repo/build/bench-kernel-smoke # never clobbers a full run's results
fi
pass=0 fail=0
ok()  { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit $?; }

mkdir -p "$out" "$repo/build/tools"
# gnuplot and readprofile (util-linux): scripts/deps.sh installs what is missing
if ! command -v gnuplot >/dev/null || ! command -v readprofile >/dev/null ||
	! command -v qemu-system-x86_64 >/dev/null || [ ! -x /bin/busybox ]; then
	bash "$repo/scripts/deps.sh" || { bad "scripts/deps.sh"; finish; }
fi

# --- kernels, one build after the other ---
declare -A kernel
need_stock=0 need_bench=0
for c in $configs; do
	case $c in
	stock) need_stock=1 ;;
	off | on | ebpf | cap) need_bench=1 ;;
	*) echo "bench-kernel: unknown config $c (stock off on ebpf cap)" >&2; exit 2 ;;
	esac
done
if [ $need_bench = 1 ]; then
	kernel[bench]=$("$repo/scripts/kernel-build.sh" x86_64 bench) &&
		ok "kernel x86_64-bench (patched)" || { bad "kernel x86_64-bench"; finish; }
fi
if [ $need_stock = 1 ]; then
	# First stock build: start from a copy of the built bench tree, so
	# kernel-tree.sh reverts the patches (restoring what they touched,
	# with fresh mtimes) and make rebuilds only what the patches or the
	# bkey-jit options reach, instead of a cold kernel build. objtool's
	# build records absolute paths: rewritten, or objtool is rebuilt and
	# with it every object.
	cache=${BKEY_JIT_CACHE:-$HOME/.cache/bkey-jit}
	btree=$cache/trees/x86_64-bench stree=$cache/trees/x86_64-stock
	if [ ! -e "$stree" ] && [ -f "$btree/vmlinux" ]; then
		echo "bench-kernel: seeding $stree from $btree" >&2
		(
			flock 8 && flock 9 &&
				cp -a --reflink=auto "$btree" "$stree.tmp.$$" &&
				rm -f "$stree.tmp.$$/.bkey-jit/config.sha256" &&
				{ grep -rlF --include='.*.cmd' "$btree/" "$stree.tmp.$$/tools" |
					xargs -r sed -i "s#$btree/#$stree/#g"; } &&
				mv "$stree.tmp.$$" "$stree"
		) 8>"$btree.lock" 9>"$stree.lock" || rm -rf "$stree.tmp.$$"
	fi
	kernel[stock]=$("$repo/scripts/kernel-build.sh" x86_64 stock) &&
		ok "kernel x86_64-stock (pristine 6.12)" || { bad "kernel x86_64-stock"; finish; }
fi

# --- guest tools, image format tool, initramfs ---
if cc -O2 -Wall -Wextra -o "$repo/build/tools/bcachefs-format" "$repo/tools/bcachefs-format.c" &&
	gcc -static -O2 -Wall -Wextra -o "$out/bench-phase" "$repo/tools/bench-phase.c"; then
	ok "build tools"
else
	bad "build tools"; finish
fi
init=$out/init.test
cat >"$init" <<INIT
#!/bin/sh
exec /bin/bench-guest.sh $ndirs $nfiles \$(cat /proc/cmdline | grep -q 'profile=' && echo 1 || echo 0) \
	\$(grep -q 'bench-kernel.inkernel' /proc/cmdline && echo 1 || echo 0)
INIT
if "$repo/scripts/initramfs.sh" x86_64 "$out/initramfs.cpio.gz" "$init" \
	"$repo/tests/bench-kernel/bench-guest.sh" "$out/bench-phase"; then
	ok "initramfs"
else
	bad "initramfs"; finish
fi

# --- runs ---
# One qemu per run, up to $par at a time: icount makes each run's numbers
# independent of what else the host runs, so parallel runs only save time.
run_one() {
	local c=$1 r=$2 k=${kernel[bench]:-} append=quiet
	local tag=$c-$r
	local img=$out/disk-$tag.img prof=$out/prof-$tag.img log=$out/console-$tag.log
	local t0 qrc
	case $c in
	stock) k=${kernel[stock]} ;;
	off) append="$append bkey_jit.mode=off" ;;
	on) append="$append bkey_jit.mode=on" ;;
	ebpf) append="$append bkey_jit.mode=on bkey_jit.backend=ebpf" ;;
	cap) append="$append bkey_jit.mode=on bkey_jit.code_cap=1" ;;
	esac
	[ "$profile" = 1 ] && append="$append profile=$pshift"
	# the in-kernel per-key benchmark: once, in the first run of "on"
	[ "$c" = on ] && [ "$r" = 1 ] && append="$append bench-kernel.inkernel"
	rm -f "$img" "$prof"
	"$repo/build/tools/bcachefs-format" --size 1G --label bench-kernel "$img" >/dev/null ||
		{ echo "FAIL: $tag: format image"; return; }
	truncate -s 512M "$prof"
	t0=$(date +%s)
	echo "bench-kernel: start $tag ($append)" >&2
	"$repo/scripts/qemu-run.sh" x86_64 "$k" "$out/initramfs.cpio.gz" \
		--disk "$img" --disk "$prof" --icount 0 --append "$append" \
		--timeout "${BENCH_KERNEL_TIMEOUT:-3600}" --log "$log" >/dev/null
	qrc=$?
	tr -d '\r' <"$log" >"$log.txt" && mv "$log.txt" "$log"
	if [ $qrc = 0 ] && grep -aq '^BENCH-DONE rc=0' "$log"; then
		echo "PASS: $c run $r ($(($(date +%s) - t0))s host time)"
	else
		echo "FAIL: $c run $r (qemu exit $qrc, log $log)"
		grep -aE '^BENCH-FAIL|Oops|BUG:|WARNING:' "$log" | head -n 5 | sed 's/^/  /'
	fi
	grep -a '^BENCH-PHASE ' "$log" |
		sed -E 's/^BENCH-PHASE ([^ ]+) wall=([0-9]+) busy=([0-9]+) idle=([0-9]+) rc=.*/\1 \3 \2 \4/' |
		while read -r ph busy wall idle; do
			echo "$c,$r,$ph,$busy,$wall,$idle"
		done >"$out/results-$tag.csv"
	if [ "$profile" = 1 ]; then
		mkdir -p "$out/prof/$c/$r"
		tar -xf "$prof" -C "$out/prof/$c/$r" 2>/dev/null ||
			echo "FAIL: $c run $r: no profile tar on the second disk"
	fi
	rm -f "$img" "$prof"
}

par=${BENCH_KERNEL_PARALLEL:-2}
rm -rf "$out/prof" "$out"/console-*.log "$out"/results-*.csv "$out"/status-*.txt
tags=()
for r in $(seq 1 "$runs"); do
	for c in $configs; do
		while [ "$(jobs -rp | wc -l)" -ge "$par" ]; do wait -n || true; done
		run_one "$c" "$r" >"$out/status-$c-$r.txt" &
		tags+=("$c-$r")
	done
done
wait
csv=$out/results.csv
echo "config,run,phase,busy_ns,wall_ns,idle_ns" >"$csv"
for t in "${tags[@]}"; do
	cat "$out/status-$t.txt"
	while IFS= read -r l; do
		case $l in PASS:*) pass=$((pass + 1)) ;; FAIL:*) fail=$((fail + 1)) ;; esac
	done <"$out/status-$t.txt"
	cat "$out/results-$t.csv" >>"$csv" 2>/dev/null
done
grep -ah '^BENCH-INKERNEL ' "$out"/console-on-1.log 2>/dev/null | sed 's/^BENCH-INKERNEL //' >"$out/inkernel.txt"
rm -f "$out"/stats-*.txt
for c in $configs; do
	grep -ah '^BENCH-STATS ' "$out/console-$c-1.log" 2>/dev/null | sed 's/^BENCH-STATS //' >"$out/stats-$c.txt"
	[ -s "$out/stats-$c.txt" ] || rm -f "$out/stats-$c.txt"
done

# --- report: table, plot, profile ---
declare -a rargs=(--out "$out")
[ "$smoke" = 1 ] && rargs+=(--no-plot)
for kk in bench stock; do
	[ -n "${kernel[$kk]:-}" ] && rargs+=(--map "$kk=${kernel[$kk]%/arch/*}/System.map")
done
if python3 "$repo/scripts/bench-kernel-report.py" "${rargs[@]}" >"$out/report.txt"; then
	cat "$out/report.txt"
	ok "report ($out/report.txt)"
else
	bad "report"
fi
if [ "$smoke" = 0 ] && [[ " $configs " == *" stock "* ]] && [ "$(echo $configs | wc -w)" -gt 1 ]; then
	[ -s "$out/bench-kernel.png" ] && ok "plot ($out/bench-kernel.png)" || bad "plot"
fi
finish
