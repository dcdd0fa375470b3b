#!/usr/bin/env bash
# Async resume under --max-staleness: the clocks in the servers' window start at zero in the
# new job, so unless every worker publishes its resumed step first, every worker waits for the
# others until the stall timeout, which then ends the job (exit 3, "stalled"). Stopped at step
# 40 and resumed to 80, the job must finish (the verdict is its exit, not a time).
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir resume-max-staleness)
args=(--data-dir "$MNIST" "${SMALL[@]}" --max-staleness 1 --eval-every 1000 --log-every 20
  --model-dir "$out/ckpt" --stall-timeout 60)
mpi 3 "$BIN" "${args[@]}" --steps 40 | grep -E "checkpoint|final"
set +e
mpi 3 "$BIN" "${args[@]}" --steps 80 --resume --metrics-json "$out/m.json" >"$out/resume.log" 2>&1
rc=$?
set -e
grep -E "resum|checkpoint|final|stalled" "$out/resume.log"
[ "$rc" = 0 ] || fail "the resumed run exited $rc: it waited on stale clocks"
! grep -q stalled "$out/resume.log" || fail "a worker stalled on stale clocks"
check_metrics "$out/m.json" --expect start_step=40 --expect last_step=80
echo OK
