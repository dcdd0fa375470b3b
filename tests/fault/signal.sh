# SIGTERM and SIGUSR1 as Slurm delivers them (sourced by fault_matrix.sh): every rank gets the
# signal at a random step; the ranks agree on one step, checkpoint it, and stop (TERM, exit
# 143) or go on (USR1).

# sync_signal_case SIG NAME: a sync run of the small CNN signalled at a random step, against
# the uninterrupted run: USR1 changes nothing and its checkpoint resumes to the same end; TERM
# stops at the checkpoint's step and the resumed run ends bit-identical.
sync_signal_case() {
  local sig=$1 name="$2.sync.mpirun" dir=$W/$2-sync-$TRANSPORT
  rm -rf "$dir" && mkdir -p "$dir"
  local args=(--data-dir "$MNIST" "${SMALL[@]}" --dist sync --steps 600 --batch-size 64
    --log-every 5 --eval-every 100000)
  start mpirun 2 "$dir/reference.log" "${args[@]}" --export "$dir/reference.h5"
  finish 300
  start mpirun 2 "$dir/run.log" "${args[@]}" --model-dir "$dir/ckpt" --export "$dir/run.h5"
  wait_step "$dir/run.log" $((20 + RANDOM % 280)) 300 || { row "$name" sync mpirun "ended before the signal" - - - -; return 1; }
  local sent_at
  sent_at=$(date +%s.%N)
  signal_all "$sig" "$dir/ckpt"
  finish 300 "$sent_at"
  sync_signal_verdict "$sig" "$name" "$dir" "${args[@]}"
}

sync_signal_verdict() {
  local sig=$1 name=$2 dir=$3 ok=0 what want=143
  shift 3
  [ "$sig" = USR1 ] && want=0
  local sig_rc=$JOB_RC sig_seconds=$JOB_SECONDS ckpt_file step
  ckpt_file=$(oldest_ckpt "$dir/ckpt")
  step=$(ckpt_step "$ckpt_file")
  grep -E "checkpoint|stopping" "$dir/run.log" | head -n 3
  [ "$sig_rc" -eq "$want" ] || { echo "FAIL: exit $sig_rc, expected $want"; ok=1; }
  if [ "$sig" = TERM ]; then
    grep -q "stopping after step $step" "$dir/run.log" || { echo "FAIL: no stop at the checkpoint's step $step"; ok=1; }
    what="checkpoint at step $step, stopped"
    start mpirun 2 "$dir/resume.log" "$@" --model-dir "$dir/ckpt" --resume --export "$dir/run.h5"
  else
    what="checkpoint at step $step, went on"
    # ... and the checkpoint taken on the way resumes to the same end as well.
    mkdir -p "$dir/from-usr1" && cp "$ckpt_file" "$dir/from-usr1/"
    ckpt same_params "$dir/reference.h5" "$dir/run.h5" || { echo "FAIL: the signalled run changed the training"; ok=1; }
    start mpirun 2 "$dir/resume.log" "$@" --model-dir "$dir/from-usr1" --resume --export "$dir/run.h5"
  fi
  finish 300
  local resume="resumed: bit-identical to the uninterrupted run"
  ckpt same_params "$dir/reference.h5" "$dir/run.h5" || { resume="resumed: DIFFERENT from the uninterrupted run"; ok=1; }
  row "$name" sync mpirun "$what" "$sig_seconds" "$sig_rc" "0 steps" "$resume"
  return $ok
}

# The uninterrupted async epoch of the default CNN (2 servers, 2 workers) that
# train.async_2ps_2workers_one_epoch leaves in $DTRAIN_WORK/reference-async (run here if missing).
async_reference() {
  local ref=$DTRAIN_WORK/reference-async
  if [ ! -f "$ref/metrics.json" ]; then
    bash "$DTRAIN_ROOT/tests/integration/one_epoch.sh" async >/dev/null || return 1
  fi
  echo "$ref"
}

# async_checkpoint_at DIR STEP: the checkpoint of STEP holds every worker at STEP and every
# server with exactly their pushes.
async_checkpoint_at() {
  local counters
  counters=$(ckpt counters "$1/ckpt-$(printf %010d "$2").h5")
  echo "checkpoint at step $2: $counters"
  [ "$counters" = "worker_steps=$2,$2 servers_applied=$((2 * $2)),$((2 * $2))" ] ||
    { echo "FAIL: the checkpoint is not at one agreed step with every push in it"; return 1; }
}

# signals_async_case: one async epoch of the default CNN (2 servers + 2 workers) that gets
# SIGUSR1 at a random step (checkpoint, go on), then SIGTERM (checkpoint, stop), and is
# resumed: every checkpoint at an agreed step with every push; the servers restart at the
# push counts where they stopped; the end on the uninterrupted run's schedule and accuracy.
signals_async_case() {
  local name=signals.async.mpirun dir=$W/signals-async-$TRANSPORT ref ok=0
  ref=$(async_reference) || { row "$name" async mpirun "no reference run" - - - -; return 1; }
  rm -rf "$dir" && mkdir -p "$dir"
  local args=(--data-dir "$MNIST" --num-ps 2 --epochs 1 --log-every 5 --eval-every 100000
    --model-dir "$dir/ckpt" --metrics-json "$dir/final.json")
  start mpirun 4 "$dir/run.log" "${args[@]}"
  local usr1 term
  usr1=$(signal_and_checkpoint USR1 "$dir" $((20 + RANDOM % 100)) 0) || ok=1
  async_checkpoint_at "$dir/ckpt" "$usr1" || ok=1
  # Each worker asks for the checkpoint its SIGUSR1 wants: a second one may follow at once.
  wait_step "$dir/run.log" $((usr1 + 10 + RANDOM % 100)) 300 || ok=1
  signal_all TERM "$dir/ckpt"
  finish 600
  term=$(sed -nE 's/^stopping after step ([0-9]+) .*/\1/p' "$dir/run.log")
  [ "$JOB_RC" -eq 143 ] && [ -n "$term" ] ||
    { echo "FAIL: exit $JOB_RC, not 143 after an agreed stop"; ok=1; }
  async_checkpoint_at "$dir/ckpt" "$term" || ok=1
  local stopped_at=() r
  for r in 0 1; do stopped_at+=("$(ps_figure "$dir/run.log" $r pushes)"); done
  start mpirun 4 "$dir/resume.log" "${args[@]}" --resume
  finish 600
  for r in 0 1; do
    grep -q "parameter server $r: .*starting at ${stopped_at[$r]} pushes applied" "$dir/resume.log" ||
      { echo "FAIL: server $r restarted at another push count than ${stopped_at[$r]}"; ok=1; }
  done
  async_end_checks "$dir" "$ref" || ok=1
  row "$name" async mpirun "USR1: checkpoint at step $usr1, went on; TERM: checkpoint at step $term, stopped" \
    - 143 "0 steps" "$ASYNC_RESUME"
  return $ok
}

# signal_and_checkpoint SIG DIR STEP AFTER: at STEP, SIG to every rank; prints the step of the
# checkpoint it caused (the first one newer than step AFTER).
signal_and_checkpoint() {
  local sig=$1 dir=$2 step=$3 after=$4 file
  wait_step "$dir/run.log" "$step" 300 || { echo "FAIL: the run ended before step $step" >&2; return 1; }
  signal_all "$sig" "$dir/ckpt"
  newer_ckpt() { file=$(newest_ckpt "$dir/ckpt") && [ -n "$file" ] && [ "$(ckpt_step "$file")" -gt "$after" ]; }
  wait_until 300 "a checkpoint after SIG$sig" newer_ckpt || return 1
  ckpt_step "$file"
}

# async_end_checks DIR REF: the resumed run ends where the uninterrupted one did: 600 pushes
# on every server, the same learning rate, step 300, accuracy no more than 0.5 points under.
async_end_checks() {
  local dir=$1 ref=$2 ok=0 r lr_ref pushes lr acc acc_ref steps
  lr_ref=$(ps_figure "$ref/log.txt" 0 lr)
  for r in 0 1; do
    pushes=$(ps_figure "$dir/resume.log" $r pushes)
    lr=$(ps_figure "$dir/resume.log" $r lr)
    echo "server $r: $pushes pushes applied, learning rate $lr (uninterrupted: 600, $lr_ref)"
    # The rate printed is the last drain's, at the pushes applied before it: 598 or 599, as that
    # drain merged both workers' last pushes or one. One push of the decay is 0.085%.
    [ "$pushes" = 600 ] && awk -v a="$lr" -v b="$lr_ref" 'BEGIN { q = a / b; exit !(q > 0.999 && q < 1.001) }' ||
      { echo "FAIL: server $r ended elsewhere on the schedule"; ok=1; }
  done
  acc=$(metric "$dir/final.json" test_accuracy)
  acc_ref=$(metric "$ref/metrics.json" test_accuracy)
  steps=$(metric "$dir/final.json" last_step)
  [ "$steps" = 300 ] || { echo "FAIL: ended at step $steps, not 300"; ok=1; }
  # Async runs differ in push order: three uninterrupted runs of this layout gave 98.44-98.58%.
  # So only a resumed model more than 0.5 points under the reference fails; better never does.
  awk -v a="$acc" -v b="$acc_ref" 'BEGIN { exit !(a >= b - 0.005) }' ||
    { echo "FAIL: accuracy $acc, more than 0.5 points under the uninterrupted $acc_ref"; ok=1; }
  ASYNC_RESUME="step 300, schedule as uninterrupted; accuracy $(percent "$acc") (uninterrupted $(percent "$acc_ref"))"
  return $ok
}

# balanced_async_case: async --balance speed (1 server, 2 workers, worker 1 a slower CPU): the
# workers take one epoch's chunks from the shared counter. SIGTERM at a random step stops it at
# an agreed step (the chunks the workers held beyond it untrained); the resumed run takes them
# again. Over both runs every example of the epoch is trained exactly once (each worker's ids,
# DTRAIN_TEST_RECORD_IDS), every checkpoint holds the pushes of the steps before it, the
# server ends at the epoch's 600 pushes, and the fast worker took more chunks.
balanced_async_case() {
  local name=signals.async_balanced.mpirun dir=$W/async-balanced-$TRANSPORT ok=0
  rm -rf "$dir" && mkdir -p "$dir/ids1" "$dir/ids2"
  local args=(--data-dir "$MNIST" "${SMALL[@]}" --dist async --balance speed --epochs 1
    --log-every 5 --eval-every 100000 --model-dir "$dir/ckpt" --stall-timeout "$STALL")
  DTRAIN_TEST_SLOW_WORKER=1:30 DTRAIN_TEST_RECORD_IDS=$dir/ids1 start mpirun 3 "$dir/run.log" "${args[@]}"
  wait_step "$dir/run.log" $((60 + RANDOM % 120)) 300 || { echo "FAIL: the run ended early"; ok=1; }
  signal_all TERM "$dir/ckpt"
  finish 300
  local term
  term=$(sed -nE 's/^stopping after step ([0-9]+) .*/\1/p' "$dir/run.log")
  [ "$JOB_RC" -eq 143 ] && [ -n "$term" ] ||
    { echo "FAIL: exit $JOB_RC, not 143 after an agreed stop"; tail -n 5 "$dir/run.log"; ok=1; }
  local counters
  counters=$(ckpt counters "$dir/ckpt/ckpt-$(printf %010d "${term:-0}").h5")
  echo "checkpoint at step $term: $counters"
  [ "$counters" = "worker_steps=$term,$term servers_applied=$((2 * ${term:-0}))" ] ||
    { echo "FAIL: the checkpoint does not hold exactly the chunks of the steps before it"; ok=1; }
  grep -qE "^rank 2 on [^ ]+ computes [0-9.]+x slower than the median .*: the others take more of the work" \
    "$dir/run.log" || { echo "FAIL: rank 2 not named"; ok=1; }
  DTRAIN_TEST_SLOW_WORKER=1:30 DTRAIN_TEST_RECORD_IDS=$dir/ids2 start mpirun 3 "$dir/resume.log" \
    "${args[@]}" --resume
  finish 300
  [ "$JOB_RC" -eq 0 ] || { echo "FAIL: the resumed run exited $JOB_RC"; tail -n 5 "$dir/resume.log"; ok=1; }
  local pushes
  pushes=$(ps_figure "$dir/resume.log" 0 pushes)
  [ "$pushes" = 600 ] || { echo "FAIL: $pushes pushes applied, not the epoch's 600"; ok=1; }
  local once
  once=$(ckpt ids_once 60000 "$dir/ids1" "$dir/ids2") || ok=1
  echo "stopped at step $term, resumed: $once"
  fast_took_more "$once" || { echo "FAIL: the fast worker did not take more of the work"; ok=1; }
  row "$name" async mpirun "TERM: checkpoint at step $term, stopped" - 143 "0 steps" \
    "resumed: every example of the epoch once, 600 pushes applied"
  return $ok
}
