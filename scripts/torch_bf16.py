#!/usr/bin/env python3
"""The PyTorch reference of dtrain's --precision bf16: the same CNN (../shared/peers, or
$PEERS), channels-last, trained and run for inference in fp32 and under CPU bf16 autocast
(torch.autocast("cpu", torch.bfloat16): fp32 master weights, bf16 convolutions and matmuls),
each as images/s in steady state. One JSON line per figure, as compute_bench prints them.

  torch_bf16.py --threads 2 --batches 100,256 --infer-batch 1000
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.environ.get("PEERS", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "peers")))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from common import SeedCNN, load_mnist, mnist_dir  # noqa: E402


def rate(fn, batch, window_images, repeats):
    """Median images/s over `repeats` windows of about window_images images, after a warm-up."""
    for _ in range(5):
        fn()
    steps = max(5, window_images // batch)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        rates.append(steps * batch / (time.perf_counter() - t0))
    return sorted(rates)[len(rates) // 2]


def train_rate(x, y, batch, bf16, args):
    model = SeedCNN().to(memory_format=torch.channels_last).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    xb = x[:batch].contiguous(memory_format=torch.channels_last)
    yb = y[:batch]

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()

    return rate(step, batch, args.window_images, args.repeats)


def infer_rate(x, batch, bf16, args):
    model = SeedCNN().to(memory_format=torch.channels_last).eval()
    xb = x[:batch].contiguous(memory_format=torch.channels_last)

    def run():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model(xb)

    return rate(run, batch, 2 * args.window_images, args.repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="100,256")
    ap.add_argument("--infer-batch", type=int, default=1000)
    ap.add_argument("--window-images", type=int, default=3200)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    x, y, xte, _ = load_mnist(mnist_dir())
    for bf16 in (False, True):
        p = "bf16" if bf16 else "fp32"
        for b in (int(s) for s in args.batches.split(",")):
            r = train_rate(x, y, b, bf16, args)
            print(json.dumps({"engine": "pytorch", "what": "train", "precision": p, "batch": b,
                              "threads": args.threads, "img_s": r}), flush=True)
        r = infer_rate(xte, args.infer_batch, bf16, args)
        print(json.dumps({"engine": "pytorch", "what": "infer", "precision": p,
                          "batch": args.infer_batch, "threads": args.threads, "img_s": r}), flush=True)


if __name__ == "__main__":
    main()
