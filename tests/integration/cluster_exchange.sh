#!/usr/bin/env bash
# The exchange chosen from measured links (src/comm/exchange_model.h), on the cluster group's
# emulated hosts with their links reshaped in place (scripts/cluster_local.sh shape), the small
# CNN so that each run takes seconds. Each run's choice is checked against the model recomputed
# from what that run measured (check_exchange.py):
#  1. sync on 3 hosts at 200 Mbit/s: the fastest alternative (today's default unless another is
#     predicted more than 5% faster), never fp16 by default;
#  2. the same with --compress auto: fp16 among the alternatives, the fastest chosen;
#  3. a user flag wins: --exchange ring ranges over ring alternatives only and trains on the
#     ring communicator; with nothing left to choose (--exchange whole --bucket-mb 0.1) nothing
#     is measured and the role table says what the flags gave;
#  4. --num-ps auto on 4 hosts: the number of servers the model finds fastest, and the run has
#     that many;
#  5. a resume keeps the choice its checkpoint recorded;
#  6. links slowed to 20 Mbit/s after the choice: the run reports the prediction missed;
#  7. bad values are refused at start (exit 2) naming the flag.
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir cluster-exchange)
on_exit 'bash "$CLUSTER" shape none >/dev/null'
ARGS=(--threads 1 --data-dir "$MNIST" --arch cnn-small --eval-every 100000 --log-every 10)

train() {  # NAME NP ARGS...: a run across the hosts, its log and metrics in $out
  local name=$1 np=$2
  shift 2
  bash "$CLUSTER" mpirun -np "$np" "$BIN" "${ARGS[@]}" --metrics-json "$out/$name.json" "$@" \
    >"$out/$name.log" 2>&1 || { tail -n 20 "$out/$name.log"; fail "$name: the run failed"; }
  grep -E "^exchange:|^dtrain:" "$out/$name.log"
}
check() {  # NAME CHECKS...
  local name=$1
  shift
  "$PY" "$HERE/check_exchange.py" "$out/$name.json" "$@" || fail "$name: the choice is not the model's"
}

bash "$CLUSTER" shape 200mbit
train auto 3 --dist sync --steps 20
check auto --fp16 no
train compress 3 --dist sync --steps 20 --compress auto
check compress --fp16 yes

train ring 3 --dist sync --steps 20 --exchange ring
check ring --ring yes
train given 3 --dist sync --steps 10 --exchange whole --bucket-mb 0.1
grep -q "gradients fp32 on the wire in 0.1 MB buckets, whole optimizer on every rank" "$out/given.log" ||
  fail "the role table does not say what the flags gave"
grep -q "^links measured" "$out/given.log" && fail "measured with nothing left to choose"

train servers 4 --dist async --steps 20 --num-ps auto
check servers

train first 3 --dist sync --steps 10 --exchange whole --bucket-mb 1 --model-dir "$out/ckpt" \
  --checkpoint-steps 10
train resumed 3 --dist sync --steps 20 --model-dir "$out/ckpt"
check resumed --choice "whole fp32 1 MB" --source "kept from the checkpoint"

# The miss: chosen on unshaped links, which then slow to 20 Mbit/s under the running job.
bash "$CLUSTER" shape none
bash "$CLUSTER" mpirun -np 3 "$BIN" "${ARGS[@]}" --dist sync --steps 150 >"$out/miss.log" 2>&1 &
job=$!
wait_until 120 "the exchange chosen" grep -q "^exchange:" "$out/miss.log" ||
  { kill "$job"; fail "no choice printed"; }
bash "$CLUSTER" shape 20mbit
wait "$job" || { tail -n 20 "$out/miss.log"; fail "the run with slowed links failed"; }
grep -E "^exchange:|prediction missed" "$out/miss.log"
grep -q "warning: the exchange's prediction missed by +" "$out/miss.log" ||
  fail "links slowed under the job, and no miss reported"

for bad in "--exchange fast" "--dist sync --num-ps auto"; do
  set +e
  # shellcheck disable=SC2086
  "$BIN" ${bad} --data-dir "$MNIST" >"$out/bad.log" 2>&1
  rc=$?
  set -e
  [ "$rc" = 2 ] || fail "$bad: exit $rc, expected 2"
  grep -E -- "--exchange|--num-ps" "$out/bad.log" | head -n 2
done
echo OK
