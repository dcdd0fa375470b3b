"""bench_scaling.sh: images/s by rank count and mode, against the alpha-beta model."""
from tables.common import rows, table, fmt


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
