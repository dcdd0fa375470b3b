"""bench_collectives.sh: the sync exchange under each collective choice."""
from tables.common import rows, table


def collectives(raw):
    """The sync exchange's time per step under each collective choice, in ms (median)."""
    data = [r for r in rows(raw) if r.get("what") == "exchange"]
    cells, order, failed = {}, [], {}
    for r in data:
        key = (r["label"], r["per_host"])
        if key not in cells:
            order.append(key)
        cells.setdefault(key, {})
        if r.get("op") == "failed":
            failed[key] = r.get("error", "")
            continue
        cells[key][(r["sharded"], r["compress"])] = 1e3 * r["seconds_median"]
    if not data:
        return
    d = data[0]
    kinds = [(True, "none"), (False, "none"), (True, "fp16"), (False, "fp16")]
    print(f"### Sync gradient exchange of the CNN (13.1 MB fp32), {d['hosts']} emulated hosts, links {d['rate']}: ms per step\n")
    body = []
    for key in order:
        c = cells[key]
        body.append([key[0], d["hosts"] * key[1]] + [f"{c[k]:.0f}" if k in c else ("failed" if key in failed else "–") for k in kinds])
    print(table(["collectives", "ranks", "sharded (reduce-scatter + allgather)", "whole (allreduce)",
                 "sharded, fp16", "whole, fp16"], body))
    base = cells.get(("tuned, Open MPI's default decision", 1), {})
    print()
    for key, error in failed.items():
        print(f"- {key[0]} ({key[1]} ranks per host) failed: {error}")
    for k, name in zip(kinds, ["sharded", "whole", "sharded fp16", "whole fp16"]):
        best = min(((cells[key][k], key) for key in order if k in cells[key] and key[1] == 1), default=None)
        if best and k in base:
            print(f"- {name}: best {best[1][0]} at {best[0]:.0f} ms, Open MPI's default {base[k]:.0f} ms "
                  f"({base[k] / best[0]:.2f}x the best)")
