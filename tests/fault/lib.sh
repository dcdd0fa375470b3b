# The fault matrix's job control, shared by its case families (sourced by fault_matrix.sh):
# starting a job under mpirun or srun, waiting for a step, finding a rank's process, timing
# the end, reading checkpoints, and the table row each case prints.
# shellcheck source=../integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
export FAULT_DIR=$DTRAIN_ROOT/tests/fault
W=$DTRAIN_WORK/fault-matrix
TABLE=$W/table.tsv
STALL=20      # --stall-timeout of the kill cases: the job must end within STALL + 10 s
KILL_WAIT=5   # Slurm's KillWait in scripts/slurm_local.sh
TRANSPORT=${TRANSPORT:-default}
mkdir -p "$W"

# row CASE MODE LAUNCHER WHAT SECONDS EXIT LOST RESUME: one line of the table, printed and kept.
row() {
  local line
  line=$(printf '%s\t' "$@")
  printf '%s\t%s\n' "${line%$'\t'}" "$TRANSPORT" >>"$TABLE"
  printf 'ROW | %s | %s\n' "$(sed 's/\t/ | /g' <<<"${line%$'\t'}")" "$TRANSPORT"
}

# start LAUNCHER NP LOG ARGS...: mnist_train in the background (JOB_PID, JOB_START).
start() {
  local launcher=$1 np=$2 log=$3
  shift 3
  if [ "$launcher" = srun ]; then
    (
      dtrain_transport_env "$TRANSPORT"
      exec srun --mpi=pmix -n "$np" --overcommit --kill-on-bad-exit=1 --cpu-bind=none \
        "$BIN" --threads 1 "$@"
    ) >"$log" 2>&1 &
  else
    # shellcheck disable=SC2046
    (exec mpirun --oversubscribe --bind-to none -np "$np" $(transport_args "$TRANSPORT") \
      "$BIN" --threads 1 "$@") >"$log" 2>&1 &
  fi
  JOB_PID=$!
  JOB_START=$(date +%s.%N)
}

# finish TIMEOUT [SINCE]: waits for the job (killing it after TIMEOUT s); sets JOB_RC and
# JOB_SECONDS (from SINCE, default the job's start).
finish() {
  local limit=$1 since=${2:-$JOB_START}
  if ! pids_gone "$limit" "$JOB_PID"; then
    echo "the job did not end within ${limit}s: killing it" >&2
    pkill -KILL -P "$JOB_PID"
    kill -KILL "$JOB_PID"
  fi
  wait "$JOB_PID"
  JOB_RC=$?
  JOB_SECONDS=$(awk -v a="$since" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}

# job_at_step LOG STEP: the chief logged STEP, or the job ended (wait_step tells which).
job_at_step() {
  at_step "$1" "$2" || ! kill -0 "$JOB_PID" 2>/dev/null
}

# wait_step LOG STEP TIMEOUT: until the chief has logged STEP or later; false if the job ended
# first or TIMEOUT passed.
wait_step() {
  wait_until "$3" "step $2 in $1" job_at_step "$1" "$2" && at_step "$1" "$2"
}

# rank_pid RANK DIR: the pid of mnist_train rank RANK whose command line names DIR.
rank_pid() {
  local want=$1 dir=$2 p
  for p in $(pgrep -f -- "mnist_train.*$dir"); do
    [ "$(cat /proc/"$p"/comm 2>/dev/null)" = mnist_train ] || continue
    if tr '\0' '\n' </proc/"$p"/environ 2>/dev/null |
      grep -qxE "(OMPI_COMM_WORLD_RANK|SLURM_PROCID|PMIX_RANK)=$want"; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# all_rank_pids DIR: every mnist_train rank of the job whose command line names DIR.
all_rank_pids() {
  for p in $(pgrep -f -- "mnist_train.*$1"); do
    [ "$(cat /proc/"$p"/comm 2>/dev/null)" = mnist_train ] && echo "$p"
  done
}

# signal_all SIG DIR: the signal to every rank, as scancel and Slurm's --signal deliver it.
signal_all() {
  local p
  for p in $(all_rank_pids "$2"); do kill -"$1" "$p"; done
}

newest_ckpt() { ls "$1"/ckpt-*.h5 2>/dev/null | sort | tail -n1; }
oldest_ckpt() { ls "$1"/ckpt-*.h5 2>/dev/null | sort | head -n1; }
ckpt_step() { basename "$1" .h5 | sed -E 's/^ckpt-0*//;s/^$/0/'; }
ckpt() { "$PY" "$FAULT_DIR/checkpoint_tools.py" "$@"; }
metric() { ckpt metric "$1" "$2"; }
percent() { awk -v a="$1" 'BEGIN { printf "%.2f%%", 100 * a }'; }

# ps_figure LOG RANK pushes|lr: a figure from a parameter server's "done" line.
ps_figure() {
  grep -E "^\[rank $2\] parameter server [0-9]+ done" "$1" | tail -n1 |
    sed -nE "s/.* ([0-9]+) pushes applied .*learning rate ([0-9.e-]+).*/\1 \2/p" |
    awk -v w="$3" '{ print (w == "pushes" ? $1 : $2) }'
}
