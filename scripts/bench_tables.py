#!/usr/bin/env python3
"""Turns the JSON lines the benchmark scripts collect into Markdown tables (and gnuplot data).

  bench_tables.py compute RAW.jsonl ONEDNN_VERBOSE.txt
  bench_tables.py data RAW.jsonl
  bench_tables.py scaling RAW.jsonl
"""
import collections
import json
import re
import sys

import scaling_model  # the README's alpha-beta model, beside this file


def rows(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def table(header, body):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in body]
    return "\n".join(lines)


def fmt(x, digits=0):
    return "–" if x is None else f"{x:,.{digits}f}"


def compute(raw, verbose):
    data = rows(raw)
    ours = {(r["what"], r["batch"], r["threads"]): r for r in data if r.get("engine") == "dtrain" and "batch" in r and "threads" in r}
    torch = collections.defaultdict(dict)
    for r in data:
        if r.get("engine") == "pytorch":
            torch[(r["what"], r["batch"], r["threads"])][r.get("mode", "train")] = r
    print("### Training step (forward + backward + Adam), images/s\n")
    body = []
    for (what, b, t), r in sorted(ours.items()):
        if what != "train":
            continue
        p = torch.get((what, b, t), {}).get("train")
        ref = p["median_img_s"] if p else None
        body.append([b, t, fmt(r["img_s"]), fmt(r["gflops"], 1), fmt(ref), fmt(r["img_s"] / ref, 2) + "x" if ref else "–"])
    print(table(["batch", "threads", "dtrain img/s", "dtrain GFLOP/s", "PyTorch img/s", "dtrain / PyTorch"], body))
    print("\n### Inference, images/s\n")
    body = []
    for (what, b, t), r in sorted(ours.items()):
        if what != "infer":
            continue
        modes = torch.get((what, b, t), {})
        eager = modes.get("eager", {}).get("median_img_s")
        jit = modes.get("jit_opt", {}).get("median_img_s")
        best = max([x for x in (eager, jit) if x] or [0]) or None
        body.append([b, t, fmt(r["img_s"]), fmt(r["gflops"], 1), fmt(eager), fmt(jit),
                     fmt(r["img_s"] / best, 2) + "x" if best else "–"])
    print(table(["batch", "threads", "dtrain img/s", "dtrain GFLOP/s", "PyTorch eager", "PyTorch jit+optimize",
                 "dtrain / best PyTorch"], body))
    # Where the time goes: per-primitive time of the batch-100 training step.
    per = collections.defaultdict(float)
    work = {}
    steps = 0
    for line in open(verbose):
        f = line.strip().split(",")
        if len(f) < 10 or f[0] != "onednn_verbose" or f[1] != "exec":
            continue
        prim, prop, problem, ms = f[3], f[5], f[-2], float(f[-1])
        if "mb100_" not in problem and "mb100i" not in problem and not problem.startswith("100x"):
            continue
        if prim == "convolution" and prop == "forward_training" and "ic1oc32" in problem:
            steps += 1
        kind = {"forward_training": "fwd", "forward_inference": "fwd", "backward_data": "bwd-data",
                "backward_weights": "bwd-weights", "backward": "bwd", "undef": ""}.get(prop, prop)
        layer = problem.split("_")[0] if prim != "reorder" else problem
        name = f"{prim} {kind} {shorten(problem)}".strip()
        per[name] += ms
        work[name] = primitive_work(prim, problem)
    train = ours.get(("train", 100, 2))
    peak = roofline(data, ours)
    if steps and train:
        step_ms = 100.0 / train["img_s"] * 1e3
        print(f"\n### Where the time goes: training step at batch 100, 2 threads ({step_ms:.1f} ms per step)\n")
        body = []
        total = 0.0
        for k, v in sorted(per.items(), key=lambda kv: -kv[1]):
            ms = v / steps
            total += ms
            body.append([k, f"{ms:.2f}", f"{100 * ms / step_ms:.1f}%"] + work_rate(work[k], ms, peak))
        body.append(["outside oneDNN (Adam, loss, dropout, data, threading)", f"{max(0.0, step_ms - total):.2f}",
                     f"{100 * max(0.0, step_ms - total) / step_ms:.1f}%", "", ""])
        print(table(["primitive", "ms per step", "share", "rate", "% of ceiling"], body))
        print("\n(primitive times from ONEDNN_VERBOSE=1, which adds a little overhead of its own; GFLOP/s\n"
              "against the FMA peak, GB/s -- bytes each pass must read and write once -- against the triad)")


def roofline(data, ours):
    """Prints the step and the optimizer against this machine's measured ceilings (2 threads and
    1); returns the 2-thread ceilings for the per-primitive table."""
    # The best of the run's measurements per thread count: a virtual CPU the host takes away
    # for a moment only ever lowers a ceiling.
    ceil = {}
    for r in (x for x in data if x.get("what") == "ceiling"):
        best = ceil.setdefault(r["threads"], dict(r))
        best["fma_gflops"] = max(best["fma_gflops"], r["fma_gflops"])
        best["triad_gbps"] = max(best["triad_gbps"], r["triad_gbps"])
    if not ceil:
        return None
    print("\n### Against this machine's ceilings (measured in the same run)\n")
    body = []
    for t in sorted(ceil):
        c = ceil[t]
        body.append([f"fp32 FMA peak ({c['isa']}), {t} thread(s)", f"{c['fma_gflops']:.1f} GFLOP/s", "", ""])
        body.append([f"memory bandwidth (STREAM triad), {t} thread(s)", f"{c['triad_gbps']:.1f} GB/s", "", ""])
        step = ours.get(("train", 100, t))
        if step:
            body.append([f"training step, batch 100, {t} thread(s)", f"{step['gflops']:.1f} GFLOP/s",
                         f"{100 * step['gflops'] / c['fma_gflops']:.0f}% of peak", ">= 65%" if t == 2 else ""])
        opt = [r for r in data if r.get("what") == "optimizer" and r.get("threads") == t]
        if opt:
            o = opt[-1]
            body.append([f"Adam over {o['parameters']:,} parameters, {t} thread(s)", f"{o['gbps']:.1f} GB/s "
                         f"({o['ms']:.2f} ms)", f"{100 * o['gbps'] / c['triad_gbps']:.0f}% of triad",
                         ">= 80%" if t == 2 else ""])
    print(table(["figure", "measured", "against the ceiling", "target"], body))
    c = ceil.get(2) or ceil[max(ceil)]
    return c["fma_gflops"], c["triad_gbps"]


def dims(problem, key):
    m = re.search(key + r"(\d+)", problem)
    return int(m.group(1)) if m else 1


def primitive_work(prim, problem):
    """(GFLOP, GB) one execution of the primitive needs at least: FLOPs for convolutions and
    inner products, bytes read and written once for the memory-bound rest."""
    if prim == "convolution":
        n = 2.0 * dims(problem, "mb") * dims(problem, "ic") * dims(problem, "oc")
        return n * dims(problem, "oh") * dims(problem, "ow") * dims(problem, "kh") * dims(problem, "kw") / 1e9, 0
    if prim == "inner_product":
        n = 2.0 * dims(problem, "mb") * dims(problem, "ic") * dims(problem, "oc")
        return n * dims(problem, "ih") * dims(problem, "iw") / 1e9, 0
    if prim.startswith("pooling"):
        c = dims(problem, "mb") * dims(problem, "ic")
        return 0, 4.0 * c * (dims(problem, "ih") * dims(problem, "iw") + dims(problem, "oh") * dims(problem, "ow")) / 1e9
    if re.fullmatch(r"\d+(x\d+)*", problem):
        elems = 1
        for d in problem.split("x"):
            elems *= int(d)
        return 0, (12.0 if prim == "eltwise" else 8.0) * elems / 1e9
    return 0, 0


def work_rate(work, ms, peak):
    if not work or not peak or ms <= 0:
        return ["", ""]
    gflop, gb = work
    if gflop:
        rate = gflop / (ms / 1e3)
        return [f"{rate:.1f} GFLOP/s", f"{100 * rate / peak[0]:.0f}%"]
    if gb:
        rate = gb / (ms / 1e3)
        return [f"{rate:.1f} GB/s", f"{100 * rate / peak[1]:.0f}%"]
    return ["", ""]


def shorten(problem):
    for key, name in (("ic1oc32", "conv1"), ("ic32oc64", "conv2"), ("ic32_ih28", "pool1"), ("ic64_ih14", "pool2"),
                      ("ic64ih7iw7oc1024", "dense1"), ("ic1024oc10", "dense2")):
        if key in problem:
            return name
    return problem


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


def mpiio(raw):
    """HDF5 reader by MPI-IO component and hints: the median over rounds of each figure."""
    data = [r for r in rows(raw) if "examples_per_sec" in r]
    groups = {}
    for r in data:
        groups.setdefault((r["label"], r["cache"]), []).append(r)
    base = {}
    body = []
    for (label, cache), rs in groups.items():
        per_reader = sorted(r["examples_per_sec"] / max(1, r["ranks"]) for r in rs)
        med = per_reader[len(per_reader) // 2]
        base.setdefault(cache, med)  # the first configuration (ompio, no hints) is the baseline
        body.append([label, cache, rs[0].get("links", "none"), len(rs), fmt(med), f"{fmt(per_reader[0])}-{fmt(per_reader[-1])}",
                     f"{med / base[cache]:.2f}"])
    print("### HDF5 reader on GlusterFS, 3 hosts x 1 reader, by MPI-IO component and hints\n")
    print(table(["MPI-IO", "cache", "links", "rounds", "examples/s per reader (median)", "range", "vs ompio"], body))


def scaling(raw):
    data = rows(raw)
    print("### Training throughput and time per step\n")
    body = []
    for r in data:
        if r.get("what") != "run":
            continue
        body.append([r["label"], r["transport"], fmt(r["img_s"]), f"{r['step_ms']:.1f}", f"{r['compute_ms']:.1f}",
                     f"{r['comm_ms']:.1f}", f"{r['wait_ms']:.1f}", f"{r['bytes_mb']:.1f}", fmt(r.get("gbps"), 2),
                     r.get("note", "")])
    print(table(["configuration", "transport", "images/s", "ms/step", "compute", "communication", "waiting",
                 "MB moved/step", "GB/s", "notes"], body))
    base = next((r for r in data if r.get("what") == "run" and r["label"].startswith("1 process")), None)
    sync2 = next((r for r in data if r.get("what") == "run" and r["label"] == "sync 2 ranks x 1 thread" and r["transport"] == "default"), None)
    whole = next((r for r in data if r.get("what") == "run" and r["label"].endswith("not sharded")), None)
    shared = next((r for r in data if r.get("what") == "run" and r["label"].endswith("one parameter copy per node")), None)
    async2 = next((r for r in data if r.get("what") == "run" and r["label"] == "async 1 PS + 2 workers" and r["transport"] == "default"), None)
    ddp = next((r for r in data if r.get("what") == "ddp"), None)
    print()
    if base and sync2:
        print(f"- sync 2 ranks / 1 process 2 threads: {sync2['img_s'] / base['img_s']:.2f} (target >= 0.90)")
    if base and shared:
        print(f"- sync 2 ranks with one parameter copy per node (--shared-params) / 1 process: {shared['img_s'] / base['img_s']:.2f}")
    if base and whole:
        print(f"- sync 2 ranks with the optimizer not sharded / 1 process: {whole['img_s'] / base['img_s']:.2f}")
    if base and async2:
        print(f"- async 1 PS + 2 workers / 1 process: {async2['img_s'] / base['img_s']:.2f} (target >= 1.0)")
    for shard in ("sharded", "whole"):
        fp32 = next((r for r in data if r.get("what") == "run" and r["label"].endswith(f"{shard}, gradients fp32")), None)
        fp16 = next((r for r in data if r.get("what") == "run" and r["label"].endswith(f"{shard}, gradients fp16")), None)
        if fp32 and fp16:
            print(f"- sync on 2 emulated hosts ({fp16['transport']}), {shard} optimizer, fp16 / fp32 gradients on the "
                  f"wire: {fp16['img_s'] / fp32['img_s']:.2f}x ({fp16['bytes_mb']:.1f} against {fp32['bytes_mb']:.1f} MB "
                  f"reduced per step; target >= 1.6)")
    if sync2 and ddp:
        print(f"- sync 2 ranks / PyTorch DDP gloo 2 processes ({ddp['img_s']:,.0f} img/s): {sync2['img_s'] / ddp['img_s']:.2f}x (target >= 1.8)")
    micro = {(r["op"], r["transport"]): r for r in data if r.get("what") == "micro"}
    for t in sorted({k[1] for k in micro}):
        ar, ours = micro.get(("allreduce", t)), micro.get(("dtrain_bucketed_allreduce", t))
        acc, push = micro.get(("accumulate", t)), micro.get(("dtrain_ps_push", t))
        get, pull = micro.get(("get", t)), micro.get(("dtrain_ps_pull", t))
        if ar and ours:
            print(f"- [{t}] bucketed allreduce of 13.1 MB: {ours['latency_us'] / 1e3:.2f} ms vs bare MPI_Allreduce "
                  f"{ar['latency_us'] / 1e3:.2f} ms: {ar['latency_us'] / ours['latency_us']:.0%} of bare (target >= 80%)")
        if acc and push:
            print(f"- [{t}] PS push {push['gbps']:.2f} GB/s vs bare MPI_Accumulate {acc['gbps']:.2f} GB/s: "
                  f"{push['gbps'] / acc['gbps']:.0%} (target >= 70%)")
        if get and pull:
            print(f"- [{t}] PS pull {pull['gbps']:.2f} GB/s vs bare MPI_Get {get['gbps']:.2f} GB/s: "
                  f"{pull['gbps'] / get['gbps']:.0%} (target >= 70%)")


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


GRADIENT_BYTES = 13098536


def cluster_model(run, link, compute, cores, cpu_s, overlap=0.3):
    """The README's alpha-beta model (scripts/scaling_model.py) for one measured run, with what
    emulated hosts add by sharing `cores` cores: ranks computing at once run at cores / ranks
    of a core, and once every core computes, moving the gradient costs CPU time that nothing
    hides (cpu_s: the unshaped allreduce of the gradient, which the copies bound). Sync uses the
    allreduce's beta, async the one-way beta of MPI_Get and MPI_Accumulate (pull and push).
    Returns predicted (images/s, compute ms, comm ms, wait ms)."""
    S, p = GRADIENT_BYTES, run["hosts"]
    alpha = link["alpha_us"] * 1e-6
    if run["mode"] == "sync":
        c = compute[100 // p]
        share = max(1.0, p / cores)
        t_c, t_adam = (c["compute_ms"] - c["adam_ms"]) / 1e3 * share, c["adam_ms"] / 1e3 * share
        t_cpu = cpu_s if p >= cores else 0.0
        t, t_ar, wait = scaling_model.sync_step(t_c, t_adam, S, p, alpha, link["beta_mb_s"] * 1e6,
                                                overlap, sharded=True, t_cpu=t_cpu)
        return 100 / t, 1e3 * (t_c + t_adam / p + t_cpu), 1e3 * t_ar, 1e3 * wait
    workers = p - 1
    c = compute[100]
    share = max(1.0, workers / cores)
    t_c = (c["compute_ms"] - c["adam_ms"]) / 1e3 * share
    t_adam = c["adam_ms"] / 1e3
    t, link_time = scaling_model.async_step(t_c, t_adam, S, workers, 1, alpha,
                                            link["p2p_mb_s"] * 1e6)
    return workers * 100 / t, 1e3 * t_c, 1e3 * link_time, 1e3 * (t - t_c - link_time)


def cluster(raw, cores, datfile):
    data = rows(raw)
    cores = int(cores)
    links = {r["rate"]: r for r in data if r.get("what") == "link"}
    compute = {r["batch"]: r for r in data if r.get("what") == "compute"}
    cpu_s = next(r["allreduce_13mb_ms"] for r in data if r.get("what") == "copy_cost") / 1e3
    print("### Links (measured between 2 emulated hosts: bare MPI_Allreduce, MPI_Get and "
          "MPI_Accumulate, least squares)\n")
    print(table(["link", "alpha (us)", "beta allreduce (MB/s)", "beta one-way (MB/s)",
                 "allreduce of 13.1 MB (ms)"],
                [[k, f"{v['alpha_us']:.0f}", f"{v['beta_mb_s']:.1f}", f"{v['p2p_mb_s']:.1f}",
                  f"{v['allreduce_13mb_ms']:.0f}"] for k, v in links.items()]))
    print(f"\nCPU cost of moving the gradient (unshaped 13.1 MB allreduce between 2 hosts, charged "
          f"to sync steps once the ranks fill the {cores} cores): {1e3 * cpu_s:.1f} ms")
    print("\n### Measured against the model (1 rank x 1 thread per host; ms per step: compute / "
          "communication / waiting)\n")
    body, dat = [], []
    for r in (x for x in data if x.get("what") == "run"):
        img, t_c, t_comm, t_wait = cluster_model(r, links[r["rate"]], compute, cores, cpu_s)
        err = (img - r["img_s"]) / r["img_s"]
        busy = r["hosts"] if r["mode"] == "sync" else r["hosts"] - 1
        label = f"{r['mode']} {r['hosts']} hosts, {r['rate']}"
        body.append([label, fmt(r["img_s"]), fmt(img), f"{err:+.0%}",
                     f"{r['compute_ms']:.0f} / {r['comm_ms']:.0f} / {r['wait_ms']:.0f}",
                     f"{t_c:.0f} / {t_comm:.0f} / {t_wait:.0f}", f"{r['wire_mb_per_step']:.1f}",
                     "oversubscribed" if busy > cores else ""])
        dat.append(f'"{label}" {r["img_s"]:.1f} {img:.1f}')
    print(table(["configuration", "images/s", "model", "model error", "measured split",
                 "model split", "MB sent/step (per rank)", ""], body))
    with open(datfile, "w") as f:
        f.write("\n".join(dat) + "\n")


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
                body.append([rate, mode, len(ratios), f"{ratios[len(ratios) // 2]:.3f}", f"{pooled:.3f}",
                             f"{ratios[0]:.3f}-{ratios[-1]:.3f}", f"{noise:.1%}", own, measured,
                             ", ".join(str(e) for e in every)])
    print("\n### What the node-local level costs (images/s with it / without it, same run, "
          "interleaved; with it: its time in the loop between the steps charged too)\n")
    print(table(["links", "mode", "pairs", "median ratio", "ratio of the means", "range",
                 "spread of the runs without", "its own account: in the loop / writing (most)",
                 "auto's measure: added to the steps (mean, range)", "interval chosen (auto, widest)"],
                body))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "cluster":
        cluster(sys.argv[2], sys.argv[3], sys.argv[4])
        sys.exit(0)
    if cmd == "compute":
        compute(sys.argv[2], sys.argv[3])
    elif cmd == "data":
        data_tables(sys.argv[2])
    elif cmd == "collectives":
        collectives(sys.argv[2])
    elif cmd == "mpiio":
        mpiio(sys.argv[2])
    elif cmd == "scaling":
        scaling(sys.argv[2])
    elif cmd == "transport":
        transport(sys.argv[2], sys.argv[3])
    elif cmd == "node_loss":
        node_loss(sys.argv[2])
