#!/usr/bin/env bash
# A whole host's job processes die (its ranks and mpirun's daemon; the link stays up) in the
# middle of an async job on 3 emulated hosts: the job must end by itself within
# --stall-timeout + 10 s, with a non-zero exit, and the output must name the host and the ranks
# that were on it.
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir cluster-kill-host)
stall=20
SLOTS=2 bash "$CLUSTER" mpirun -np 6 "$BIN" --threads 1 "${SMALL[@]}" \
  --data-dir "$MNIST" --num-ps 2 --steps 100000 --log-every 5 --eval-every 1000000 \
  --stall-timeout $stall >"$out/log.txt" 2>&1 &
job=$!
on_exit 'kill -KILL $job 2>/dev/null'
training() { at_step "$out/log.txt" 20 || ! kill -0 $job 2>/dev/null; }
wait_until 300 "step 20" training
at_step "$out/log.txt" 20 || { cat "$out/log.txt"; fail "the job never trained"; }
ranks_on_h3=$(sed -n '/^dtrain:/,/^transport:/p' "$out/log.txt" | awk '$4 == "h3" || $5 == "h3" { print $1 }' | tr '\n' ' ')
killed_at=$SECONDS
# Not the GlusterFS daemons and client on h3: the tests after this one use the volume there.
for p in $(ip netns pids dtrain-h3); do
  case "$(cat /proc/"$p"/comm 2>/dev/null)" in
    mnist_train | orted | prted) kill -KILL "$p" 2>/dev/null ;;
  esac
done
set +e
wait $job
rc=$?
set -e
took=$((SECONDS - killed_at))
echo "killed every job process on h3 (ranks $ranks_on_h3): the job ended with exit $rc after ${took}s"
grep -E "h3|stalled|lost|rank" "$out/log.txt" | grep -vE "^  [0-9]" | head -n 6
[ "$rc" -ne 0 ] || fail "the job reported success"
[ "$took" -le $((stall + 10)) ] || fail "the job took ${took}s to end"
grep -qE "node h3|on h3" "$out/log.txt" || fail "the output does not name host h3"
echo OK
