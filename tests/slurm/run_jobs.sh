#!/usr/bin/env bash
# Submits every job script in jobs/ to the local Slurm (scripts/slurm_local.sh, started by the
# slurm.up test), waits for each, and checks that it ended COMPLETED with exit code 0 and
# produced what it should. Also: a training job warned of its time limit (USR1 to the batch
# shell, as --signal=B:USR1@120 does) must checkpoint, requeue itself and finish from the
# checkpoint. That one runs beside the others (most of its time is Slurm's wait before a
# requeued job starts again); the training jobs train the small CNN long enough for 96%.
. "$(dirname "$0")/../integration/lib.sh"
root=$DTRAIN_ROOT
work=$(fresh_dir slurm-jobs)
cd "$work"
run() { bash "$root/scripts/sbatch_run.sh" --timeout 1200 "$@"; }
check() { # file pattern description
  grep -qE -e "$2" "$1" || { echo "FAIL: $3 (no '$2' in $1)"; tail -n 30 "$1"; exit 1; }
  echo "ok: $3"
}
train_args="--arch cnn-small --steps 900 --eval-every 900"

data_async_inference() {
  echo "== data set-up (2 tasks writing TFRecord shards in parallel, then verified)"
  OUTPUT=$work/shards FORMAT=tfrecord PARTITIONS=4 run "$root/jobs/data_setup.sbatch" >data.log 2>&1 || { cat data.log; exit 1; }
  check data.log "verified .*/train: 60000 examples identical" "the shards hold the IDX data exactly"
  echo "== async training (srun, 1 PS + 2 workers, from the TFRecord shards)"
  DATA=$work/shards MODEL_DIR=$work/async TRAIN_ARGS="$train_args" \
    run "$root/jobs/train_async.sbatch" >async.log 2>&1 || { cat async.log; exit 1; }
  check async.log "final test accuracy (9[6-9]|100)\." "async job trained (accuracy line)"
  check async.log "0 +ps 0 " "async role table"
  [ -f "$work/async/model.h5" ] || fail "the async job exported no model"
  echo "ok: exported model"
  echo "== inference (2 tasks, model from the async job)"
  MODEL=$work/async/model.h5 OUTPUT=$work/pred run "$root/jobs/inference.sbatch" >infer.log 2>&1 || { cat infer.log; exit 1; }
  check infer.log "predictions: 10000 lines" "predictions written"
  check infer.log "^accuracy (9[6-9]|100)\." "accuracy summary"
}

sync_and_benchmark() {
  echo "== sync training (mpirun inside the allocation)"
  DTRAIN_LAUNCHER=mpirun MODEL_DIR=$work/sync TRAIN_ARGS="$train_args" \
    run "$root/jobs/train_sync.sbatch" >sync.log 2>&1 || { cat sync.log; exit 1; }
  check sync.log "final test accuracy (9[6-9]|100)\." "sync job trained"
  check sync.log "mode sync" "sync role table"
  echo "== transport benchmark (shortened)"
  QUICK=1 run "$root/jobs/bench_transport.sbatch" >bench.log 2>&1 || { cat bench.log; exit 1; }
  check bench.log "RDMA stand-in" "transport table"
  check bench.log "rdma / tcp" "RDMA/TCP ratios"
  [ -s "$root/bench-results/bandwidth.png" ] || fail "the benchmark job drew no plots"
  echo "ok: plots"
}

# job_state JOB: "STATE RESTARTS" of a job.
job_state() {
  local info
  info=$(scontrol show job -o "$1")
  echo "$(grep -oE 'JobState=[A-Z_]+' <<<"$info" | cut -d= -f2) $(grep -oE ' Restarts=[0-9]+' <<<"$info" | cut -d= -f2)"
}

requeue_case() {
  echo "== time-limit warning: checkpoint, requeue, resume"
  local jid state
  jid=$(MODEL_DIR=$work/requeue TRAIN_ARGS="--arch cnn-small --steps 2000 --checkpoint-steps 50 --eval-every 2000" \
    sbatch --parsable "$root/jobs/train_sync.sbatch")
  jid=${jid%%;*}
  has_checkpoint() { ls "$work/requeue"/ckpt-*.h5 >/dev/null 2>&1; }
  wait_until 600 "a first checkpoint of job $jid" has_checkpoint || exit 1
  scancel --batch --signal=USR1 "$jid"
  echo "sent the warning signal to job $jid"
  settled() {
    state=$(job_state "$jid")
    case "$state" in
      COMPLETED\ [1-9]* | FAILED* | CANCELLED* | TIMEOUT* | NODE_FAIL* | OUT_OF_MEMORY*) return 0 ;;
      COMPLETED*) echo "FAIL: job $jid completed without a requeue" && return 0 ;;
    esac
    return 1
  }
  wait_until 1200 "job $jid to complete after its requeue" settled || exit 1
  echo "job $jid: $state"
  local out=dtrain-sync-$jid.out
  [[ $state == COMPLETED\ [1-9]* ]] || { echo "FAIL: job $jid did not complete after a requeue"; cat "$out"; exit 1; }
  check "$out" "warning signal: checkpoint, stop, requeue" "the job script caught the warning"
  check "$out" "resuming from .*ckpt-" "the requeued run resumed from the checkpoint"
  check "$out" "final test accuracy" "the requeued run finished"
}

requeue_case >requeue.log 2>&1 &
requeue=$!
on_exit 'kill $requeue 2>/dev/null'
data_async_inference
sync_and_benchmark
wait $requeue || { cat requeue.log; fail "the requeue case"; }
cat requeue.log
echo "all Slurm jobs passed"
