#!/usr/bin/env bash
# GlusterFS bricks lost under a running job, on the cluster group's hosts (cluster.up):
#   dispersed    the group's volume gv (dispersed, redundancy 1): one brick's process is
#                killed in the middle of an async run reading shards and writing checkpoints
#                there; training goes on to the end, and once the brick is back (its host's
#                glusterd restarted, which starts its bricks), `heal info` is clean on every brick.
#   distributed  a plain distributed volume gvd made for this (each file on one brick): a brick
#                lost in the middle of a run ends the job with an error naming the file it could
#                not read or write (not a hang, not a short epoch); no checkpoint written then
#                is taken as valid: a resume after the brick returns starts from a checkpoint
#                that reads back whole.
. "$(dirname "$0")/lib.sh"
kind=$1
vol=gv
if [ "$kind" = distributed ]; then
  vol=gvd
  bash "$CLUSTER" volume gvd
fi
gv=/mnt/$vol/faults
out=$(fresh_dir "gluster-$kind")
bash "$CLUSTER" run h1 rm -rf "$gv"
bash "$CLUSTER" run h1 mkdir -p "$gv"
bash "$CLUSTER" mpirun -np 3 "$SETUP" --data-dir "$MNIST" --output "$gv/shards" --format tfrecord \
  --num-partitions 6 >/dev/null
brick_pid() { # the brick process of host h3 for the volume (glusterd's pid file, in h3's /run)
  bash "$CLUSTER" run h3 sh -c "cat /run/gluster/vols/$vol/h3-*-brick-$vol.pid"
}
brick_up() { local p; p=$(brick_pid 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# The brick back as after a reboot of its host: glusterd starts the host's bricks. (`volume
# start force` left a second volume's killed brick down here.)
bring_brick_back() {
  local p
  for p in $(ip netns pids dtrain-h3); do
    [ "$(cat /proc/"$p"/comm 2>/dev/null)" = glusterd ] && kill "$p"
  done
  no_glusterd() { ! ip netns pids dtrain-h3 | while read -r p; do cat /proc/"$p"/comm 2>/dev/null; done | grep -qx glusterd; }
  wait_until 30 "h3's glusterd to stop" no_glusterd
  bash "$CLUSTER" run h3 glusterd --log-level=WARNING
  wait_until 60 "h3's $vol brick back" brick_up
}
args=(--threads 1 "${SMALL[@]}" --train-data "$gv/shards/train" --test-data "$gv/shards/test"
  --log-every 10 --eval-every 100000 --checkpoint-steps 20 --model-dir "$gv/ckpt" --stall-timeout 60)
bash "$CLUSTER" mpirun -np 3 "$BIN" "${args[@]}" --steps 600 --metrics-json "$out/m.json" >"$out/run.log" 2>&1 &
job=$!
# A failing check must not leave the job behind, nor the brick down for the tests after this.
on_exit 'kill $job 2>/dev/null; brick_up || bring_brick_back'
running() { at_step "$out/run.log" 40 || ! kill -0 $job 2>/dev/null; }
wait_until 300 "step 40" running
pid=$(brick_pid)
echo "killing the $vol brick on h3 (pid $pid) at $(grep -oE '^step +[0-9]+' "$out/run.log" | tail -n1)"
[ -n "$pid" ] || fail "no brick process found on h3"
kill -KILL "$pid"
set +e
timeout 900 tail --pid=$job -f /dev/null
wait $job
rc=$?
set -e
grep -E "final|error|checkpoint .*step (60|80|100)" "$out/run.log" | head -n 5
bring_brick_back
if [ "$kind" = dispersed ]; then
  [ "$rc" = 0 ] || fail "training stopped (exit $rc) with one of the bricks gone"
  check_metrics "$out/m.json" --expect last_step=600
  healed() { pending=$(bash "$CLUSTER" pending gv) && [ "$pending" = 0 ]; }  # every brick answers
  wait_until 300 "the volume to heal" healed || fail "the volume did not heal ($pending entries)"
  echo "heal info after the brick came back: 0 entries to heal"
else
  [ "$rc" != 0 ] || fail "the job reported success with a brick gone"
  grep -E "error" "$out/run.log" | head -n 2
  grep -qE "$gv/(shards|ckpt)/[^ :]+" "$out/run.log" || fail "the error does not name the file"
  # The brick's process is back at once; each host's client reconnects to it within its ping
  # timeout: the resume waits until the brick lists every host of the job (198.18.0.N) among
  # its clients (a file that happens to hash to another brick proves nothing), and every host
  # reads the shards and writes there.
  usable() {
    local h info
    info=$(bash "$CLUSTER" run h1 gluster --mode=script volume status gvd clients 2>/dev/null) || return 1
    info=$(awk '/^Brick : h3:/ { on = 1; next } /^Brick :/ { on = 0 } on' <<<"$info")
    for h in 1 2 3; do grep -q "^198\.18\.0\.$h:" <<<"$info" || return 1; done
    for h in h1 h2 h3; do
      # A new name each time: a create cut short by the lost brick can leave its name unusable.
      local probe=$gv/ckpt/.probe-$h-$RANDOM$RANDOM
      bash "$CLUSTER" run "$h" sh -c "cat $gv/shards/*/* >/dev/null && touch $probe && rm $probe" 2>/dev/null || return 1
    done
  }
  wait_until 120 "the volume usable again from every host" usable
  bash "$CLUSTER" mpirun -np 3 "$BIN" "${args[@]}" --steps 600 --resume --metrics-json "$out/m.json" \
    >"$out/resume.log" 2>&1 || { tail -n 30 "$out/resume.log"; fail "the resumed job failed"; }
  grep -E "warning|resum|final" "$out/resume.log"
  check_metrics "$out/m.json" --expect last_step=600
fi
echo OK
