#!/usr/bin/env python3
"""An alpha-beta model of dtrain beyond one machine: predicted images/s and scaling efficiency
for 2..256 nodes on a 100 Gb/s InfiniBand and a 10 Gb/s TCP network, sync (ring allreduce)
and async (parameter servers), from figures measured on this machine.

  scaling_model.py [--node-img-s 1600] [--adam-ms 13] [--batch 100] [--overlap 0.3]

Model (per step, per node; S = gradient bytes, p = nodes, b = images per node per step):
  compute       T_c = b / node_img_s
  ring allreduce T_ar = 2 (p-1) alpha + 2 (p-1)/p * S / beta      (sync; a fraction of it hides
                                                                   behind backward: overlap)
  sync step     T = T_c + max(0, T_ar - overlap * T_c) + T_adam(S)
  async worker  T_w = T_c + 2 (alpha + S / beta)                  (pull + push over its link)
  PS link       each of K servers moves 2 S / K per worker step:   T_w >= 2 S W / (K beta)
  PS compute    each drain is an optimizer step on S/K:            T_w >= W T_adam(S) / K
"""
import argparse
import math

NETWORKS = {  # alpha (s), beta (bytes/s): typical effective figures
    "100 Gb/s InfiniBand (RDMA)": (1.5e-6, 11.0e9),
    "10 Gb/s Ethernet (TCP)": (30e-6, 1.1e9),
}


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
    for net, (alpha, beta) in NETWORKS.items():
        print(f"#### {net}: alpha = {alpha * 1e6:.1f} us, beta = {beta / 1e9:.2f} GB/s\n")
        print("| nodes | sync img/s | sync efficiency | async img/s (1 PS) | async efficiency (1 PS) | "
              "PS ranks needed | async img/s (that many PS) |")
        print("|---|---|---|---|---|---|---|")
        for p in nodes:
            t_ar = 2 * (p - 1) * alpha + 2 * (p - 1) / p * S / beta
            t_sync = t_c + max(0.0, t_ar - a.overlap * t_c) + t_adam
            sync = p * b / t_sync
            # Async: p workers (servers on extra nodes), each worker's own link and the servers' links.
            w = p
            t_w_link = t_c + 2 * (alpha + S / beta)

            def t_async(k):
                return max(t_w_link, 2 * S * w / (k * beta), w * t_adam / k)

            k_needed = max(1, math.ceil(max(2 * S * w / (beta * t_w_link), w * t_adam / t_w_link)))
            one = w * b / t_async(1)
            many = w * b / t_async(k_needed)
            ideal = p * a.node_img_s
            print(f"| {p} | {sync:,.0f} | {sync / ideal:.0%} | {one:,.0f} | {one / ideal:.0%} | {k_needed} | {many:,.0f} |")
        print()
    print("Efficiency is images/s over p times one node's images/s. With one server, async stops scaling "
          "once the server's link carries 2 S per worker step faster than workers compute: from there on "
          "the server is the bottleneck and images/s stay flat; K servers divide that traffic (and the "
          "optimizer work) by K.")


if __name__ == "__main__":
    main()
