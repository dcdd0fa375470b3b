"""bench_stragglers.sh: a limited host with --balance off and speed, against the capacity-scaled
target, medians of interleaved rounds."""
import statistics

from tables.common import rows as load, table


def stragglers(raw):
    rows = load(raw)
    by = {}
    for r in rows:
        by.setdefault(r["run"], []).append(r)
    med = {k: statistics.median(x["img_s"] for x in v) for k, v in by.items()}
    need = ("free_alone", "limited_alone", "free_off")
    if any(k not in med for k in need):
        print("missing runs: " + ", ".join(k for k in need if k not in med))
        return
    target = med["free_off"] * (med["free_alone"] + med["limited_alone"]) / (2 * med["free_alone"])
    rounds = max(len(v) for v in by.values())
    print(f"### One host limited to a third of a core (2 hosts x 1 rank x 1 thread, sync, median of "
          f"{rounds} interleaved rounds)\n")
    body = []
    for run, what in (("free_alone", "h1's rank alone (free)"), ("limited_alone", "h2's rank alone (limited)"),
                      ("free_off", "both free, --balance off"), ("free_speed", "both free, --balance speed"),
                      ("limited_off", "h2 limited, --balance off"), ("limited_speed", "h2 limited, --balance speed")):
        if run not in med:
            continue
        last = by[run][-1]
        named = sorted({x["named_h2_at"] for x in by[run] if x.get("named_h2_at") is not None})
        body.append([what, f"{med[run]:,.0f}",
                     f"{med[run] / target:.2f}" if run in ("limited_off", "limited_speed") else "",
                     f"{min(x['img_s'] for x in by[run]):,.0f}-{max(x['img_s'] for x in by[run]):,.0f}",
                     "/".join(map(str, last["rows"])) if last.get("rows") else "",
                     ", ".join(map(str, named))])
    for run in sorted(k for k in med if k.startswith("limited_split")):
        split = run[len("limited_split"):]
        body.append([f"h2 limited, fixed {split}/{100 - int(split)} from step 0", f"{med[run]:,.0f}",
                     f"{med[run] / target:.2f}",
                     f"{min(x['img_s'] for x in by[run]):,.0f}-{max(x['img_s'] for x in by[run]):,.0f}",
                     f"{split}/{100 - int(split)}", ""])
    print(table(["run", "img/s", "of the target", "range", "rows per rank (last round)",
                 "h2 named after step"], body))
    print(f"\ncapacity-scaled target: {target:,.0f} img/s (the free pair x (free alone + limited "
          f"alone) / (2 x free alone))")
    if "free_speed" in med:
        print(f"--balance speed with no host limited: {med['free_speed'] / med['free_off']:.3f}x "
              f"--balance off")
    async_table(by, med)


def async_table(by, med):
    """The async half: a server beside h1's worker, h2's worker limited or not."""
    if "free_async_off" not in med:
        return
    target = med["free_async_off"] * (med["free_alone"] + med["limited_alone"]) / (2 * med["free_alone"])
    print("\n### Async: one server and a worker on h1, a worker on h2 (work taken by speed, or each "
          "worker its share)\n")
    body = []
    for run, what in (("free_async_off", "both free, --balance off"),
                      ("free_async_speed", "both free, --balance speed (work taken)"),
                      ("limited_async_off", "h2 limited, --balance off"),
                      ("limited_async_speed", "h2 limited, --balance speed (work taken)")):
        if run not in med:
            continue
        named = sorted({x["named_h2_at"] for x in by[run] if x.get("named_h2_at") is not None})
        body.append([what, f"{med[run]:,.0f}",
                     f"{med[run] / target:.2f}" if run.startswith("limited") else "",
                     f"{min(x['img_s'] for x in by[run]):,.0f}-{max(x['img_s'] for x in by[run]):,.0f}",
                     ", ".join(map(str, named))])
    print(table(["run", "img/s", "of the target", "range", "h2 named after step"], body))
    print(f"\ncapacity-scaled target: {target:,.0f} img/s (the free async pair x (free alone + "
          f"limited alone) / (2 x free alone))")
    if "free_async_speed" in med:
        print(f"--balance speed with no host limited: "
              f"{med['free_async_speed'] / med['free_async_off']:.3f}x --balance off")
