#!/usr/bin/env bash
# A host lost in the middle of a job on the 4 emulated hosts (cluster.up): its link goes down,
# every process on it dies and its node-local store is wiped (scripts/cluster_local.sh lose).
# The job must finish on the 3 others with no action by anyone, restored from the node-local
# level (the lost host's parts from their partner copies), losing no more steps than the
# node-local interval (sync: a step is whole on two nodes by the end of the step after it), or
# in async two intervals and the staleness bound (the servers' copies are not waited for, and
# a worker runs up to --max-staleness steps past a lost one).
#   node_loss.sh sync mpirun    jobs/mpirun_train.sh over a hostfile (from h1)
#   node_loss.sh async slurm    jobs/train_async.sbatch (2 servers, on h1 and h2) under the
#                               multi-node Slurm, losing server 1's host; also every push
#                               exactly once: the restored servers hold exactly the pushes of
#                               the workers' steps at the restored step
# The host that runs mpirun, slurmctld or the batch script (h1) is never the one lost; the
# lost host is brought back at the end for the tests after this one.
. "$(dirname "$0")/lib.sh"
mode=$1 launcher=$2
out=$(fresh_dir "node-loss-$mode-$launcher")
every=20
lost=h3
[ "$launcher" = slurm ] && lost=h2
gv=/mnt/gv/node-loss-$mode
state=/var/lib/dtrain-cluster
bash "$CLUSTER" run h1 rm -rf "$gv"
for h in h1 h2 h3 h4; do bash "$CLUSTER" run "$h" sh -c 'rm -rf /mnt/local/dtrain'; done
args=(--data-dir "$MNIST" "${SMALL[@]}" --dist "$mode" --threads 1 --log-every 10 --eval-every 1000000
  --local-checkpoint-dir /mnt/local/dtrain --local-checkpoint-steps $every
  --model-dir "$gv/ckpt" --checkpoint-steps 1000 --stall-timeout 60 --metrics-json "$out/m.json")
# Sync pins the sharded optimizer: which parts a node holds (and so what a lost node and its
# partner take with them) depends on it, and the choice from measured links may differ by run.
[ "$mode" = sync ] && args+=(--exchange sharded)

run_mpirun() {
  for h in h1 h2 h3 h4; do echo "$h slots=1"; done >"$out/hosts"
  bash "$CLUSTER" run h1 env HOSTFILE="$out/hosts" RSH="$state/rsh-agent" \
    MPIRUN_ARGS="--mca plm_rsh_agent $state/rsh-agent --mca plm_rsh_no_tree_spawn 1 --bind-to none" \
    DTRAIN_ROOT="$DTRAIN_ROOT" bash "$DTRAIN_ROOT/jobs/mpirun_train.sh" "${args[@]}" --steps 500 \
    >"$out/log.txt" 2>&1
}

run_slurm() {
  local jid
  jid=$(bash "$slurm" run env MODEL_DIR="$gv" LOCAL_CHECKPOINT_DIR=/mnt/local/dtrain NUM_PS=2 \
    DTRAIN_ROOT="$DTRAIN_ROOT" sbatch --parsable -N 4 --ntasks 4 --ntasks-per-node=1 --chdir "$out" \
    --output "$out/log.txt" "$DTRAIN_ROOT/jobs/train_async.sbatch")
  echo "${jid%%;*}" >"$out/job"
  wait_until 900 "job $(cat "$out/job") to end" slurm_job_ended "$(cat "$out/job")"
}

if [ "$launcher" = slurm ]; then
  slurm=$DTRAIN_ROOT/scripts/slurm_local.sh
  export TRAIN_ARGS="${SMALL[*]} --threads 1 --log-every 10 --eval-every 1000000 --local-checkpoint-steps $every --stall-timeout 60 --steps 500"
  run_slurm &
else
  run_mpirun &
fi
job=$!
# Back for the tests after this one: the host, and its slurmd when the multi-node Slurm is up.
back="bash '$CLUSTER' return $lost >/dev/null"
[ "$(cat /var/lib/dtrain-slurm/nodes 2>/dev/null || echo 0)" = 0 ] ||
  back="$back; bash '$DTRAIN_ROOT/scripts/slurm_local.sh' node-up $lost >/dev/null"
on_exit "kill $job 2>/dev/null; $back"
target=$((60 + RANDOM % 200))
training() { at_step "$out/log.txt" "$target" || ! kill -0 $job 2>/dev/null; }
wait_until 600 "step $target" training
at_step "$out/log.txt" "$target" || { cat "$out/log.txt"; fail "the job never reached step $target"; }
echo "$(date +%T) losing $lost at step $(logged_step "$out/log.txt")"
bash "$CLUSTER" lose $lost
set +e
wait $job
set -e
grep -E "dtrain-resilient|restoring|not used|resuming|servers applied|final|error" "$out/log.txt" | head -n 20
check_node_loss() {
  grep -q "node $lost lost" "$out/log.txt" || fail "the loss of $lost was not noticed"
  grep -qE "^final test accuracy" "$out/log.txt" || fail "the job did not finish on the other hosts"
  local line restored reached lost
  line=$(grep -m1 "restoring from the node-local level" "$out/log.txt") || fail "no restore from the node-local level"
  restored=$(sed -nE 's/.*: step ([0-9]+),.*/\1/p' <<<"$line")
  reached=$(sed -nE 's/.*had reached step ([0-9]+).*/\1/p' <<<"$line")
  # Async: counted by the fastest worker (the chief's step, the restored one, may trail it).
  lost=$(sed -nE 's/.*: ([0-9]+) step\(s\) lost.*/\1/p' <<<"$line")
  echo "restored step $restored; the lost run had reached $reached: ${lost:-?} steps lost (interval $every)"
  local bound=$every staleness
  if [ "$mode" = async ]; then
    staleness=$(sed -nE 's/.*workers at most ([0-9]+) steps apart.*/\1/p' "$out/log.txt" | head -n1)
    [ -n "$staleness" ] || fail "the start did not say the staleness bound the level brings"
    bound=$((2 * every + staleness))
  fi
  [ -n "$lost" ] && [ "$lost" -le $bound ] || fail "more steps lost than $bound"
  grep -q "partner copies for the parts of rank" <<<"$line" || fail "the lost host's parts did not come from partner copies"
}
check_node_loss
if [ "$mode" = async ]; then
  grep -qE "every push up to step [0-9]+ exactly once" "$out/log.txt" || fail "the restored pushes are not the workers' steps"
fi
[ "$launcher" = slurm ] && bash "$CLUSTER" run h1 cat "$gv/metrics.json" >"$out/m.json"
check_metrics "$out/m.json" --min-accuracy 0.9
echo OK
