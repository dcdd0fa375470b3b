#!/usr/bin/env python3
"""An alpha-beta model of dtrain beyond one machine: predicted images/s and scaling efficiency
for 2..256 nodes on a 100 Gb/s InfiniBand and a 10 Gb/s TCP network, sync (ring allreduce)
and async (parameter servers), from figures measured on this machine.

  scaling_model.py [--node-img-s 1600] [--adam-ms 13] [--batch 100] [--overlap 0.3]

Model (per step, per node; S = gradient bytes, p = nodes, b = images per node per step):
  compute        T_c = b / node_img_s
  ring allreduce T_ar = 2 (p-1) alpha + 2 (p-1)/p * S / beta_ar  (beta_ar: the allreduce's own
                 rate; every rank sends and receives at once, which on TCP runs below a one-way
                 stream)
  sync step      with the optimizer sharded (ZeRO-1, the default): the reduce-scatter half of
                 T_ar hides behind backward up to overlap * T_c, the parameter allgather half
                 follows the optimizer step; each rank updates 1/p of the parameters:
                 T = T_c + max(0, T_ar/2 - overlap T_c) + T_ar/2 + T_adam/p
                 (whole optimizer: T = T_c + max(0, T_ar - overlap T_c) + T_adam)
  async worker   T_w = T_c + 2 (alpha + S / beta)    (pull, then push: one-way streams at beta)
  PS link        full duplex: each of K servers receives S/K per worker step and sends as much,
                 at once:                            T_w >= S W / (K beta)
  PS compute     each drain is an optimizer step on S/K: T_w >= W T_adam(S) / K
The program holds the same model for its own choice (src/comm/exchange_model.h: --exchange
auto, --num-ps auto), with each collective's line measured at start-up in place of the ring
formula on one beta; this script extrapolates it to clusters this machine cannot emulate.
Emulated hosts sharing a machine's cores add one term (scripts/bench_cluster.sh): moving the
bytes costs CPU (the kernel's copies, the sum) that ranks computing on every core cannot hide.
"""
import argparse
import math

NETWORKS = {  # alpha (s), one-way beta, allreduce beta (bytes/s): typical effective figures
    "100 Gb/s InfiniBand (RDMA)": (1.5e-6, 11.0e9, 11.0e9),
    # The allreduce's rate: two thirds of a one-way stream, as measured on TCP here
    # (scripts/bench_cluster.sh: MPI_Allreduce against MPI_Get between 2 hosts).
    "10 Gb/s Ethernet (TCP)": (30e-6, 1.1e9, 0.73e9),
}


def allreduce_time(S, p, alpha, beta_ar):
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * S / beta_ar


def sync_step(t_c, t_adam, S, p, alpha, beta_ar, overlap, sharded=True, t_cpu=0.0):
    """Seconds per step and the allreduce's share: (step, t_ar, exposed wait)."""
    t_ar = allreduce_time(S, p, alpha, beta_ar)
    if sharded:
        wait = max(0.0, t_ar / 2 - overlap * t_c) + t_ar / 2
        return t_c + wait + t_adam / p + t_cpu, t_ar, wait
    wait = max(0.0, t_ar - overlap * t_c)
    return t_c + wait + t_adam + t_cpu, t_ar, wait


def async_step(t_c, t_adam, S, workers, servers, alpha, beta):
    """Seconds per worker step and its link time: (step, link)."""
    link = 2 * (alpha + S / beta)
    return max(t_c + link, S * workers / (servers * beta), workers * t_adam / servers), link


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node-img-s", type=float, default=1600, help="training images/s of one node (measured: 1 process)")
    ap.add_argument("--adam-ms", type=float, default=13.0, help="optimizer step on the whole model, ms (measured, 1 thread)")
    ap.add_argument("--bytes", type=float, default=13098536, help="gradient size")
    ap.add_argument("--batch", type=int, default=100, help="images per node per step")
    ap.add_argument("--overlap", type=float, default=0.3, help="fraction of compute that can hide the allreduce")
    a = ap.parse_args()
    S, b = a.bytes, a.batch
    t_c = b / a.node_img_s
    t_adam = a.adam_ms / 1e3
    nodes = [2, 4, 8, 16, 32, 64, 128, 256]
    print(f"Inputs: {a.node_img_s:.0f} images/s per node (batch {b}: {1e3 * t_c:.1f} ms compute per step), "
          f"{S / 1e6:.1f} MB gradient, optimizer step {a.adam_ms:.0f} ms, overlap {a.overlap:.0%}.\n")
    for net, (alpha, beta, beta_ar) in NETWORKS.items():
        print(f"#### {net}: alpha = {alpha * 1e6:.1f} us, beta = {beta / 1e9:.2f} GB/s one-way, "
              f"{beta_ar / 1e9:.2f} GB/s in an allreduce\n")
        print("| nodes | sync img/s | sync efficiency | async img/s (1 PS) | async efficiency (1 PS) | "
              "PS ranks needed | async img/s (that many PS) |")
        print("|---|---|---|---|---|---|---|")
        for p in nodes:
            sync = p * b / sync_step(t_c, t_adam, S, p, alpha, beta_ar, a.overlap)[0]
            # Async: p workers (servers on extra nodes), each worker's own link and the servers' links.
            w = p
            t_w_link = t_c + 2 * (alpha + S / beta)
            k_needed = max(1, math.ceil(max(S * w / (beta * t_w_link), w * t_adam / t_w_link)))
            one = w * b / async_step(t_c, t_adam, S, w, 1, alpha, beta)[0]
            many = w * b / async_step(t_c, t_adam, S, w, k_needed, alpha, beta)[0]
            ideal = p * a.node_img_s
            print(f"| {p} | {sync:,.0f} | {sync / ideal:.0%} | {one:,.0f} | {one / ideal:.0%} | {k_needed} | {many:,.0f} |")
        print()
    print("Efficiency is images/s over p times one node's images/s. With one server, async stops scaling "
          "once the server's link carries S each way per worker step faster than workers compute: from there on "
          "the server is the bottleneck and images/s stay flat; K servers divide that traffic (and the "
          "optimizer work) by K.")


if __name__ == "__main__":
    main()
