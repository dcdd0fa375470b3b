#!/usr/bin/env bash
# Draws a --timeline file without a browser: one row per rank and lane, a few steps, spans
# coloured by phase (gnuplot, as the other plots).
#   scripts/plot_timeline.sh TRACE.json OUT.png [FIRST_STEP] [STEPS]
set -euo pipefail
trace=$1 out=$2 first=${3:-10} count=${4:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$trace" "$tmp" "$first" "$count" <<'PY'
import json, sys
trace, tmp, first, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ev = json.load(open(trace))["traceEvents"]
procs = {e["pid"]: e["args"]["name"] for e in ev if e.get("ph") == "M" and e["name"] == "process_name"}
lanes = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev if e.get("ph") == "M" and e["name"] == "thread_name"}
spans = [e for e in ev if e.get("ph") == "X"]
# The window: the chosen steps of the lowest-ranked worker.
steps = sorted((e for e in spans if e["name"] == "step"), key=lambda e: (e["pid"], e["args"]["step"]))
pid0 = steps[0]["pid"]
window = [e for e in steps if e["pid"] == pid0 and first <= e["args"]["step"] < first + count]
if not window:
    window = [e for e in steps if e["pid"] == pid0][:count]
t0, t1 = window[0]["ts"], window[-1]["ts"] + window[-1]["dur"]
colors = {"step": "#dddddd", "data": "#8dd3c7", "compute": "#80b1d3", "layer": "#bebada",
          "exchange": "#fdb462", "wait": "#fb8072", "server": "#b3de69", "io": "#fccde5",
          "eval": "#ffffb3"}
rows = sorted({(e["pid"], e["tid"]) for e in spans if e["ts"] < t1 and e["ts"] + e["dur"] > t0})
depth = {}
with open(f"{tmp}/plot.gp", "w") as g:
    g.write('set terminal pngcairo noenhanced size 1400,%d font "sans,9"\n' % (160 + 45 * len(rows)))
    g.write(f'set output "{sys.argv[2]}/out.png"\nset xlabel "ms"\nset yrange [-0.5:{len(rows) - 0.5}]\n')
    g.write(f'set xrange [0:{(t1 - t0) / 1e3:.3f}]\nunset key\nset grid xtics\n')
    g.write("set ytics (" + ", ".join(f'"{procs.get(p, p)} / {lanes.get((p, t), t)}" {i}' for i, (p, t) in enumerate(rows)) + ")\n")
    g.write(f'set title "{trace}: steps {window[0]["args"]["step"]}-{window[-1]["args"]["step"]} of rank {pid0}, spans by phase"\n')
    n = 0
    for i, (p, t) in enumerate(rows):
        lane = sorted((e for e in spans if (e["pid"], e["tid"]) == (p, t) and e["ts"] < t1 and e["ts"] + e["dur"] > t0),
                      key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in lane:
            while stack and e["ts"] >= stack[-1]:
                stack.pop()
            d = len(stack)
            stack.append(e["ts"] + e["dur"])
            h = max(0.1, 0.4 - 0.08 * d)
            x0, x1 = (max(e["ts"], t0) - t0) / 1e3, (min(e["ts"] + e["dur"], t1) - t0) / 1e3
            n += 1
            g.write(f'set object {n} rect from {x0:.3f},{i - h} to {x1:.3f},{i + h} '
                    f'fc rgb "{colors.get(e["cat"], "#999999")}" fs solid 0.9 border lc rgb "#555555"\n')
    g.write("set key outside right top box\nset style fill solid 0.9\n")
    g.write("plot " + ", ".join(f'NaN with boxes fc rgb "{c}" title "{cat}"' for cat, c in colors.items()) + "\n")
PY
gnuplot "$tmp/plot.gp"
mv "$tmp/out.png" "$out"
echo "timeline plot: $out"
