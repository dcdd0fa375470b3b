#!/usr/bin/env bash
# A checkpoint written by one host layout resumes on another: async with 1 server + 2 workers
# on 3 hosts (1 rank each) for 150 steps, then 2 servers + 4 workers (2 ranks per host) to 300.
# The checkpoint directory is one every host sees (here the local disk all emulated hosts share;
# on a cluster, the shared file system).
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir cluster-resume)
run() {  # slots np args...
  local slots=$1 np=$2
  shift 2
  SLOTS=$slots bash "$CLUSTER" mpirun -np "$np" "$BIN" --threads 1 "${SMALL[@]}" \
    --data-dir "$MNIST" --eval-every 1000 --log-every 50 --model-dir "$out/ckpt" "$@"
}
run 1 3 --steps 150 | grep -E "checkpoint|final"
run 2 6 --num-ps 2 --steps 300 --metrics-json "$out/m.json" | grep -E "resum|note|checkpoint|final"
check_metrics "$out/m.json" --min-accuracy 0.9 --expect start_step=150 --expect last_step=300 --expect num_ps=2
echo OK
