# SIGKILL of one rank at a random step (sourced by fault_matrix.sh). The kill cases of one mode
# and launcher form a chain over one epoch of the small CNN: each link resumes where the previous
# one was killed, and after the last kill a resumed run finishes the epoch. Every link checks
# that the job ended by itself within its bound, that the launcher named the rank and host, and
# that the newest checkpoint reads back whole; async, that it holds every push of the workers'
# steps exactly once. The end of the chain: sync, parameters bit-identical to an uninterrupted
# run of the same epoch; async (two epochs, room for three links), exactly the 2 x 600 pushes
# of the uninterrupted run applied, and a model that learned (at least 90%; one uninterrupted
# run of this model gives 96-97%).

# kill_chain_args DIR MODE: the options of every run of a chain (and of its sync reference).
kill_chain_args() {
  local dir=$1 mode=$2 epochs=1
  [ "$mode" = async ] && epochs=2
  echo --data-dir "$MNIST" "${SMALL[@]}" --dist "$mode" --epochs $epochs --checkpoint-steps 25 \
    --log-every 5 --eval-every 100000 --stall-timeout "$STALL" --metrics-json "$dir/final.json"
}

# kill_victim_rank MODE VICTIM: which rank the case kills.
kill_victim_rank() {
  case "$1:$2" in
    async:ps) echo 0 ;; async:chief) echo 1 ;; async:worker) echo 2 ;;
    sync:chief) echo 0 ;; sync:worker) echo 1 ;;
  esac
}

# kill_chain_start DIR MODE LAUNCHER NP: the first link clears the chain; sync runs the
# uninterrupted reference the chain must end equal to.
kill_chain_start() {
  local dir=$1 mode=$2 launcher=$3 np=$4
  rm -rf "$dir" && mkdir -p "$dir/ckpt"
  [ "$mode" = sync ] || return 0
  # shellcheck disable=SC2046
  start "$launcher" "$np" "$dir/reference.log" $(kill_chain_args "$dir/ref" sync) \
    --export "$dir/reference.h5"
  finish 300
  [ "$JOB_RC" -eq 0 ] || { tail -n 20 "$dir/reference.log"; return 1; }
}

# kill_named LAUNCHER RANK LOG: the launcher's own report names the rank (task) and host.
kill_named() {
  local launcher=$1 rank=$2 log=$3
  if [ "$launcher" = srun ]; then
    grep -qE "srun: error: $(hostname): task $rank: Killed" "$log"
  else
    grep -qE "rank $rank with PID [0-9]+ on node $(hostname) exited on signal 9" "$log"
  fi
}

# kill_checks NEWEST MODE: the newest checkpoint after a kill reads back whole (async: with
# every push exactly once).
kill_checks() {
  ckpt whole "$1" || { echo "FAIL: the newest checkpoint does not read back whole"; return 1; }
  [ "$2" = sync ] || ckpt exactly_once "$1" || { echo "FAIL: pushes lost or counted twice"; return 1; }
}

# kill_chain_end DIR MODE LAUNCHER NP: the resumed run finishes the epoch as uninterrupted.
kill_chain_end() {
  local dir=$1 mode=$2 launcher=$3 np=$4 extra=()
  [ "$mode" = sync ] && extra=(--export "$dir/final.h5")
  # shellcheck disable=SC2046
  start "$launcher" "$np" "$dir/resume.log" $(kill_chain_args "$dir" "$mode") \
    --model-dir "$dir/ckpt" --resume "${extra[@]}"
  finish 300
  local acc steps
  acc=$(metric "$dir/final.json" test_accuracy 2>/dev/null || echo 0)
  steps=$(metric "$dir/final.json" last_step 2>/dev/null || echo 0)
  KILL_RESUME="resumed: epoch finished at step $steps, accuracy $(percent "$acc")"
  [ "$JOB_RC" -eq 0 ] || { echo "FAIL: the resumed run exited $JOB_RC"; tail -n 5 "$dir/resume.log"; return 1; }
  if [ "$mode" = sync ]; then
    ckpt same_params "$dir/reference.h5" "$dir/final.h5" ||
      { echo "FAIL: the resumed chain differs from the uninterrupted run"; return 1; }
    KILL_RESUME="$KILL_RESUME, bit-identical to uninterrupted"
  else
    local pushes
    pushes=$(ps_figure "$dir/resume.log" 0 pushes)
    [ "$steps" = 600 ] && [ "$pushes" = 1200 ] ||
      { echo "FAIL: step $steps and $pushes pushes applied, not 600 and 1200"; return 1; }
    awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || { echo "FAIL: accuracy $acc: the resumed model did not learn"; return 1; }
    KILL_RESUME="$KILL_RESUME, 1200 pushes applied"
  fi
}

# kill_case VICTIM MODE LAUNCHER: one link of the chain (see the top).
kill_case() {
  local victim=$1 mode=$2 launcher=$3 name="kill_$1.$2.$3"
  local dir=$W/kill-$mode-$launcher-$TRANSPORT np=3 rank
  [ "$mode" = sync ] && np=2
  rank=$(kill_victim_rank "$mode" "$victim")
  if [ "$victim" = ps ] || [ "$mode:$victim" = sync:chief ]; then
    kill_chain_start "$dir" "$mode" "$launcher" "$np" || { row "$name" "$mode" "$launcher" "reference failed" - - - -; return 1; }
  fi
  local before from=0
  before=$(newest_ckpt "$dir/ckpt")
  [ -n "$before" ] && from=$(ckpt_step "$before")
  # shellcheck disable=SC2046
  start "$launcher" "$np" "$dir/$name.log" $(kill_chain_args "$dir" "$mode") --model-dir "$dir/ckpt"
  # A random step, at least one checkpoint after the start.
  local target=$((from + 30 + RANDOM % 60))
  if ! wait_step "$dir/$name.log" "$target" 300; then
    finish 5
    tail -n 20 "$dir/$name.log"
    row "$name" "$mode" "$launcher" "never reached step $target" "-" "$JOB_RC" "-" "-"
    return 1
  fi
  local pid step_at killed_at
  pid=$(rank_pid "$rank" "$dir/ckpt") || { echo "no rank $rank found"; finish 5; return 1; }
  step_at=$(logged_step "$dir/$name.log")
  killed_at=$(date +%s.%N)
  kill -KILL "$pid"
  finish $((STALL + 30)) "$killed_at"
  kill_verdict "$name" "$mode" "$launcher" "$rank" "$victim" "$dir" "$step_at"
}

# kill_verdict NAME MODE LAUNCHER RANK VICTIM DIR STEP_AT: the checks after the kill, the
# chain's end after the last link, and the row.
kill_verdict() {
  local name=$1 mode=$2 launcher=$3 rank=$4 victim=$5 dir=$6 step_at=$7 ok=0
  local kill_rc=$JOB_RC kill_seconds=$JOB_SECONDS newest lost words
  newest=$(newest_ckpt "$dir/ckpt")
  lost=$((step_at - $(ckpt_step "$newest")))
  # An async checkpoint may be agreed a step or two past the chief's last logged step.
  [ "$lost" -ge 0 ] || lost=0
  echo "killed rank $rank ($victim) at about step $step_at: exit $JOB_RC after ${JOB_SECONDS}s"
  grep -E "process rank|task [0-9]+|stalled|error" "$dir/$name.log" | head -n 4
  words="mpirun: rank $rank on $(hostname), signal 9"
  [ "$launcher" = srun ] && words="srun: task $rank on $(hostname) Killed"
  kill_named "$launcher" "$rank" "$dir/$name.log" || { echo "FAIL: $launcher did not name the rank and host"; ok=1; }
  [ "$kill_rc" -ne 0 ] || { echo "FAIL: the job reported success"; ok=1; }
  # mpirun kills the other ranks at once; their own stall abort is the bound. srun sends them
  # SIGTERM and a rank still inside a stalled wait is killed KillWait later: Slurm's bound.
  local limit=$((STALL + 10))
  [ "$launcher" = srun ] && limit=$((limit > KILL_WAIT + 5 ? limit : KILL_WAIT + 5))
  awk -v t="$kill_seconds" -v l=$limit 'BEGIN { exit !(t <= l) }' || { echo "FAIL: ${kill_seconds}s to end (limit $limit)"; ok=1; }
  kill_checks "$newest" "$mode" || ok=1
  ls "$dir/ckpt" | grep -q '\.tmp$' && echo "(a .tmp of the checkpoint being written is left; the next run clears it)"
  KILL_RESUME="resumed by the next case"
  if [ "$victim" = worker ]; then
    local np=3
    [ "$mode" = sync ] && np=2
    kill_chain_end "$dir" "$mode" "$launcher" "$np" || ok=1
  fi
  row "$name" "$mode" "$launcher" "ended; $words" "$kill_seconds" "$kill_rc" "$lost steps" "$KILL_RESUME"
  return $ok
}

# balanced_kill_case: --balance speed (sync, 2 ranks, rank 1 a slower CPU) killed at a random
# step and resumed: the resumed run keeps the splits its checkpoint recorded (those decided for
# later steps too), and the chain ends bit-identical to an uninterrupted run that replays the
# chain's splits (--replay-splits): the same rows on the same ranks at every step.
balanced_kill_case() {
  local name=kill_worker.balanced.mpirun dir=$W/kill-balanced-$TRANSPORT
  rm -rf "$dir" && mkdir -p "$dir/ckpt"
  local args=(--data-dir "$MNIST" "${SMALL[@]}" --dist sync --balance speed --steps 150
    --checkpoint-steps 25 --log-every 5 --eval-every 100000 --stall-timeout "$STALL")
  DTRAIN_TEST_SLOW_WORKER=1:30 start mpirun 2 "$dir/killed.log" "${args[@]}" --model-dir "$dir/ckpt"
  local target=$((40 + RANDOM % 60))
  if ! wait_step "$dir/killed.log" "$target" 300; then
    finish 5
    tail -n 20 "$dir/killed.log"
    row "$name" sync mpirun "never reached step $target" - "$JOB_RC" - -
    return 1
  fi
  local pid step_at killed_at
  pid=$(rank_pid 1 "$dir/ckpt") || { echo "no rank 1 found"; finish 5; return 1; }
  step_at=$(logged_step "$dir/killed.log")
  killed_at=$(date +%s.%N)
  kill -KILL "$pid"
  finish $((STALL + 30)) "$killed_at"
  local kill_rc=$JOB_RC kill_seconds=$JOB_SECONDS from ok=0
  from=$(newest_ckpt "$dir/ckpt")
  cp "$from" "$dir/resumed_from.h5"
  echo "killed rank 1 at about step $step_at: exit $kill_rc after ${kill_seconds}s; resuming from $(ckpt_step "$from")"
  [ "$kill_rc" -ne 0 ] || { echo "FAIL: the job reported success"; ok=1; }
  DTRAIN_TEST_SLOW_WORKER=1:30 start mpirun 2 "$dir/resume.log" "${args[@]}" --model-dir "$dir/ckpt" \
    --resume --export "$dir/final.h5"
  finish 300
  [ "$JOB_RC" -eq 0 ] || { echo "FAIL: the resumed run exited $JOB_RC"; tail -n 5 "$dir/resume.log"; ok=1; }
  local last
  last=$(newest_ckpt "$dir/ckpt")
  ckpt splits "$last"
  ckpt splits_prefix "$dir/resumed_from.h5" "$last" || ok=1
  start mpirun 2 "$dir/replay.log" "${args[@]}" --replay-splits "$last" --export "$dir/replay.h5"
  finish 300
  [ "$JOB_RC" -eq 0 ] || { echo "FAIL: the replay exited $JOB_RC"; tail -n 5 "$dir/replay.log"; ok=1; }
  local lost=$((step_at - $(ckpt_step "$from"))) resume="resumed to step 150, bit-identical to its splits replayed"
  ckpt same_params "$dir/final.h5" "$dir/replay.h5" || { resume="DIFFERENT from its splits replayed"; ok=1; }
  row "$name" sync mpirun "ended; mpirun: rank 1 on $(hostname), signal 9" "$kill_seconds" "$kill_rc" \
    "$lost steps" "$resume"
  return $ok
}
