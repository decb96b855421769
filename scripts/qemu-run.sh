#!/usr/bin/env bash
# Boot a test kernel + initramfs under qemu (TCG: KVM guests hang here).
#
# usage: qemu-run.sh ARCH KERNEL INITRAMFS [--disk IMG]... [--append "..."]
#                    [--timeout SEC] [--log FILE] [--smp N] [--mem SIZE]
#                    [--icount SHIFT] [--interactive]
#   ARCH           x86_64 | arm64 | riscv64 (OpenSBI firmware, qemu's default)
#   --disk IMG     virtio-blk disk (raw, or qcow2 by extension); the first
#                  is /dev/vda in the guest, the next /dev/vdb, ...
#   --append       extra kernel command line
#   --timeout      kill qemu after SEC seconds (default 600); exit 124
#   --log FILE     console output also written to FILE (always on stdout)
#   --mem SIZE     guest memory, qemu -m syntax (default 1G)
#   --icount SHIFT TCG's instruction counting, -icount shift=SHIFT: the guest
#                  clock advances 2^SHIFT ns per guest instruction while the
#                  vCPU runs (shift=0: guest ns = instructions; make bench-kernel)
#   --interactive  keep stdin attached (a shell in the guest); Ctrl-a x quits
# env:   QEMU_EXTRA="..."  extra qemu arguments, e.g. "-icount shift=0" (the
#          guest clock then counts guest instructions: 1 ns each)
# exit status: 124 on timeout, 3 if the kernel panicked/oopsed, else qemu's.
# The command line has panic=-1 so a panic ends qemu at once (-no-reboot).
set -euo pipefail

usage() { sed -n '3,18p' "$0" >&2; exit 2; }
[ $# -ge 3 ] || usage
arch=$1 kernel=$2 initrd=$3
shift 3
disks=() append='' timeout=600 log='' smp=1 mem=1G interactive='' icount=''
while [ $# -gt 0 ]; do
	case $1 in
	--disk) disks+=("$2"); shift 2 ;;
	--append) append=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--log) log=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--icount) icount=$2; shift 2 ;;
	--interactive) interactive=1; shift ;;
	*) usage ;;
	esac
done

case $arch in
x86_64)
	qemu=(qemu-system-x86_64 -M q35 -cpu max)
	console=ttyS0
	;;
arm64)
	# pauth-impdef: QEMU's own pointer-auth algorithm, far cheaper under
	# TCG than the architected QARMA one, same semantics for the guest.
	qemu=(qemu-system-aarch64 -M virt -cpu "max,pauth-impdef=on")
	console=ttyAMA0
	;;
riscv64)
	qemu=(qemu-system-riscv64 -M virt -cpu rv64 -bios default)
	console=ttyS0
	;;
*) usage ;;
esac
qemu+=(-m "$mem" -smp "$smp" -nographic -no-reboot -accel tcg
	-kernel "$kernel" -initrd "$initrd"
	-append "console=$console panic=-1 oops=panic $append")
[ -z "$icount" ] || qemu+=(-icount "shift=$icount")
# shellcheck disable=SC2206 # word splitting wanted
qemu+=(${QEMU_EXTRA:-})
for d in "${disks[@]}"; do
	fmt=raw
	case $d in *.qcow2) fmt=qcow2 ;; esac
	qemu+=(-drive "file=$d,format=$fmt,if=virtio,cache=unsafe")
done

log=${log:-/dev/null}
mkdir -p "$(dirname "$log")"
rc=0
if [ -n "$interactive" ]; then
	timeout -k 5 "$timeout" "${qemu[@]}" | tee "$log" || rc=$?
else
	timeout -k 5 "$timeout" "${qemu[@]}" </dev/null | tee "$log" || rc=$?
fi
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "qemu-run: TIMEOUT after ${timeout}s" | tee -a "$log" >&2
	exit 124
fi
if [ "$log" != /dev/null ] && grep -qE 'Kernel panic - not syncing|Oops:|BUG:' "$log"; then
	echo "qemu-run: kernel panic/oops in the log" >&2
	exit 3
fi
exit $rc
