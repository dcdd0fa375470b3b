#!/usr/bin/env bash
# Draws the training curves of a --metrics-csv file to PNG with gnuplot: training loss and
# test accuracy against the step.      scripts/plot_metrics.sh METRICS.csv [OUT.png]
set -euo pipefail
csv=${1:?usage: plot_metrics.sh METRICS.csv [OUT.png]}
out=${2:-${csv%.csv}.png}
[ -f "$csv" ] || { echo "plot_metrics.sh: no such file: $csv" >&2; exit 1; }
command -v gnuplot >/dev/null || { . "$(dirname "$0")/lib.sh"; apt_install gnuplot-nox; }
# Columns: step,epoch,loss,learning_rate,images_per_sec,test_accuracy,test_loss,staleness
gnuplot <<GP
set terminal pngcairo size 1100,450 font "sans,10"
set output "$out"
set datafile separator ","
set key autotitle columnhead
set multiplot layout 1,2 title "dtrain: $(basename "$csv")"
set xlabel "step"
set ylabel "training loss"
set logscale y
set grid
plot "$csv" using 1:(strcol(3) eq "" ? NaN : \$3) with lines lw 2 lc rgb "#1f77b4" title "loss (mean over the summary window)"
unset logscale y
set ylabel "test accuracy (%)"
set yrange [*:100]
plot "$csv" using 1:(strcol(6) eq "" ? NaN : 100*\$6) with linespoints pt 7 ps 0.6 lw 2 lc rgb "#d62728" title "test accuracy"
unset multiplot
GP
echo "wrote $out"
