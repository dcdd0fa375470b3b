# Shared by the job scripts in jobs/ (sourced, not run). Knobs, all from the environment:
#   DTRAIN_ROOT       checkout with a built build/ (default: the submit directory; an
#                     installed copy runs the installed programs: jobs/paths.sh)
#   DTRAIN_LAUNCHER   srun (default: srun --mpi=pmix) or mpirun
#   DTRAIN_TRANSPORT  default | tcp | ucx-sm | ucx-tcp | ucx (InfiniBand via UCX: set UCX_TLS,
#                     e.g. rc,sm, and UCX_NET_DEVICES, e.g. mlx5_0:1); jobs/transport.sh
#                     holds the table, as Open MPI's MCA environment variables, which srun-
#                     and mpirun-launched ranks both read
. "$(dirname "${BASH_SOURCE[0]}")/paths.sh"
: "${DTRAIN_LAUNCHER:=srun}"
: "${DTRAIN_TRANSPORT:=default}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
if [ ! -x "$BIN/mnist_train" ]; then
  echo "no $BIN/mnist_train: build dtrain first (scripts/run.sh or cmake --build build)" >&2
  exit 2
fi

if [ "$DTRAIN_TRANSPORT" = ucx-sm ] && [ "${SLURM_JOB_NUM_NODES:-1}" -gt 1 ]; then
  echo "DTRAIN_TRANSPORT=ucx-sm is shared memory only and this job has $SLURM_JOB_NUM_NODES nodes: use ucx-tcp, ucx or tcp" >&2
  exit 2
fi
. "$JOBS/transport.sh"
dtrain_transport_env "$DTRAIN_TRANSPORT" || { echo "DTRAIN_TRANSPORT=$DTRAIN_TRANSPORT" >&2; exit 2; }
. "$JOBS/resilient.sh"

# launch PROGRAM ARGS...: one rank per Slurm task.
launch() {
  if [ "$DTRAIN_LAUNCHER" = mpirun ]; then
    mpirun --bind-to none "$@"
  else
    # --kill-on-bad-exit: a rank that dies ends the job step at once, as mpirun does.
    srun --mpi=pmix --cpu-bind=none --kill-on-bad-exit=1 "$@"
  fi
}

# run_training ARGS...: runs mnist_train with checkpoints in MODEL_DIR, and carries on when a
# node of the allocation is lost (jobs/resilient.sh: the job scripts ask for --no-kill, so the
# allocation outlives the node; the training starts again on the others, at the same tasks per
# node). On the time-limit warning (--signal=B:USR1@...), or when the job is preempted, the
# ranks write a checkpoint and stop; the job then requeues itself, and the requeued run resumes
# from MODEL_DIR by itself.
run_training() {
  RUN_ARGS=("$@")
  NODES_ALL=$(scontrol show hostnames "${SLURM_JOB_NODELIST:-$(hostname)}" 2>/dev/null || hostname)
  TASKS_PER_NODE=${SLURM_NTASKS_PER_NODE:-$((${SLURM_NTASKS:-1} / ${SLURM_JOB_NUM_NODES:-1}))}
  [ "$TASKS_PER_NODE" -ge 1 ] || TASKS_PER_NODE=1
  local requeue=0 rc=0 log
  log=$(mktemp)
  echo "job ${SLURM_JOB_ID:-?} (restart ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST:-$(hostname)}: $*"
  # On SIGTERM both launchers kill the ranks (srun sends them SIGKILL, "forcing job
  # termination"); both forward SIGUSR2, which dtrain takes as "checkpoint and stop" too.
  RESILIENT_STOP_SIGNAL=USR2
  trap 'echo "$(date +%T) warning signal: checkpoint, stop, requeue"; requeue=1; MAX_RESTARTS=0; kill -$RESILIENT_STOP_SIGNAL "$RESILIENT_PID" 2>/dev/null' USR1
  trap 'echo "$(date +%T) terminated: checkpoint and stop"; MAX_RESTARTS=0; kill -$RESILIENT_STOP_SIGNAL "$RESILIENT_PID" 2>/dev/null' TERM
  # shellcheck disable=SC2086
  resilient_run "$log" $NODES_ALL && rc=0 || rc=$?
  trap - USR1 TERM
  rm -f "$log"
  if [ "$requeue" = 1 ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    echo "$(date +%T) requeueing job $SLURM_JOB_ID to resume from its checkpoint"
    scontrol requeue "$SLURM_JOB_ID"
    sleep 30  # Slurm ends this run now
  fi
  return "$rc"
}

# resilient_launch NODES...: one launch of the training on these nodes of the allocation.
resilient_launch() {
  local n=$# exclude args
  : "${RESILIENT_FIRST_RANKS:=$((n * TASKS_PER_NODE))}"
  mapfile -t args < <(resilient_args "$n" $((n * TASKS_PER_NODE)) "$RESILIENT_FIRST_RANKS" "${RUN_ARGS[@]}")
  exclude=$(comm -23 <(tr ' ' '\n' <<<"$NODES_ALL" | sort) <(printf '%s\n' "$@" | sort) | paste -sd, -)
  if [ "$DTRAIN_LAUNCHER" = mpirun ]; then
    local hosts
    hosts=$(printf "%s:$TASKS_PER_NODE," "$@")
    mpirun --bind-to none --host "${hosts%,}" -np $((n * TASKS_PER_NODE)) "$BIN/mnist_train" \
      "${args[@]}" > >(tee -a "$RESILIENT_LOG") 2>&1 &
  else
    # --overlap: the step of a lost node never ends (its node cannot say so), and keeps its CPUs
    # on the others until Slurm declares the node down; the new step shares them.
    srun --mpi=pmix --cpu-bind=none --kill-on-bad-exit=1 --overlap --nodes="$n" \
      --ntasks=$((n * TASKS_PER_NODE)) ${exclude:+--exclude="$exclude"} "$BIN/mnist_train" \
      "${args[@]}" > >(tee -a "$RESILIENT_LOG") 2>&1 &
  fi
  RESILIENT_PID=$!
}

# A node answers while its slurmd takes a TCP connection (the batch host probes it).
resilient_probe() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/${SLURMD_PORT:-6818}" 2>/dev/null
}

# train_job MODE ARGS...: the training job of jobs/train_{async,sync}.sbatch. Knobs: EPOCHS
# (default 5), DATA (a shard directory with train/ and test/; empty: the IDX files in
# MNIST_DIR), MODEL_DIR (checkpoints, stable across requeues), CHECKPOINT_SECS (300),
# LOCAL_CHECKPOINT_DIR (node-local checkpoints; default /dev/shm/dtrain-JOBID, "none": off),
# TRAIN_ARGS (more mnist_train options). Metrics, TensorBoard events and the exported model go
# to MODEL_DIR too.
train_job() {
  local mode=$1
  shift
  : "${MODEL_DIR:=$WORK/runs/${SLURM_JOB_NAME:-dtrain-$mode}}"
  local data=(--data-dir "${MNIST_DIR:-$WORK/data/mnist}")
  [ -n "${DATA:-}" ] && data=(--train-data "$DATA/train" --test-data "$DATA/test")
  local local_dir=${LOCAL_CHECKPOINT_DIR:-/dev/shm/dtrain-${SLURM_JOB_ID:-$$}} local_args=()
  [ "$local_dir" = none ] || local_args=(--local-checkpoint-dir "$local_dir")
  # shellcheck disable=SC2086
  run_training --dist "$mode" --epochs "${EPOCHS:-5}" "${data[@]}" "${local_args[@]}" "$@" \
    --model-dir "$MODEL_DIR" --checkpoint-secs "${CHECKPOINT_SECS:-300}" \
    --metrics-json "$MODEL_DIR/metrics.json" --metrics-csv "$MODEL_DIR/metrics.csv" \
    --log-dir "$MODEL_DIR/logs" --export "$MODEL_DIR/model.h5" ${TRAIN_ARGS:-}
}
