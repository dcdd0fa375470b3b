#!/usr/bin/env bash
# Submits every job script in jobs/ to the local Slurm (scripts/slurm_local.sh, started by the
# slurm.up test), waits for each, and checks that it ended COMPLETED with exit code 0 and
# produced what it should. Also: a training job warned of its time limit (USR1 to the batch
# shell, as --signal=B:USR1@120 does) must checkpoint, requeue itself and finish from the
# checkpoint.
. "$(dirname "$0")/../integration/lib.sh"
root=$DTRAIN_SOURCE
work=$(fresh_dir slurm-jobs)
export DTRAIN_ROOT=$root
cd "$work"
run() { bash "$root/scripts/sbatch_run.sh" --timeout 1200 "$@"; }
check() {  # file pattern description
  grep -qE -e "$2" "$1" || { echo "FAIL: $3 (no '$2' in $1)"; tail -n 30 "$1"; exit 1; }
  echo "ok: $3"
}

echo "== data set-up (2 tasks writing TFRecord shards in parallel, then verified)"
OUTPUT=$work/shards FORMAT=tfrecord PARTITIONS=4 run "$root/jobs/data_setup.sbatch" >data.log 2>&1 || { cat data.log; exit 1; }
check data.log "verified .*/train: 60000 examples identical" "the shards hold the IDX data exactly"

echo "== async training (srun, 1 PS + 2 workers, from the TFRecord shards)"
DATA=$work/shards MODEL_DIR=$work/async TRAIN_ARGS="--steps 150 --eval-every 150" \
  run "$root/jobs/train_async.sbatch" >async.log 2>&1 || { cat async.log; exit 1; }
check async.log "final test accuracy (9[6-9]|100)\." "async job trained (accuracy line)"
check async.log "0 +ps 0 " "async role table"
[ -f "$work/async/model.h5" ] || fail "the async job exported no model"
echo "ok: exported model"

echo "== sync training (mpirun inside the allocation)"
DTRAIN_LAUNCHER=mpirun MODEL_DIR=$work/sync TRAIN_ARGS="--steps 150 --eval-every 150" \
  run "$root/jobs/train_sync.sbatch" >sync.log 2>&1 || { cat sync.log; exit 1; }
check sync.log "final test accuracy (9[6-9]|100)\." "sync job trained"
check sync.log "mode sync" "sync role table"

echo "== inference (2 tasks, model from the async job)"
MODEL=$work/async/model.h5 OUTPUT=$work/pred run "$root/jobs/inference.sbatch" >infer.log 2>&1 || { cat infer.log; exit 1; }
check infer.log "predictions: 10000 lines" "predictions written"
check infer.log "^accuracy (9[6-9]|100)\." "accuracy summary"

echo "== transport benchmark (shortened)"
QUICK=1 run "$root/jobs/bench_transport.sbatch" >bench.log 2>&1 || { cat bench.log; exit 1; }
check bench.log "RDMA stand-in" "transport table"
check bench.log "rdma / tcp" "RDMA/TCP ratios"
[ -s "$root/bench-results/bandwidth.png" ] || fail "the benchmark job drew no plots"
echo "ok: plots"

echo "== time-limit warning: checkpoint, requeue, resume"
jid=$(MODEL_DIR=$work/requeue TRAIN_ARGS="--steps 300 --checkpoint-steps 50 --eval-every 300" \
      sbatch --parsable "$root/jobs/train_sync.sbatch")
jid=${jid%%;*}
for _ in $(seq 1 600); do
  ls "$work/requeue"/ckpt-*.h5 >/dev/null 2>&1 && break
  sleep 0.5
done
scancel --batch --signal=USR1 "$jid"
echo "sent the warning signal to job $jid"
for _ in $(seq 1 2400); do
  info=$(scontrol show job -o "$jid")
  st=$(grep -oE 'JobState=[A-Z_]+' <<<"$info" | cut -d= -f2)
  restarts=$(grep -oE ' Restarts=[0-9]+' <<<"$info" | cut -d= -f2)
  [ "$st" = COMPLETED ] && [ "${restarts:-0}" -ge 1 ] && break
  case "$st" in FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) echo "FAIL: job $jid $st"; cat dtrain-sync-"$jid".out; exit 1 ;; esac
  sleep 0.5
done
echo "job $jid: $st, restarts ${restarts:-0}"
out=dtrain-sync-$jid.out
[ "$st" = COMPLETED ] || { echo "FAIL: job $jid did not complete"; cat "$out"; exit 1; }
check "$out" "warning signal: checkpoint, stop, requeue" "the job script caught the warning"
check "$out" "resuming from .*ckpt-" "the requeued run resumed from the checkpoint"
check "$out" "final test accuracy" "the requeued run finished"
echo "all Slurm jobs passed"
