"""bench_transport.sh: RDMA against TCP, OSU-style tables and gnuplot plots."""
from tables.common import rows, table, fmt


TRANSPORT_NAMES = {
    "rdma": "osc rdma / vader (RDMA stand-in)",
    "sm": "osc sm / vader",
    "ucx-sm": "UCX self,sm (cma)",
    "ucx-tcp": "UCX self,tcp",
    "tcp": "ob1 tcp + osc pt2pt",
}


def transport(raw, outdir):
    data = rows(raw)
    micro = {(r["transport"], r["op"], r["bytes"]): r for r in data if r.get("what") == "micro"}
    train = {(r["transport"], r["mode"]): r for r in data if r.get("what") == "train"}
    ts = [t for t in TRANSPORT_NAMES if any(k[0] == t for k in micro)]
    model = 13098536

    def fig(t, key):
        kind, op = key
        if kind == "gbps":
            r = micro.get((t, op, model))
            return r["gbps"] if r else None
        if kind == "us":
            r = micro.get((t, op, 8))
            return r["latency_us"] if r else None
        if kind == "ms":
            r = micro.get((t, op, model))
            return r["latency_us"] / 1e3 if r else None
        r = train.get((t, op))
        return None if not r else (r["img_s"] if kind == "img_s" else r["step_ms"])

    figures = [("MPI_Accumulate push, 13.1 MB (GB/s)", ("gbps", "accumulate"), True),
               ("MPI_Get pull, 13.1 MB (GB/s)", ("gbps", "get"), True),
               ("MPI_Fetch_and_op latency (us)", ("us", "fetch_and_op"), False),
               ("MPI_Allreduce, 13.1 MB (ms)", ("ms", "allreduce"), False),
               ("dtrain PS push, 13.1 MB (GB/s)", ("gbps", "dtrain_ps_push"), True),
               ("dtrain PS pull, 13.1 MB (GB/s)", ("gbps", "dtrain_ps_pull"), True),
               ("dtrain bucketed allreduce, 13.1 MB (ms)", ("ms", "dtrain_bucketed_allreduce"), False),
               ("async training, 1 PS + 2 workers (images/s)", ("img_s", "async"), True),
               ("async time per worker step (ms)", ("step", "async"), False),
               ("sync training, 2 ranks (images/s)", ("img_s", "sync"), True),
               ("sync time per step (ms)", ("step", "sync"), False)]
    pairs = [("rdma", "tcp"), ("ucx-sm", "ucx-tcp")]
    print("### Shared-memory one-sided paths (RDMA stand-in) against TCP, 2 ranks unless noted\n")
    header = ["figure"] + [TRANSPORT_NAMES[t] for t in ts] + [f"{a} / {b}" for a, b in pairs]
    body = []
    for name, key, higher_better in figures:
        vals = {t: fig(t, key) for t in ts}
        row = [name] + [fmt(vals[t], 2 if (vals[t] or 0) < 100 else 0) for t in ts]
        for a, b in pairs:
            va, vb = vals.get(a), vals.get(b)
            if va and vb:
                ratio = va / vb if higher_better else vb / va
                row.append(f"{ratio:.1f}x")
            else:
                row.append("–")
        body.append(row)
    print(table(header, body))
    print("\nRatios are 'how many times better' the shared-memory path is (for times: TCP time / shared-memory time).")
    print("\n### Trainer paths against the bare MPI operation of the same size (13.1 MB)\n")
    body = []
    for t in ts:
        acc, push = micro.get((t, "accumulate", model)), micro.get((t, "dtrain_ps_push", model))
        get, pull = micro.get((t, "get", model)), micro.get((t, "dtrain_ps_pull", model))
        ar, ours = micro.get((t, "allreduce", model)), micro.get((t, "dtrain_bucketed_allreduce", model))
        body.append([TRANSPORT_NAMES[t],
                     f"{push['gbps'] / acc['gbps']:.0%}" if acc and push else "–",
                     f"{pull['gbps'] / get['gbps']:.0%}" if get and pull else "–",
                     f"{ar['latency_us'] / ours['latency_us']:.0%}" if ar and ours else "–"])
    print(table(["transport", "PS push / bare Accumulate", "PS pull / bare Get", "bucketed allreduce / bare Allreduce"], body))
    transport_loops(micro, train, ts, outdir)


def transport_loops(micro, train, ts, outdir):
    """The OSU-style bandwidth table by message size, and the gnuplot data and scripts."""
    sizes = sorted({k[2] for k in micro if k[1] in ("accumulate", "get", "allreduce")})
    print("\n### OSU-style loops: bandwidth (GB/s) by message size\n")
    for op in ("accumulate", "get", "allreduce"):
        body = [[f"{s:,}"] + [fmt(micro[(t, op, s)]["gbps"], 3) if (t, op, s) in micro else "–" for t in ts] for s in sizes]
        print(f"**{op}**\n")
        print(table(["bytes"] + [TRANSPORT_NAMES[t] for t in ts], body))
        print()
    # gnuplot data and scripts
    for t in ts:
        with open(f"{outdir}/transport-{t}.dat", "w") as f:
            f.write("# bytes acc_gbps get_gbps allreduce_gbps acc_us get_us allreduce_us\n")
            for s in sizes:
                vals = [micro.get((t, op, s)) for op in ("accumulate", "get", "allreduce")]
                if all(vals):
                    f.write(f"{s} " + " ".join(f"{v['gbps']:.6g}" for v in vals) + " " +
                            " ".join(f"{v['latency_us']:.6g}" for v in vals) + "\n")
    colors = ["#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#d62728"]
    for kind, col0, ylabel in (("bandwidth", 2, "GB/s"), ("latency", 5, "microseconds")):
        plots = []
        for i, t in enumerate(ts):
            for j, (op, dash) in enumerate((("accumulate", 1), ("get", 2), ("allreduce", 3))):
                plots.append(f'"{outdir}/transport-{t}.dat" using 1:{col0 + j} with linespoints dt {dash} '
                             f'lc rgb "{colors[i % len(colors)]}" pt {5 + j} title "{t} {op}"')
        with open(f"{outdir}/{kind}.gp", "w") as f:
            f.write(f'set terminal pngcairo size 1000,600 font "sans,10"\nset output "{outdir}/{kind}.png"\n'
                    f'set logscale xy\nset grid\nset key outside right\nset xlabel "message size (bytes)"\n'
                    f'set ylabel "{ylabel}"\nset title "MPI {kind} by transport (2 ranks, one node)"\n'
                    "plot " + ", \\\n  ".join(plots) + "\n")
    with open(f"{outdir}/training.dat", "w") as f:
        f.write("transport async sync\n")
        for t in ts:
            a, b = train.get((t, "async")), train.get((t, "sync"))
            f.write(f'"{t}" {a["img_s"] if a else 0:.1f} {b["img_s"] if b else 0:.1f}\n')
    with open(f"{outdir}/training.gp", "w") as f:
        f.write(f'set terminal pngcairo size 900,450 font "sans,10"\nset output "{outdir}/training.png"\n'
                'set style data histogram\nset style histogram cluster gap 1\nset style fill solid 0.8\n'
                'set ylabel "training images/s"\nset grid ytics\nset key top right\n'
                'set title "Training throughput by transport"\n'
                f'plot "{outdir}/training.dat" using 2:xtic(1) title "async, 1 PS + 2 workers", '
                '"" using 3 title "sync, 2 ranks"\n')
