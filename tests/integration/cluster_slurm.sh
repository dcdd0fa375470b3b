#!/usr/bin/env bash
# The multi-node Slurm on the emulated hosts (cluster.slurm.up: slurmctld on h1, a slurmd on
# each): the data, training and inference job scripts, submitted with `sbatch -N 3` as a user
# would, with DATA, MODEL_DIR and OUTPUT on the GlusterFS volume every host mounts, end
# COMPLETED with exit 0 and their ranks on 3 different hosts (read from the role table).
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir cluster-slurm)
slurm=$DTRAIN_ROOT/scripts/slurm_local.sh
submit() {  # sbatch args...: waits, prints the output, fails unless COMPLETED 0:0
  bash "$slurm" run bash "$DTRAIN_ROOT/scripts/sbatch_run.sh" --timeout 900 "$@"
}
cd "$out"
export DTRAIN_ROOT=$DTRAIN_ROOT
gv=/mnt/gv/slurm
bash "$CLUSTER" run h1 rm -rf "$gv"
OUTPUT=$gv/shards FORMAT=tfrecord PARTITIONS=6 \
  submit -N 3 --ntasks 3 --chdir "$out" "$DTRAIN_ROOT/jobs/data_setup.sbatch" >data.log 2>&1 || { cat data.log; fail "data job"; }
grep -E "verified" data.log
DATA=$gv/shards MODEL_DIR=$gv/async TRAIN_ARGS="--arch cnn-small --steps 300 --eval-every 300 --threads 1" \
  submit -N 3 --chdir "$out" "$DTRAIN_ROOT/jobs/train_async.sbatch" >async.log 2>&1 || { cat async.log; fail "async job"; }
hosts=$(sed -n '/^dtrain:/,/^transport:/p' async.log | grep -oE ' h[0-9]+ ' | sort -u | wc -l)
grep -E "final|^  [0-9]" async.log | head -n 5
[ "$hosts" = 3 ] || fail "the async job's ranks are on $hosts host(s), not 3"
MODEL=$gv/async/model.h5 OUTPUT=$gv/pred DATA=$gv/shards/test INFER_ARGS="--threads 1" \
  submit -N 3 --ntasks 3 --chdir "$out" "$DTRAIN_ROOT/jobs/inference.sbatch" >infer.log 2>&1 || { cat infer.log; fail "inference job"; }
grep -E "predictions|accuracy" infer.log
grep -q "predictions: 10000 lines" infer.log || fail "not 10000 predictions"
echo OK
