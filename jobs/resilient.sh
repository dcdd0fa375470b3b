# A training job that carries on when nodes are lost (sourced by jobs/mpirun_train.sh and by
# jobs/common.sh for the Slurm job scripts). The launcher (mpirun over a host list, or srun
# inside the allocation) runs mnist_train; meanwhile the nodes are probed. When one stops
# answering, the job is ended, that node left out, and the job started again on the others,
# which resume from the node-local checkpoints (--local-checkpoint-dir) or --model-dir: no
# person, no new allocation. Stops with a clear message below MIN_NODES nodes, after
# MAX_RESTARTS restarts, and on a crash that is not a node loss when it happens twice at the
# same step with the same error.
#
# The caller defines:
#   resilient_launch HOSTS...   starts the job on these nodes in the background (RESILIENT_PID),
#                               its output also appended to RESILIENT_LOG
#   resilient_probe HOST        succeeds while the node answers (bounded by its own timeout)
# Knobs: MIN_NODES (1), MAX_RESTARTS (5), PROBE_SECONDS (1: between rounds of probes, which
# run side by side, each bounded by the caller's timeout), LOST_AFTER (3 failed probes in a row),
# STOP_WAIT (2 s from SIGTERM to SIGKILL of a launcher whose node is gone: its ranks cannot
# checkpoint without the lost ones, and their node-local checkpoints are already written).
: "${MIN_NODES:=1}" "${MAX_RESTARTS:=5}" "${PROBE_SECONDS:=1}" "${LOST_AFTER:=3}" "${STOP_WAIT:=2}"

resilient_log() { echo "dtrain-resilient: $(date +%T) $*"; }

# resilient_watch HOSTS...: until the launcher ends: probes the nodes in use every
# PROBE_SECONDS; a node failing LOST_AFTER probes in a row is lost (RESILIENT_LOST), and the
# launcher is stopped. Also probes RESILIENT_OUT (nodes left out): one answering again is
# RESILIENT_BACK, and the job is asked to checkpoint and stop (RESILIENT_STOP_SIGNAL) so that
# the next launch takes it back.
resilient_watch() {
  local -A fails=()
  local h answers
  RESILIENT_LOST="" RESILIENT_BACK=""
  while kill -0 "$RESILIENT_PID" 2>/dev/null; do
    answers=$(resilient_probe_all "$@")
    for h in "$@"; do
      if grep -qx "$h" <<<"$answers"; then fails[$h]=0; else fails[$h]=$((${fails[$h]:-0} + 1)); fi
      if [ "${fails[$h]}" -ge "$LOST_AFTER" ]; then
        RESILIENT_LOST=$h
        resilient_log "node $h lost: no answer to $LOST_AFTER probes ${PROBE_SECONDS}s apart; ending the job"
        resilient_stop
        return
      fi
    done
    resilient_watch_returned
    sleep "$PROBE_SECONDS"
  done
}

# resilient_probe_all HOSTS...: the hosts that answer, one per line (probed side by side).
resilient_probe_all() {
  local h
  for h in "$@"; do (resilient_probe "$h" && echo "$h") & done
  wait
}

resilient_watch_returned() {
  local h
  [ -z "$RESILIENT_BACK" ] || return 0
  for h in $RESILIENT_OUT; do
    if resilient_probe "$h"; then
      RESILIENT_BACK=$h
      resilient_log "node $h answers again: checkpoint, stop and start again with it"
      kill -"$RESILIENT_STOP_SIGNAL" "$RESILIENT_PID" 2>/dev/null || true
      return
    fi
  done
}

# resilient_stop: the launcher ended, SIGKILL after STOP_WAIT s (a launcher that waits for a
# lost node's daemon never ends by itself).
resilient_stop() {
  kill -TERM "$RESILIENT_PID" 2>/dev/null || true
  local end=$((SECONDS + STOP_WAIT))
  while kill -0 "$RESILIENT_PID" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
  kill -KILL "$RESILIENT_PID" 2>/dev/null || true
}

# resilient_find_lost HOSTS...: after a launcher ended on an error, the nodes that stopped
# answering (LOST_AFTER probes), into RESILIENT_LOST.
resilient_find_lost() {
  local h i
  RESILIENT_LOST=""
  for h in "$@"; do
    for i in $(seq 1 "$LOST_AFTER"); do
      resilient_probe "$h" && continue 2
      [ "$i" -lt "$LOST_AFTER" ] && sleep "$PROBE_SECONDS"
    done
    RESILIENT_LOST="$RESILIENT_LOST $h"
  done
  RESILIENT_LOST=${RESILIENT_LOST# }
}

# resilient_crash_signature LOG: the last error line and the last step logged.
resilient_crash_signature() {
  echo "$(grep -E 'error|stalled' "$1" | tail -n1 | sed -E 's/\[rank [0-9]+( on [^]]*)?\]//g') at $(grep -oE '^step +[0-9]+' "$1" | tail -n1)"
}

# resilient_args NODES RANKS FIRST_RANKS ARGS...: the job's options for a launch on NODES nodes
# and RANKS ranks (the first launch had FIRST_RANKS), one per line. Async with fewer ranks:
# --num-ps N is lowered so that the workers stay as many as at first (each trains --steps
# steps: fewer workers would train the model less), with at least one server, at most one per
# node, and said so.
resilient_args() {
  local nodes=$1 ranks=$2 first=$3
  shift 3
  while [ $# -gt 0 ]; do
    # --num-ps auto passes as it is: each launch chooses from the links it measures.
    if [ "$1" = --num-ps ] && [ $# -ge 2 ] && [[ $2 =~ ^[0-9]+$ ]]; then
      local fit=$(($2 < nodes ? $2 : nodes)) keep=$((ranks - (first - $2)))
      [ "$keep" -ge 1 ] && [ "$keep" -lt "$fit" ] && fit=$keep
      [ "$fit" -lt "$ranks" ] || fit=$((ranks - 1))
      [ "$fit" = "$2" ] || resilient_log "--num-ps $2 on $nodes node(s), $ranks rank(s): $fit server(s) this time" >&2
      printf '%s\n' --num-ps "$fit"
      shift 2
    else
      printf '%s\n' "$1"
      shift
    fi
  done
}

# resilient_run LOG HOSTS...: launches on HOSTS until the job ends for good; returns its exit
# code (0 done, 143 stopped by a signal, 2 refused at its first start, else the failure). The launcher
# appends the job's output to LOG (RESILIENT_LOG).
resilient_run() {
  local log=$1 restarts=0 rc last_crash="" lost refused=0
  RESILIENT_LOG=$log
  shift
  local in_use=("$@")
  RESILIENT_OUT=""
  while :; do
    [ ${#in_use[@]} -ge "$MIN_NODES" ] ||
      { resilient_log "only ${#in_use[@]} node(s) left, fewer than MIN_NODES=$MIN_NODES: giving up"; return 1; }
    resilient_log "starting on ${#in_use[@]} node(s): ${in_use[*]}"
    resilient_launch "${in_use[@]}"
    resilient_watch "${in_use[@]}"
    wait "$RESILIENT_PID" && rc=0 || rc=$?
    resilient_log "the job ended with exit code $rc"
    if [ -n "$RESILIENT_BACK" ] && [ "$rc" = 143 ]; then
      in_use+=("$RESILIENT_BACK")
      RESILIENT_OUT=$(tr ' ' '\n' <<<"$RESILIENT_OUT" | grep -vx "$RESILIENT_BACK" | tr '\n' ' ')
      continue
    fi
    [ "$rc" = 0 ] && return 0
    # 143: stopped by a signal, unless this script stopped it for a lost node.
    [ "$rc" = 143 ] && [ -z "$RESILIENT_LOST" ] && return 143
    # Refused at start: bad options or data on the first launch; after a node loss it may be
    # the shared file system still settling (GlusterFS answered "Stale file handle" here for
    # some seconds), so it is tried again after a pause that doubles (2, 4, 8 ... s), each try
    # one of the MAX_RESTARTS.
    [ "$rc" = 2 ] && [ "$restarts" = 0 ] && return 2
    [ -n "$RESILIENT_LOST" ] || resilient_find_lost "${in_use[@]}"
    if [ "$rc" = 2 ] && [ -z "$RESILIENT_LOST" ]; then
      refused=$((refused + 1))
      resilient_log "refused at start after a restart; trying again in $((1 << refused)) s"
      sleep $((1 << refused))
    elif [ -z "$RESILIENT_LOST" ]; then
      local crash
      crash=$(resilient_crash_signature "$log")
      [ "$crash" != "$last_crash" ] ||
        { resilient_log "a crash loop, not a lost node: the same error twice ($crash): giving up"; return "$rc"; }
      last_crash=$crash
    fi
    restarts=$((restarts + 1))
    [ "$restarts" -le "$MAX_RESTARTS" ] ||
      { resilient_log "MAX_RESTARTS=$MAX_RESTARTS restarts done: giving up"; return "$rc"; }
    for lost in $RESILIENT_LOST; do
      mapfile -t in_use < <(printf '%s\n' "${in_use[@]}" | grep -vx "$lost")
      RESILIENT_OUT="$RESILIENT_OUT $lost"
    done
    resilient_log "restart $restarts of $MAX_RESTARTS${RESILIENT_LOST:+, without $RESILIENT_LOST}"
  done
}
