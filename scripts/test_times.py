#!/usr/bin/env python3
"""The time each test took, from ctest's own record, as the README's tables.

    scripts/test_times.py [build/Testing/Temporary/CTestCostData.txt] [--min SECONDS]

ctest keeps, for every test, how many times it ran and the average seconds of its runs in
CTestCostData.txt (lines "NAME RUNS SECONDS", then "---" and the names that failed last).
Prints a table per group (the name up to its first dot, which is also the test's first label)
and one of every test that took at least --min seconds (default 5), slowest first.
"""
import argparse
import sys
from collections import defaultdict


def read_costs(path):
    costs, failed = {}, []
    with open(path, encoding="utf-8") as f:
        lines = [line.split() for line in f]
    split = next((i for i, parts in enumerate(lines) if parts == ["---"]), len(lines))
    for parts in lines[:split]:
        if len(parts) != 3:
            raise SystemExit(f"{path}: expected 'NAME RUNS SECONDS', found {' '.join(parts)!r}")
        costs[parts[0]] = float(parts[2])
    failed = [parts[0] for parts in lines[split + 1:] if parts]
    return costs, failed


def group_table(costs):
    groups = defaultdict(list)
    for name, seconds in costs.items():
        groups[name.split(".")[0]].append(seconds)
    rows = sorted(groups.items(), key=lambda kv: -sum(kv[1]))
    out = ["| group | tests | seconds | share |", "|---|---|---|---|"]
    total = sum(costs.values())
    for group, times in rows:
        out.append(f"| {group} | {len(times)} | {sum(times):.0f} | {100 * sum(times) / total:.0f}% |")
    out.append(f"| all | {len(costs)} | {total:.0f} | 100% |")
    return out


def test_table(costs, minimum):
    slow = sorted(((s, n) for n, s in costs.items() if s >= minimum), reverse=True)
    rest = [s for s in costs.values() if s < minimum]
    out = ["| test | seconds |", "|---|---|"]
    out += [f"| {name} | {seconds:.1f} |" for seconds, name in slow]
    out.append(f"| the {len(rest)} others (under {minimum:g} s each) | {sum(rest):.0f} |")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("path", nargs="?", default="build/Testing/Temporary/CTestCostData.txt")
    p.add_argument("--min", type=float, default=5.0)
    a = p.parse_args()
    try:
        costs, failed = read_costs(a.path)
    except OSError as e:
        sys.exit(f"{a.path}: {e.strerror} (run ctest first)")
    print("\n".join(group_table(costs)))
    print()
    print("\n".join(test_table(costs, a.min)))
    if failed:
        print(f"\nfailed in the last run: {', '.join(failed)}")


if __name__ == "__main__":
    main()
