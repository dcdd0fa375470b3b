#!/usr/bin/env python3
"""Decodes dtrain's TensorBoard event file independently -- TFRecord framing and CRCs checked
here with python3-crc32c, Event protos parsed by Python's protobuf runtime -- and checks it
against the run's --metrics-csv: every scalar must match, histograms must count the kernels
(their sizes read from the run's exported model with h5py).
  check_tensorboard.py LOG_DIR METRICS_CSV MODEL.h5
  check_tensorboard.py --per-rank LOG_DIR PREFIX RANKS
      (scalars PREFIX0 .. PREFIX{RANKS-1}, each at one summary step or more, all > 0; prints
      each one's last)
"""
import csv
import glob
import math
import struct
import sys

import crc32c
import event_pb2
import h5py


def masked_crc(data):
    c = crc32c.crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(path):
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        assert struct.unpack_from("<I", data, pos + 8)[0] == masked_crc(data[pos:pos + 8]), "length CRC"
        rec = data[pos + 12:pos + 12 + length]
        assert struct.unpack_from("<I", data, pos + 12 + length)[0] == masked_crc(rec), "data CRC"
        yield rec
        pos += 16 + length


def scalars_of(log_dir):
    files = glob.glob(f"{log_dir}/events.out.tfevents.*")
    assert len(files) == 1, f"expected one event file in {log_dir}, found {files}"
    events = [event_pb2.Event.FromString(r) for r in records(files[0])]
    return {(v.tag, e.step): v.simple_value for e in events[1:] for v in e.summary.value
            if not v.HasField("histo")}


def per_rank(log_dir, prefix, ranks):
    scalars = scalars_of(log_dir)
    last = []
    for r in range(ranks):
        mine = sorted((s, v) for (t, s), v in scalars.items() if t == f"{prefix}{r}")
        assert mine, f"no {prefix}{r}"
        assert all(v > 0 for _, v in mine), f"{prefix}{r}: {mine}"
        last.append(mine[-1][1])
    print(f"OK: {prefix}0..{ranks - 1}; the last of each: " + ", ".join(f"{v:.3f}" for v in last))


def main():
    if sys.argv[1] == "--per-rank":
        return per_rank(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    log_dir, csv_path, model = sys.argv[1:4]
    with h5py.File(model, "r") as f:
        sizes = {f"{layer}/kernel": f["params"][layer]["kernel"].size
                 for layer in f["params"] if layer.startswith("conv")}
    files = glob.glob(f"{log_dir}/events.out.tfevents.*")
    assert len(files) == 1, f"expected one event file in {log_dir}, found {files}"
    events = [event_pb2.Event.FromString(r) for r in records(files[0])]
    assert events[0].file_version == "brain.Event:2", events[0]
    scalars, histos = {}, {}
    for e in events[1:]:
        for v in e.summary.value:
            if v.HasField("histo"):
                histos[(v.tag, e.step)] = v.histo
            else:
                scalars[(v.tag, e.step)] = v.simple_value
    rows = list(csv.DictReader(open(csv_path)))
    checked = 0
    for r in rows:
        step = int(r["step"])
        pairs = [("train/loss", r["loss"]), ("train/learning_rate", r["learning_rate"]),
                 ("train/images_per_sec", r["images_per_sec"]), ("test/accuracy", r["test_accuracy"]),
                 ("test/loss", r["test_loss"])]
        for tag, text in pairs:
            if text == "":
                continue
            got = scalars.get((tag, step))
            assert got is not None, f"no {tag} at step {step} in the event file"
            want = float(text)
            assert math.isclose(got, want, rel_tol=1e-3, abs_tol=1e-3), f"{tag} at step {step}: {got} vs {want}"
            checked += 1
    for (tag, step), h in histos.items():
        assert h.num == sizes[tag], f"{tag} histogram counts {h.num}, the kernel has {sizes[tag]}"
        assert sum(h.bucket) == h.num and len(h.bucket) == len(h.bucket_limit)
        assert h.min <= h.max and all(a < b for a, b in zip(h.bucket_limit, h.bucket_limit[1:]))
    assert checked > 0 and histos, "nothing to check"
    print(f"OK: {len(events)} events, {checked} scalars equal to the metrics CSV, {len(histos)} histograms "
          f"({', '.join(sorted({t for t, _ in histos}))})")


if __name__ == "__main__":
    main()
