#!/usr/bin/env bash
# The relaunch rules of jobs/resilient.sh, each case on its own: the launcher is a shell that
# prints what a job would and ends with the exit code a plan gives it (one line per launch),
# and a node answers its probe unless the plan has written it into a "down" list. The real
# launchers (mpirun, srun) and a real lost host are the cluster tests' part (node_loss.sh);
# this checks the decisions: relaunch without the lost node, give up on a crash loop, below
# MIN_NODES and after MAX_RESTARTS, a first-launch refusal returned at once, and a refusal
# after a restart tried again after a pause.
. "$(dirname "$0")/lib.sh"
base=$(fresh_dir resilient-rules)

# run_case NAME HOSTS -- PLAN-LINES...: resilient_run over HOSTS; sets RC, LOG, LAUNCHES.
run_case() {
  local name=$1 hosts=$2
  shift 3
  local dir=$base/$name
  mkdir -p "$dir"
  printf '%s\n' "$@" >"$dir/plan"
  set +e
  (
    export DOWN=$dir/down
    . "$DTRAIN_ROOT/jobs/resilient.sh"
    PROBE_SECONDS=0.2
    resilient_launch() {
      local n=$(($(cat "$dir/n" 2>/dev/null || echo 0) + 1))
      echo "$n" >"$dir/n"
      echo "launch $n on $*" >>"$dir/launches"
      bash -c "$(sed -n "${n}p" "$dir/plan")" >>"$RESILIENT_LOG" 2>&1 &
      RESILIENT_PID=$!
    }
    resilient_probe() { ! grep -qx "$1" "$DOWN" 2>/dev/null; }
    # shellcheck disable=SC2086
    resilient_run "$dir/log" $hosts
  ) >"$dir/out" 2>&1
  RC=$?
  set -e
  LOG=$(cat "$dir/out" "$dir/log" 2>/dev/null)
  LAUNCHES=$(cat "$dir/launches" 2>/dev/null)
  echo "== $name: exit $RC"
  echo "$LAUNCHES"
  grep "dtrain-resilient" "$dir/out" || true
}

expect() {  # expect WHAT CONDITION...
  local what=$1
  shift
  "$@" || fail "$what"
}

# A node lost while the job runs: the job is stopped and started again without it.
run_case node_lost "h1 h2 h3" -- 'echo h2 >>"$DOWN"; echo "step 10"; exec sleep 60' 'echo "step 300"'
expect "a lost node ends in success on the others" [ "$RC" = 0 ]
expect "the relaunch leaves the lost node out" grep -qx "launch 2 on h1 h3" <<<"$LAUNCHES"
expect "the loss is named" grep -q "node h2 lost" <<<"$LOG"

# The same error at the same step twice, every node answering: a crash loop.
crash='echo "step 5"; echo "mnist_train: error: boom" >&2; exit 1'
run_case crash_loop "h1 h2" -- "$crash" "$crash" 'exit 0'
expect "a crash loop gives up with its exit code" [ "$RC" = 1 ]
expect "a crash loop is launched twice" [ "$(wc -l <<<"$LAUNCHES")" = 2 ]
expect "the crash loop is named" grep -q "a crash loop, not a lost node" <<<"$LOG"

# A first launch refused (bad options): its exit code at once, no relaunch.
run_case refused_first "h1 h2" -- 'echo "mnist_train: error: --steps: bad" >&2; exit 2' 'exit 0'
expect "a first-launch refusal returns 2" [ "$RC" = 2 ]
expect "a first-launch refusal is not relaunched" [ "$(wc -l <<<"$LAUNCHES")" = 1 ]

# A refusal after a restart (the shared file system settling): tried again after a pause.
stale='echo "mnist_train: error: --model-dir x: cannot write there: Stale file handle" >&2; exit 2'
run_case refused_after_loss "h1 h2 h3" -- 'echo h3 >>"$DOWN"; echo "step 7"; exit 1' "$stale" 'exit 0'
expect "a refusal after a restart is tried again" [ "$RC" = 0 ]
expect "three launches: the lost node's, the refused one, the good one" [ "$(wc -l <<<"$LAUNCHES")" = 3 ]
expect "the pause is said" grep -q "trying again in 2 s" <<<"$LOG"

# Fewer nodes than MIN_NODES.
run_case min_nodes "h1 h2" -- 'echo h2 >>"$DOWN"; exit 1' 'exit 0'
expect "(MIN_NODES=1 by default) one node left still runs" [ "$RC" = 0 ]
MIN_NODES=2 run_case min_nodes_2 "h1 h2" -- 'echo h2 >>"$DOWN"; exit 1' 'exit 0'
expect "below MIN_NODES gives up" [ "$RC" = 1 ]
expect "below MIN_NODES is named" grep -q "fewer than MIN_NODES=2" <<<"$LOG"

# More restarts than MAX_RESTARTS.
MAX_RESTARTS=1 run_case max_restarts "h1 h2 h3" -- 'echo h2 >>"$DOWN"; exit 1' \
  'echo h3 >>"$DOWN"; exit 1' 'exit 0'
expect "MAX_RESTARTS gives up" [ "$RC" = 1 ]
expect "MAX_RESTARTS is named" grep -q "MAX_RESTARTS=1 restarts done" <<<"$LOG"
echo OK
