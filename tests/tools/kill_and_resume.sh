#!/usr/bin/env bash
# A rank killed with SIGKILL in the middle of training: the job must end by itself within a
# bounded time, the newest checkpoint must be whole, and a rerun must resume from it, finish
# the training and reach the expected accuracy.
set -uo pipefail
bin=$1 mnist=$2 out=$3
rm -rf "$out" && mkdir -p "$out"
args=(--data-dir "$mnist" --dist sync --steps 600 --checkpoint-steps 25 --eval-every 600 --log-every 100
      --model-dir "$out/ckpt" --metrics-json "$out/final.json" --stall-timeout 60)
mpirun --oversubscribe --bind-to none -np 2 "$bin" "${args[@]}" >"$out/first.log" 2>&1 &
job=$!
# Wait for the second checkpoint, then kill one rank outright.
for _ in $(seq 1 600); do
  [ "$(ls "$out/ckpt" 2>/dev/null | grep -c '\.h5$')" -ge 2 ] && break
  sleep 0.2
done
victim=$(pgrep -f -- "--model-dir $out/ckpt" | grep -v "^$job\$" | while read -r p; do
  [ "$(ps -o comm= -p "$p")" = "mnist_train" ] && echo "$p"; done | tail -n 1)
[ -n "$victim" ] || { echo "FAIL: no rank to kill"; cat "$out/first.log"; exit 1; }
sleep 0.$((RANDOM % 10))
killed_at=$(date +%s.%N)
kill -KILL "$victim"
wait "$job"
rc=$?
ended=$(echo "$(date +%s.%N) - $killed_at" | bc)
echo "killed rank pid $victim; the job ended with exit code $rc ${ended}s later"
[ "$rc" -ne 0 ] || { echo "FAIL: the job reported success"; exit 1; }
awk -v t="$ended" 'BEGIN { exit !(t < 60) }' || { echo "FAIL: the job took ${ended}s to end"; exit 1; }
latest=$(ls "$out/ckpt"/ckpt-*.h5 | sort | tail -n 1)
/usr/bin/python3 - "$latest" <<'PY' || exit 1
import sys, h5py
f = h5py.File(sys.argv[1], "r")
n = []
f.visit(lambda k: n.append(k) if isinstance(f[k], h5py.Dataset) else None)
assert f.attrs["global_step"] > 0 and len(n) >= 3 * 8, (dict(f.attrs), n)
for k in n:
    f[k][...]  # every dataset reads back whole
print(f"newest checkpoint {sys.argv[1]}: step {f.attrs['global_step']}, {len(n)} datasets, all readable")
PY
mpirun --oversubscribe --bind-to none -np 2 "$bin" "${args[@]}" --resume 2>&1 | grep -E "resum|final"
/usr/bin/python3 "$(dirname "$0")/check_metrics.py" "$out/final.json" --min-accuracy 0.98 --expect last_step=600
