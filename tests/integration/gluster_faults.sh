#!/usr/bin/env bash
# GlusterFS faults on 3 emulated hosts:
#   dispersed    a disperse 3 / redundancy 1 volume: one brick's process is killed in the middle
#                of an async run reading shards and writing checkpoints there; training goes on
#                to the end, and after `volume start force` brings the brick back, `heal info`
#                is clean.
#   distributed  a plain distributed volume (each file on one brick): a brick lost in the
#                middle of a run ends the job with an error naming the file it could not read or
#                write (not a hang, not a short epoch); no checkpoint written then is taken as
#                valid: a resume after the brick returns starts from a checkpoint that reads
#                back whole.
. "$(dirname "$0")/lib.sh"
kind=$1
cluster=$DTRAIN_SOURCE/scripts/cluster_local.sh
fs=gluster
[ "$kind" = dispersed ] && fs=gluster:dispersed
bash "$cluster" up 3 --fs "$fs"
on_exit 'bash "$cluster" down >/dev/null'
gv=/mnt/gv/faults
out=$(fresh_dir "gluster-$kind")
bash "$cluster" run h1 mkdir -p "$gv"
bash "$cluster" mpirun -np 3 "$SETUP" --data-dir "$MNIST" --output "$gv/shards" --format tfrecord \
  --num-partitions 6 >/dev/null
brick_pid() {  # the brick process of host h3 (glusterd's pid file, in h3's own /run)
  bash "$cluster" run h3 sh -c 'cat /run/gluster/vols/gv/h3-*-brick-gv.pid'
}
args=(--threads 1 --train-data "$gv/shards/train" --test-data "$gv/shards/test" --log-every 10
      --eval-every 100000 --checkpoint-steps 20 --model-dir "$gv/ckpt" --stall-timeout 60)
bash "$cluster" mpirun -np 3 "$BIN" "${args[@]}" --steps 160 --metrics-json "$out/m.json" >"$out/run.log" 2>&1 &
job=$!
# A failing check must not leave the job behind the cluster it ran on.
on_exit 'kill $job 2>/dev/null; bash "$cluster" down >/dev/null'
for _ in $(seq 1 600); do
  grep -qE '^step +40/' "$out/run.log" && break
  kill -0 $job 2>/dev/null || break
  sleep 0.2
done
pid=$(brick_pid)
echo "killing the brick on h3 (pid $pid) at $(grep -oE '^step +[0-9]+' "$out/run.log" | tail -n1)"
[ -n "$pid" ] || fail "no brick process found on h3"
kill -KILL "$pid"
set +e
timeout 900 tail --pid=$job -f /dev/null
wait $job
rc=$?
set -e
grep -E "final|error|checkpoint .*step (60|80|100)" "$out/run.log" | head -n 5
bash "$cluster" run h1 gluster --mode=script volume start gv force >/dev/null
if [ "$kind" = dispersed ]; then
  [ "$rc" = 0 ] || fail "training stopped (exit $rc) with one of three bricks gone"
  check_metrics "$out/m.json" --expect last_step=160
  for _ in $(seq 1 120); do
    pending=$(bash "$cluster" run h1 gluster --mode=script volume heal gv info |
      awk '/Number of entries:/ { s += $NF } END { print s + 0 }')
    [ "$pending" = 0 ] && break
    sleep 1
  done
  echo "heal info after the brick came back: $pending entries to heal"
  [ "$pending" = 0 ] || fail "the volume did not heal"
else
  [ "$rc" != 0 ] || fail "the job reported success with a brick gone"
  grep -E "error" "$out/run.log" | head -n 2
  grep -qE "$gv/(shards|ckpt)/[^ :]+" "$out/run.log" || fail "the error does not name the file"
  sleep 2
  bash "$cluster" mpirun -np 3 "$BIN" "${args[@]}" --steps 160 --resume --metrics-json "$out/m.json" |
    grep -E "warning|resum|final"
  check_metrics "$out/m.json" --expect last_step=160
fi
echo OK
