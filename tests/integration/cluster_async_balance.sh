#!/usr/bin/env bash
# Async work taken by speed across hosts (scripts/cluster_local.sh, brought up by cluster.up):
# one server and two workers on h1-h3, --balance speed, one epoch of the small CNN, h3's worker
# a slower CPU (DTRAIN_TEST_SLOW_WORKER). Every example of the epoch is trained exactly once
# (each worker's ids, DTRAIN_TEST_RECORD_IDS), the server applies the epoch's 600 pushes, and the
# fast worker takes more of the work.
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir cluster-async-balance)
mkdir -p "$out/ids"
DTRAIN_TEST_SLOW_WORKER=1:30 DTRAIN_TEST_RECORD_IDS=$out/ids bash "$CLUSTER" mpirun -np 3 \
  -x DTRAIN_TEST_SLOW_WORKER -x DTRAIN_TEST_RECORD_IDS "$BIN" --dist async --balance speed \
  --threads 1 --data-dir "$MNIST" "${SMALL[@]}" --epochs 1 --log-every 100 --eval-every 100000 \
  --metrics-json "$out/m.json" >"$out/log.txt" 2>&1 || { tail -n 20 "$out/log.txt"; fail "the run failed"; }
grep -E "slower than the median|pushes applied|^final" "$out/log.txt"
grep -q "parameter server 0 done: 600 pushes applied" "$out/log.txt" || fail "not the epoch's 600 pushes"
once=$("$PY" "$DTRAIN_ROOT/tests/fault/checkpoint_tools.py" ids_once 60000 "$out/ids") ||
  fail "an example trained twice or never: $once"
echo "$once"
fast_took_more "$once" || fail "the fast worker did not take more of the work"
echo OK
