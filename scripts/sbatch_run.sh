#!/usr/bin/env bash
# Submits a job script, waits for it (polling every 0.5 s: `sbatch --wait` polls slowly and
# returns 0 for a job cancelled while pending), prints its output, and exits 0 only if the job
# ended COMPLETED with ExitCode 0:0.   sbatch_run.sh [--timeout SEC] [sbatch options] script
set -uo pipefail
limit=1800
if [ "${1:-}" = --timeout ]; then limit=$2; shift 2; fi
jid=$(sbatch --parsable "$@") || exit 1
jid=${jid%%;*}
echo "submitted job $jid: $*" >&2
end=$((SECONDS + limit))
while :; do
  info=$(scontrol show job -o "$jid" 2>/dev/null) || { echo "job $jid: no longer known to slurmctld" >&2; exit 1; }
  st=$(grep -oE 'JobState=[A-Z_]+' <<<"$info" | cut -d= -f2)
  case "$st" in
    PENDING|CONFIGURING|RUNNING|COMPLETING|SUSPENDED|REQUEUED|REQUEUE_HOLD|REQUEUE_FED|RESIZING|SIGNALING|STAGE_OUT) ;;
    *) break ;;
  esac
  if [ "$SECONDS" -ge "$end" ]; then
    echo "job $jid: still $st after ${limit}s, cancelling" >&2
    scancel "$jid"
    exit 124
  fi
  sleep 0.5
done
ec=$(grep -oE ' ExitCode=[0-9]+:[0-9]+' <<<"$info" | cut -d= -f2)
restarts=$(grep -oE ' Restarts=[0-9]+' <<<"$info" | cut -d= -f2)
out=$(grep -oE 'StdOut=[^ ]+' <<<"$info" | cut -d= -f2-)
[ -n "$out" ] && [ -f "$out" ] && cat "$out"
echo "job $jid: $st ExitCode=$ec Restarts=${restarts:-0}" >&2
[ "$st" = COMPLETED ] && [ "$ec" = 0:0 ]
