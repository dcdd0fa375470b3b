"""bench_node_loss.sh: host losses against uninterrupted runs, and what the node-local
level costs."""
import statistics
from tables.common import rows, table, fmt


def node_loss_runs(data):
    """Per mode and launcher: the losses against the lowest of the uninterrupted runs."""
    body = []
    for mode in ("sync", "async"):
        for launcher in ("mpirun", "slurm"):
            runs = [r for r in data if r.get("what") == "run" and r["mode"] == mode and r["launcher"] == launcher]
            refs = [r["accuracy"] for r in runs if r["kind"] == "reference" and r["accuracy"] is not None]
            floor = min(refs) if refs else None
            for r in (r for r in runs if r["kind"] == "loss"):
                lost = r.get("lost")  # as the job counted it (async: by the fastest worker)
                if lost is None and r["reached"] is not None and r["restored"] is not None:
                    lost = r["reached"] - r["restored"]
                # The work done before the host went (the chief's step then): what the
                # interval bounds. The rest of `lost` is steps the survivors made after it.
                before = (r["at_loss"] - r["restored"]
                          if r.get("at_loss") is not None and r["restored"] is not None else None)
                acc_ok = r["accuracy"] is not None and floor is not None and r["accuracy"] >= floor - 0.003
                body.append([mode, launcher, r["lost_host"], "yes" if r["finished"] else "NO",
                             f"{lost} of {r['every']}" if lost is not None else "–",
                             str(before) if before is not None else "–",
                             "yes" if before is not None and r["every"] and before <= r["every"] else "NO",
                             fmt(100 * r["accuracy"], 2) if r["accuracy"] is not None else "–",
                             fmt(100 * floor, 2) if floor is not None else "–", "yes" if acc_ok else "NO",
                             ("yes" if r["exactly_once"] else "NO") if mode == "async" else "–",
                             fmt(r["detect_s"], 1), fmt(r["relaunch_s"], 1), fmt(r["restore_s"], 1),
                             fmt(r["first_step_s"], 1)])
    print("### A host lost at a random step (4 emulated hosts, one rank each)\n")
    print(table(["mode", "launcher", "host lost", "finished on 3", "steps lost (of the interval)",
                 "of them made before the loss", "those within the interval",
                 "accuracy %", "lowest uninterrupted %", "within 0.3", "pushes exactly once",
                 "s to detect", "s to relaunch", "s to restore", "s to first step"], body))


def node_loss(raw):
    data = rows(raw)
    node_loss_runs(data)
    for r in (r for r in data if r.get("what") == "returned"):
        print(f"\nA lost host returned under mpirun: taken back {'yes' if r['taken_back'] else 'NO'}, "
              f"finished {'yes' if r['finished'] else 'NO'}.")
    cost = [r for r in data if r.get("what") == "cost"]
    body = []
    for rate in sorted({r["rate"] for r in cost}):
        for mode in ("sync", "async"):
            pairs = {}
            for r in (r for r in cost if r["rate"] == rate and r["mode"] == mode):
                pairs.setdefault(r["round"], {})[r["level"]] = r
            # images/s counts the steps only; the level's time in the loop between them (its
            # save, the wait for the partner's confirmation: share[0] of the step time) is
            # charged to it here.
            def loop_rate(r):
                return r["img_s"] / (1 + (r["share"][0] if r.get("share") else 0.0))
            ratios = sorted(loop_rate(p["with"]) / p["without"]["img_s"] for p in pairs.values()
                            if "with" in p and "without" in p)
            if ratios:
                every = [p["with"]["every"] for p in pairs.values() if "with" in p]
                # The noise: how far the runs without the level spread among themselves.
                base = [p["without"]["img_s"] for p in pairs.values() if "without" in p]
                noise = max(base) / min(base) - 1
                both = [loop_rate(p["with"]) for p in pairs.values() if "with" in p]
                pooled = (sum(both) / len(both)) / (sum(base) / len(base))
                shares = [p["with"]["share"] for p in pairs.values() if p.get("with", {}).get("share")]
                own = (f"{max(s[0] for s in shares):.1%} / {max(s[1] for s in shares):.1%}"
                       if shares else "–")
                added = [s[2] for s in shares if len(s) > 2]
                measured = (f"{sum(added) / len(added):.1%} ({min(added):.1%}-{max(added):.1%})"
                            if added else "–")
                body.append([rate, mode, len(ratios), f"{statistics.median(ratios):.3f}", f"{pooled:.3f}",
                             f"{ratios[0]:.3f}-{ratios[-1]:.3f}", f"{noise:.1%}", own, measured,
                             ", ".join(str(e) for e in every)])
    print("\n### What the node-local level costs (images/s with it / without it, same run, "
          "interleaved; with it: its time in the loop between the steps charged too)\n")
    print(table(["links", "mode", "pairs", "median ratio", "ratio of the means", "range",
                 "spread of the runs without", "its own account: in the loop / writing (most)",
                 "auto's measure: added to the steps (mean, range)", "interval chosen (auto, widest)"],
                body))
