"""bench_cluster.sh: the emulated cluster's runs against the README's alpha-beta model."""
import scaling_model  # the README's alpha-beta model, in scripts/
from tables.common import rows, table, fmt


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
