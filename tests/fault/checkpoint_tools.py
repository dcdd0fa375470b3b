#!/usr/bin/env python3
"""Reads dtrain's checkpoints, exports and metrics with h5py alone (none of dtrain's code).

  checkpoint_tools.py whole CKPT            every dataset reads back; "step S, N datasets, ..."
  checkpoint_tools.py counters CKPT         "worker_steps=a,b servers_applied=x,y" (async)
  checkpoint_tools.py exactly_once CKPT     every server applied exactly the pushes the
                                            workers' steps stand for (sum of worker steps)
  checkpoint_tools.py same_params A B       two exports or checkpoints bit-identical
  checkpoint_tools.py splits CKPT           the row splits a --balance speed run recorded,
                                            one "from_step:rows,rows,..." per change
  checkpoint_tools.py splits_prefix A B     A's recorded splits start B's (B resumed from A)
  checkpoint_tools.py ids_once EXAMPLES DIR...  every example id 0..EXAMPLES-1 trained exactly
                                            once over the worker-*.ids files in the DIRs
                                            (DTRAIN_TEST_RECORD_IDS); prints each worker's count
  checkpoint_tools.py metric JSON KEY       one value of a --metrics-json file
A check that does not hold exits 1 with the reason.
"""
import json
import sys

import h5py


def datasets(f, group="/"):
    names = []
    f[group].visit(lambda k: names.append(k) if isinstance(f[group][k], h5py.Dataset) else None)
    return names


def whole(path):
    """Every dataset reads back, and the optimizer holds a state for every parameter tensor."""
    with h5py.File(path, "r") as f:
        names = datasets(f)
        for k in names:
            f[k][...]
        params = set(datasets(f, "params"))
        states = list(f["optimizer"]) if "optimizer" in f else []
        missing = [s for s in states if set(datasets(f, f"optimizer/{s}")) != params]
        if not params or not states or missing:
            sys.exit(f"{path}: {len(params)} parameter tensors, optimizer states {states}, "
                     f"incomplete: {missing}")
        print(f"step {f.attrs['global_step']}, {len(names)} datasets, all readable")


def read_counters(path):
    with h5py.File(path, "r") as f:
        return [int(x) for x in f["worker_steps"][...]], [int(r[2]) for r in f["servers"][...]]


def counters(path):
    steps, applied = read_counters(path)
    print(f"worker_steps={','.join(map(str, steps))} servers_applied={','.join(map(str, applied))}")


def exactly_once(path):
    steps, applied = read_counters(path)
    want = sum(steps)
    print(f"{path}: workers at steps {steps} ({want} pushes), servers applied {applied}")
    if any(a != want for a in applied):
        sys.exit("a server holds another number of pushes than the workers' steps stand for")


def same_params(a_path, b_path):
    with h5py.File(a_path, "r") as fa, h5py.File(b_path, "r") as fb:
        a, b = fa["params"], fb["params"]
        names = datasets(fa, "params")
        diff = [n for n in names if a[n][...].tobytes() != b[n][...].tobytes()]
    print(f"{len(names)} tensors: {'bit-identical' if not diff else 'DIFFERENT: ' + ', '.join(diff)}")
    if diff:
        sys.exit(1)


def read_splits(path):
    with h5py.File(path, "r") as f:
        if "row_splits" not in f:
            sys.exit(f"{path}: no /row_splits")
        return int(f.attrs["global_step"]), [(int(r[0]), [int(x) for x in r[1:]])
                                              for r in f["row_splits"][...]]


def splits(path):
    print(" ".join(f"{s}:{','.join(map(str, rows))}" for s, rows in read_splits(path)[1]))


def splits_prefix(a_path, b_path):
    """A run resumed from A kept every split A recorded (those decided for later steps too)."""
    step, a = read_splits(a_path)
    _, b = read_splits(b_path)
    if b[:len(a)] != a:
        sys.exit(f"the splits of the checkpoint at step {step} were not kept: {a} against {b}")
    print(f"the {len(a)} split(s) recorded at step {step} kept by the resumed run; {len(b)} in all")


def ids_once(examples, *dirs):
    import collections, glob
    per_worker, seen = collections.Counter(), collections.Counter()
    for d in dirs:
        for path in glob.glob(f"{d}/worker-*.ids"):
            ids = [int(x) for x in open(path)]
            per_worker[path.rsplit("/", 1)[-1].split(".")[0]] += len(ids)
            seen.update(ids)
    twice = sum(1 for n in seen.values() if n > 1)
    missing = int(examples) - len(set(seen) & set(range(int(examples))))
    print(f"{sum(seen.values())} examples trained, {len(seen)} distinct; per worker "
          f"{' '.join(f'{w}={n}' for w, n in sorted(per_worker.items()))}")
    if twice or missing or len(seen) != int(examples):
        sys.exit(f"{twice} examples trained more than once, {missing} never")


def metric(path, key):
    print(json.load(open(path))[key])


COMMANDS = {"whole": whole, "counters": counters, "exactly_once": exactly_once,
            "same_params": same_params, "splits": splits, "splits_prefix": splits_prefix,
            "ids_once": ids_once,
            "metric": metric}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    COMMANDS[sys.argv[1]](*sys.argv[2:])
