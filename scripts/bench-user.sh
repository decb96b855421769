#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench-user: benchmark bkey-jit against bcachefs's generic unpack on
# formats bcachefs computes for real nodes (tests/bench.c), and check the
# numbers against the targets of the issue.
#
#   1. ns/key, compile time, x86-64 code size: build/native/bench, pinned
#   2. arm64 code size: build/arm64/bench --static-only under qemu (only
#      static counts: timing under qemu means nothing)
#   3. instructions/key: callgrind, one run per format and unpacker,
#      counting only inside bench_walk() (the JIT code runs from there)
#   4. the cache at scale: hit and miss latency and executable bytes with
#      1 000, 10 000 and 100 000 live formats (bench --scale, pinned)
#   5. table (results.txt), CSV, plot (ns_per_key.png) in build/bench
#   6. the JIT against bcachefs's old x86-64 emitter (Linux 6.12 bkey.c,
#      compiled out there; the bench builds it from the fetched tree, see
#      scripts/old-emitter.sh): own instructions per key and code bytes,
#      its output checked key by key against bcachefs's generic unpack
#
# Targets are reported PASS/MISS; a miss does not fail the command, a
# broken measurement does.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=build/bench
NATIVE=build/native/bench
ARM64=build/arm64/bench
# Callgrind counts are exact: 4 passes (16384 keys) are plenty.
CG_PASSES=${BENCH_CALLGRIND_PASSES:-4}
NCPU=$(nproc)
CPU=${BENCH_CPU:-$((NCPU - 1))}
MODES="harness jit jitpos generic bch bchcall jit-plain jitpos-plain old"

mkdir -p "$OUT"
rm -rf "$OUT/callgrind" "$OUT/code"
mkdir -p "$OUT/callgrind" "$OUT/code"

echo "bench-user: timing on CPU $CPU ..." >&2
taskset -c "$CPU" "$NATIVE" --cpu "$CPU" > "$OUT/native.csv"
echo "bench-user: the cache with 1 000 .. 100 000 live formats ..." >&2
taskset -c "$CPU" "$NATIVE" --cpu "$CPU" --scale > "$OUT/scale.csv"
# The same without constant blinding: what blinding costs.
echo "bench-user: timing without blinding ..." >&2
taskset -c "$CPU" "$NATIVE" --no-blind --cpu "$CPU" > "$OUT/native-plain.csv"

if command -v qemu-aarch64-static >/dev/null; then
	echo "bench-user: arm64 code size under qemu ..." >&2
	qemu-aarch64-static "$ARM64" --static-only > "$OUT/arm64.csv"
	qemu-aarch64-static "$ARM64" --dump-code "$OUT/code" 2>/dev/null || true
	for f in "$OUT"/code/*.bin; do
		[ -e "$f" ] || continue
		mv "$f" "${f%.bin}.arm64.bin"
	done
else
	echo "bench-user: no qemu-aarch64-static, no arm64 numbers" >&2
	: > "$OUT/arm64.csv"
fi

# Disassembly of every emitted function, for the emitter engineers.
"$NATIVE" --dump-code "$OUT/code"
for f in "$OUT"/code/*.bin; do
	case $f in
	*.arm64.bin)
		command -v aarch64-linux-gnu-objdump >/dev/null &&
			aarch64-linux-gnu-objdump -D -b binary -maarch64 "$f" \
				> "${f%.bin}.txt" || true ;;
	*)
		[ "$(uname -m)" = x86_64 ] &&
			objdump -D -b binary -mi386:x86-64 "$f" \
				> "${f%.bin}.x86.txt" || true ;;
	esac
done

# One callgrind run: total Ir inside bench_walk() and bench_walk's own
# share (the loop), so the rest is what the unpacker itself executed.
cg_one() {
	local fmt=$1 mode=$2 base=$OUT/callgrind/$1.$2 total walk keys
	local blind=()

	# MODE-plain: the same unpacker compiled without constant blinding
	case $mode in *-plain) blind=(--no-blind) ;; esac

	valgrind --tool=callgrind --collect-atstart=no \
		--toggle-collect=bench_walk --smc-check=all-non-file \
		--callgrind-out-file="$base.cg" \
		"$NATIVE" "${blind[@]}" --callgrind "${mode%-plain}" "$fmt" "$CG_PASSES" \
		> "$base.out" 2> "$base.log"
	total=$(awk '/^totals:/ { print $2 }' "$base.cg")
	walk=$(callgrind_annotate --inclusive=no --auto=no --threshold=100 \
		"$base.cg" | awk '/:bench_walk / { gsub(",", "", $1); print $1 }')
	keys=$(sed -n 's/^keys,//p' "$base.out")
	echo "ir,$fmt,$mode,$keys,$total,${walk:-0}" > "$base.csv"
}
export -f cg_one
export OUT NATIVE CG_PASSES

if command -v valgrind >/dev/null; then
	echo "bench-user: instructions/key under callgrind ..." >&2
	for fmt in $("$NATIVE" --list); do
		for m in $MODES; do
			echo "$fmt $m"
		done
	done | xargs -P "$NCPU" -n 2 bash -c 'cg_one "$@"' _
	cat "$OUT"/callgrind/*.csv > "$OUT/callgrind.csv"
else
	echo "bench-user: no valgrind, no instruction counts" >&2
	: > "$OUT/callgrind.csv"
fi

# The report, kept in a variable so that the PNG fallback can rerun it.
read -r -d '' REPORT_PY <<'EOF' || true
import csv, os, struct, sys, zlib

out = sys.argv[1]
V = ["jit", "jitpos", "generic", "bch"]
fmts, desc, ftext, plan, static, compile_ns, ns = [], {}, {}, {}, {}, {}, {}
oldemit = {}	# format: (code bytes, "ok" or why it is left out)
cpu = "?"

def kv(fields):
    return {a: b for a, b in (x.split("=", 1) for x in fields)}

for name in ("native.csv", "arm64.csv"):
    for line in open(os.path.join(out, name)):
        r = line.rstrip("\n").split(",")
        if r[0] == "cpu":
            cpu = r[1]
        elif r[0] == "format":
            if r[1] not in desc:
                fmts.append(r[1])
            desc[r[1]], ftext[r[1]] = r[2], r[3]
        elif r[0] == "plan":
            plan[(r[1], r[2])] = {k: int(v) for k, v in kv(r[3:]).items()}
        elif r[0] == "static":
            static[(r[1], r[2])] = [int(x) if x else None for x in r[3:7]]
        elif r[0] == "compile":
            compile_ns[r[1]] = float(r[2])
        elif r[0] == "time":
            ns[r[1]] = {k: float(v) for k, v in kv(r[2:]).items()}
        elif r[0] == "oldemit" and name == "native.csv":
            oldemit[r[1]] = (int(r[2]), r[3])

# The unblinded run: ns/key and static sizes, for the blinding cost.
ns_plain, static_plain = {}, {}
for line in open(os.path.join(out, "native-plain.csv")):
    r = line.rstrip("\n").split(",")
    if r[0] == "static":
        static_plain[r[1]] = [int(x) if x else None for x in r[3:7]]
    elif r[0] == "time":
        ns_plain[r[1]] = {k: float(v) for k, v in kv(r[2:]).items()}

# Ir per key: total, and what the callee ran (total minus the loop).
ir, ir_callee = {}, {}
for line in open(os.path.join(out, "callgrind.csv")):
    _, fmt, mode, keys, total, walk = line.strip().split(",")
    if not keys or not total:
        if mode == "old":	# no old emitter code: reported below
            continue
        sys.exit(f"bench-user: callgrind run {fmt} {mode} failed")
    ir[(fmt, mode)] = int(total) / int(keys)
    ir_callee[(fmt, mode)] = (int(total) - int(walk)) / int(keys)

# Without gnuplot: bars only, no text, written by hand (zlib + PNG chunks).
def png_fallback(path):
    W, H, pad = 900, 400, 20
    img = [[(255, 255, 255)] * W for _ in range(H)]
    cols = [(27, 158, 119), (102, 194, 165), (117, 112, 179), (217, 95, 2)]
    top = max(ns[f][v] for f in fmts for v in V) * 1.05
    gw = (W - 2 * pad) / len(fmts)
    bw = int(gw / (len(V) + 1))
    for i, f in enumerate(fmts):
        for j, v in enumerate(V):
            h = int((H - 2 * pad) * ns[f][v] / top)
            x0 = int(pad + i * gw + j * bw)
            for y in range(H - pad - h, H - pad):
                for x in range(x0, x0 + bw - 1):
                    img[y][x] = cols[j]
    raw = b"".join(b"\0" + bytes(c for px in row for c in px) for row in img)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as fp:
        fp.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
                 + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))

if os.environ.get("BENCH_PNG_FALLBACK"):
    png_fallback(os.path.join(out, "ns_per_key.png"))
    sys.exit(0)

def own_ir(f, v):
    a, h = ir.get((f, v)), ir.get((f, "harness"))
    return None if a is None or h is None else a - h

def own_ns(f, v):
    return ns[f][v] - ns[f]["harness"]

def fnum(x, spec):
    return "-" if x is None else format(x, spec)

def straddles(f):
    return plan.get((f, "full"), {}).get("funnel", 0) > 0

x86 = lambda f: static.get((f, "x86-64"), [None] * 4)
arm = lambda f: static.get((f, "arm64"), [None] * 4)

L = []
harness_ns = sorted(ns[f]["harness"] for f in fmts)
harness_ir = sorted(ir[(f, "harness")] for f in fmts if (f, "harness") in ir)
L.append("bkey-jit benchmark: 4096 packed keys per format, walked in order through an indirect call")
L.append(f"CPU {cpu} pinned; ns/key = median of 15 runs (thread CPU time, ~20 ms each); instr/key from callgrind")
L.append("harness alone (walk + indirect call + u64s copy): "
         f"{harness_ns[len(harness_ns) // 2]:.2f} ns/key (range {harness_ns[0]:.2f}-{harness_ns[-1]:.2f}), "
         + (f"{harness_ir[len(harness_ir) // 2]:.1f} instr/key" if harness_ir else "no instr counts"))
L.append("own = measured - harness of the same format. bch = Linux 6.12 __bch2_bkey_unpack_key algorithm")
L.append("(tests/ref_unpack.h), inlined into its wrapper so it writes the key straight to dst; bch-call = the")
L.append("same called as bcachefs does (out of line, key returned by value, *u = copy): reference only.")
L.append("")
hdr = (f"{'format':<10} {'u64s':>4} | {'ns/key: jit':>11} {'jitpos':>6} {'generic':>7} {'bch':>6} | "
       f"{'jit vs bch':>10} {'own':>5} | {'instr/key own: jit':>18} {'jitpos':>6} {'generic':>7} {'bch':>6} | "
       f"{'x86 bytes':>9} {'(insns)':>9} | {'arm64 insns':>11} | {'compile':>7}")
L.append(hdr)
L.append(f"{'':<10} {'':>4} | {'':>11} {'':>6} {'':>7} {'':>6} | {'raw':>10} {'':>5} | "
         f"{'':>18} {'':>6} {'':>7} {'':>6} | {'full/pos':>9} {'full/pos':>9} | {'full/pos':>11} | {'ns':>7}")
L.append("-" * len(hdr))
rows = []
for f in fmts:
    t = ns[f]
    sp_raw = t["bch"] / t["jit"]
    sp_own = own_ns(f, "bch") / own_ns(f, "jit") if own_ns(f, "jit") > 0 else None
    xs, ar = x86(f), arm(f)
    L.append(f"{f:<10} {ftext[f].split()[1]:>4} | {t['jit']:>11.2f} {t['jitpos']:>6.2f} {t['generic']:>7.2f} {t['bch']:>6.2f} | "
             f"{sp_raw:>9.1f}x {fnum(sp_own, '4.1f')}x | "
             f"{fnum(own_ir(f, 'jit'), '18.1f')} {fnum(own_ir(f, 'jitpos'), '6.1f')} "
             f"{fnum(own_ir(f, 'generic'), '7.1f')} {fnum(own_ir(f, 'bch'), '6.1f')} | "
             f"{fnum(xs[0], '4d')}/{fnum(xs[2], '<4d')} {fnum(xs[1], '4d')}/{fnum(xs[3], '<4d')} | "
             f"{fnum(ar[1], '6d')}/{fnum(ar[3], '<4d')} | {compile_ns[f]:>7.0f}")
    rows.append(dict(format=f, description=desc[f], format_text=ftext[f],
                     straddling_funnel=int(straddles(f)),
                     ns_harness=t["harness"], ns_jit=t["jit"], ns_jitpos=t["jitpos"],
                     ns_generic=t["generic"], ns_bch=t["bch"], ns_bchcall=t.get("bchcall"),
                     own_ns_jit=own_ns(f, "jit"), own_ns_jitpos=own_ns(f, "jitpos"),
                     own_ns_generic=own_ns(f, "generic"), own_ns_bch=own_ns(f, "bch"),
                     own_ns_bchcall=own_ns(f, "bchcall"),
                     speedup_raw=sp_raw, speedup_own=sp_own,
                     ir_harness=ir.get((f, "harness")),
                     **{f"ir_{v}": ir.get((f, v)) for v in V + ["bchcall"]},
                     **{f"own_ir_{v}": own_ir(f, v) for v in V + ["bchcall"]},
                     **{f"callee_ir_{v}": ir_callee.get((f, v)) for v in ["harness"] + V + ["bchcall"]},
                     x86_bytes_full=xs[0], x86_insns_full=xs[1], x86_bytes_pos=xs[2], x86_insns_pos=xs[3],
                     arm64_bytes_full=ar[0], arm64_insns_full=ar[1], arm64_bytes_pos=ar[2], arm64_insns_pos=ar[3],
                     compile_ns=compile_ns[f]))

L.append("")
L.append("details: own ns/key; bch-call ns/key (raw, own, JIT speedup on own); instructions the unpacker")
L.append("itself ran per key (callee: incl. wrapper, call excluded; for the JIT = emitted code executed)")
L.append(f"{'format':<10} | {'own ns: jit':>11} {'jitpos':>6} {'generic':>7} {'bch':>6} | "
         f"{'bch-call':>8} {'own':>5} {'jit x':>5} | "
         f"{'callee instr: jit':>17} {'jitpos':>6} {'generic':>7} {'bch':>6} | format")
for f in fmts:
    bc = ns[f].get("bchcall")
    L.append(f"{f:<10} | {own_ns(f, 'jit'):>11.2f} {own_ns(f, 'jitpos'):>6.2f} {own_ns(f, 'generic'):>7.2f} "
             f"{own_ns(f, 'bch'):>6.2f} | {fnum(bc, '8.2f')} {fnum(own_ns(f, 'bchcall'), '5.2f')} "
             f"{fnum(own_ns(f, 'bchcall') / own_ns(f, 'jit'), '4.1f')}x | "
             f"{fnum(ir_callee.get((f, 'jit')), '17.1f')} "
             f"{fnum(ir_callee.get((f, 'jitpos')), '6.1f')} {fnum(ir_callee.get((f, 'generic')), '7.1f')} "
             f"{fnum(ir_callee.get((f, 'bch')), '6.1f')} | {ftext[f]}")

L.append("")
L.append("plan ops per format (full unpack | position only):")
ops = ["header", "load", "extract", "masked", "funnel", "add", "add_imm64", "store", "store_imm"]
L.append(f"{'format':<10} | " + " ".join(f"{o:>9}" for o in ops))
for f in fmts:
    p, q = plan.get((f, "full"), {}), plan.get((f, "pos"), {})
    L.append(f"{f:<10} | " + " ".join(f"{str(p.get(o, '-')) + '|' + str(q.get(o, '-')):>9}" for o in ops))

# Constant blinding (issue 8): blinded code next to plain.
L.append("")
L.append("constant blinding: blinded (default) vs plain (--no-blind), JIT full unpack | position only")
L.append(f"{'format':<10} | {'own instr/key: blind':>20} {'plain':>6} {'+':>4} | {'pos: blind':>10} {'plain':>6} {'+':>4} | "
         f"{'ns/key: blind':>13} {'plain':>6} {'ratio':>6} | {'x86 bytes: blind':>16} {'plain':>9}")
blind_cost = {}
for f in fmts:
    bj, pj = own_ir(f, "jit"), own_ir(f, "jit-plain")
    bp, pp = own_ir(f, "jitpos"), own_ir(f, "jitpos-plain")
    nb, npl = ns[f]["jit"], ns_plain.get(f, {}).get("jit")
    xs, xp = x86(f), static_plain.get(f, [None] * 4)
    d = None if bj is None or pj is None else bj - pj
    dp = None if bp is None or pp is None else bp - pp
    r = None if npl is None else nb / npl
    blind_cost[f] = (d, dp, r)
    L.append(f"{f:<10} | {fnum(bj, '20.1f')} {fnum(pj, '6.1f')} {fnum(d, '+4.1f')} | "
             f"{fnum(bp, '10.1f')} {fnum(pp, '6.1f')} {fnum(dp, '+4.1f')} | "
             f"{nb:>13.2f} {fnum(npl, '6.2f')} {fnum(r, '5.2f')}x | "
             f"{fnum(xs[0], '7d')}/{fnum(xs[2], '<8d')} {fnum(xp[0], '4d')}/{fnum(xp[2], '<4d')}")
    rows[fmts.index(f)].update(own_ir_jit_plain=pj, own_ir_jitpos_plain=pp, ns_jit_plain=npl,
                               x86_bytes_full_plain=xp[0], x86_bytes_pos_plain=xp[2])

# bcachefs's old x86-64 emitter (issue 9 item 5): the JIT against it on
# every format it compiles correctly.
def insns_in(path):
    try:
        # objdump continues a long instruction's bytes on a line of its own
        return sum(1 for l in open(path)
                   if l.startswith(" ") and len(l.rstrip("\n").split("\t")) > 2)
    except OSError:
        return None

L.append("")
L.append("bcachefs's old x86-64 emitter (Linux 6.12 bkey.c bch2_compile_bkey_format, compiled out there; built")
L.append("from the fetched tree, output checked against bcachefs's generic unpack on every key), full unpack;")
L.append("JIT blinded (as the kernel runs it) and plain; own instr/key = callgrind minus the harness")
L.append(f"{'format':<10} | {'own instr/key: jit':>18} {'old':>6} {'ratio':>6} | {'plain':>6} {'ratio':>6} | "
         f"{'x86 bytes: jit':>14} {'old':>5} {'plain':>6} | {'insns: jit':>10} {'old':>4} | "
         f"{'ns: jit':>7} {'old':>6} | old emitter")
old_ok = []
for f in fmts:
    obytes, status = oldemit.get(f, (0, "not built"))
    bj, pj, oj = own_ir(f, "jit"), own_ir(f, "jit-plain"), own_ir(f, "old")
    xs, xp = x86(f), static_plain.get(f, [None] * 4)
    oins = insns_in(os.path.join(out, "code", f"{f}.old.x86.txt"))
    ok = status == "ok" and oj is not None and bj is not None
    if ok:
        old_ok.append(f)
    rb = bj / oj if ok and oj > 0 else None
    rp = pj / oj if ok and pj is not None and oj > 0 else None
    L.append(f"{f:<10} | {fnum(bj, '18.1f')} {fnum(oj if ok else None, '6.1f')} {fnum(rb, '5.2f')}x | "
             f"{fnum(pj, '6.1f')} {fnum(rp, '5.2f')}x | "
             f"{fnum(xs[0], '14d')} {fnum(obytes if ok else None, '5d')} {fnum(xp[0], '6d')} | "
             f"{fnum(xs[1], '10d')} {fnum(oins if ok else None, '4d')} | "
             f"{ns[f]['jit']:>7.2f} {fnum(ns[f].get('old') if ok else None, '6.2f')} | {status}")
    rows[fmts.index(f)].update(old_status=status, own_ir_old=oj if ok else None,
                               x86_bytes_old=obytes if ok else None, x86_insns_old=oins,
                               ns_old=ns[f].get("old"), jit_vs_old_ir=rb, jit_plain_vs_old_ir=rp)

# Targets of the issue: PASS/MISS, never a failure of the command.
L.append("")
L.append("targets:")
def verdict(ok):
    return "PASS" if ok else "MISS"
def worst(vals, key, hi=True):
    vals = [(key(f), f) for f in vals if key(f) is not None]
    return (max if hi else min)(vals) if vals else (None, "-")

T = []
w = worst(fmts, lambda f: own_ns(f, "bch") / own_ns(f, "jit"), hi=False)
T.append(("JIT >= 5x faster than bcachefs generic (own ns)", w[0] >= 5, f"min {w[0]:.1f}x ({w[1]})"))
w = worst(fmts, lambda f: ns[f]["bch"] / ns[f]["jit"], hi=False)
T.append(("  same, raw ns incl. walk + indirect call", w[0] >= 5, f"min {w[0]:.1f}x ({w[1]})"))
w = worst(fmts, lambda f: own_ns(f, "bchcall") / own_ns(f, "jit"), hi=False)
T.append(("  (reference: vs bch-call, own ns)", None, f"min {w[0]:.1f}x ({w[1]})"))
simple = [f for f in fmts if not straddles(f)]
strad = [f for f in fmts if straddles(f)]
if ir:
    w = worst(simple, lambda f: own_ir(f, "jit"))
    T.append(("JIT own instr/key <= 20 (no two-word field)", w[0] is not None and w[0] <= 20, f"max {fnum(w[0], '.1f')} ({w[1]})"))
    if strad:
        w = worst(strad, lambda f: own_ir(f, "jit"))
        T.append(("JIT own instr/key <= 30 (straddling: funnel)", w[0] is not None and w[0] <= 30, f"max {fnum(w[0], '.1f')} ({w[1]})"))
    w = worst(fmts, lambda f: own_ir(f, "jitpos"))
    T.append(("JIT pos own instr/key <= 12", w[0] is not None and w[0] <= 12, f"max {fnum(w[0], '.1f')} ({w[1]})"))
    w = worst(fmts, lambda f: ir_callee.get((f, "jit")))
    T.append(("  (for reference: JIT code executed/key, full)", None, f"max {fnum(w[0], '.1f')} ({w[1]})"))
    w = worst(fmts, lambda f: ir_callee.get((f, "jitpos")))
    T.append(("  (for reference: JIT code executed/key, pos)", None, f"max {fnum(w[0], '.1f')} ({w[1]})"))
typical = [f for f in fmts if not straddles(f) and f != "current"]
over = [f"{f} {x86(f)[0]}" for f in typical if x86(f)[0] is not None and x86(f)[0] > 64]
T.append(("typical code <= 64 bytes (x86-64 full unpack)", not over,
          "over: " + ", ".join(over) if over else f"max {max(x86(f)[0] for f in typical)}"))
over = [f"{f} {4 * arm(f)[1]}" for f in typical if arm(f)[1] is not None and 4 * arm(f)[1] > 64]
T.append(("typical code <= 64 bytes (arm64 full unpack)", not over,
          "over: " + ", ".join(over) if over else "ok"))
over = [f"{f} {x86(f)[2]}" for f in typical if x86(f)[2] is not None and x86(f)[2] > 64]
T.append(("  position only <= 64 bytes (x86-64)", not over, "over: " + ", ".join(over) if over else "all fit"))
w = worst(fmts, lambda f: ns[f]["generic"])
T.append(("our generic <= 5 ns/key (raw)", w[0] <= 5, f"max {w[0]:.2f} ns ({w[1]})"))
w = worst(fmts, lambda f: own_ns(f, "generic"))
T.append(("  same, own ns", w[0] <= 5, f"max {w[0]:.2f} ns ({w[1]})"))
w = worst(fmts, lambda f: compile_ns[f])
T.append(("compile (validate + plan + emit, both) < 2 us", w[0] < 2000, f"max {w[0]:.0f} ns ({w[1]})"))
realistic = [f for f in fmts if f not in ("straddle", "current")]
w = worst(realistic, lambda f: None if blind_cost[f][0] is None else max(blind_cost[f][0], blind_cost[f][1] or 0))
T.append(("blinding <= +2 own instr/key (realistic formats)", w[0] is not None and w[0] <= 2.05,
          f"max {fnum(w[0], '+.1f')} ({w[1]})"))
w = worst(realistic, lambda f: blind_cost[f][2])
T.append(("blinded JIT within 1.1x of plain ns/key (realistic)", w[0] is not None and w[0] <= 1.1,
          f"max {fnum(w[0], '.2f')}x ({w[1]})"))
realistic_old = [f for f in old_ok if f != "current"]
left_out = [f for f in fmts if f != "current" and f not in old_ok]
w = worst(realistic_old, lambda f: own_ir(f, "jit") / own_ir(f, "old"))
if realistic_old:
    T.append(("JIT own instr/key <= 0.8x old emitter (realistic)", w[0] is not None and w[0] <= 0.8,
              f"max {fnum(w[0], '.2f')}x ({w[1]}), {len(realistic_old)} formats"
              + (f"; left out: {', '.join(left_out)}" if left_out else "")))
else:
    T.append(("JIT vs bcachefs's old x86-64 emitter", None,
              "not measured: " + "; ".join(sorted({oldemit.get(f, (0, "not built"))[1]
                                                   for f in fmts}))))
over = [f"{f} {x86(f)[0]}/{oldemit[f][0]}" for f in realistic_old if x86(f)[0] > oldemit[f][0]]
if realistic_old:
    T.append(("JIT x86 bytes <= old emitter's (realistic)", not over,
              "larger: " + ", ".join(over) if over else
              f"max {max(x86(f)[0] - oldemit[f][0] for f in realistic_old):+d} bytes"))
for name, ok, detail in T:
    L.append(f"  {name:<50} {'' if ok is None else verdict(ok):<5} {detail}")

text = "\n".join(L) + "\n"
open(os.path.join(out, "results.txt"), "w").write(text)
print(text, end="")

with open(os.path.join(out, "results.csv"), "w", newline="") as fp:
    wr = csv.DictWriter(fp, fieldnames=list(rows[0].keys()))
    wr.writeheader()
    for r in rows:
        wr.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})

with open(os.path.join(out, "ns_per_key.dat"), "w") as fp:
    fp.write("# format jit jitpos generic bch harness\n")
    for f in fmts:
        fp.write(f"{f} " + " ".join(f"{ns[f][v]:.3f}" for v in V + ["harness"]) + "\n")
open(os.path.join(out, "harness_ns"), "w").write(f"{harness_ns[len(harness_ns) // 2]:.3f}\n")

EOF
python3 -c "$REPORT_PY" "$OUT"

# The cache at scale, appended to the report.
read -r -d '' SCALE_PY <<'EOF' || true
import os, sys

out = sys.argv[1]
rows, ok = [], False
for line in open(os.path.join(out, "scale.csv")):
    r = line.strip().split(",")
    if r[0] == "scale":
        rows.append(dict(n=int(r[1]), hit=float(r[2]), miss=float(r[3]), get=float(r[4]),
                         put=float(r[5]), fill=float(r[6]), no_code=int(r[7]),
                         exec=int(r[8]), used=int(r[9]), code=int(r[10]),
                         hot=float(r[11]), load=float(r[12])))
    elif r[0] == "scale-ok":
        ok = True
if not rows or not ok:
    sys.exit("bench-user: bench --scale failed")

L = ["", "cache at scale: N live formats, one unpacker each (thread CPU time, pinned)",
     "hit = get + put of a live format, random order, median of up to 21 batches of 500; hot = the same,",
     "cycling through 64 formats; load = one dependent load from a random live unpacker (the memory floor);",
     "miss = get of a new format (validate, compile, publish) + its put (free), median of 20 batches of 50;",
     "fill = mean get while filling to N; exec = executable bytes held, code = sum of code lengths"]
hdr = (f"{'live':>7} | {'hit ns':>8} {'hot ns':>7} {'load ns':>7} | {'miss us':>8} {'get us':>7} {'put us':>7} | {'fill us':>7} | "
       f"{'exec KiB':>9} {'used KiB':>9} {'code KiB':>9} | {'exec/code':>9}")
L += [hdr, "-" * len(hdr)]
for r in rows:
    L.append(f"{r['n']:>7} | {r['hit']:>8.1f} {r['hot']:>7.1f} {r['load']:>7.1f} | {r['miss'] / 1000:>8.2f} {r['get'] / 1000:>7.2f} "
             f"{r['put'] / 1000:>7.2f} | {r['fill'] / 1000:>7.2f} | {r['exec'] / 1024:>9.0f} "
             f"{r['used'] / 1024:>9.0f} {r['code'] / 1024:>9.0f} | {r['exec'] / max(r['code'], 1):>9.2f}")
no_code = sum(r["no_code"] for r in rows)
if no_code:
    L.append(f"(warning: {no_code} unpackers got no code: the generic unpack was timed for them)")
worst_hit = max(rows, key=lambda r: r["hit"])
worst_miss = max(rows, key=lambda r: r["miss"])
big = max(rows, key=lambda r: r["n"])
ratio = big["exec"] / max(big["code"], 1)
worst_hot = max(rows, key=lambda r: r["hot"])
T = [("cache hit (get + put) <= 100 ns at every size", worst_hit["hit"] <= 100,
      f"max {worst_hit['hit']:.0f} ns ({worst_hit['n']} live; one random load there: "
      f"{worst_hit['load']:.0f} ns)"),
     ("  same, formats in the CPU caches (hot)", worst_hot["hot"] <= 100,
      f"max {worst_hot['hot']:.0f} ns ({worst_hot['n']} live)"),
     ("cache miss (compile + publish, + put) <= 5 us", worst_miss["miss"] <= 5000,
      f"max {worst_miss['miss'] / 1000:.2f} us ({worst_miss['n']} live)"),
     (f"executable bytes <= 1.25 x code bytes at {big['n']}", ratio <= 1.25, f"{ratio:.2f}x")]
L.append("targets:")
for name, good, detail in T:
    L.append(f"  {name:<50} {'PASS' if good else 'MISS':<5} {detail}")
text = "\n".join(L) + "\n"
open(os.path.join(out, "results.txt"), "a").write(text)
open(os.path.join(out, "scale.txt"), "w").write(text.lstrip("\n"))
print(text, end="")
EOF
python3 -c "$SCALE_PY" "$OUT"

# The packed-key compare (bkey_jit_cmp_packed()): own instructions per
# compare under callgrind, each key of a node against the next, the JIT
# against our generic C and 6.12's __bkey_cmp_bits() (x86-64 asm there).
cmp_one() {
	local fmt=$1 mode=$2 base=$OUT/callgrind/cmp.$1.$2

	valgrind --tool=callgrind --collect-atstart=no \
		--toggle-collect=bench_cmp_walk --smc-check=all-non-file \
		--callgrind-out-file="$base.cg" \
		"$NATIVE" --callgrind-cmp "$mode" "$fmt" > "$base.out" 2> "$base.log" ||
		{ echo "cmp,$fmt,$mode,0,0"; return; }
	echo "cmp,$fmt,$mode,$(sed -n 's/^keys,//p' "$base.out"),$(awk '/^totals:/ { print $2 }' "$base.cg")"
}
export -f cmp_one
if command -v valgrind >/dev/null; then
	echo "bench-user: instructions per compare under callgrind ..." >&2
	for fmt in $("$NATIVE" --list); do
		for m in harness jit generic bch bchcall; do
			echo "$fmt $m"
		done
	done | xargs -P "$NCPU" -n 2 bash -c 'cmp_one "$@"' _ > "$OUT/cmp.csv"
	# the compare's code size and compile time; arm64's size under qemu
	for fmt in $("$NATIVE" --list); do
		"$NATIVE" --cmp-static "$fmt" || true
		if command -v qemu-aarch64-static >/dev/null; then
			qemu-aarch64-static "$ARM64" --cmp-static "$fmt" || true
		fi
	done >> "$OUT/cmp.csv"
	python3 - "$OUT" <<'EOF'
import os, sys
out = sys.argv[1]
ir, st = {}, {}
for line in open(os.path.join(out, "cmp.csv")):
    r = line.strip().split(",")
    if r[0] == "cmpstatic":
        st[(r[1], r[2])] = (int(r[3]), int(r[4]), float(r[5]))
        continue
    _, fmt, mode, n, total = r
    ir.setdefault(fmt, {})[mode] = (int(n), int(total))
M = ("jit", "generic", "bch", "bchcall")
L = ["", "packed-key compare (each key of a node against the next), instructions per compare",
     "under callgrind; own = minus the harness (the loop and a 4-instruction compare);",
     "6.12 = __bkey_cmp_bits() inlined (bkey_sort.c), 6.12 call = one call further (bkey.c):",
     "x86 bytes/insns and arm64 insns: the whole compare function (both exits);",
     "compile ns: plan, blind, size and emit the compare alone (x86-64):",
     f"  {'format':<12} {'harness':>8} {'jit':>6} {'generic':>8} {'6.12':>6} {'6.12 call':>10}"
     f" {'jit/6.12':>9} {'generic/6.12 call':>18} {'x86 bytes/insns':>16}"
     f" {'arm64 insns':>12} {'compile ns':>11}"]
for fmt in sorted(ir, key=list(ir).index):
    m = ir[fmt]
    if not all(k in m and m[k][0] for k in ("harness",) + M):
        L.append(f"  {fmt:<12} (a run failed)")
        continue
    h = m["harness"][1] / m["harness"][0]
    own = {k: m[k][1] / m[k][0] - h for k in M}
    x86 = st.get((fmt, "x86-64"))
    a64 = st.get((fmt, "arm64"))
    L.append(f"  {fmt:<12} {h:8.2f} {own['jit']:6.2f} {own['generic']:8.2f} {own['bch']:6.2f}"
             f" {own['bchcall']:10.2f} {own['jit'] / own['bch']:8.2f}x"
             f" {own['generic'] / own['bchcall']:17.2f}x"
             f" {(f'{x86[0]}/{x86[1]}' if x86 else '-'):>16}"
             f" {(str(a64[1]) if a64 else '-'):>12} {(f'{x86[2]:.0f}' if x86 else '-'):>11}")
text = "\n".join(L) + "\n"
open(os.path.join(out, "results.txt"), "a").write(text)
print(text, end="")
EOF
fi

# Compile cost: instructions per new format under callgrind (plan, blind,
# size, allocate, final pass, copy and publish of its three functions),
# the userspace side of make bench-kernel's compile_ns_avg.
if command -v valgrind >/dev/null; then
	cg=$OUT/callgrind/compile
	if valgrind --tool=callgrind --collect-atstart=no \
		--toggle-collect=bkey_jit_compile --smc-check=all-non-file \
		--callgrind-out-file="$cg.cg" "$NATIVE" --callgrind-compile 1000 \
		> "$cg.out" 2> "$cg.log"; then
		n=$(sed -n 's/^compiles,//p' "$cg.out")
		t=$(awk '/^totals:/ { print $2 }' "$cg.cg")
		printf '\ncompile, native backend: %d instructions per format (callgrind, %d formats, three functions each, blinded)\n' \
			$((t / n)) "$n" | tee -a "$OUT/results.txt"
	else
		echo "bench-user: callgrind compile run failed (see $cg.log)" >&2
	fi
fi

# The plot: pngcairo, else gnuplot's libgd png, else the hand-written PNG.
plot() {
	gnuplot -e "datafile='$OUT/ns_per_key.dat'; outfile='$OUT/ns_per_key.png'; harness=$(cat "$OUT/harness_ns"); term='$1'" \
		scripts/bench-plot.gp 2> "$OUT/gnuplot.log"
}
if command -v gnuplot >/dev/null && { plot pngcairo || plot png; } &&
   [ -s "$OUT/ns_per_key.png" ]; then
	:
else
	echo "bench-user: gnuplot failed (see $OUT/gnuplot.log), plain PNG instead" >&2
	BENCH_PNG_FALLBACK=1 python3 -c "$REPORT_PY" "$OUT"
fi
echo "bench-user: $OUT/results.txt $OUT/results.csv $OUT/ns_per_key.png" >&2
