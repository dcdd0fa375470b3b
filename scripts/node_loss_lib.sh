# The runs of scripts/bench_node_loss.sh (sourced by it): one job on the emulated hosts under a
# launcher, a host lost at a random step or none, and what happened, as one JSON line.

# cluster_up RATE: 4 hosts at RATE (none: unshaped) with a dispersed volume, and their Slurm.
cluster_up() {
  local rate_args=()
  [ "$1" = none ] || rate_args=(--rate "$1")
  bash "$SLURM" down >/dev/null 2>&1 || true
  bash "$CLUSTER" up 4 --fs gluster:dispersed "${rate_args[@]}" >/dev/null
  bash "$SLURM" up --nodes 4 >/dev/null
}

# train_args [without]: the options every run shares (the node-local level at EVERY steps,
# unless "without"); the launcher adds data, model directory and servers its own way.
train_args() {
  echo --arch "$ARCH" --threads 1 --log-every "${LOG_EVERY:-1}" --eval-every 1000000 \
    --steps "$STEPS" --stall-timeout 60
  [ "${1:-}" = without ] || echo --local-checkpoint-dir /mnt/local/bench --local-checkpoint-steps "$EVERY"
}

# mpirun_args MODE GV [without]: the whole mnist_train command line under mpirun.
mpirun_args() {
  local mode=$1 gv=$2
  train_args "${3:-}"
  echo --data-dir "$MNIST_DIR" --dist "$mode" --model-dir "$gv/ckpt"
  # async: the staleness bound the level brings (8) also without it, so that a cost run
  # compares the checkpoints alone
  [ "$mode" = sync ] || echo --num-ps 2 --max-staleness 8
}

clean_stores() {
  local h
  for h in h1 h2 h3 h4; do bash "$CLUSTER" run "$h" sh -c 'rm -rf /mnt/local/bench'; done
}

# start_job MODE LAUNCHER DIR GV: the job in the background (JOB), its log in DIR/log.txt.
start_job() {
  local mode=$1 launcher=$2 dir=$3 gv=$4 args
  if [ "$launcher" = mpirun ]; then
    read -ra args <<<"$(mpirun_args "$mode" "$gv" | tr '\n' ' ')"
    for h in h1 h2 h3 h4; do echo "$h slots=1"; done >"$dir/hosts"
    bash "$CLUSTER" run h1 env HOSTFILE="$dir/hosts" RSH="$STATE/rsh-agent" DTRAIN_ROOT="$DTRAIN_ROOT" \
      MPIRUN_ARGS="--mca plm_rsh_agent $STATE/rsh-agent --mca plm_rsh_no_tree_spawn 1 --bind-to none" \
      bash "$DTRAIN_ROOT/jobs/mpirun_train.sh" "${args[@]}" --metrics-json "$dir/m.json" >"$dir/log.txt" 2>&1 &
    JOB=$!
    return
  fi
  local script=train_sync.sbatch jid
  [ "$mode" = async ] && script=train_async.sbatch
  # The job script gives --local-checkpoint-dir itself (LOCAL_CHECKPOINT_DIR).
  jid=$(bash "$SLURM" run env TRAIN_ARGS="$(train_args without | tr '\n' ' ') --local-checkpoint-steps $EVERY" \
    MODEL_DIR="$gv" NUM_PS=2 \
    LOCAL_CHECKPOINT_DIR=/mnt/local/bench MNIST_DIR="$MNIST_DIR" DTRAIN_ROOT="$DTRAIN_ROOT" \
    sbatch --parsable -N 4 --ntasks 4 --ntasks-per-node=1 --chdir "$dir" --output "$dir/log.txt" \
    "$DTRAIN_ROOT/jobs/$script")
  jid=${jid%%;*}
  wait_until 3600 "job $jid to end" slurm_job_ended "$jid" >&2 &
  JOB=$!
}

# watch_loss LOG T0: seconds from T0 to the detection, the relaunch, the restore and the first
# step after it, as "detect relaunch restore step" (- for what did not happen).
watch_loss() {
  local log=$1 t0=$2 end=$((SECONDS + 900)) d=- l=- r=- s=- now
  while [ $SECONDS -lt $end ] && kill -0 "$JOB" 2>/dev/null; do
    now=$(date +%s.%N)
    [ "$d" = - ] && grep -q "lost: no answer" "$log" && d=$now
    [ "$d" != - ] && [ "$l" = - ] && [ "$(grep -c 'starting on' "$log")" -ge 2 ] && l=$now
    [ "$l" != - ] && [ "$r" = - ] && [ "$(grep -c '^resuming from' "$log")" -ge 1 ] && r=$now
    if [ "$r" != - ] && awk '/^resuming from/ { seen = 1 } seen && /^step / { found = 1 } END { exit !found }' "$log"; then
      s=$now
      break
    fi
    sleep 0.1
  done
  for v in "$d" "$l" "$r" "$s"; do
    [ "$v" = - ] && printf -- '- ' || awk -v a="$t0" -v b="$v" 'BEGIN { printf "%.1f ", b - a }'
  done
}

# json KEY=VALUE...: one JSON line (values that are numbers stay numbers).
json() {
  /usr/bin/python3 -c 'import json, sys
d = {}
for kv in sys.argv[1:]:
    k, v = kv.split("=", 1)
    try:
        d[k] = json.loads(v)
    except ValueError:
        d[k] = v
print(json.dumps(d))' "$@"
}

# run_once MODE LAUNCHER KIND I: one run; KIND loss loses a random host at a random step.
run_once() {
  local mode=$1 launcher=$2 kind=$3 i=$4 name="$1-$2-$3-$4" victim=- times="- - - -" at=- pending=-
  local dir=$WORK/$name gv=/mnt/gv/bench-node-loss/$name
  rm -rf "$dir" && mkdir -p "$dir"
  bash "$CLUSTER" run h1 rm -rf "$gv"
  clean_stores
  start_job "$mode" "$launcher" "$dir" "$gv"
  if [ "$kind" = loss ]; then
    local target=$((STEPS / 5 + RANDOM % (STEPS * 2 / 5)))
    victim=h$((2 + RANDOM % 3))
    reached() { at_log_step "$dir/log.txt" "$target" || ! kill -0 "$JOB" 2>/dev/null; }
    wait_until 1800 "step $target" reached >&2
    local t0
    t0=$(date +%s.%N)
    at=$(log_step "$dir/log.txt")  # the chief's step when the host goes
    pending=$(heal_pending)          # a volume still healing survives no further lost brick
    bash "$CLUSTER" lose "$victim" >&2
    times=$(watch_loss "$dir/log.txt" "$t0")
  fi
  wait "$JOB" 2>/dev/null || true  # a job that gave up is a row too
  [ "$victim" = - ] || { bash "$CLUSTER" return "$victim" >&2 && bash "$SLURM" node-up "$victim" >&2; }
  # A job that gave up wrote no metrics: still a row (a bare && list here ended the bench).
  if [ "$launcher" = slurm ]; then
    bash "$CLUSTER" run h1 cat "$gv/metrics.json" >"$dir/m.json" 2>/dev/null || true
  fi
  report_run "$name" "$mode" "$launcher" "$kind" "$victim" "$dir" "$at" "$pending" $times
}

# heal_pending: the entries the volume gv still has to heal (null while a brick does not answer).
heal_pending() { bash "$CLUSTER" pending gv 2>/dev/null || echo null; }

log_step() { grep -oE '^step +[0-9]+' "$1" 2>/dev/null | tail -n1 | grep -oE '[0-9]+$' || echo 0; }
at_log_step() { [ "$(log_step "$1")" -ge "$2" ]; }

report_run() {
  local name=$1 mode=$2 launcher=$3 kind=$4 victim=$5 dir=$6 at=$7 pending=$8 detect=$9 relaunch=${10} restore=${11} step=${12}
  local log=$dir/log.txt acc=null restored=- reached=- lost= every once=false finished=false
  grep -qE "^final test accuracy" "$log" && finished=true
  [ -s "$dir/m.json" ] && acc=$(/usr/bin/python3 -c "import json; print(json.load(open('$dir/m.json'))['test_accuracy'])")
  # auto: the widest interval said before the loss (it is said again when it changes twofold)
  every=$(sed -nE '/^resuming from/q; s/^node-local checkpoints every ([0-9]+) steps.*/\1/p' "$log" | sort -n | tail -n1)
  local line
  line=$(grep -m1 "restoring from the node-local level" "$log" || true)
  restored=$(sed -nE 's/.*: step ([0-9]+),.*/\1/p' <<<"$line")
  reached=$(sed -nE 's/.*had reached step ([0-9]+).*/\1/p' <<<"$line")
  lost=$(sed -nE 's/.*: ([0-9]+) step\(s\) lost.*/\1/p' <<<"$line")
  # The interval in effect at the loss, as the restore tells it (auto changes it as it goes).
  local at_loss
  at_loss=$(sed -nE 's/.*\(node-local checkpoints every ([0-9]+) steps\).*/\1/p' <<<"$line")
  [ -z "$at_loss" ] || every=$at_loss
  grep -q "exactly once" <<<"$line" && once=true
  # Relaunches refused at start (the shared file system not yet usable: "Stale file handle").
  local refused stale
  refused=$(grep -c "refused at start after a restart" "$log" || true)
  stale=$(grep -c "Stale file handle" "$log" || true)
  json what=run name="$name" mode="$mode" launcher="$launcher" kind="$kind" lost_host="$victim" \
    finished="$finished" accuracy="$acc" every="${every:-null}" restored="${restored:-null}" \
    reached="${reached:-null}" at_loss="${at/-/null}" heal_pending_at_loss="${pending/-/null}" lost="${lost:-null}" exactly_once="$once" refused_relaunches="$refused" stale_handle_lines="$stale" detect_s="${detect/-/null}" \
    relaunch_s="${relaunch/-/null}" restore_s="${restore/-/null}" first_step_s="${step/-/null}"
}

# run_returned: under mpirun, h3 lost and then back: the job takes it back at its next stop.
run_returned() {
  local dir=$WORK/returned gv=/mnt/gv/bench-node-loss/returned
  rm -rf "$dir" && mkdir -p "$dir"
  bash "$CLUSTER" run h1 rm -rf "$gv"
  clean_stores
  start_job sync mpirun "$dir" "$gv"
  reached() { at_log_step "$dir/log.txt" $((STEPS / 5)) || ! kill -0 "$JOB" 2>/dev/null; }
  wait_until 1800 "step $((STEPS / 5))" reached >&2
  bash "$CLUSTER" lose h3 >&2
  restored() { grep -q '^resuming from' "$dir/log.txt" || ! kill -0 "$JOB" 2>/dev/null; }
  wait_until 600 "the restore" restored >&2
  bash "$CLUSTER" return h3 >&2
  wait "$JOB" 2>/dev/null || true  # a job that gave up is a row too
  bash "$SLURM" node-up h3 >&2
  local back=false finished=false
  [ "$(grep -c 'starting on 4 node' "$dir/log.txt")" -ge 2 ] && back=true
  grep -qE "^final test accuracy" "$dir/log.txt" && finished=true
  json what=returned taken_back="$back" finished="$finished"
}

# run_cost MODE LEVEL RATE I: images/s of one uninterrupted run under mpirun on the 4 hosts,
# with the node-local level (and its partner copies) or without.
run_cost() {
  local mode=$1 level=$2 rate=$3 i=$4 name=cost-$1-$2-$3-$4 args
  local dir=$WORK/$name gv=/mnt/gv/bench-node-loss/$name
  rm -rf "$dir" && mkdir -p "$dir"
  bash "$CLUSTER" run h1 rm -rf "$gv"
  clean_stores
  read -ra args <<<"$(STEPS=$COST_STEPS LOG_EVERY=1000 mpirun_args "$mode" "$gv" "$level" | tr '\n' ' ')"
  bash "$CLUSTER" mpirun -np 4 "$DTRAIN_ROOT/build/mnist_train" "${args[@]}" \
    --metrics-json "$dir/m.json" >"$dir/log.txt" 2>&1
  local rate_img every share
  rate_img=$(/usr/bin/python3 -c "import json; print(json.load(open('$dir/m.json'))['train_images_per_sec'])")
  # The level's own account of its cost on the chief (loop time + partner wait, and writing),
  # and what auto measured it added to the chief's iterations.
  share=$(/usr/bin/python3 -c "import json; l = json.load(open('$dir/m.json')).get('local_checkpoints')
print(json.dumps([l['share_of_training'], l['background_share_of_training'], l['added_share_of_training']] if l else None))")
  every=$(sed -nE 's/^node-local checkpoints every ([0-9]+) steps.*/\1/p' "$dir/log.txt" | sort -n | tail -n1)
  json what=cost mode="$mode" level="$level" rate="$rate" round="$i" img_s="$rate_img" every="${every:-null}" share="$share"
}
