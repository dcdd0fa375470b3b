#!/usr/bin/env bash
# Async resume under --max-staleness: the clocks in the servers' window start at zero in the
# new job, so unless every worker publishes its resumed step first, every worker waits for the
# others until the stall timeout. Stopped at step 40 and resumed to 80, the job must finish
# well within the timeout.
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir resume-max-staleness)
args=(--data-dir "$MNIST" --max-staleness 1 --eval-every 1000 --log-every 20 --model-dir "$out/ckpt"
      --stall-timeout 30)
mpi 3 "$BIN" "${args[@]}" --steps 40 | grep -E "checkpoint|final"
start=$SECONDS
mpi 3 "$BIN" "${args[@]}" --steps 80 --resume --metrics-json "$out/m.json" | grep -E "resum|checkpoint|final"
took=$((SECONDS - start))
echo "resumed run took ${took}s"
check_metrics "$out/m.json" --expect start_step=40 --expect last_step=80
[ "$took" -lt 30 ] || fail "the resumed run took ${took}s: it waited on stale clocks"
echo OK
