"""bench_auto.sh: auto against every static configuration, per cell (hosts, link, mode)."""
import statistics
from collections import Counter, defaultdict

from .common import fmt, rows, table

DEFAULTS = {"sync": "sharded 4 MB", "async": "1 server(s)"}


def auto(raw):
    runs = rows(raw)
    cells = defaultdict(lambda: defaultdict(list))
    chosen, probes, misses = defaultdict(Counter), defaultdict(list), defaultdict(list)
    for r in runs:
        cell = (r["hosts"], r["rate"], r["mode"])
        cells[cell][r["config"]].append(r["img_s"])
        if r["config"] == "auto":
            chosen[cell][r["chosen"]] += 1
            if r.get("probe_s") is not None:
                probes[cell].append(r["probe_s"])
            if r.get("predicted_ms") and r.get("measured_ms"):
                misses[cell].append(r["measured_ms"] / r["predicted_ms"] - 1)
    body, detail = [], []
    for cell in sorted(cells):
        hosts, rate, mode = cell
        medians = {c: statistics.median(v) for c, v in cells[cell].items()}
        statics = {c: v for c, v in medians.items() if c != "auto"}
        if not statics:  # a cell still running
            continue
        best = max(statics, key=statics.get)
        a = medians.get("auto")
        default = statics.get(DEFAULTS[mode])
        rounds = min(len(v) for v in cells[cell].values())
        body.append([hosts, rate, mode, rounds, f"{best} ({fmt(statics[best])})", fmt(a),
                     f"{a / statics[best]:.3f}" if a else "–",
                     f"{a / default:.3f}" if a and default else "–",
                     ", ".join(f"{k} x{n}" for k, n in chosen[cell].most_common()),
                     fmt(max(probes[cell]), 2) if probes[cell] else "–",
                     f"{statistics.median(misses[cell]):+.0%}" if misses[cell] else "–"])
        for c in sorted(medians, key=medians.get, reverse=True):
            detail.append([hosts, rate, mode, c, fmt(medians[c]), len(cells[cell][c]),
                           f"{min(cells[cell][c]):,.0f}-{max(cells[cell][c]):,.0f}"])
    print("#### auto against the best static configuration and today's defaults (median images/s of the rounds)\n")
    print(table(["hosts", "links", "mode", "rounds", "best static (img/s)", "auto img/s", "auto / best",
                 "auto / today's default", "auto chose", "probe s (max)", "step vs prediction (median)"], body))
    print("\n#### every configuration\n")
    print(table(["hosts", "links", "mode", "configuration", "median img/s", "runs", "range"], detail))
