#!/bin/sh
# make bench-kernel, INSIDE the guest (busybox sh): the timed phases of the
# metadata workload on /dev/vda, each run by bench-phase (tools/), which
# prints "BENCH-PHASE NAME wall= busy= idle= rc=" with guest-clock ns.
#
#   bench-guest.sh NDIRS NFILES PROFILE INKERNEL_BENCH
#   bench-guest.sh create NDIRS NFILES   (the create phase's own process)
#
#   NDIRS x NFILES  small files to create (make bench-kernel: 200 x 100)
#   PROFILE=1       the kernel was booted with profile=N: /proc/profile is
#                   saved (gzip) before and after every phase, and all of
#                   them are written as a tar to /dev/vdb at the end
#   INKERNEL_BENCH=1  at the end, debugfs bkey_jit/bench (per-key cost of
#                   each backend, in guest instructions under icount)
#
# Console lines for the host (scripts/bench-kernel.sh): BENCH-PHASE,
# BENCH-STATS0/BENCH-STATS (bkey_jit/stats before the first mount and
# after the workload), BENCH-INKERNEL, BENCH-FAIL, BENCH-DONE rc=N.
# Everything between the phases (dropping caches, saving the profile) is
# outside what is measured.

if [ "${1:-}" = create ]; then
	NDIRS=$2 NFILES=$3
	create_tree() {
		cd /mnt || return 1
		d=0
		while [ $d -lt "$NDIRS" ]; do
			mkdir d$d || return 1
			f=0
			while [ $f -lt "$NFILES" ]; do
				echo "bench-kernel file $d/$f, a line of text" >d$d/f$f || return 1
				f=$((f + 1))
			done
			d=$((d + 1))
		done
	}
	create_tree
	exit
fi

NDIRS=${1:-200}
NFILES=${2:-100}
PROFILE=${3:-0}
INKERNEL=${4:-0}
DBG=/sys/kernel/debug/bkey_jit
rc=0

phase() {
	name=$1
	shift
	# The phase's profile is after - before (the host subtracts): no
	# reset, whose memset of the whole buffer would itself be sampled.
	# Compressed: the buffers are mostly zeros. Reading one costs about
	# as many instructions as it has bytes (copy_to_user is rep movsb,
	# one instruction per byte under icount), and the ticks that fall in
	# that copy are counted too: hence a coarse profile= shift.
	# /proc/stat too: 6.12's profile drops ticks whose PC is outside the
	# kernel's text (JIT code, BPF programs); the host estimates them as
	# kernel-mode ticks minus profile samples.
	if [ "$PROFILE" = 1 ]; then
		gzip -1 -c /proc/profile >"/tmp/prof/$name.before.gz"
		head -n 1 /proc/stat >"/tmp/prof/$name.stat.before"
	fi
	bench-phase "$name" "$@" || { echo "BENCH-FAIL $name"; rc=1; }
	if [ "$PROFILE" = 1 ]; then
		head -n 1 /proc/stat >"/tmp/prof/$name.stat.after"
		gzip -1 -c /proc/profile >"/tmp/prof/$name.after.gz"
	fi
}

echo "BENCH-NOTE kernel $(uname -r) cmdline: $(cat /proc/cmdline)"
mkdir -p /mnt /tmp/prof
if [ "$PROFILE" = 1 ] && [ ! -w /proc/profile ]; then
	echo "BENCH-FAIL no /proc/profile (CONFIG_PROFILING, profile= on the command line)"
	PROFILE=0
	rc=1
fi
[ -r $DBG/stats ] && sed 's/^/BENCH-STATS0 /' $DBG/stats

# every other file of every directory, for the rm phase (built untimed)
d=0
while [ $d -lt "$NDIRS" ]; do
	f=0
	while [ $f -lt "$NFILES" ]; do
		echo "/mnt/d$d/f$f"
		f=$((f + 2))
	done
	d=$((d + 1))
done >/tmp/rmlist

# What each phase does (names are the table's rows):
#   mount-new   first mount: the kernel initializes the new filesystem
#   create      NDIRS directories of NFILES one-line files, shell builtins only
#   sync        write it all out
#   umount      the rest of the write-out, the journal
#   mount-cold  mount after dropping every cache: nodes read from disk
#   ls-lR       list and stat every file (cold: only the root was read)
#   find        walk the tree again (dcache warm, readdir through the btree)
#   read-all    read every file
#   rm-half     unlink every other file (whiteouts, node rewrites)
#   sync-rm     write the deletions out
#   umount-rm   umount after the deletions
#   fsck-mount  mount -o fsck: the kernel's fsck walks every btree
phase mount-new mount -t bcachefs /dev/vda /mnt
[ $rc = 0 ] || { echo "BENCH-DONE rc=$rc"; exit $rc; }
phase create sh /bin/bench-guest.sh create "$NDIRS" "$NFILES"
phase sync sync
phase umount umount /mnt
echo 3 >/proc/sys/vm/drop_caches
phase mount-cold mount -t bcachefs /dev/vda /mnt
phase ls-lR ls -lR /mnt
phase find find /mnt
phase read-all sh -c 'find /mnt -type f | xargs cat'
# through a pipe: with the list as xargs's stdin, each rm (a busybox
# applet run in a forked child) rewinds the shared file offset over what
# xargs had buffered when it exits, and xargs reads part of the list twice
phase rm-half sh -c 'cat /tmp/rmlist | xargs rm'
phase sync-rm sync
phase umount-rm umount /mnt
echo 3 >/proc/sys/vm/drop_caches
phase fsck-mount mount -t bcachefs -o fsck /dev/vda /mnt
n=$(find /mnt -type f | wc -l)
want=$((NDIRS * NFILES - NDIRS * ((NFILES + 1) / 2)))
if [ "$n" != "$want" ]; then
	echo "BENCH-FAIL after rm-half and fsck: $n files, want $want"
	rc=1
fi
umount /mnt || rc=1

[ -r $DBG/stats ] && sed 's/^/BENCH-STATS /' $DBG/stats
if [ "$INKERNEL" = 1 ]; then
	if [ -r $DBG/bench ]; then
		sed 's/^/BENCH-INKERNEL /' $DBG/bench
		# compile cost on an otherwise idle system: get + compile +
		# publish of 1000 new formats (miss_ns: instructions per format)
		if [ -w $DBG/bench_scale ] && echo 1000 >$DBG/bench_scale; then
			sed 's/^/BENCH-INKERNEL /' $DBG/bench_scale
		fi
	else
		echo "BENCH-FAIL no $DBG/bench"
		rc=1
	fi
fi
if [ "$PROFILE" = 1 ]; then
	tar -cf /dev/vdb -C /tmp/prof . || rc=1
	sync
fi
echo "BENCH-DONE rc=$rc"
exit $rc
