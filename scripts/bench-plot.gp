# SPDX-License-Identifier: GPL-2.0
# ns/key per format, grouped bars, for scripts/bench-user.sh.
# usage: gnuplot -e "datafile='...'; outfile='...'; harness=1.7; term='pngcairo'" scripts/bench-plot.gp
# datafile columns: format jit jitpos generic bch

if (!exists("term")) term = "pngcairo"
if (term eq "pngcairo") {
	set terminal pngcairo size 1100,560 noenhanced font "sans,10"
} else {
	set terminal png size 1100,560 noenhanced
}
set output outfile

set title "bkey unpack, ns per key (median of 15 runs, 4096-key walk, indirect call, pinned)"
set ylabel "ns / key"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set yrange [0:*]
set key top left

# The dashed line is the walk + indirect call alone: every bar includes it.
plot datafile using 2:xtic(1) title "JIT" lc rgb "#1b9e77", \
     '' using 3 title "JIT position only" lc rgb "#66c2a5", \
     '' using 4 title "generic C (bkey_jit_unpack_generic)" lc rgb "#7570b3", \
     '' using 5 title "bcachefs 6.12 generic" lc rgb "#d95f02", \
     harness with lines dt 2 lw 2 lc rgb "#444444" title sprintf("harness alone (%.2f ns)", harness)
