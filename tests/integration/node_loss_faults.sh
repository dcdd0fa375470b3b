#!/usr/bin/env bash
# The node-local checkpoint level when its files are damaged or gone, on the 4 emulated hosts
# (cluster.up; each host its own /mnt/local). A sync job of the small CNN, one rank per host,
# keeps node-local checkpoints every 20 steps and --model-dir ones every 100; it is killed
# (every rank, as a crashed job) at some step, its stores are damaged, and it is run again:
#   torn      rank 1's own part of the newest step (on h2) is cut in half: the restart names
#             the file and takes that part from its partner's copy (on h3)
#   lost      every node-local file on h2 and on h3 (rank 1's node and its partner) is gone:
#             no step is whole on the node-local level, so the restart says so and resumes from
#             --model-dir; the model at the end of that chain is bit-identical to an
#             uninterrupted run's
#   every     a node-local checkpoint at every step in both modes: the job finishes (a save
#             never waits on a partner that may be waiting on it)
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir node-loss-faults)
gv=/mnt/gv/node-loss-faults
bash "$CLUSTER" run h1 rm -rf "$gv"
bash "$CLUSTER" run h1 sh -c 'rm -rf /mnt/local/dtrain'
# --exchange sharded: each rank's part is its own, which the torn and lost parts below need
# (with the whole optimizer every node holds all of it); the measured choice may differ by run.
args=(--data-dir "$MNIST" "${SMALL[@]}" --dist sync --exchange sharded --threads 1 --log-every 10 --eval-every 1000000
  --steps 600 --local-checkpoint-dir /mnt/local/dtrain --local-checkpoint-steps 20
  --model-dir "$gv/ckpt" --checkpoint-steps 100 --stall-timeout 60 --metrics-json "$out/m.json")

# crash_at LOG STEP: runs the job until the chief logs STEP, then kills every rank.
crash_at() {
  local log=$1 step=$2
  bash "$CLUSTER" mpirun -np 4 "$BIN" "${args[@]}" >"$log" 2>&1 &
  local job=$!
  running() { at_step "$log" "$step" || ! kill -0 $job 2>/dev/null; }
  wait_until 300 "step $step" running
  at_step "$log" "$step" || { tail -n 20 "$log"; fail "the job never reached step $step"; }
  pkill -KILL -f "mnist_train.*node-loss-faults" || true
  wait $job || true
  echo "killed every rank at step $(logged_step "$log")"
}

newest_step_dir() { # HOST: the newest step directory of the job's store on HOST
  bash "$CLUSTER" run "$1" sh -c 'ls -d /mnt/local/dtrain/dtrain-*/step-* | sort | tail -n1'
}

crash_at "$out/first.log" 150
step_dir=$(newest_step_dir h2)
part=$step_dir/r1.state.dtl
bash "$CLUSTER" run h2 sh -c "truncate -s \$((\$(stat -c %s $part) / 2)) $part"
echo "cut $part in half"
# Not at a multiple of 100: the "lost" case needs a node-local step newer than --model-dir's.
crash_at "$out/torn.log" 250
grep -E "warning|restoring|resuming" "$out/torn.log" | head -n 4
grep -q "warning: .*$part: torn" "$out/torn.log" || fail "the torn part was not named"
grep -q "partner copies for the parts of rank(s) 1 " "$out/torn.log" || fail "rank 1's part did not come from its partner's copy"

for h in h2 h3; do bash "$CLUSTER" run "$h" sh -c 'rm -rf /mnt/local/dtrain/*'; done
echo "removed every node-local file on h2 and h3 (rank 1's node and its partner)"
bash "$CLUSTER" mpirun -np 4 "$BIN" "${args[@]}" --export "$out/final.h5" >"$out/lost.log" 2>&1 ||
  { tail -n 20 "$out/lost.log"; fail "the job did not finish"; }
grep -E "not used|resuming" "$out/lost.log" | head -n 3
# Said either way: the newest step lacks a part, or it is not newer than --model-dir's and the
# newer ones were not whole (which of the two depends on where the kill fell).
grep -qE "node-local level .* is not used: .*(step [0-9]+ lacks|it lacks) " "$out/lost.log" ||
  fail "no word that the node-local level lacks a part"
grep -qE "resuming from $gv/ckpt/ckpt-[0-9]+\.h5" "$out/lost.log" || fail "did not resume from --model-dir"
check_metrics "$out/m.json" --expect last_step=600

# The chain (0-150, the node-local step 140 with a partner's copy -> 250, --model-dir's 200 ->
# 600) against one uninterrupted run: a sync restore on as many ranks is bit-identical.
bash "$CLUSTER" run h1 rm -rf "$gv-reference"
ref=("${args[@]/#$gv\/ckpt/$gv-reference}")
bash "$CLUSTER" mpirun -np 4 "$BIN" "${ref[@]}" --export "$out/reference.h5" >"$out/reference.log" 2>&1 ||
  { tail -n 20 "$out/reference.log"; fail "the uninterrupted run did not finish"; }
"$PY" "$DTRAIN_ROOT/tests/fault/checkpoint_tools.py" same_params "$out/reference.h5" "$out/final.h5" ||
  fail "the chain through the node-local level differs from the uninterrupted run"

# A node-local checkpoint at every step, both modes: no rank may wait on its partner's receive
# while that partner waits on it in a collective (a save once did, and the ring deadlocked).
for mode in sync async; do
  bash "$CLUSTER" mpirun -np 4 "$BIN" --data-dir "$MNIST" "${SMALL[@]}" --dist "$mode" --threads 1 \
    --steps 100 --eval-every 1000000 --local-checkpoint-dir /mnt/local/every \
    --local-checkpoint-steps 1 --stall-timeout 60 >"$out/every-$mode.log" 2>&1 ||
    { tail -n 20 "$out/every-$mode.log"; fail "$mode with a node-local checkpoint every step"; }
  echo "$mode: a node-local checkpoint with partner copies at every step, finished"
done
echo OK
