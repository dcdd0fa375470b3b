#!/usr/bin/env bash
# --balance speed: a sync run of 3 ranks in which rank 2 is a slower CPU
# (DTRAIN_TEST_SLOW_WORKER: 40 ms more per step of its even share, in proportion to its rows).
# The split moves rows from it to the others; the model is the one 1 rank trains on the same
# global batches (the same rows, summed in another order: within the equivalence tolerance);
# the chief names the rank with the rows it now has. Bad --balance values and combinations are
# refused at start (exit 2). (Async work taken by speed: fault.signals.async_balanced.mpirun.)
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir balance)
refused() {  # ARGS...: mnist_train refuses them at start, naming --balance
  local rc=0
  "$BIN" --data-dir "$MNIST" "$@" >"$out/refused.log" 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q -- "--balance" "$out/refused.log" ||
    { cat "$out/refused.log"; fail "not refused with exit 2 naming --balance: $*"; }
  head -n 1 "$out/refused.log"
}
refused --balance fast
refused --balance speed  # one process: nobody to share with
refused --balance speed --dist async --replay-splits "$out/none.h5"
refused --balance speed --dist sync --shard-by files
refused --replay-splits "$out/none.h5" --dist sync  # replays --balance speed only
common=(--data-dir "$MNIST" "${SMALL[@]}" --steps 100 --eval-every 100 --optimizer sgd --threads 1)
DTRAIN_TEST_SLOW_WORKER=2:40 mpi 3 -x DTRAIN_TEST_SLOW_WORKER "$BIN" "${common[@]}" --dist sync \
  --balance speed --log-every 50 --metrics-json "$out/balanced.json" --export "$out/balanced.h5" \
  --model-dir "$out/ckpt" \
  >"$out/balanced.log" 2>&1 || { cat "$out/balanced.log"; fail "the balanced run failed"; }
grep -E "slower than the median|final" "$out/balanced.log"
grep -qE "^rank 2 on [^ ]+ computes [0-9.]+x slower than the median .*: giving it [0-9]+ of 100 rows" \
  "$out/balanced.log" || fail "rank 2 not named with its rows"
"$BIN" "${common[@]}" --export "$out/one.h5" | grep final
# --replay-splits wants a checkpoint of a balanced run of the same workers and batch.
replay_refused() {  # NP PATTERN ARGS...: refused at start (exit 2), naming --replay-splits
  local np=$1 pattern=$2 rc=0
  shift 2
  mpi "$np" "$BIN" --data-dir "$MNIST" "${SMALL[@]}" --dist sync --balance speed "$@" \
    >"$out/refused.log" 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q -- "--replay-splits.*$pattern" "$out/refused.log" ||
    { cat "$out/refused.log"; fail "not refused with exit 2 naming --replay-splits: $*"; }
  grep -m1 -- "--replay-splits" "$out/refused.log"
}
replay_refused 2 "no row splits" --replay-splits "$out/one.h5"
replay_refused 2 "3 workers; this run has 2" --replay-splits "$out/ckpt/ckpt-0000000100.h5"
replay_refused 3 "this run's is 64" --replay-splits "$out/ckpt/ckpt-0000000100.h5" --batch-size 64
"$PY" - "$out/balanced.json" "$out/balanced.h5" "$out/one.h5" <<'PY'
import json, sys
import h5py, numpy as np
m = json.load(open(sys.argv[1]))
rows, changes = m["balance"]["rows_per_worker"], m["balance"]["split_changes"]
assert sum(rows) == 100 and changes >= 1, m["balance"]
assert rows[2] < min(rows[0], rows[1]), f"rank 2 kept its rows: {rows}"
num = den = 0.0
def walk(a, b):
    global num, den
    for k in a:
        if isinstance(a[k], h5py.Group):
            walk(a[k], b[k])
        else:
            x, y = np.asarray(a[k], np.float64), np.asarray(b[k], np.float64)
            num, den = num + ((x - y) ** 2).sum(), den + (x ** 2).sum()
walk(h5py.File(sys.argv[3])["params"], h5py.File(sys.argv[2])["params"])
rel = (num / den) ** 0.5
# mpi.sync_equivalence's tolerance for 3-4 ranks against 1 (float summation order).
assert rel <= 1e-5, f"the balanced model differs from one rank's by {rel:.2e}"
print(f"rows per rank at the end {rows} after {changes} changes; parameters within {rel:.1e} "
      f"of one rank's")
PY
echo OK
