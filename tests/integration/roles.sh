#!/usr/bin/env bash
# Role tables for several rank/server counts (each a short real run that must exit 0), and the
# combinations that cannot work, which must be refused at once (exit 2) with a clear message.
. "$(dirname "$0")/lib.sh"
set +e
bin=$BIN mnist=$MNIST
run() {  # np, expected role-table lines..., -- mnist_train args
  local np=$1; shift
  local expect=()
  while [ "$1" != "--" ]; do expect+=("$1"); shift; done
  shift
  local out
  out=$(mpi "$np" "$bin" --data-dir "$mnist" --arch cnn-small --steps 10 --eval-every 10 \
        --log-every 10 "$@" 2>&1)
  local rc=$?
  echo "$out" | sed -n '/^dtrain:/,/^transport:/p'
  [ $rc -eq 0 ] || { echo "FAIL: exit $rc"; echo "$out" | tail -5; exit 1; }
  for e in "${expect[@]}"; do
    grep -qE -e "$e" <<<"$out" || { echo "FAIL: no line matching '$e'"; exit 1; }
  done
}
run 2 "mode async, 1 parameter server" "0 +ps 0 " "1 +worker 0 \(chief\)" -- 
run 3 "mode async, 2 parameter server" "0 +ps 0 .*\[0, 27168\)" "1 +ps 1 .*\[27168, 54330\)" "2 +worker 0 \(chief\)" -- --num-ps 2
run 4 "mode async, 1 parameter server" "3 +worker 2 " -- --dist async
run 3 "mode sync, gradients fp32 on the wire in 4 MB buckets, optimizer sharded" "0 +worker 0 \(chief\)" "2 +worker 2 .*full replica" -- --dist sync
run 2 "mode sync, gradients fp16 on the wire in 4 MB buckets, whole optimizer" -- --dist sync --compress fp16 --no-shard-optimizer
fail() {  # np, message pattern, args
  local np=$1 pattern=$2; shift 2
  local out rc
  out=$(timeout 120 mpirun --oversubscribe -np "$np" "$bin" --data-dir "$mnist" "$@" 2>&1); rc=$?
  echo "np $np $*: exit $rc: $(grep -m1 -E 'error' <<<"$out")"
  [ $rc -eq 2 ] || { echo "FAIL: expected a refusal at start (exit 2)"; exit 1; }
  grep -qE -e "$pattern" <<<"$out" || { echo "FAIL: message does not match '$pattern'"; echo "$out" | tail -5; exit 1; }
}
fail 2 "--num-ps 2 with 2 ranks leaves no worker" --num-ps 2
fail 3 "--num-ps 3 with 3 ranks leaves no worker" --num-ps 3 --dist async
fail 1 "--dist async needs at least 2 ranks" --dist async
fail 2 "--compress fp16: compresses the gradient allreduce of --dist sync; this run is async" --compress fp16
fail 1 "--compress fp16: .*this run is local" --compress fp16
fail 2 "--compress: 'fp8' is not allowed \(expected one of none, fp16, auto\)" --dist sync --compress fp8
fail 2 "--exchange sharded: chooses how --dist sync reduces gradients; this run is async" --exchange sharded
fail 2 "--exchange: 'fast' is not allowed \(expected one of auto, sharded, whole, ring\)" --dist sync --exchange fast
# Rules between options: refused before MPI starts, whatever the number of ranks.
fail 2 "--num-ps auto: chooses the parameter servers of --dist async; --dist sync has none" --dist sync --num-ps auto
fail 2 "--compress fp16: .*not the pushes of --dist async" --dist async --compress fp16
fail 2 "--shared-params needs the sharded optimizer" --dist sync --shared-params --no-shard-optimizer
fail 1 "--local-checkpoint-steps 5 needs --local-checkpoint-dir" --local-checkpoint-steps 5
fail 1 "--resume needs --model-dir" --resume
fail 1 "--mode inference needs --model FILE" --mode inference --output /nonexistent
echo "OK"
