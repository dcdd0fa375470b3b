#!/usr/bin/env bash
# Scaling on shaped links, measured against the README's alpha-beta model (scripts/
# scaling_model.py), on emulated hosts (scripts/cluster_local.sh): 2, 3 and 4 hosts with one
# rank of one thread each, on links of 200 Mbit/s, 1 Gbit/s and unshaped. For each link the
# script first measures alpha and beta between 2 hosts (bare MPI_Allreduce, and the one-way
# MPI_Get and MPI_Accumulate, from 8 B to 13 MB, least-squares lines), then for every host
# count runs sync (global batch 100) and async (1 server + the other hosts as workers, batch
# 100 each) and prints images/s, the step split into compute, communication and waiting,
# bytes per step, and the model's prediction of the same figures with its error. Writes
# bench-results/cluster.jsonl, a table and a plot.
#
# All emulated hosts share this machine's cores: with more ranks than cores, each rank gets a
# share of a core, which the model is given (compute time x ranks / cores); those rows are
# marked "oversubscribed". Needs root.   STEPS=60 RATES="200mbit 1gbit none" HOSTS="2 3 4"
. "$(dirname "$0")/lib.sh"
bench_setup cluster iproute2 gnuplot-nox
OUT=$BENCH_OUT
raw=$BENCH_RAW
CLUSTER=$DTRAIN_ROOT/scripts/cluster_local.sh
STEPS=${STEPS:-60}
RATES=${RATES:-200mbit 1gbit none}
HOSTS=${HOSTS:-2 3 4}
CORES=$(nproc)
trap 'rc=$?; set +e; bash "$CLUSTER" down >/dev/null; exit $rc' EXIT

emit() { echo "$1" | tee -a "$raw"; }

# Compute alone: one process, one thread, no communication, at the batch a rank uses.
compute_ms() {  # batch
  build/mnist_train --data-dir "$MNIST_DIR" --threads 1 --batch-size "$1" --steps "$STEPS" \
    --eval-every 100000 --log-every 100000 --metrics-json "$OUT/compute.json" >/dev/null
  /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(1000*int(sys.argv[2])/j['train_images_per_sec'], 1000*j['optimizer_seconds_per_step'])" \
    "$OUT/compute.json" "$1"
}

alpha_beta() {  # rate: fit T = a + b n of the bare allreduce, MPI_Get and MPI_Accumulate
  bash "$CLUSTER" mpirun -np 2 build/rma_bench --only allreduce \
    --sizes 8,64,4096,65536,262144,1048576,4194304,13098536 >"$OUT/allreduce.jsonl"
  bash "$CLUSTER" mpirun -np 2 build/rma_bench --only rma \
    --sizes 8,65536,262144,1048576,4194304,13098536 >"$OUT/one-way.jsonl"
  /usr/bin/python3 - "$OUT/allreduce.jsonl" "$OUT/one-way.jsonl" "$1" <<'PY'
import json, sys
def rows(path, op):
    return [r for r in map(json.loads, (l for l in open(path) if l.startswith("{"))) if r["op"] == op]
def slope(rs):  # seconds per byte, least squares over the sizes bandwidth bounds
    xs = [r["bytes"] for r in rs if r["bytes"] >= 65536]
    ys = [r["seconds_median"] for r in rs if r["bytes"] >= 65536]
    n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
ar = rows(sys.argv[1], "allreduce")
small = min(r["seconds_median"] for r in ar if r["bytes"] <= 64)
# Ring allreduce on p = 2: T = 2 (p-1) alpha + 2 (p-1)/p n / beta = 2 alpha + n / beta.
# Pull and push are one-way streams (MPI_Get, MPI_Accumulate): their own beta, the mean of both.
one_way = (slope(rows(sys.argv[2], "get")) + slope(rows(sys.argv[2], "accumulate"))) / 2
print(json.dumps({"what": "link", "rate": sys.argv[3], "alpha_us": small / 2 * 1e6,
                  "beta_mb_s": 1 / slope(ar) / 1e6, "p2p_mb_s": 1 / one_way / 1e6,
                  "allreduce_13mb_ms": next(r["seconds_median"] for r in ar if r["bytes"] == 13098536) * 1e3}))
PY
}

# The CPU cost of moving the gradient between emulated hosts: on unshaped links the kernel's
# copies bound the allreduce, so its time is CPU time the ranks' compute shares.
copy_cost() {
  bash "$CLUSTER" up 2 >/dev/null
  bash "$CLUSTER" mpirun -np 2 build/rma_bench --only allreduce --sizes 13098536 |
    /usr/bin/python3 -c "import json,sys
r = [json.loads(l) for l in sys.stdin if l.startswith('{')][0]
print(json.dumps({'what': 'copy_cost', 'allreduce_13mb_ms': r['seconds_median'] * 1e3}))"
}

run() {  # mode hosts rate: one training run across the hosts, one JSON line
  local mode=$1 hosts=$2 rate=$3
  bash "$CLUSTER" mpirun -np "$hosts" build/mnist_train --dist "$mode" --threads 1 \
    --data-dir "$MNIST_DIR" --steps "$STEPS" --eval-every 100000 --log-every 100000 \
    --metrics-json "$OUT/run.json" >/dev/null
  /usr/bin/python3 - "$OUT/run.json" "$mode" "$hosts" "$rate" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); mode, hosts, rate = sys.argv[2], int(sys.argv[3]), sys.argv[4]
img_s = j["train_images_per_sec"]
if mode == "sync":
    step = 1000 * 100 / img_s
    # The sharded optimizer's parameter allgather follows the update and blocks the step.
    gather = 1000 * j.get("allgather_seconds_per_step", 0.0)
    comm = 1000 * j["allreduce_seconds_per_step"] + gather
    wait = 1000 * j["comm_wait_seconds_per_step"] + gather
    wire = j["allreduce_bytes_per_step"] * 2 * (hosts - 1) / hosts  # ring: sent per rank
    compute = step - wait
else:
    step = 1000 * 100 * j["workers"] / img_s  # one worker's step
    comm = 1000 * (j["pull_seconds_per_step"] + j["push_seconds_per_step"])
    wait = 1000 * j["comm_wait_seconds_per_step"]
    wire = j["bytes_per_step"]
    compute = step - comm - wait
print(json.dumps({"what": "run", "mode": mode, "hosts": hosts, "rate": rate, "img_s": img_s,
                  "step_ms": step, "compute_ms": compute, "comm_ms": comm, "wait_ms": wait,
                  "wire_mb_per_step": wire / 1e6}))
PY
}

for hosts in $HOSTS; do
  read -r c a <<<"$(compute_ms $((100 / hosts)))"
  emit "{\"what\": \"compute\", \"batch\": $((100 / hosts)), \"compute_ms\": $c, \"adam_ms\": $a}"
done
read -r c a <<<"$(compute_ms 100)"
emit "{\"what\": \"compute\", \"batch\": 100, \"compute_ms\": $c, \"adam_ms\": $a}"
log "the CPU cost of moving the gradient (unshaped allreduce between 2 hosts)"
emit "$(copy_cost)"
for rate in $RATES; do
  rate_args=()
  [ "$rate" != none ] && rate_args=(--rate "$rate")
  bash "$CLUSTER" up 2 "${rate_args[@]}" >/dev/null
  log "link $rate: alpha and beta between 2 hosts"
  emit "$(alpha_beta "$rate")"
  for hosts in $HOSTS; do
    bash "$CLUSTER" up "$hosts" "${rate_args[@]}" >/dev/null
    for mode in sync async; do
      log "$mode on $hosts hosts, links $rate"
      emit "$(run "$mode" "$hosts" "$rate")"
    done
  done
done
/usr/bin/python3 "$DTRAIN_ROOT/scripts/bench_tables.py" cluster "$raw" "$CORES" "$OUT/cluster-model.dat"
gnuplot <<EOF
set terminal pngcairo size 900,520 font ",10"
set output "$OUT/cluster.png"
set title "Measured against the alpha-beta model, 1 rank x 1 thread per emulated host"
set ylabel "images/s"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -35
set key top right
plot "$OUT/cluster-model.dat" using 2:xtic(1) title "measured", "" using 3 title "model"
EOF
log "plot: $OUT/cluster.png"
