# Time against archive size, from the data file scripts/bench.sh writes.
# gnuplot -e "datafile='plot.dat'; ncols=8; outfile='docs/bench.png'" scripts/bench-plot.gnuplot
# Column 1 is the archive size in GB, columns 2..ncols the median seconds of each command; the
# first line holds the quoted column titles.
if (!exists("datafile")) datafile = 'plot.dat'
if (!exists("outfile")) outfile = 'bench.png'
if (!exists("ncols")) ncols = 8

set terminal pngcairo size 960,600 font "DejaVu Sans,11" noenhanced
set output outfile
set title "ocislim filter vs the alternatives: median time against archive size (warm cache, 2 cores)"
set xlabel "archive size (GB)" offset 0,0.6
set bmargin 9
set ylabel "median time (s, log scale)"
set logscale y
set format y "%g"
set grid xtics ytics mytics
set key below horizontal maxrows 3 width 2
set xrange [0:*]
set style data linespoints
# Distinct colours: ocislim in blues/teal/purple, the others warm or grey.
set linetype 1 lc rgb "#1f4e9e" pt 7
set linetype 2 lc rgb "#4d8fe0" pt 5
set linetype 3 lc rgb "#17becf" pt 9
set linetype 4 lc rgb "#8c8c8c" pt 11
set linetype 5 lc rgb "#d62728" pt 13
set linetype 6 lc rgb "#555555" pt 4 dt 2
set linetype 7 lc rgb "#ff7f0e" pt 6
set linetype 8 lc rgb "#6a3d9a" pt 8
set linetype 9 lc rgb "#8c564b" pt 10
set pointsize 1.2
plot for [i=2:ncols] datafile using 1:i title columnhead(i) lw 2
