#!/usr/bin/env python3
"""Checks a --metrics-json file: check_metrics.py FILE [--min-accuracy A] [--expect KEY=VALUE]...
Prints the headline figures; exits 1 if a check fails."""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("file")
ap.add_argument("--min-accuracy", type=float, default=0.0)
ap.add_argument("--expect", action="append", default=[])
args = ap.parse_args()
j = json.load(open(args.file))
keys = ["mode", "ranks", "workers", "num_ps", "steps", "epochs", "test_accuracy", "train_images_per_sec",
        "staleness_mean", "staleness_max", "wall_seconds", "transport"]
print(", ".join(f"{k}={j[k]}" for k in keys if k in j))
ok = j["test_accuracy"] >= args.min_accuracy
if not ok:
    print(f"FAIL: test accuracy {j['test_accuracy']:.4f} < {args.min_accuracy}")
# The build that made the result, as --version says it.
build = j.get("build", {})
for k in ("dtrain", "commit", "MPI", "UCX", "oneDNN", "HDF5", "loops"):
    if not build.get(k):
        print(f"FAIL: the build record lacks {k}: {build}")
        ok = False
for e in args.expect:
    k, v = e.split("=", 1)
    if str(j.get(k)) != v:
        print(f"FAIL: {k} is {j.get(k)!r}, expected {v}")
        ok = False
sys.exit(0 if ok else 1)
