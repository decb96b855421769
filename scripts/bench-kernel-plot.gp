# SPDX-License-Identifier: GPL-2.0
# make bench-kernel: guest instructions per phase and configuration, and
# the change against stock 6.12, for scripts/bench-kernel-report.py.
# usage: gnuplot -e "datafile='...'; outfile='...'; term='pngcairo'" scripts/bench-kernel-plot.gp
# datafile columns: phase stock off on ebpf off% on% ebpf% ("?" = not run)

if (!exists("term")) term = "pngcairo"
if (term eq "pngcairo") {
	set terminal pngcairo size 1200,900 noenhanced font "sans,10"
} else {
	set terminal png size 1200,900 noenhanced
}
set output outfile
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside top center horizontal
set xtics rotate by -30

set multiplot layout 2,1
set title "bcachefs metadata workload, x86-64, qemu -icount shift=0 (1 ns = 1 guest instruction): busy guest instructions per phase"
set ylabel "millions of guest instructions (log)"
set logscale y
set yrange [*:*]
plot datafile using 2:xtic(1) title "stock 6.12" lc rgb "#d95f02", \
     '' using 3 title "patched, mode off" lc rgb "#7570b3", \
     '' using 4 title "patched, mode on (native)" lc rgb "#1b9e77", \
     '' using 5 title "patched, mode on, eBPF backend" lc rgb "#66a61e", \
     '' using 6 title "patched, mode on, code capped (generic C)" lc rgb "#e6ab02"

unset logscale y
set title "change against stock 6.12 (negative: fewer instructions)"
set ylabel "% vs stock"
set yrange [*:*]
set xzeroaxis lt -1
plot datafile using 7:xtic(1) title "mode off" lc rgb "#7570b3", \
     '' using 8 title "mode on (native)" lc rgb "#1b9e77", \
     '' using 9 title "mode on, eBPF" lc rgb "#66a61e", \
     '' using 10 title "mode on, capped" lc rgb "#e6ab02"
unset multiplot
