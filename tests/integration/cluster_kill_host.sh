#!/usr/bin/env bash
# A whole host dies (every process of the job on it: its ranks and mpirun's daemon) in the
# middle of an async job on 3 emulated hosts: the job must end by itself within --stall-timeout + 10 s, with a
# non-zero exit, and the output must name the host and the ranks that were on it.
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir cluster-kill-host)
stall=20
SLOTS=2 bash "$DTRAIN_SOURCE/scripts/cluster_local.sh" mpirun -np 6 "$BIN" --threads 1 \
  --data-dir "$MNIST" --num-ps 2 --steps 2000 --log-every 5 --eval-every 100000 \
  --stall-timeout $stall >"$out/log.txt" 2>&1 &
job=$!
on_exit 'kill -KILL $job 2>/dev/null'
for _ in $(seq 1 600); do
  grep -qE '^step +[0-9]+' "$out/log.txt" && break
  sleep 0.2
done
grep -qE '^step +[0-9]+' "$out/log.txt" || { kill $job; cat "$out/log.txt"; fail "the job never trained"; }
sleep 2
ranks_on_h3=$(sed -n '/^dtrain:/,/^transport:/p' "$out/log.txt" | awk '$4 == "h3" || $5 == "h3" { print $1 }' | tr '\n' ' ')
killed_at=$SECONDS
# Not the GlusterFS daemons and client on h3: the tests after this one use the volume there
# (killing them left h3's mount "Transport endpoint is not connected" for cluster.slurm_jobs).
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
echo "killed every process on h3 (ranks $ranks_on_h3): the job ended with exit $rc after ${took}s"
grep -E "h3|stalled|lost|rank" "$out/log.txt" | grep -vE "^  [0-9]" | head -n 6
[ "$rc" -ne 0 ] || fail "the job reported success"
[ "$took" -le $((stall + 10)) ] || fail "the job took ${took}s to end"
grep -qE "node h3|on h3" "$out/log.txt" || fail "the output does not name host h3"
echo OK
