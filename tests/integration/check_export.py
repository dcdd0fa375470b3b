#!/usr/bin/env python3
"""Reads an exported model with h5py, following only the layout docs/checkpoints.md documents, runs the
CNN forward pass in numpy and compares the predictions and probabilities with dtrain's own
inference output (JSON lines with id, probabilities).
  check_export.py MODEL.h5 MNIST_DIR PREDICTIONS_DIR [N]
"""
import glob
import json
import os
import struct
import sys

import h5py
import numpy as np


def read_idx(path):
    data = open(path, "rb").read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def conv_same(x, w, b):  # x [N,C,H,W], w [O,C,K,K] (OIHW), stride 1, SAME
    k = w.shape[2]
    lo = (k - 1) // 2
    xp = np.pad(x, ((0, 0), (0, 0), (lo, k - 1 - lo), (lo, k - 1 - lo)))
    n, c, h, wd = x.shape
    cols = np.stack([xp[:, :, i:i + h, j:j + wd] for i in range(k) for j in range(k)], axis=2)  # N,C,K*K,H,W
    out = np.einsum("nckhw,ock->nohw", cols, w.reshape(w.shape[0], c, k * k), optimize=True)
    return out + b[None, :, None, None]


def maxpool(x, s):
    n, c, h, w = x.shape
    x = x[:, :, :h // s * s, :w // s * s]
    return x.reshape(n, c, h // s, s, w // s, s).max(axis=(3, 5))


def main():
    model_path, mnist, pred_dir = sys.argv[1:4]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    f = h5py.File(model_path, "r")
    assert f.attrs["dtrain_format"] in (b"dtrain-model-v1", "dtrain-model-v1")
    spec = f.attrs["model"]
    spec = spec.decode() if isinstance(spec, bytes) else spec
    p = f["params"]
    x = read_idx(os.path.join(mnist, "t10k-images-idx3-ubyte"))[:count].astype(np.float32) / 255.0
    x = x[:, None, :, :]
    convs = dense = 0
    for layer in spec.split(","):
        parts = layer.split(":")
        if parts[0] == "conv":
            convs += 1
            g = p[f"conv{convs}"]
            x = conv_same(x, g["kernel"][:], g["bias"][:])
            if parts[-1] == "relu":
                x = np.maximum(x, 0)
        elif parts[0] == "maxpool":
            x = maxpool(x, int(parts[1]))
        elif parts[0] == "dense":
            dense += 1
            g = p[f"dense{dense}"]
            w = g["kernel"][:]
            x = x.reshape(x.shape[0], -1) @ w.reshape(w.shape[0], -1).T + g["bias"][:]
            if parts[-1] == "relu":
                x = np.maximum(x, 0)
        # dropout: identity at inference
    z = x - x.max(axis=1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    theirs = {}
    for path in glob.glob(os.path.join(pred_dir, "part-*")):
        for line in open(path):
            r = json.loads(line)
            if r["id"] < count:
                theirs[r["id"]] = r
    assert len(theirs) == count, f"{len(theirs)} of the first {count} ids in the predictions"
    worst = 0.0
    agree = 0
    for i in range(count):
        worst = max(worst, float(np.abs(probs[i] - np.array(theirs[i]["probabilities"])).max()))
        agree += int(probs[i].argmax() == theirs[i]["prediction"])
    print(f"numpy forward from the exported file vs dtrain inference: {agree}/{count} same predictions, "
          f"max probability difference {worst:.2e}")
    sys.exit(0 if agree == count and worst < 1e-3 else 1)


if __name__ == "__main__":
    main()
