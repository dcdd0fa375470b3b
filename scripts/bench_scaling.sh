#!/usr/bin/env bash
# Scaling benchmark: images/s and time per step (compute / communication / waiting), bytes moved
# and GB/s for 1 process with 2 threads, sync with 2 ranks x 1 thread, and async with 1 PS + 1
# and + 2 workers, on the default transport (shared memory, osc rdma/sm) and on TCP; beside them,
# in the same run, the PyTorch DDP (gloo) reference with 2 processes; and the trainer's own
# allreduce / push / pull against bare MPI operations of the same size (rma_bench). Then, on 2
# emulated hosts (scripts/cluster_local.sh, needs root) joined by 1 Gbit/s links, sync training
# with fp32 and with fp16 gradients on the wire (--compress fp16), side by side
# (FP16_RATE=... for another link; FP16_RATE=skip to leave it out).
. "$(dirname "$0")/lib.sh"
bench_setup scaling python3-torch python3-numpy libopenblas0-openmp iproute2
OUT=$BENCH_OUT
raw=$BENCH_RAW
CLUSTER=$DTRAIN_ROOT/scripts/cluster_local.sh
PEERS=${PEERS:-$DTRAIN_ROOT/../shared/peers}
STEPS=${STEPS:-300}
# metrics JSON -> one table row
row() {  # label transport json
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import json, sys
label, transport, path = sys.argv[1:]
j = json.load(open(path))
img_s = j["train_images_per_sec"]
if j["mode"] == "async":
    per_worker = img_s / j["workers"]
    step = 1000 * 100 / per_worker
    comm = 1000 * (j["pull_seconds_per_step"] + j["push_seconds_per_step"])
    wait = 1000 * j["staleness_wait_seconds"] / max(1, j["steps"])
    mb = j["bytes_per_step"] / 1e6
    gbps = j["bytes_per_step"] / (comm / 1000) / 1e9 if comm else None
    note = f"staleness mean {j['staleness_mean']:.2f} max {j['staleness_max']:.0f}"
elif j["mode"] == "sync":
    step = 1000 * 100 / img_s
    comm = 1000 * j["allreduce_seconds_per_step"]
    wait = 1000 * j["comm_wait_seconds_per_step"]
    mb = j["allreduce_bytes_per_step"] / 1e6
    gbps = j["allreduce_gbps"]
    note = f"{j['buckets']} buckets, {j['buckets_done_before_backward_ended']:.1f} done before backward ended; optimizer {1000 * j['optimizer_seconds_per_step']:.1f} ms"
    if j.get("sharded_optimizer"):
        gather = "shared parameters, barrier" if j.get("params_shared_on_node") else "allgather"
        note += f" on 1/{j['ranks']} of the parameters, {gather} {1000 * j['allgather_seconds_per_step']:.1f} ms"
else:
    step, comm, wait, mb, gbps, note = 1000 * 100 / img_s, 0.0, 0.0, 0.0, None, ""
compute = step - wait - (comm if j["mode"] == "async" else 0)
print(json.dumps({"what": "run", "label": label, "transport": transport, "img_s": img_s, "step_ms": step,
                  "compute_ms": compute, "comm_ms": comm, "wait_ms": wait, "bytes_mb": mb, "gbps": gbps,
                  "note": note}))
PY
}
run() {  # label transport np args...
  local label=$1 t=$2 np=$3; shift 3
  log "$label ($t)"
  # shellcheck disable=SC2086
  mpirun --oversubscribe --bind-to none -np "$np" $(DTRAIN_NET_IF=lo dtrain_transport_args "$t") build/mnist_train --data-dir "$MNIST_DIR" \
    --steps "$STEPS" --eval-every 100000 --log-every 1000 --metrics-json "$OUT/run.json" "$@" >/dev/null
  row "$label" "$t" "$OUT/run.json" | tee -a "$raw"
}
run "1 process, 2 threads" default 1 --threads 2
for t in default tcp; do
  run "sync 2 ranks x 1 thread" "$t" 2 --dist sync --threads 1
  if [ "$t" = default ]; then
    run "sync 2 ranks x 1 thread, one parameter copy per node" "$t" 2 --dist sync --threads 1 --shared-params
    run "sync 2 ranks x 1 thread, optimizer not sharded" "$t" 2 --dist sync --threads 1 --no-shard-optimizer
  fi
  run "async 1 PS + 1 worker" "$t" 2 --dist async
  run "async 1 PS + 2 workers" "$t" 3 --dist async
  log "micro: bare MPI against the trainer's paths ($t)"
  # shellcheck disable=SC2086
  mpirun -np 2 $(DTRAIN_NET_IF=lo dtrain_transport_args "$t") build/rma_bench --sizes 8,13098536 |
    /usr/bin/python3 -c "import json,sys
for l in sys.stdin:
    j=json.loads(l); j['what']='micro'; j['transport']='$t'; print(json.dumps(j))" | tee -a "$raw"
done
FP16_RATE=${FP16_RATE:-1gbit}
if [ "$FP16_RATE" != skip ]; then
  trap 'rc=$?; set +e; bash "$CLUSTER" down >/dev/null; exit $rc' EXIT
  rate_args=(--rate "$FP16_RATE")
  [ "$FP16_RATE" = none ] && rate_args=()
  bash "$CLUSTER" up 2 "${rate_args[@]}" >/dev/null
  for shard in sharded whole; do
    for compress in none fp16; do
      label="sync 2 hosts x 1 thread, $shard, gradients $([ $compress = fp16 ] && echo fp16 || echo fp32)"
      log "$label (links $FP16_RATE)"
      extra=()
      [ $shard = whole ] && extra=(--no-shard-optimizer)
      bash "$CLUSTER" mpirun -np 2 build/mnist_train --dist sync --threads 1 --compress "$compress" \
        "${extra[@]}" --data-dir "$MNIST_DIR" --steps "$STEPS" --eval-every 100000 \
        --log-every 1000 --metrics-json "$OUT/run.json" >/dev/null </dev/null
      row "$label" "emulated hosts, $FP16_RATE links" "$OUT/run.json" | tee -a "$raw"
    done
  done
  bash "$CLUSTER" down >/dev/null
fi
if [ -f "$PEERS/torch_ddp.py" ]; then
  log "PyTorch DDP (gloo), 2 processes x 50 images"
  (cd "$PEERS" && MNIST_DIR="$MNIST_DIR" /usr/bin/python3 torch_ddp.py train --nproc 2 --batch 50 --window-images 3200 --repeats 3 --max-windows 5) | grep '^RESULT' |
    /usr/bin/python3 -c "import json,sys
for l in sys.stdin:
    j=json.loads(l[7:]); print(json.dumps({'what':'ddp','img_s':j.get('median_img_s') or j.get('img_s'),'raw':j}))" | tee -a "$raw"
fi
/usr/bin/python3 "$DTRAIN_ROOT/scripts/bench_tables.py" scaling "$raw" | tee "$OUT/scaling.md"
