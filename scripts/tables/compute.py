"""bench_compute.sh: the training step and inference against PyTorch, the portable build
against -march=native, the machine's ceilings and where the step's time goes."""
import collections
import re
import statistics

from tables.common import rows, table, fmt


def compute(raw, verbose):
    data = rows(raw)
    ours = {(r["what"], r["batch"], r["threads"]): r for r in data
            if r.get("engine") == "dtrain" and "batch" in r and "threads" in r and "build" not in r}
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
    portable_against_native(data)
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


def portable_against_native(data):
    """The default (portable) build against -march=native, and bf16 against fp32 where the run
    has it: medians of interleaved rounds, 2 threads."""
    runs = collections.defaultdict(list)
    loops = {}
    for r in (x for x in data if x.get("build")):
        key = (r["what"], r.get("batch", "-"))
        build = f"torch-{r['precision']}" if r["build"] == "torch" else r["build"]
        runs[(key, build)].append(r["ms"] if r["what"] == "optimizer" else r["img_s"])
        loops[r["build"]] = r.get("loops", loops.get(r["build"], ""))
    if not runs:
        return
    rounds = max(len(v) for v in runs.values())
    for base, other, title, label in (
            ("portable", "native", "The portable build against -march=native", "-march=native"),
            ("portable", "bf16", "--precision bf16 against fp32 (portable build)", "bf16"),
            ("portable", "auto", "--precision auto against fp32 on this CPU without AVX512_BF16",
             "auto"),
            ("capped-fp32", "capped-auto", "--precision auto against fp32 with oneDNN capped to "
             "AVX512_CORE (how a CPU without AVX512_BF16 looks)", "auto")):
        body = []
        for key in sorted({k for k, _ in runs}, key=str):
            p, n = runs.get((key, base)), runs.get((key, other))
            if not p or not n:
                continue
            p, n = statistics.median(p), statistics.median(n)
            what, batch = key
            if what == "optimizer":
                body.append(["Adam pass, ms", "-", f"{p:.2f}", f"{n:.2f}", f"{p / n:.3f}"])
            else:
                body.append([f"{what}, img/s", batch, fmt(p), fmt(n), f"{n / p:.3f}"])
                if other == "bf16":
                    body[-1] += torch_pair(runs, key)
        if not body:
            continue
        if other.endswith("auto"):  # what auto picked there, from the runs' own records
            picked = sorted({r["precision"] for r in data if r.get("build") == other and "precision" in r})
            title += f": auto picked {', '.join(picked)}"
        print(f"\n### {title} (2 threads, median of {rounds} interleaved rounds)\n")
        base_label = "fp32 (capped)" if base == "capped-fp32" else "portable fp32"
        header = ["figure", "batch", base_label, label, f"{label} / {base_label} (speed)"]
        if other == "bf16":
            header += ["PyTorch fp32 (channels-last)", "PyTorch bf16 autocast", "PyTorch bf16 / fp32",
                       "dtrain bf16 / PyTorch bf16"]
        print(table(header, body))
    print(f"\n(dtrain's own loops: portable build {loops.get('portable', '?')}; native build "
          f"{loops.get('native', '?')})")


def torch_pair(runs, key):
    """PyTorch's fp32 and bf16 autocast figures of the same rounds, their ratio, and dtrain's
    bf16 against PyTorch's."""
    f, b, ours = runs.get((key, "torch-fp32")), runs.get((key, "torch-bf16")), runs.get((key, "bf16"))
    if not f or not b:
        return ["–"] * 4
    f, b = statistics.median(f), statistics.median(b)
    return [fmt(f), fmt(b), f"{b / f:.3f}", f"{statistics.median(ours) / b:.2f}x" if ours else "–"]


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
        opt = [r for r in data if r.get("what") == "optimizer" and r.get("threads") == t and "build" not in r]
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
