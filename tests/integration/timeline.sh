#!/usr/bin/env bash
# --timeline on a 3-rank async run and a 2-rank sync run in which worker 1 is slowed by 60 ms a
# step (DTRAIN_TEST_SLOW_WORKER); check_timeline.py checks both files without dtrain's code, and
# scripts/plot_timeline.sh draws the sync one.
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir timeline)
mpi 3 "$BIN" --data-dir "$MNIST" "${SMALL[@]}" --steps 60 --eval-every 60 --log-every 30 --checkpoint-steps 30 \
  --model-dir "$out/ckpt" --timeline "$out/async.json" | grep -E "timeline|final"
"$PY" "$HERE/check_timeline.py" "$out/async.json" --ranks 3
DTRAIN_TEST_SLOW_WORKER=1:60 mpirun --oversubscribe --bind-to none -np 2 -x DTRAIN_TEST_SLOW_WORKER \
  "$BIN" --data-dir "$MNIST" --dist sync --steps 40 --eval-every 40 --log-every 20 \
  --timeline "$out/sync.json" | grep -E "timeline|final"
"$PY" "$HERE/check_timeline.py" "$out/sync.json" --ranks 2 --slow-worker 1
bash "$DTRAIN_ROOT/scripts/plot_timeline.sh" "$out/sync.json" "$out/sync.png"
head -c 8 "$out/sync.png" | od -An -c | grep -q "P   N   G" || fail "not a PNG"
echo OK
