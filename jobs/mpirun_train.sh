#!/usr/bin/env bash
# Training under plain mpirun that carries on when a host is lost (jobs/resilient.sh says how):
#   HOSTFILE=hosts jobs/mpirun_train.sh [mnist_train options...]
# HOSTFILE has one "HOST slots=N" line per host; every launch keeps N ranks per host. Give
# --local-checkpoint-dir (e.g. /dev/shm/dtrain) and --model-dir so that a restart loses at most
# the steps since the last node-local checkpoint. A host left out and answering again is taken
# back: the job checkpoints and stops (SIGUSR2), then starts again on every host.
# Knobs: those of jobs/resilient.sh; RSH, how to reach a host (default: mpirun's own rsh agent,
# OMPI_MCA_plm_rsh_agent, else ssh with a 3 s connect timeout); MPIRUN_ARGS, more mpirun options.
# mpirun itself also ends a job whose host is gone: its out-of-band connections get TCP
# keepalives after 5 s idle, 3 probes 2 s apart (about 11 s), set here.
set -uo pipefail
JOBS_HERE=$(cd "$(dirname "$0")" && pwd)
. "$JOBS_HERE/paths.sh"
: "${HOSTFILE:?set HOSTFILE to a file of 'HOST slots=N' lines}"
. "$JOBS/resilient.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_oob_tcp_keepalive_time=5 OMPI_MCA_oob_tcp_keepalive_intvl=2 OMPI_MCA_oob_tcp_keepalive_probes=3
RSH=${RSH:-${OMPI_MCA_plm_rsh_agent:-ssh -o ConnectTimeout=3 -o BatchMode=yes}}
RESILIENT_STOP_SIGNAL=USR2  # mpirun forwards it; dtrain checkpoints and stops on it
LOG=$(mktemp)
trap 'rm -f "$LOG" "$LOG.hosts"' EXIT
mapfile -t HOSTS < <(awk 'NF && $1 !~ /^#/ { print $1 }' "$HOSTFILE")
ARGS=("$@")

slots_of() { awk -v h="$1" '$1 == h { for (i = 2; i <= NF; i++) if ($i ~ /^slots=/) { sub("slots=", "", $i); print $i; exit } print 1; exit }' "$HOSTFILE"; }

resilient_probe() {
  # shellcheck disable=SC2086
  timeout 3 $RSH "$1" true </dev/null >/dev/null 2>&1
}

resilient_launch() {
  local h ranks=0
  for h in "$@"; do
    echo "$h slots=$(slots_of "$h")"
    ranks=$((ranks + $(slots_of "$h")))
  done >"$LOG.hosts"
  local args
  : "${RESILIENT_FIRST_RANKS:=$ranks}"
  mapfile -t args < <(resilient_args $# "$ranks" "$RESILIENT_FIRST_RANKS" "${ARGS[@]}")
  # shellcheck disable=SC2086
  mpirun --hostfile "$LOG.hosts" -np "$ranks" ${MPIRUN_ARGS:-} "$BIN/mnist_train" \
    "${args[@]}" > >(tee -a "$RESILIENT_LOG") 2>&1 &
  RESILIENT_PID=$!
}

# SIGTERM from outside: checkpoint, stop, no restart.
trap 'resilient_log "terminated: checkpoint and stop"; MAX_RESTARTS=0; kill -USR2 "$RESILIENT_PID" 2>/dev/null' TERM
resilient_run "$LOG" "${HOSTS[@]}"
