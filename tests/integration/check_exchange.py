#!/usr/bin/env python3
"""Checks the exchange a run chose (--metrics-json's exchange_plan) against the model of
src/comm/exchange_model.h, recomputed here from the inputs the run measured:

  check_exchange.py METRICS [--choice NAME] [--fp16 yes|no] [--ring yes|no] [--source TEXT]

Every alternative's predicted step must equal this script's, the choice must be the fastest,
or today's default when none is predicted more than 5% faster (unless kept from a checkpoint),
and the options say what else must hold. Prints
the measured links and the table; exits 1 on a failed check."""
import argparse
import json
import math
import sys

MB = 1 << 20


def line(cost, nbytes):
    return cost[0] + cost[1] * nbytes


def sync_step(alt, i):
    name = alt["choice"]
    sharded, ring, fp16 = name.startswith("sharded"), " ring " in name, " fp16 " in name
    mb = float(name.split()[-2])
    S, B = i["gradient_bytes"], mb * MB
    wire = 0.5 if fp16 else 1.0
    first = i["reduce_scatter"] if sharded else i["allreduce_ring"] if ring else i["allreduce"]
    buckets = max(1, math.ceil(S / B))
    last = S - (buckets - 1) * B
    reduce = sum(line(first, wire * (B if b + 1 < buckets else last)) for b in range(buckets))
    gather = sum(line(i["allgather"], B if b + 1 < buckets else last) for b in range(buckets)) if sharded else 0
    exposed = max(line(first, wire * last), reduce - i["overlap"] * i["step_s"])
    optimizer = i["optimizer_s"] / i["ranks"] if sharded else i["optimizer_s"]
    return i["step_s"] + exposed + gather + optimizer + (i["fp16_s_per_byte"] * S if fp16 else 0)


def async_step(alt, i):
    k = int(alt["choice"].split()[0])
    w = i["ranks"] - k
    S, beta = i["gradient_bytes"], i["beta_bytes_s"]
    return max(i["step_s"] + 2 * (i["alpha_s"] + S / beta), S * w / (k * beta), w * i["optimizer_s"] / k)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("metrics")
    ap.add_argument("--choice")
    ap.add_argument("--fp16", choices=["yes", "no"])
    ap.add_argument("--ring", choices=["yes", "no"])
    ap.add_argument("--source")
    a = ap.parse_args()
    m = json.load(open(a.metrics))
    p = m["exchange_plan"]
    fails = []
    if not p["measured"]:
        sys.exit(f"FAIL: nothing was measured: {p}")
    i = p["inputs"]
    print(f"measured in {p['probe_seconds']:.2f} s: alpha {p['alpha_us']:.0f} us, beta {p['beta_mb_s']:.1f} MB/s, "
          f"compute {p['compute_step_ms']:.1f} ms; chose {p['choice']} ({p['source']}); predicted "
          f"{p['predicted_step_ms']:.1f} ms, measured {p['measured_step_ms']:.1f} ms")
    best = None
    for alt in p["alternatives"]:
        mine = (async_step if m["mode"] == "async" else sync_step)(alt, i)
        print(f"  {alt['choice']:<24} program {alt['predicted_step_ms']:8.2f} ms   this script {1e3 * mine:8.2f} ms")
        if abs(mine * 1e3 - alt["predicted_step_ms"]) > 1e-6 * max(1.0, mine * 1e3):
            fails.append(f"{alt['choice']}: the program predicted {alt['predicted_step_ms']} ms, the model {1e3 * mine} ms")
        if best is None or alt["predicted_images_per_sec"] > best["predicted_images_per_sec"] * (1 + 1e-12):
            best = alt
    # Today's default stays unless an alternative is predicted more than 5% faster.
    expected = best
    default = next((alt for alt in p["alternatives"] if alt["choice"] == p["default"]), None)
    if default and best["predicted_step_ms"] > 0.95 * default["predicted_step_ms"]:
        expected = default
    if "kept from the checkpoint" not in p["source"] and expected["choice"] != p["choice"]:
        fails.append(f"chose {p['choice']}, but the model's choice is {expected['choice']} "
                     f"(fastest {best['choice']}, default {p['default']})")
    names = [alt["choice"] for alt in p["alternatives"]]
    if a.choice and p["choice"] != a.choice:
        fails.append(f"chose {p['choice']}, expected {a.choice}")
    if a.fp16 == "no" and any(" fp16 " in n for n in names + [p["choice"]]):
        fails.append("fp16 on the wire among the alternatives without --compress auto")
    if a.fp16 == "yes" and not any(" fp16 " in n for n in names):
        fails.append("no fp16 alternative with --compress auto")
    if a.ring == "yes" and not all(" ring " in n for n in names):
        fails.append(f"--exchange ring, yet alternatives other than ring: {names}")
    if a.source and a.source not in p["source"]:
        fails.append(f"source '{p['source']}', expected '{a.source}'")
    if m["mode"] == "async" and m["num_ps"] != int(p["choice"].split()[0]):
        fails.append(f"chose {p['choice']} but the run had {m['num_ps']} servers")
    for f in fails:
        print("FAIL:", f)
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
