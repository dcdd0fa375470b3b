#!/usr/bin/env python3
"""Checks a --timeline file (Chrome trace-event JSON) with nothing of dtrain's own code.

  check_timeline.py TRACE.json --ranks N [--slow-worker W]

 - every rank is a process named "rank N (role) @host", every lane a named thread;
 - within a lane, spans nest and never overlap;
 - every step of every worker has forward, backward and exchange spans, and the phases inside
   a step add up to the step's time within 5%, not counting the time the thread waited for a
   CPU (each span's run_queue_us: a busy machine descheduling the thread between two spans is
   not work outside them);
 - collective spans line up across ranks (the clocks are aligned): in some sync step the first
   allreduce bucket ends within 5 ms on every rank (the best step: load only delays a rank);
 - with --slow-worker W, worker W is the one the others wait for: its waits are the shortest.
"""
import argparse
import collections
import json
import re
import statistics
import sys

ap = argparse.ArgumentParser()
ap.add_argument("trace")
ap.add_argument("--ranks", type=int, required=True)
ap.add_argument("--slow-worker", type=int, default=-1)
a = ap.parse_args()
events = json.load(open(a.trace))["traceEvents"]
problems = []

names = {e["pid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e["name"] == "process_name"}
lanes = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e.get("ph") == "M" and e["name"] == "thread_name"}
if sorted(names) != list(range(a.ranks)):
    problems.append(f"processes {sorted(names)}, expected ranks 0..{a.ranks - 1}")
for pid, n in names.items():
    if not re.fullmatch(rf"rank {pid} \((ps|(worker|chief), (fp32|bf16))\) @\S+", n):
        problems.append(f"process {pid} is named {n!r}")

spans = collections.defaultdict(list)
for e in events:
    if e.get("ph") == "X":
        spans[(e["pid"], e["tid"])].append(e)
eps = 0.5  # microseconds of rounding
for lane, ss in spans.items():
    ss.sort(key=lambda e: (e["ts"], -e["dur"]))
    stack = []
    for e in ss:
        while stack and e["ts"] >= stack[-1]["ts"] + stack[-1]["dur"] - eps:
            stack.pop()
        if stack and e["ts"] + e["dur"] > stack[-1]["ts"] + stack[-1]["dur"] + eps:
            problems.append(f"lane {lanes.get(lane, lane)} of rank {lane[0]}: {e['name']} at {e['ts']:.0f} "
                            f"overlaps {stack[-1]['name']} without nesting in it")
            break
        e["parent"] = stack[-1] if stack else None
        stack.append(e)

def waited(e):
    return e["args"].get("run_queue_us", 0)


workers = [pid for pid, n in names.items() if "(ps)" not in n]
steps_checked, worst = 0, 0.0
waits = collections.defaultdict(list)
for pid in workers:
    main = [e for (p, t), ss in spans.items() if p == pid for e in ss]
    by_step = collections.defaultdict(list)
    for e in main:
        if e["name"] == "step":
            by_step[e["args"]["step"]].append(e)
    if not by_step:
        problems.append(f"rank {pid}: no steps")
    for step, (s, *_) in sorted(by_step.items()):
        kids = [e for e in main if e.get("parent") is s]
        kinds = {e["name"] for e in kids} | {e["name"] for e in main if e.get("parent") in kids}
        cats = {e["cat"] for e in kids}
        for need in ("forward", "backward"):
            if need not in kinds:
                problems.append(f"rank {pid} step {step}: no {need} span")
        if "exchange" not in cats:
            problems.append(f"rank {pid} step {step}: no exchange span")
        own = s["dur"] - waited(s)
        covered = sum(e["dur"] - waited(e) for e in kids) / own if own > 0 else 1.0
        worst = max(worst, abs(1 - covered))
        steps_checked += 1
        for e in main:
            if e["name"] in ("allreduce wait", "staleness wait") and e["args"].get("step") == step:
                waits[pid].append(e["dur"])
if worst > 0.05:
    problems.append(f"the phases of a step add up to within {worst:.1%} of it (limit 5%)")

# Alignment: the first bucket of a sync step ends together on every rank (it is collective).
buckets = collections.defaultdict(dict)
for (pid, tid), ss in spans.items():
    for e in ss:
        if e["name"] == "allreduce bucket":
            key = e["args"]["step"]
            buckets[key].setdefault(pid, e["ts"] + e["dur"])
spread = [max(v.values()) - min(v.values()) for v in buckets.values() if len(v) == len(workers) > 1]
if spread:
    print(f"first allreduce bucket of a step ends within {min(spread) / 1e3:.2f} ms across ranks "
          f"at best, {statistics.median(spread) / 1e3:.2f} ms median over {len(spread)} steps")
    if min(spread) > 5e3:
        problems.append("collective spans do not line up across ranks: the clocks are not aligned")

if a.slow_worker >= 0 and waits:
    worker_rank = sorted(workers)[a.slow_worker]
    mean = {pid: statistics.mean(v) / 1e3 for pid, v in waits.items()}
    print("mean wait per step (ms): " + ", ".join(f"rank {p} {m:.1f}" for p, m in sorted(mean.items())))
    others = [m for p, m in mean.items() if p != worker_rank]
    if not others or not all(mean[worker_rank] < o for o in others):
        problems.append(f"the slowed worker (rank {worker_rank}) is not the one the others wait for")

print(f"{len(events)} events, {len(spans)} lanes, {steps_checked} worker steps checked; "
      f"phases cover each step to within {worst:.2%}")
for p in problems[:20]:
    print("FAIL:", p)
sys.exit(1 if problems else 0)
