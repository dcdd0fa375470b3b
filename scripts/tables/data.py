"""bench_data.sh: the readers' examples/s and MB/s by format and rank count."""
from tables.common import rows, table, fmt


def data_tables(raw):
    data = rows(raw)
    rates = {r.get("threads", 2): r["img_s"] for r in data if r.get("what") == "train_rate"}
    # What one training rank consumes: one thread per rank on the emulated hosts (they share
    # 2 cores), the default threads on local disk.
    consume = rates.get(1) or rates.get(2)
    print("### Reader throughput per reading rank (each streams its share; nothing consumes)\n")
    body = []
    for r in data:
        if "examples_per_sec" not in r:
            continue
        per_reader = r["examples_per_sec"] / max(1, r["ranks"])
        ratio = per_reader / consume if consume else None
        body.append([r["label"], r.get("fs", "local"), r.get("links", "-"), r["ranks"], r.get("cache", "warm"),
                     fmt(per_reader), fmt(r["file_mb_per_sec"], 1),
                     (fmt(ratio, 1) + "x") if ratio else "–"])
    print(table(["reader", "file system", "links", "reading hosts/ranks", "cache", "examples/s per reader",
                 "MB/s (all readers, file bytes)", "x one rank's consumption"], body))
    if consume:
        print(f"\nOne training rank consumes {consume:,.0f} images/s here (batch 100, "
              f"{'1 thread' if 1 in rates else '2 threads'}).")
    waits = [r for r in data if r.get("what") == "trainer_wait"]
    if waits:
        print("\n### Time the trainer waits for data\n")
        body = [[w["label"], w.get("fs", "local"), w.get("links", "-"), w.get("hosts", 1), fmt(w["steps"]),
                 f"{1e3 * w['wait_seconds'] / w['steps']:.3f}", f"{100 * w['wait_fraction']:.3f}%"] for w in waits]
        print(table(["data", "file system", "links", "hosts", "steps", "wait ms per step", "share of step time"],
                    body))
