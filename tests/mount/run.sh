#!/usr/bin/env bash
# Mount test: format a bcachefs image with tools/bcachefs-format, boot the
# test kernel under qemu, mount it, run tests/mount/workload.sh, umount,
# mount again (so every btree node is read back from disk, not from the
# node cache), verify against the manifest, umount.
#
# usage: tests/mount/run.sh ARCH [--mode on|verify|off] [--cap BYTES]
#                           [--kernel IMAGE] [--size SIZE]
#                           [--btree-node-size SIZE] [--timeout SEC]
#                           [--ndirs N] [--nfiles N]
#                           [--variant NAME] [--mem SIZE] [--pressure]
#   ARCH      x86_64 | arm64
#   --mode    bkey-jit mode written to debugfs bkey_jit/mode before the
#             first mount (default on); skipped, with a note, on a kernel
#             without bkey-jit
#   --bench   print the in-kernel benchmark (debugfs bkey_jit/bench) at the end
#   --spray   the JIT-spray leg instead of the workload: a sparse file whose
#             extents put ENDBR64 bytes in a node's offset field; after the
#             remount bkey_jit/code must show code for that format and the
#             pattern nowhere but at entries (tests/mount/spray-check.py)
#   --cap     executable-code cap in bytes, written to bkey_jit/code_cap
#             when the kernel has that knob
#   --kernel  kernel image (default: $KERNEL, else scripts/kernel-build.sh ARCH)
#   --size    image size (default 1G, sparse on the host)
#   --btree-node-size  smaller nodes give more nodes, so more formats
#             (default 64k: 65 nodes / 40 distinct formats for the default
#             workload; 32k: 115 / 92 and also passes; 16k makes stock
#             6.12 itself die in btree splits, "trans path overflow" /
#             "path 0 refcount overflow", so don't go below 32k)
#   --variant kernel variant (scripts/kernel-build.sh ARCH VARIANT); a
#             modular one (module: CONFIG_BCACHEFS_FS=m) gets its modules in
#             the initramfs and the guest loads bcachefs.ko with modprobe
#             before the first mount and unloads it at the end
#   --debian-kernel  x86_64 only: boot Debian's own kernel (the
#             linux-image-RELEASE-unsigned package matching the source,
#             scripts/debian-kernel.sh) instead of the project's, with the
#             bcachefs.ko of make module (scripts/module-build.sh: bkey-jit
#             inside, eBPF backend). The initramfs holds the package's
#             modules the workload needs (virtio_blk, bcachefs.ko's
#             dependencies, in the order modprobe --show-depends gives from
#             the package's modules.dep); the guest insmods them and
#             bcachefs.ko with bkey_jit.mode=MODE, and rmmods it at the end.
#             The BPF JIT must have compiled the unpackers, and the boot
#             must say "no W+X pages found" (Debian has CONFIG_DEBUG_WX)
#   --mem     guest memory (qemu -m; default 1G, 256M with --pressure)
#   --pressure  remount and verify under memory pressure: the hung-task
#             timeout lowered to 10 s, all but ~PRESSURE_LEAVE_MB (40) MiB
#             of available memory pinned in a tmpfs, and the bcachefs
#             btree-cache shrinker (run ten times a second through
#             drop_caches) must have freed nodes while the verify read
#             the tree back
#
# Prints PASS/FAIL lines and a final "N passed, N failed". Kernel
# warnings, oopses, BUGs and bcachefs errors in the console log count as
# failures. Logs and the image stay in build/mount/ARCH/.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
arch=${1:-}
case $arch in
x86_64) cc=gcc ;;
arm64) cc=aarch64-linux-gnu-gcc ;;
*) sed -n '7,52p' "$0" >&2; exit 2 ;;
esac
shift
mode=on cap='' bench=0 spray=0 kernel=${KERNEL:-} size=1G bns=64k timeout='' ndirs=60 nfiles=50
variant=default mem='' pressure=0 debian=0
while [ $# -gt 0 ]; do
	case $1 in
	--mode) mode=$2; shift 2 ;;
	--cap) cap=$2; shift 2 ;;
	--bench) bench=1; shift ;;
	--spray) spray=1; shift ;;
	--kernel) kernel=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--btree-node-size) bns=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--ndirs) ndirs=$2; shift 2 ;;
	--nfiles) nfiles=$2; shift 2 ;;
	--variant) variant=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--pressure) pressure=1; shift ;;
	--debian-kernel) debian=1; shift ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
case $mode in on|verify|off) ;; *) echo "run.sh: --mode on|verify|off" >&2; exit 2 ;; esac
# TCG: arm64 guests are a good deal slower than x86_64 ones
[ -n "$timeout" ] || { [ "$arch" = arm64 ] && timeout=2400 || timeout=1200; }

[ $pressure = 0 ] || mem=${mem:-256M}
# each kind of run keeps its own logs and image
tag=
[ "$variant" = default ] || tag=-$variant
[ $pressure = 0 ] || tag=$tag-pressure
[ $debian = 0 ] || tag=$tag-debian
if [ $debian = 1 ] && [ "$arch" != x86_64 ]; then
	echo "run.sh: --debian-kernel is x86_64 only (the cloud-amd64 flavour)" >&2; exit 2
fi
out=$repo/build/mount/$arch$tag
mkdir -p "$out" "$repo/build/tools"
pass=0 fail=0
ok()  { echo "PASS: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ $fail -eq 0 ]; exit $?; }

# --- tools ---
if cc -O2 -Wall -Wextra -o "$repo/build/tools/bcachefs-format" "$repo/tools/bcachefs-format.c" &&
   $cc -static -O2 -Wall -Wextra -o "$out/bch-subvol" "$repo/tools/bch-subvol.c" &&
   $cc -static -O2 -Wall -Wextra -o "$out/bch-xattr" "$repo/tools/bch-xattr.c" &&
   $cc -static -O2 -Wall -Wextra -o "$out/bch-spray" "$repo/tools/bch-spray.c"; then
	ok "build tools ($arch)"
else
	bad "build tools ($arch)"; finish
fi

# --- kernel ---
modules=0
# Debian's kernel: the package's modules the workload needs, decompressed
# (busybox insmod does not decompress), in the order to insmod them
debian_modules() {
	local image=$1 release=$2 ko=$3 root=$4 dep f
	local dir=$root/lib/modules
	rm -rf "$root"
	mkdir -p "$dir"
	: >"$dir/load-order"
	for dep in virtio_blk $(/usr/sbin/modinfo -F depends "$ko" | tr ',' ' '); do
		/usr/sbin/modprobe -d "$image" -S "$release" --show-depends "$dep" || return 1
	done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r f; do
		xz -dc "$f" >"$dir/$(basename "$f" .xz)" || exit 1
		basename "$f" .xz >>"$dir/load-order"
	done || return 1
	cp "$ko" "$dir/bcachefs.ko"
	grep -q '^virtio_blk.ko$' "$dir/load-order"
}
if [ $debian = 1 ]; then
	if ! ko=$("$repo/scripts/module-build.sh"); then
		bad "make module (scripts/module-build.sh)"; finish
	fi
	release=$("$repo/scripts/debian-kernel.sh" release) &&
		image=$("$repo/scripts/debian-kernel.sh" image) || { bad "Debian kernel package"; finish; }
	kernel=$image/boot/vmlinuz-$release
	ok "bcachefs.ko built out of tree for $release (vermagic $(/usr/sbin/modinfo -F vermagic "$ko" | cut -d' ' -f1), $(du -k "$ko" | cut -f1) KiB)"
	if debian_modules "$image" "$release" "$ko" "$out/modroot"; then
		ok "modules from the package, in insmod order: $(tr '\n' ' ' <"$out/modroot/lib/modules/load-order")"
	else
		bad "modules from the Debian package"; finish
	fi
	modules=2 mods=$out/modroot
fi
if [ -z "$kernel" ]; then
	kernel=$("$repo/scripts/kernel-build.sh" "$arch" "$variant") || { bad "kernel build"; finish; }
fi
[ -f "$kernel" ] || { bad "kernel image $kernel missing"; finish; }
# a modular kernel: kernel-build.sh installed its modules next to the tree
[ $modules = 2 ] || mods=${kernel%/arch/*}/.bkey-jit/modules
if [ $modules = 0 ] && [ -d "$mods/lib/modules" ] && grep -q '^CONFIG_BCACHEFS_FS=m' "${kernel%/arch/*}/.config"; then
	modules=1
	if ko=$(find "$mods/lib/modules" -name 'bcachefs.ko*' | head -n 1) && [ -n "$ko" ]; then
		ok "bcachefs built as a module (${ko##*/}, $(du -k "$ko" | cut -f1) KiB)"
	else
		bad "CONFIG_BCACHEFS_FS=m but no bcachefs.ko in $mods"; finish
	fi
fi

# --- image ---
img=$out/disk.img
rm -f "$img"
if "$repo/build/tools/bcachefs-format" --size "$size" --btree-node-size "$bns" \
	--label bkey-jit-mount "$img" && "$repo/build/tools/bcachefs-format" --check "$img" >/dev/null; then
	ok "format $size image (btree nodes $bns)"
else
	bad "format image"; finish
fi

# --- guest init ---
init=$out/init.test
cat >"$init" <<INIT
#!/bin/sh
MODE=$mode CAP=$cap BENCH=$bench NDIRS=$ndirs NFILES=$nfiles SPRAY=$spray
MODULES=$modules PRESSURE=$pressure LEAVE_MB=${PRESSURE_LEAVE_MB:-40}
export NDIRS NFILES
WL_WRITE=write WL_VERIFY=verify
[ "\$SPRAY" = 1 ] && WL_WRITE=spray WL_VERIFY=spray-verify
INIT
cat >>"$init" <<'INIT'
rc=0
step() {
	name=$1; shift
	t0=$(date +%s)
	if "$@"; then
		echo "GUEST-PASS: $name ($(($(date +%s) - t0))s)"
	else
		echo "GUEST-FAIL: $name"
		rc=1
	fi
}
knob() {
	f=/sys/kernel/debug/bkey_jit/$1
	if [ -w "$f" ]; then
		echo "$2" >"$f" && echo "GUEST-NOTE: bkey_jit $1=$(cat "$f")"
	else
		echo "GUEST-NOTE: no $f, $1 left as is"
	fi
}
# --variant module: bcachefs.ko and what it depends on, from modules.dep
load_bcachefs() {
	modprobe bcachefs || return 1
	grep '^bcachefs ' /proc/modules || { echo "bcachefs.ko not in /proc/modules"; return 1; }
	grep -q 'bcachefs$' /proc/filesystems
}
unload_bcachefs() {
	rmmod bcachefs && ! grep -q '^bcachefs ' /proc/modules
}
# --debian-kernel: the package's modules, then bcachefs.ko with bkey-jit in
# it, the mode given as its module parameter
load_debian() {
	for m in $(cat /lib/modules/load-order); do
		insmod /lib/modules/$m || { echo "insmod $m failed"; return 1; }
	done
	insmod /lib/modules/bcachefs.ko bkey_jit.mode=$MODE || return 1
	grep '^bcachefs ' /proc/modules && grep -q 'bcachefs$' /proc/filesystems
}
debian_param() {
	p=$(cat /sys/module/bcachefs/parameters/bkey_jit.mode) || return 1
	echo "GUEST-NOTE: /sys/module/bcachefs/parameters/bkey_jit.mode = $p"
	[ "$p" = "$MODE" ]
}
# rmmod runs bkey-jit's teardown: debugfs gone, every entry freed
unload_debian() {
	unload_bcachefs && [ ! -e /sys/kernel/debug/bkey_jit ]
}
# --pressure: a short hung-task timeout, so a task stuck in reclaim shows
hung_task_short() {
	f=/proc/sys/kernel/hung_task_timeout_secs
	[ -w $f ] || { echo "no $f (CONFIG_DETECT_HUNG_TASK off?)"; return 1; }
	echo 10 >$f && [ "$(cat $f)" = 10 ]
}
avail_mb() { awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo; }
# Pin all but LEAVE_MB of available memory in a tmpfs (no swap: it stays),
# so reading the tree back needs reclaim, and reclaim runs the shrinkers.
pin_memory() {
	a=$(avail_mb)
	n=$((a - LEAVE_MB))
	[ $n -gt 0 ] || { echo "only $a MiB available"; return 1; }
	mkdir -p /hog && mount -t tmpfs -o size=${n}m tmpfs /hog &&
		dd if=/dev/zero of=/hog/pinned bs=1M count=$n 2>/dev/null
	echo "GUEST-NOTE: pressure: $a MiB available, $n MiB pinned, $(avail_mb) MiB left"
}
unpin_memory() {
	rm -f /hog/pinned && umount /hog
}
# Pinned memory alone may leave the btree cache room enough; run every
# shrinker (drop_caches=2: slab reclaim) ten times a second while the
# verify reads the tree back, as reclaim under real pressure would.
start_shrinking() {
	(while :; do echo 2 >/proc/sys/vm/drop_caches; sleep 0.1; done) &
	SHRINK_PID=$!
}
stop_shrinking() {
	kill $SHRINK_PID && wait $SHRINK_PID 2>/dev/null
	return 0
}
# bcachefs's btree cache counters (sysfs, per mounted fs): "freed" counts
# nodes its shrinker freed
shrinker_freed() {
	for f in /sys/fs/bcachefs/*/internal/btree_cache; do
		[ -r "$f" ] && sed 's/^/GUEST-BTREE-CACHE: /' "$f"
	done
	n=$(cat /sys/fs/bcachefs/*/internal/btree_cache 2>/dev/null | awk '/^freed:/ { s += $2 } END { print s + 0 }')
	echo "GUEST-NOTE: btree cache shrinker freed $n nodes"
	[ "$n" -gt 0 ]
}
[ "$PRESSURE" = 1 ] && step "hung-task timeout 10s" hung_task_short
[ "$MODULES" = 1 ] && step "load bcachefs.ko (modprobe)" load_bcachefs
if [ "$MODULES" = 2 ]; then
	step "insmod the package's modules, then bcachefs.ko bkey_jit.mode=$MODE" load_debian
	step "module parameter bkey_jit.mode=$MODE" debian_param
else
	knob mode "$MODE"
fi
[ -n "$CAP" ] && knob code_cap "$CAP"

# counters before any mount: boot-time KUnit suites compile formats too
[ -r /sys/kernel/debug/bkey_jit/stats ] &&
	sed 's/^/GUEST-STATS0: /' /sys/kernel/debug/bkey_jit/stats
mkdir -p /mnt
step "mount (first: kernel initializes the fs)" mount -t bcachefs /dev/vda /mnt
if [ $rc = 0 ]; then
	step "workload $WL_WRITE" /bin/workload.sh $WL_WRITE /mnt
	step "umount" umount /mnt
	# drop every cached node: the remount must read them from disk
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
	[ "$PRESSURE" = 1 ] && step "memory pressure: pin memory in tmpfs" pin_memory
	step "mount again" mount -t bcachefs /dev/vda /mnt
	[ "$PRESSURE" = 1 ] && step "reclaim: shrinkers run during the verify" start_shrinking
	step "workload $WL_VERIFY" /bin/workload.sh $WL_VERIFY /mnt
	if [ "$PRESSURE" = 1 ]; then
		step "reclaim: stopped" stop_shrinking
		step "btree cache shrinker freed nodes during the verify" shrinker_freed
		step "memory pressure: unpin" unpin_memory
	fi
	# the spray leg: every cached unpacker's code, for the host to scan
	[ "$SPRAY" = 1 ] && [ -r /sys/kernel/debug/bkey_jit/code ] &&
		sed 's/^/GUEST-CODE: /' /sys/kernel/debug/bkey_jit/code
	# the unpackers the remounted filesystem holds right now
	if [ -r /sys/kernel/debug/bkey_jit/formats ]; then
		echo "GUEST-NOTE: bkey_jit formats cached while mounted: $(wc -l </sys/kernel/debug/bkey_jit/formats)"
		head -n 5 /sys/kernel/debug/bkey_jit/formats | sed 's/^/GUEST-FORMATS: /'
	fi
	df /mnt
	# how many nodes and distinct key formats the workload produced
	# (bcachefs debugfs, CONFIG_DEBUG_FS kernels only)
	for d in /sys/kernel/debug/bcachefs/*/btrees/*; do
		[ -r "$d/formats" ] || continue
		n=$(grep -c '^l ' "$d/formats")
		[ "$n" -gt 0 ] || continue
		nf=$(grep 'format:' "$d/formats" | sort -u | wc -l)
		echo "GUEST-NOTE: btree ${d##*/}: $n nodes, $nf distinct formats"
		grep 'format:' "$d/formats" >>/tmp/allformats
	done
	[ -f /tmp/allformats ] &&
		echo "GUEST-NOTE: all btrees: $(wc -l </tmp/allformats) nodes, $(sort -u /tmp/allformats | wc -l) distinct formats"
	step "umount again" umount /mnt
	# third mount with the kernel's fsck: walks every btree, so every
	# node is decoded once more and cross-checked (alloc info, dirents,
	# inodes, snapshots); anything it has to fix shows in the log
	step "mount -o fsck, verify" sh -c \
		"mount -t bcachefs -o fsck /dev/vda /mnt && /bin/workload.sh $WL_VERIFY /mnt; r=\$?; umount /mnt || r=1; exit \$r"
fi
[ "$MODULES" = 1 ] && step "unload bcachefs.ko (rmmod)" unload_bcachefs
if [ -r /sys/kernel/debug/bkey_jit/stats ]; then
	cat /sys/kernel/debug/bkey_jit/stats | sed 's/^/GUEST-STATS: /'
	mm=$(awk '/verify_mismatches/ { print $2 }' /sys/kernel/debug/bkey_jit/stats)
	if [ -n "$mm" ] && [ "$mm" != 0 ]; then
		echo "GUEST-FAIL: bkey_jit verify_mismatches=$mm"; rc=1
	fi
fi
# bkey-jit lives in bcachefs.ko here: the stats above go with it
[ "$MODULES" = 2 ] && step "rmmod bcachefs (bkey-jit torn down, debugfs gone)" unload_debian
# the in-kernel benchmark, for make demo (TCG: timings only indicative)
if [ "$BENCH" = 1 ] && [ -r /sys/kernel/debug/bkey_jit/bench ]; then
	sed 's/^/GUEST-BENCH: /' /sys/kernel/debug/bkey_jit/bench
	# the cache with many live formats (hit, miss, executable/code bytes)
	[ -r /sys/kernel/debug/bkey_jit/bench_scale ] &&
		sed 's/^/GUEST-BENCH: /' /sys/kernel/debug/bkey_jit/bench_scale
fi
echo "GUEST-DONE rc=$rc"
# Kernels without ACPI cannot power off: reboot, which ends qemu (-no-reboot)
if [ ! -d /sys/firmware/acpi ]; then
	echo "bkey-jit-init: exit $rc"
	sync
	reboot -f
fi
exit $rc
INIT

initrd=$out/initramfs.cpio.gz
[ $modules = 0 ] || export INITRAMFS_MODULES=$mods
if "$repo/scripts/initramfs.sh" "$arch" "$initrd" "$init" \
	"$repo/tests/mount/workload.sh" "$out/bch-subvol" "$out/bch-xattr" \
	"$out/bch-spray"; then
	ok "initramfs"
else
	bad "initramfs"; finish
fi

# --- boot ---
log=$out/console-$mode.log
t0=$(date +%s)
# verify: bcachefs's own expensive checks compare every JIT unpack too
append="bkey_jit.mode=$mode"
[ "$mode" = verify ] && append="$append bcachefs.expensive_debug_checks=1"
# Debian's bcachefs has no debug checks; the mode is bcachefs.ko's parameter
[ $debian = 0 ] || append=
"$repo/scripts/qemu-run.sh" "$arch" "$kernel" "$initrd" --disk "$img" \
	--append "$append" --timeout "$timeout" --log "$log" ${mem:+--mem "$mem"} >/dev/null
qrc=$?
secs=$(($(date +%s) - t0))
case $qrc in
0) ok "qemu ran (${secs}s)" ;;
124) bad "qemu timed out after ${timeout}s (log: $log)" ;;
3) bad "kernel panic/oops (log: $log)" ;;
*) bad "qemu exit $qrc (log: $log)" ;;
esac

# --- results from the console ---
tr -d '\r' <"$log" >"$log.txt"
while IFS= read -r l; do
	case $l in
	GUEST-PASS:*) ok "${l#GUEST-PASS: }" ;;
	GUEST-FAIL:*) bad "${l#GUEST-FAIL: }" ;;
	esac
done < <(grep -aE '^GUEST-(PASS|FAIL):' "$log.txt")
grep -aE '^(GUEST-NOTE|GUEST-STATS|GUEST-FORMATS|GUEST-BENCH|GUEST-BTREE-CACHE|workload:|PASS:|FAIL:)' "$log.txt" | sed 's/^/  guest: /'
grep -aq '^GUEST-DONE rc=0' "$log.txt" && ok "guest finished cleanly" ||
	bad "guest did not finish cleanly"

# Kernel trouble: any of these is a failure even if the workload passed.
# Case matters for the generic markers ("Warning: ..." from ACPI is noise).
pat='WARNING:|BUG:|kernel BUG at|Oops|Kernel panic|general protection fault|Call Trace:|bkey_jit.*mismatch'
# hung tasks (--pressure lowers the timeout to 10 s), the OOM killer
pat="$pat|blocked for more than|hung_task|Out of memory|oom-kill"
bpat='bcachefs \([^)]*\): .*(error|inconsisten|fixing|repair|invalid)|btree node .*(error|invalid)|invalid bkey'
{ grep -aE "$pat" "$log.txt"; grep -aEi "$bpat" "$log.txt"; } |
	grep -avi -e 'command line' -e 'opts=' >"$out/kernel-trouble.txt"
if [ -s "$out/kernel-trouble.txt" ]; then
	bad "kernel log clean ($(wc -l <"$out/kernel-trouble.txt") suspicious lines, first:)"
	head -n 20 "$out/kernel-trouble.txt" | sed 's/^/  kernel: /'
else
	ok "kernel log clean (no WARN/BUG/oops/bcachefs errors)"
fi

# The spray leg: the dumped code of the remounted fs, scanned on the host.
spray_check() {
	local l
	while IFS= read -r l; do
		case $l in
		PASS:*) ok "spray: ${l#PASS: }" ;;
		FAIL:*) bad "spray: ${l#FAIL: }" ;;
		*) echo "  $l" ;;
		esac
	done < <(python3 "$repo/tests/mount/spray-check.py" "$1" 2>&1)
}

# Did the mounts really use what the mode says? Counters over the mounts
# (before the first mount vs the end; boot-time KUnit is not counted).
stat_delta() {
	local a b
	a=$(grep -aE "^GUEST-STATS0: $1[[:space:]]" "$log.txt" | awk '{ print $NF }' | tail -n 1)
	b=$(grep -aE "^GUEST-STATS: $1[[:space:]]" "$log.txt" | awk '{ print $NF }' | tail -n 1)
	[ -n "$a" ] && [ -n "$b" ] && echo $((b - a))
}
if grep -aq '^GUEST-STATS0:' "$log.txt"; then
	compiled=$(stat_delta compiles) jit=$(stat_delta jit_unpacks_verified)
	generic=$(stat_delta generic_unpacks) capped=$(stat_delta fallback_cap)
	offgets=$(stat_delta fallback_mode_off)
	echo "  host: over the mounts: $compiled formats compiled, $jit JIT unpacks verified," \
		"$generic generic unpacks, $capped formats capped, $offgets unpackers got in mode off"
	case $mode in
	verify)
		[ "${compiled:-0}" -gt 0 ] && [ "${jit:-0}" -gt 0 ] &&
			ok "bcachefs unpacked with JIT code ($jit keys checked against generic C)" ||
			bad "no JIT code used in verify mode" ;;
	off)
		# mode off counts no unpack (that would cost the fallback path a
		# store per key): the node reads' gets in mode off, no JIT use,
		# and nothing compiled (code nobody runs is not made)
		[ "${offgets:-0}" -gt 0 ] && [ "${jit:-0}" -eq 0 ] && [ "${compiled:-1}" -eq 0 ] &&
			ok "mode off: $offgets unpackers got in mode off, no JIT unpack, nothing compiled" ||
			bad "mode off: ${offgets:-?} gets in mode off, ${jit:-?} JIT unpacks, ${compiled:-?} compiled" ;;
	on)
		if [ -n "$cap" ]; then
			[ "${capped:-0}" -gt 0 ] && [ "${compiled:-0}" -eq 0 ] &&
				ok "cap: $capped formats fell back to generic C, nothing compiled" ||
				bad "cap: compiled $compiled, capped $capped"
		fi ;;
	esac
fi

# Debian's kernel: the unpackers came from the kernel's BPF JIT, and its
# boot-time W^X check (CONFIG_DEBUG_WX) passed
if [ $debian = 1 ]; then
	ebpf=$(stat_delta compiles_ebpf)
	native=$(grep -aE '^GUEST-STATS: native_backend[[:space:]]' "$log.txt" | awk '{ print $NF }' | tail -n 1)
	[ "${ebpf:-0}" -gt 0 ] && [ "$ebpf" = "${compiled:-}" ] && [ "$native" = none ] &&
		ok "every format compiled by the eBPF backend ($ebpf, native backend $native)" ||
		bad "eBPF backend: ${ebpf:-?} of ${compiled:-?} formats, native backend '$native'"
	nf=$(grep -ac '^GUEST-FORMATS: ' "$log.txt")
	ne=$(grep -ac '^GUEST-FORMATS: .* backend ebpf ' "$log.txt")
	[ "$nf" -gt 0 ] && [ "$nf" = "$ne" ] &&
		ok "formats of the mounted fs say backend ebpf ($ne of $nf listed)" ||
		bad "formats of the mounted fs: $ne of $nf with backend ebpf"
	wx='Checked W+X mappings: passed, no W+X pages found'
	grep -aqF "$wx" "$log.txt" && ok "kernel: \"$wx\"" || bad "no \"$wx\" in the boot log"
fi

[ "$spray" = 1 ] && spray_check "$log.txt"

"$repo/build/tools/bcachefs-format" --check "$img" | tail -n 1 | sed 's/^/  host: /'
echo "mount test $arch$tag mode=$mode: ${secs}s in qemu${mem:+ ($mem)}, log $log"
finish
