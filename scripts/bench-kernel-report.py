#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench-kernel's report: the phase table, the plot, the profile.

usage: bench-kernel-report.py --out DIR [--map KERNEL=System.map]...
                              [--no-plot]

DIR is build/bench-kernel: results.csv (config,run,phase,busy_ns,...),
prof/CONFIG/RUN/PHASE.gz (/proc/profile per phase, from the guest),
inkernel.txt and stats-CONFIG.txt. KERNEL is "bench" (the patched tree,
configs off/on/ebpf/cap) or "stock". Writes results.txt, bench-kernel.dat,
bench-kernel.png, profile.txt in DIR; prints the report on stdout.
"""
import argparse
import collections
import csv
import gzip
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile

CONFIG_ORDER = ["stock", "off", "on", "ebpf", "cap"]
CONFIG_TITLE = {
    "stock": "stock 6.12",
    "off": "patched, mode off",
    "on": "patched, mode on",
    "ebpf": "patched, on, eBPF",
    "cap": "patched, on, capped",
}
# Per-format work, by kernel function name, first match wins (bkey
# unpacking only: bch2_inode_unpack decodes an inode's varints). Ticks in
# the JIT code or the BPF programs are not in the profile at all (6.12's
# profile drops PCs outside _stext.._etext): JIT is their estimate.
CATEGORIES = [
    ("unpack", re.compile(r"bkey_unpack|unpack_key|unpack_pos|bkey_jit_unpack|^\[JIT")),
    ("packed compare", re.compile(r"bkey_cmp.*packed|cmp_left_packed|cmp_p_or_unp|bkey_jit_cmp")),
    ("pack pos/key", re.compile(r"bkey_pack")),
    ("bset search", re.compile(
        r"bset_search|search_tree|search_write_set|bkey_to_cacheline|"
        r"bfloat|bset_tree|btree_node_iter_(init|seek|advance|peek|prev)|"
        r"__bch2_btree_node_iter|bch2_bset_fix|ro_aux|rw_aux|eytzinger")),
    ("repack (transform, sort_repack)", re.compile(r"bkey_transform|sort_repack")),
    ("bkey-jit compile/cache", re.compile(r"^bkey_jit_|^vmalloc_exec|bkey_format_validate")),
]
OUTSIDE = "[JIT/BPF code, estimated: kernel ticks - profile samples]"
HZ, USER_HZ = 250, 100
IDLE = re.compile(r"^(mwait_idle|default_idle|default_idle_call|cpu_idle_poll|"
                  r"arch_cpu_idle|poll_idle|native_safe_halt|pv_native_safe_halt|"
                  r"amd_e400_idle|acpi_idle_.*|acpi_safe_halt|intel_idle.*)$")


def mi(ns):
    return ns / 1e6


def load_results(path):
    data = collections.defaultdict(lambda: collections.defaultdict(list))
    phases = []
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["phase"] not in phases:
                phases.append(row["phase"])
            data[row["config"]][row["phase"]].append(int(row["busy_ns"]))
    configs = [c for c in CONFIG_ORDER if c in data]
    return data, phases, configs


def cell(vals):
    if not vals:
        return None, None
    m = statistics.mean(vals)
    spread = (max(vals) - min(vals)) / m * 100 if m else 0.0
    return m, spread


def fmt_m(m):
    if m is None:
        return "-"
    return "%.0f" % mi(m) if mi(m) >= 100 else "%.1f" % mi(m)


def table(data, phases, configs):
    lines = []
    rel = [c for c in ("on", "off", "ebpf", "cap") if c in configs and "stock" in configs]
    head = ["phase"] + ["%s (spread)" % CONFIG_TITLE[c] for c in configs]
    head += ["%s vs stock" % c for c in rel]
    rows = []
    totals = {c: [] for c in configs}
    nruns = {c: min(len(data[c][p]) for p in phases if data[c][p]) for c in configs}
    dat = []
    for p in phases + ["total"]:
        r = [p]
        means = {}
        for c in configs:
            if p == "total":
                # per run: sum over phases, then mean and spread of the sums
                runs = [sum(data[c][q][i] for q in phases if len(data[c][q]) > i)
                        for i in range(nruns[c])]
                m, s = cell(runs)
            else:
                m, s = cell(data[c][p])
            means[c] = m
            r.append("-" if m is None else "%s (%.1f%%)" % (fmt_m(m), s))
        for c in rel:
            a, b = means.get(c), means.get("stock")
            r.append("-" if not a or not b else "%+.1f%%" % ((a - b) / b * 100))
        rows.append(r)
        dat.append((p, means))
    widths = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
    lines.append("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(x.rjust(w) if i else x.ljust(w)
                               for i, (x, w) in enumerate(zip(r, widths))))
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    return lines, md, dat, nruns


def write_plot(out, dat, configs):
    datf = os.path.join(out, "bench-kernel.dat")
    with open(datf, "w") as f:
        f.write("# phase " + " ".join(CONFIG_ORDER) + " off% on% ebpf% cap% (M guest instructions; %% vs stock)\n")
        for p, means in dat:
            if p == "total":
                continue
            vals = ["%.3f" % mi(means[c]) if means.get(c) else "?" for c in CONFIG_ORDER]
            st = means.get("stock")
            pct = ["%.3f" % ((means[c] - st) / st * 100) if means.get(c) and st else "?"
                   for c in ("off", "on", "ebpf", "cap")]
            f.write(" ".join([p] + vals + pct) + "\n")
    png = os.path.join(out, "bench-kernel.png")
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-kernel-plot.gp")
    term = "pngcairo"
    probe = subprocess.run(["gnuplot", "-e", "set terminal pngcairo"],
                           capture_output=True, text=True)
    if probe.returncode != 0 or probe.stderr.strip():
        term = "png"
    r = subprocess.run(["gnuplot", "-e", "datafile='%s'; outfile='%s'; term='%s'" % (datf, png, term), gp],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        return None
    return png


# ---- profile ----

def read_prof(path):
    """(header bytes, {slot: count}, number of slots) of one /proc/profile."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    head, body = data[:4], memoryview(data)[4:]
    nslots = len(body) // 4
    counts = {}
    for m in re.finditer(rb"[^\x00]", body):
        i = m.start() // 4
        if i not in counts:
            counts[i] = struct.unpack_from("<I", body, i * 4)[0]
    return head, counts, nslots


def decode(head, counts, nslots, sysmap):
    """{function: samples} through readprofile, the last slot apart."""
    buf = bytearray(4 + nslots * 4)
    buf[:4] = head
    for i, v in counts.items():
        struct.pack_into("<I", buf, 4 + i * 4, v)
    with tempfile.NamedTemporaryFile(suffix=".prof", delete=False) as t:
        t.write(buf)
        name = t.name
    try:
        r = subprocess.run(["readprofile", "-n", "-p", name, "-m", sysmap],
                           capture_output=True, text=True, check=True)
    finally:
        os.unlink(name)
    funcs = {}
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0].isdigit() and int(f[0]) and f[1] != "total":
            funcs[f[1]] = funcs.get(f[1], 0) + int(f[0])
    return funcs


def kernel_ticks(path):
    """Kernel-mode ticks (system + irq + softirq) between the two
    /proc/stat cpu lines saved around a phase, or None."""
    try:
        a = [int(x) for x in open(path + ".stat.before").read().split()[1:8]]
        b = [int(x) for x in open(path + ".stat.after").read().split()[1:8]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq, in USER_HZ
    return sum(b[i] - a[i] for i in (2, 5, 6)) * HZ / USER_HZ


def split_idle(funcs):
    """(busy functions, idle samples): the idle loop's samples follow the
    host's real time (the vCPU halted), not instructions."""
    busy, idle = {}, 0
    for fn, n in funcs.items():
        if IDLE.match(fn):
            idle += n
        else:
            busy[fn] = n
    return busy, idle


def merge(dst, src):
    for k, v in src.items():
        dst[k] = dst.get(k, 0) + v


def categorize(funcs):
    cats = collections.OrderedDict((c, 0) for c, _ in CATEGORIES)
    members = collections.defaultdict(list)
    for fn, n in funcs.items():
        for c, rx in CATEGORIES:
            if rx.search(fn):
                cats[c] += n
                members[c].append((n, fn))
                break
    return cats, members


def profile(out, maps, configs, phases):
    lines = []
    base = os.path.join(out, "prof")
    if not os.path.isdir(base):
        return lines
    per_phase = {}
    ticks = {}
    shift = 0
    for c in configs:
        sysmap = maps.get("stock" if c == "stock" else "bench")
        cdir = os.path.join(base, c)
        if not sysmap or not os.path.isdir(cdir):
            continue
        # sum the raw buffers over runs, per phase, then decode once
        acc = {}
        kt = 0.0
        for run in sorted(os.listdir(cdir)):
            for p in phases:
                f = os.path.join(cdir, run, p)
                if not os.path.exists(f + ".after.gz"):
                    continue
                kt += kernel_ticks(f) or 0.0
                head, after, n = read_prof(f + ".after.gz")
                _, before, _ = read_prof(f + ".before.gz")
                h, a, _ = acc.setdefault(p, (head, {}, n))
                for i, v in after.items():
                    d = v - before.get(i, 0)
                    if d > 0:
                        a[i] = a.get(i, 0) + d
        if acc:
            step = struct.unpack("<I", next(iter(acc.values()))[0])[0]
            shift = step.bit_length() - 1
        per_phase[c] = {p: split_idle(decode(h, a, n, sysmap)) for p, (h, a, n) in acc.items()}
        ticks[c] = kt

    lines.append("Kernel profile (profile=%d: one sample per timer tick, 250 Hz = every 4M guest" % shift)
    lines.append("instructions under icount, kernel mode only; all runs and phases summed;")
    lines.append("each phase's profile is /proc/profile after it minus before it).")
    lines.append("6.12's profile drops ticks whose PC is outside the kernel text (_stext.._etext),")
    lines.append("i.e. in the JIT code and the BPF programs; '%s'" % OUTSIDE)
    lines.append("would be kernel-mode ticks from /proc/stat minus the samples the profile kept,")
    lines.append("but /proc/stat has 10 ms resolution per phase and its window misses part of the")
    lines.append("profile reads around each phase (~1 tick each): stock, with no JIT code, shows")
    lines.append("the error, which is larger than the JIT code's own ticks; it is added only if > 0.")
    for c in configs:
        if c not in per_phase:
            continue
        tot, idle = {}, 0
        for p in phases:
            fs, i = per_phase[c].get(p, ({}, 0))
            merge(tot, fs)
            idle += i
        inside = sum(tot.values())
        # the ticks the profile dropped: kernel-mode ticks (/proc/stat,
        # 10 ms resolution per phase) minus the samples it kept
        est = round(ticks.get(c, 0) - inside)
        if est > 0:
            tot[OUTSIDE] = est
        lines.append("")
        lines.append("%s: kernel-mode ticks (/proc/stat) %.0f, profile samples %d (+%d idle), "
                     "difference %d" % (CONFIG_TITLE[c], ticks.get(c, 0), inside, idle, est))
        n = sum(tot.values())
        if not n:
            continue
        lines.append("")
        lines.append("== %s: %d kernel samples (%d more in the idle loop, left out), top 25 =="
                     % (CONFIG_TITLE[c], n, idle))
        for fn, v in sorted(tot.items(), key=lambda x: -x[1])[:25]:
            lines.append("  %6d  %5.1f%%  %s" % (v, v * 100.0 / n, fn))
        cats, members = categorize(tot)
        lines.append("  per-format work (share of kernel samples):")
        for cat, v in cats.items():
            top = ", ".join("%s %d" % (fn, k) for k, fn in sorted(members[cat], reverse=True)[:6])
            lines.append("    %-34s %6d  %5.1f%%  %s" % (cat, v, v * 100.0 / n, top))
        s = sum(v for k, v in cats.items() if k != "bkey-jit compile/cache")
        lines.append("    %-34s %6d  %5.1f%%" % ("all per-format (w/o compile)", s, s * 100.0 / n))
    for c in ("stock", "on"):
        if c not in per_phase:
            continue
        lines.append("")
        lines.append("== %s: top 6 per phase (samples, %% of the phase's kernel samples) ==" % CONFIG_TITLE[c])
        for p in phases:
            fs = per_phase[c].get(p, ({}, 0))[0]
            n = sum(fs.values())
            if not n:
                continue
            cats, _ = categorize(fs)
            top = "; ".join("%s %.0f%%" % (fn, v * 100.0 / n)
                            for fn, v in sorted(fs.items(), key=lambda x: -x[1])[:6])
            lines.append("  %-11s %5d  %s" % (p, n, top))
            lines.append("  %-11s %5s  per-format: %s" % ("", "", ", ".join(
                "%s %.1f%%" % (k, v * 100.0 / n) for k, v in cats.items() if v)))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--map", action="append", default=[])
    ap.add_argument("--no-plot", action="store_true")
    a = ap.parse_args()
    maps = dict(m.split("=", 1) for m in a.map)

    data, phases, configs = load_results(os.path.join(a.out, "results.csv"))
    if not configs:
        print("bench-kernel: no results")
        return 1
    lines, md, dat, nruns = table(data, phases, configs)
    rep = ["bench-kernel: busy guest instructions per phase, millions (qemu -icount shift=0,",
           "1 vCPU; busy = guest clock minus idle/iowait time), mean of %s runs;" %
           ", ".join("%s %d" % (c, nruns[c]) for c in configs),
           "spread = (max - min) / mean over the runs.", ""]
    rep += lines + ["", "markdown:"] + md
    with open(os.path.join(a.out, "results.txt"), "w") as f:
        f.write("\n".join(rep) + "\n")
    print("\n".join(rep))

    if a.no_plot:
        pass
    elif "stock" in configs and len(configs) > 1:
        png = write_plot(a.out, dat, configs)
        print("\nplot: %s" % (png or "FAILED"))
    else:
        print("\nplot: skipped (needs stock and another config)")

    for name, title in (("inkernel.txt", "In-kernel debugfs bkey_jit/bench under icount (ns = guest instructions per key, incl. the loop)"),):
        p = os.path.join(a.out, name)
        if os.path.exists(p) and os.path.getsize(p):
            print("\n" + title + ":")
            print(open(p).read().rstrip())
    for c in configs:
        p = os.path.join(a.out, "stats-%s.txt" % c)
        if not os.path.exists(p):
            continue
        st = dict(l.split(None, 1) for l in open(p) if len(l.split(None, 1)) == 2)
        if "compiles" in st:
            print("\nbkey_jit/stats after the workload (%s, run 1): backend %s, compiles %s, "
                  "compile_ns_avg %s (= guest instructions per compile under icount), "
                  "code_bytes %s, generic_unpacks %s" % (
                      c, st.get("backend", "?").strip(), st["compiles"].strip(),
                      st.get("compile_ns_avg", "?").strip(), st.get("code_bytes", "?").strip(),
                      st.get("generic_unpacks", "?").strip()))

    prof = profile(a.out, maps, configs, phases)
    if prof:
        with open(os.path.join(a.out, "profile.txt"), "w") as f:
            f.write("\n".join(prof) + "\n")
        print("")
        print("\n".join(prof))
    return 0


if __name__ == "__main__":
    sys.exit(main())
