#!/bin/sh
# bkey-jit mount workload, run INSIDE the guest with busybox sh.
#
#   workload.sh write  [MNT]   populate MNT, write the manifest
#   workload.sh verify [MNT]   recompute the manifest, diff against it
#
# The point is to make bcachefs write, and later read back, many btree
# nodes whose key formats differ: inodes, dirents (short and 200+ byte
# names), extents (inline, small, large, sparse, holes), xattrs, hard
# links, symlinks, renames and deletions (whiteouts), and a subvolume plus
# a snapshot (keys in more than one snapshot ID, subvolumes/snapshots
# btrees).  The manifest lives in MNT/.bkey-jit-manifest and is excluded
# from itself; `verify` after a remount proves the nodes read back decode
# to the same tree.
#
# Helpers expected in PATH: bch-subvol, bch-xattr (tools/*.c, static).
# Prints "PASS: x" / "FAIL: x" lines; exit status is non-zero on failure.
# Tunables (env): NDIRS (60), NFILES (50 per dir), NSUB (200).

mode=${1:-}
mnt=${2:-/mnt}
man=$mnt/.bkey-jit-manifest
NDIRS=${NDIRS:-60}
NFILES=${NFILES:-50}
NSUB=${NSUB:-200}

fails=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
die()  { echo "FAIL: $*"; exit 1; }

# Content blocks built with shell builtins only: forking is slow under TCG.
mkblocks() {
	b=0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_
	b1k=$b$b$b$b$b$b$b$b$b$b$b$b$b$b$b$b		# 1 KiB
	b4k=$b1k$b1k$b1k$b1k
}

# wfile PATH SEED: a file of 0..~40 KiB depending on SEED, text only
wfile() {
	{
		printf '%s %s\n' "$1" "$2"
		n=$(($2 % 11))
		while [ $n -gt 0 ]; do
			if [ $(($2 % 3)) = 0 ]; then printf '%s' "$b4k"; else printf '%s' "$b1k"; fi
			n=$((n - 1))
		done
		# odd tail so sizes are not all block multiples
		printf '%s\n' "${b1k%%[$(($2 % 10))]*}"
	} >"$1"
}

# names of varied length so dirent keys vary in size
longname() {
	# $1: index; 40..230 characters
	l=$((40 + ($1 * 37) % 190))
	s=n$1_$b$b$b$b
	printf '%.*s' "$l" "$s"
}

manifest() {
	# Listing: name, type, size, links, mode (directories: type and mode
	# only, their size is not stable).  Batched through xargs: one fork
	# per file is minutes under TCG.
	cd "$mnt" || return 1
	find . -name '.bkey-jit-manifest*' -prune -o -print | sort >/tmp/wl.list
	xargs stat -c '%n %F %s %h %a' </tmp/wl.list |
		sed -e 's/^\([^ ]*\) directory [0-9]* [0-9]* /\1 dir /' \
		    -e 's/^\([^ ]*\) symbolic link .*/\1 symlink/'
	echo "# symlinks"
	find . -type l | sort | while read -r p; do
		echo "$p -> $(readlink "$p")"
	done
	echo "# sha256"
	find . -name '.bkey-jit-manifest*' -prune -o -type f -print |
		sort | xargs sha256sum
	echo "# md5"
	find . -name '.bkey-jit-manifest*' -prune -o -type f -print |
		sort | xargs md5sum
	echo "# xattrs"
	find . -name '.bkey-jit-manifest*' -prune -o -print | sort |
		xargs bch-xattr dump
	cd / || return 1
}

do_write() {
	mkblocks
	t0=$(date +%s)
	mkdir -p "$mnt/w" || die "mkdir $mnt/w"
	cd "$mnt/w" || die "cd $mnt/w"

	# 1. many small files in many directories
	nf=0
	d=0
	while [ $d -lt "$NDIRS" ]; do
		dn=$(printf 'd%02d' $d)
		mkdir "$dn" || die "mkdir $dn"
		f=0
		while [ $f -lt "$NFILES" ]; do
			if [ $((f % 5)) = 4 ]; then
				fn=$dn/$(longname $((d * NFILES + f)))
			else
				fn=$dn/$(printf 'f%03d' $f)
			fi
			wfile "$fn" $((d * 131 + f * 17)) || die "write $fn"
			nf=$((nf + 1))
			f=$((f + 1))
		done
		d=$((d + 1))
	done
	pass "wrote $nf small files in $NDIRS dirs"

	# 2. a deep directory chain
	p=deep
	i=0
	while [ $i -lt 24 ]; do p=$p/l$i; i=$((i + 1)); done
	mkdir -p "$p" && echo deep >"$p/leaf" || fail "deep dirs"

	# 3. dense files of varied sizes, random data (extents, crc)
	mkdir dense
	for k in 1 2 3 5 8 13 21 34 55 89; do
		dd if=/dev/urandom of=dense/r$k bs=4k count=$((k * 3)) 2>/dev/null ||
			fail "dense r$k"
	done
	dd if=/dev/urandom of=dense/big bs=64k count=64 2>/dev/null || fail "dense big"
	dd if=/dev/zero of=dense/zeros bs=64k count=16 2>/dev/null || fail "dense zeros"

	# 4. sparse files: data at scattered offsets, holes between
	mkdir sparse
	for k in 1 2 3 4 5 6 7 8 9 10 11 12; do
		for s in 0 $((k * 7)) $((k * 37)) $((k * 97)); do
			dd if=/dev/urandom of=sparse/s$k bs=4k count=1 seek=$s \
				conv=notrunc 2>/dev/null || fail "sparse s$k"
		done
	done
	dd if=/dev/zero of=sparse/hole bs=1 count=1 seek=$((8 * 1024 * 1024 + 12345)) \
		2>/dev/null || fail "sparse hole"

	# 5. xattrs: short and long values, several per file
	mkdir xattr
	nx=0
	i=0
	while [ $i -lt 150 ]; do
		wfile xattr/x$i $i
		bch-xattr set xattr/x$i user.a "v$i" || { fail "setxattr (no xattr support?)"; break; }
		bch-xattr set xattr/x$i user.long$((i % 7)) "$(printf '%.*s' $((i * 13 % 1500 + 1)) "$b1k$b1k")"
		[ $((i % 3)) = 0 ] && bch-xattr set xattr/x$i trusted.t$i "t"
		nx=$((nx + 1))
		i=$((i + 1))
	done
	pass "set xattrs on $nx files"

	# 6. renames (within and across dirs), deletions, hard links, symlinks
	mkdir links moved
	nr=0; nd=0; nl=0
	d=0
	while [ $d -lt "$NDIRS" ]; do
		dn=$(printf 'd%02d' $d)
		f=0
		while [ $f -lt "$NFILES" ]; do
			fn=$dn/$(printf 'f%03d' $f)
			if [ -f "$fn" ]; then
				if [ $((f % 11)) = 3 ]; then
					rm "$fn" && nd=$((nd + 1))
				elif [ $((f % 7)) = 1 ]; then
					mv "$fn" moved/$dn-$f && nr=$((nr + 1))
				elif [ $((f % 7)) = 2 ]; then
					mv "$fn" "$fn.renamed" && nr=$((nr + 1))
				elif [ $((f % 13)) = 5 ]; then
					ln "$fn" links/$dn-$f && nl=$((nl + 1))
					ln "$fn" links/$dn-$f.2
				fi
			fi
			f=$((f + 1))
		done
		d=$((d + 1))
	done
	ln -s ../d00/f000 links/sym0
	ln -s "$(longname 7)" links/symlong
	ln -s /nonexistent/target links/dangling
	rmdir "$(printf 'd%02d' $((NDIRS - 1)))" 2>/dev/null ||
		rm -r "$(printf 'd%02d' $((NDIRS - 1)))"
	pass "renamed $nr, deleted $nd, hard-linked $nl, removed 1 dir"

	# 7. subvolume + snapshot, then diverge the two
	cd "$mnt" || die "cd $mnt"
	if bch-subvol create "$mnt/sv"; then
		i=0
		while [ $i -lt "$NSUB" ]; do
			wfile sv/s$i $((i * 7))
			i=$((i + 1))
		done
		wfile sv/x0 5 && bch-xattr set sv/x0 user.sv "subvol"
		dd if=/dev/urandom of=sv/data bs=4k count=64 2>/dev/null
		sync
		if bch-subvol snapshot "$mnt/sv" "$mnt/snap"; then
			# overwrite, append, delete in the origin: the snapshot
			# keeps the old keys, origin gets new ones in a new ID
			i=0
			while [ $i -lt "$NSUB" ]; do
				case $((i % 4)) in
				0) rm sv/s$i ;;
				1) echo appended >>sv/s$i ;;
				2) wfile sv/s$i $((i + 1000)) ;;
				esac
				i=$((i + 1))
			done
			dd if=/dev/urandom of=sv/data bs=4k count=8 seek=16 conv=notrunc 2>/dev/null
			echo "in snapshot only" >snap/snaponly
			pass "subvolume + snapshot created and diverged"
		else
			fail "snapshot create"
		fi
	else
		fail "subvolume create"
	fi

	sync
	# built outside MNT so it never lists itself, then stored in MNT
	manifest >/tmp/wl.man || die "manifest"
	cp /tmp/wl.man "$man" || die "store manifest"
	sync
	n=$(sed -n '1,/^# symlinks/p' "$man" | grep -c '^\./')
	nf=$(sed -n '/^# sha256/,/^# md5/p' "$man" | grep -c '  \./')
	echo "workload: $n entries, $nf regular files, $(($(date +%s) - t0))s"
	pass "manifest written ($n entries, $nf files)"
	[ $fails = 0 ]
}

do_verify() {
	t0=$(date +%s)
	[ -f "$man" ] || die "no manifest at $man"
	manifest >/tmp/wl.now || die "manifest"
	if diff "$man" /tmp/wl.now >/tmp/wl.diff; then
		nf=$(sed -n '/^# sha256/,/^# md5/p' "$man" | grep -c '  \./')
		pass "verify: $nf files match manifest ($(($(date +%s) - t0))s)"
	else
		fail "verify: $(grep -c '^[-+]\.' /tmp/wl.diff) lines differ"
		head -n 40 /tmp/wl.diff
	fi
	# the tree is also readable in full (every extent, every dirent)
	if find "$mnt" -type f -exec cat {} + >/dev/null; then
		pass "verify: all files readable"
	else
		fail "verify: read error"
	fi
	[ $fails = 0 ]
}

# The JIT-spray attempt (run.sh --spray): a sparse file whose extents
# start at sector 0xfa1e0ff30000, so extents nodes holding only its keys
# get an offset field whose bytes 2..5 are f3 0f 1e fa (ENDBR64). 4000
# blocks, a hole after each, span under 0x10000 sectors: the pattern
# survives in every such node's minimum. The file is far too large to
# read whole, so it stays out of the manifest modes.
SPRAY_BASE=0xfa1e0ff30000
SPRAY_N=4000

do_spray() {
	mkdir -p "$mnt/spray" || die "mkdir $mnt/spray"
	bch-spray "$1" "$mnt/spray/sparse" $SPRAY_BASE $SPRAY_N ||
		die "spray $1"
	pass "spray $1: $SPRAY_N extents from sector $SPRAY_BASE"
}

case $mode in
write)	do_write ;;
verify)	do_verify ;;
spray)	do_spray write ;;
spray-verify) do_spray verify ;;
*)	echo "usage: workload.sh write|verify|spray|spray-verify [MNT]" >&2; exit 2 ;;
esac
