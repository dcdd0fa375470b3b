#!/usr/bin/env bash
# A lost node, measured: on 4 emulated hosts (scripts/cluster_local.sh: each host its own
# node-local tmpfs, a dispersed GlusterFS volume for --model-dir), both modes, under plain
# mpirun (jobs/mpirun_train.sh) and under the multi-node Slurm (jobs/train_*.sbatch), LOSSES
# runs each in which a random host other than h1 is lost at a random step (its link down,
# every process on it killed, its node-local store wiped). For every loss: whether the job
# finished on the 3 others by itself, the steps lost against the node-local interval, the
# accuracy against the lowest of 3 uninterrupted runs of the same length, and the seconds from
# the loss to its detection, to the relaunch, to the restore and to the first step after it.
# Then the cost of the node-local level (the same run with and without it, side by side, at
# 1 Gbit/s and unshaped) and a lost host coming back under mpirun.
#   scripts/bench_node_loss.sh                   (LOSSES=10 STEPS=300 ARCH=cnn COST_ROUNDS=3 COST_STEPS=STEPS)
#   LOSSES=2 ARCH=cnn-small scripts/bench_node_loss.sh
#   COMBOS="async:slurm" ...                     (some of the mode:launcher pairs; none: no loss runs)
#   COST_MODES=async COST_RATES=1gbit ...        (the cost runs of one mode, at one link rate)
#   RETURNED=0 ...                               (no run with a lost host that comes back)
#   REFERENCES=0 ...                             (no uninterrupted runs: give bench_tables.py
#                                                 a raw file that holds some)
# Tables to stdout and bench-results/node_loss.md; raw lines in bench-results/node_loss.jsonl.
. "$(dirname "$0")/lib.sh"
bench_setup node_loss iproute2 glusterfs-server glusterfs-client slurmctld slurmd slurm-client munge
OUT=$BENCH_OUT
raw=$BENCH_RAW
CLUSTER=$DTRAIN_ROOT/scripts/cluster_local.sh
SLURM=$DTRAIN_ROOT/scripts/slurm_local.sh
STATE=/var/lib/dtrain-cluster
LOSSES=${LOSSES:-10} STEPS=${STEPS:-300} ARCH=${ARCH:-cnn} EVERY=${EVERY:-auto} COST_ROUNDS=${COST_ROUNDS:-3}
COST_STEPS=${COST_STEPS:-$STEPS}  # the cost runs' length: longer runs, less noise
WORK=$DTRAIN_ROOT/bench-results/node-loss
mkdir -p "$WORK"
trap 'rc=$?; set +e; bash "$SLURM" down >/dev/null 2>&1; bash "$CLUSTER" down >/dev/null; exit $rc' EXIT
. "$DTRAIN_ROOT/scripts/node_loss_lib.sh"

cluster_up none
for combo in ${COMBOS:-sync:mpirun sync:slurm async:mpirun async:slurm}; do
  [ "$combo" != none ] || continue
  mode=${combo%:*} launcher=${combo#*:}
  for i in $(seq 1 "${REFERENCES:-3}"); do run_once "$mode" "$launcher" reference "$i" | tee -a "$raw"; done
  for i in $(seq 1 "$LOSSES"); do run_once "$mode" "$launcher" loss "$i" | tee -a "$raw"; done
done
[ "${RETURNED:-1}" = 0 ] || run_returned | tee -a "$raw"
for rate in ${COST_RATES:-1gbit none}; do
  cluster_up "$rate"
  for i in $(seq 1 "$COST_ROUNDS"); do
    # ABBA: the order alternates by round, so that what follows a run (or the cluster's
    # bring-up) does not always fall on the same side.
    levels="without with"
    [ $((i % 2)) = 1 ] || levels="with without"
    for mode in ${COST_MODES:-sync async}; do
      for level in $levels; do run_cost "$mode" "$level" "$rate" "$i" | tee -a "$raw"; done
    done
  done
done
/usr/bin/python3 "$DTRAIN_ROOT/scripts/bench_tables.py" node_loss "$raw" | tee "$OUT/node_loss.md"
