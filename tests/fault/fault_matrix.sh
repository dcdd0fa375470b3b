#!/usr/bin/env bash
# The fault matrix: what a dtrain job does when it is killed, signalled, given a damaged or
# full model directory, ranks with different options, or data and directories it cannot use.
# Every case checks what the job must do and prints one row of the table in docs/faults.md:
#   case | mode | launcher | what the job did | s to exit | exit | lost | resume | transport
#
#   tests/fault/fault_matrix.sh                   every case, default transport and TCP,
#                                                 mpirun and (if Slurm is up) srun
#   tests/fault/fault_matrix.sh --case kill_ps.async.mpirun [--transport tcp]    one case
#   tests/fault/fault_matrix.sh --list
# The case families live beside this driver (kill.sh, signal.sh, model_dir.sh, refusal.sh,
# runtime.sh), their job control in lib.sh, the checkpoint readers in checkpoint_tools.py.
# Needs a built build/ (scripts/test.sh) and, for srun cases, scripts/slurm_local.sh up.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
for family in kill signal model_dir refusal runtime; do . "$here/$family.sh"; done
set +e

ALL_CASES=(kill_ps.async kill_chief.async kill_worker.async kill_chief.sync kill_worker.sync
  kill_worker.balanced sigterm.sync sigusr1.sync signals.async signals.async_balanced
  truncated_checkpoint garbage_checkpoint no_valid_checkpoint disk_full mpmd_options
  missing_data garbage_data readonly_model_dir checkpoint_past_the_end slow_open
  signal_storm)

run_case() {
  local c=$1
  echo "=== $c ($TRANSPORT)"
  case "$c" in
    kill_worker.balanced.mpirun) balanced_kill_case ;;
    kill_*.*.*) local v=${c#kill_} && kill_case "${v%%.*}" "$(cut -d. -f2 <<<"$v")" "${c##*.}" ;;
    sigterm.sync*) sync_signal_case TERM sigterm ;;
    sigusr1.sync*) sync_signal_case USR1 sigusr1 ;;
    signals.async_balanced*) balanced_async_case ;;
    signals.async*) signals_async_case ;;
    truncated_checkpoint | garbage_checkpoint | no_valid_checkpoint) damaged_case "$c" ;;
    disk_full) disk_full_case ;;
    readonly_model_dir) readonly_case ;;
    mpmd_options) mpmd_case ;;
    missing_data) refusal_case missing_data "/nonexistent/train: no such file or directory" 3 \
      --train-data /nonexistent/train --test-data /nonexistent/test ;;
    garbage_data) mkdir -p "$W/garbage" && head -c 4096 /dev/urandom >"$W/garbage/part-0.bin" &&
      refusal_case garbage_data "cannot tell the data format" 3 \
        --train-data "$W/garbage" --test-data "$W/garbage" ;;
    checkpoint_past_the_end) past_the_end_case ;;
    slow_open) slow_open_case ;;
    signal_storm) signal_storm_case ;;
    *) echo "unknown case $c (--list shows them)" && return 2 ;;
  esac
}

# every_case: the whole matrix, each kill case under every launcher available, both transports.
every_case() {
  : >"$TABLE"
  local launchers=(mpirun) transports=("$TRANSPORT") c l
  if [ "$LAUNCHER_FILTER" != mpirun ] && command -v srun >/dev/null && sinfo -h >/dev/null 2>&1; then
    launchers+=(srun)
  fi
  [ "$TRANSPORT" = default ] && transports=(default tcp)
  for TRANSPORT in "${transports[@]}"; do
    for c in "${ALL_CASES[@]}"; do
      if [[ $c == *.balanced ]]; then
        CASES+=("$c.mpirun:$TRANSPORT")
      elif [[ $c == kill_* ]]; then
        for l in "${launchers[@]}"; do CASES+=("$c.$l:$TRANSPORT"); done
      else
        CASES+=("$c:$TRANSPORT")
      fi
    done
  done
}

print_table() {
  echo
  echo "| case | mode | launcher | what the job did | s to exit | exit | lost | resume | transport |"
  echo "|---|---|---|---|---|---|---|---|---|"
  sed 's/\t/ | /g; s/^/| /; s/$/ |/' "$TABLE"
}

LAUNCHER_FILTER=""
CASES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --case) CASES+=("$2") && shift 2 ;;
    --transport) TRANSPORT=$2 && shift 2 ;;
    --launcher) LAUNCHER_FILTER=$2 && shift 2 ;;
    --list) printf '%s\n' "${ALL_CASES[@]}" && exit 0 ;;
    *) echo "fault_matrix.sh: unknown argument $1" >&2 && exit 2 ;;
  esac
done
[ ${#CASES[@]} -eq 0 ] && every_case
failed=0
for spec in "${CASES[@]}"; do
  [[ $spec == *:* ]] && TRANSPORT=${spec##*:} && spec=${spec%:*}
  touch "$W/.case-start"
  run_case "$spec" && continue
  failed=$((failed + 1))
  echo "FAILED: $spec ($TRANSPORT)"
  # CI keeps only this output, so the failing case's logs go with it.
  find "$W" -name '*.log' -newer "$W/.case-start" | while read -r f; do
    echo "--- last lines of $f"
    tail -n 30 "$f"
  done
done
[ -s "$TABLE" ] && [ ${#CASES[@]} -gt 1 ] && print_table
exit $((failed > 0))
