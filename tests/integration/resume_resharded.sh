#!/usr/bin/env bash
# Checkpoints move between layouts: written by async 1 PS + 2 workers, resumed by async with 2
# servers (re-sharded) and then by sync on 2 ranks; a checkpoint of another model is refused.
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir resume-resharded)
bin=$BIN mnist=$MNIST
set +e
common=(--data-dir "$mnist" --eval-every 1000 --log-every 1000 --model-dir "$out/ckpt")
small=("${common[@]}" "${SMALL[@]}")
mpi 3 "$bin" "${small[@]}" --steps 100 | grep -E "checkpoint|final" || exit 1
mpi 4 "$bin" "${small[@]}" --steps 200 --num-ps 2 | grep -E "resum|note|checkpoint|final" || exit 1
mpi 2 "$bin" "${small[@]}" --steps 300 --dist sync --metrics-json "$out/m.json" |
  grep -E "resum|note|checkpoint|final" || exit 1
/usr/bin/python3 "$(dirname "$0")/check_metrics.py" "$out/m.json" --min-accuracy 0.9 --expect start_step=200 || exit 1
msg=$("$bin" "${common[@]}" --steps 400 --arch mlp 2>&1)
rc=$?
echo "another model: exit $rc: $msg" | tail -n 1
[ $rc -ne 0 ] && grep -q "holds model" <<<"$msg" || { echo "FAIL: a checkpoint of another model was not refused clearly"; exit 1; }
echo OK
