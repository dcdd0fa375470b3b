#!/usr/bin/env bash
# Data benchmark: examples/s and MB/s of every reader (IDX, HDF5 through MPI-IO, TFRecord plain
# and GZIP), set against how fast training consumes examples, and the time the trainer actually
# waits for data per step (targets: readers >= 10x the consumption, waits < 1% of the step).
#
#   scripts/bench_data.sh                 local disk, 1 and 2 ranks
#   scripts/bench_data.sh --fs gluster    also a GlusterFS volume over emulated hosts (needs
#                                         root): 1, 2 and 3 reading hosts, unshaped and 1 Gbit/s
#                                         links, cold (caches dropped) and warm; the same
#                                         figures on local disk in the same table
#                                         (LINKS="none" for unshaped links only)
# Tables to stdout and bench-results/data.md; raw lines in bench-results/data.jsonl.
. "$(dirname "$0")/lib.sh"
bench_setup data
OUT=$BENCH_OUT
raw=$BENCH_RAW
CLUSTER=$DTRAIN_ROOT/scripts/cluster_local.sh
FS=local
[ "${1:-}" = --fs ] && FS=$2
SHARDS="$DTRAIN_ROOT/data/shards"
emit() { tee -a "$raw"; }
tag() {  # KEY=VALUE...: adds fields to the JSON line on stdin
  /usr/bin/python3 -c "import json,sys
j=json.loads(sys.stdin.read())
for kv in sys.argv[1:]:
    k, v = kv.split('=', 1)
    j[k] = int(v) if v.isdigit() else v
print(json.dumps(j))" "$@"
}
make_shards() {  # dir name converter-args...
  local dir=$1 name=$2
  shift 2
  [ -f "$dir/$name/.complete" ] && return 0
  log "writing $name shards in $dir"
  rm -rf "${dir:?}/$name"
  build/mnist_data_setup --data-dir "$MNIST_DIR" --output "$dir/$name" --num-partitions 10 "$@" >/dev/null
  touch "$dir/$name/.complete"
}
readers() {  # root: label|path lines for the readers over data under root
  echo "idx|$1/idx/train-images-idx3-ubyte"
  echo "hdf5|$1/hdf5/train"
  echo "tfrecord|$1/tfrecord/train"
  echo "tfrecord (GZIP)|$1/tfrecord-gz/train"
}
prepare() {  # root: the four data sets under root
  mkdir -p "$1/idx"
  cp -n "$MNIST_DIR"/*-ubyte "$1/idx/"
  make_shards "$1" hdf5 --format hdf5
  make_shards "$1" tfrecord --format tfrecord
  make_shards "$1" tfrecord-gz --format tfrecord --compress
}

log "training consumption: one rank, one thread, and the defaults (2 threads)"
for t in 1 2; do
  build/compute_bench --threads "$t" --batches 100 --infer-batches "" --timeline-overhead no \
    --ceiling no --repeats 3 --data-dir "$MNIST_DIR" |
    /usr/bin/python3 -c "import json,sys
j=[json.loads(l) for l in sys.stdin if '\"train\"' in l][0]
print(json.dumps({'what':'train_rate','threads':$t,'img_s':j['img_s']}))" | emit
done

# --- local disk ---------------------------------------------------------------------------------
prepare "$SHARDS"
while IFS='|' read -r label path <&3; do
  for np in 1 2; do
    log "reader $label, $np rank(s), local disk"
    mpirun --oversubscribe --bind-to none -np "$np" build/data_bench --data "$path" --epochs 2 \
      --batch 100 --policy files </dev/null | tag "label=$label" fs=local cache=warm links=- "hosts=$np" | emit
  done
done 3< <(readers "$SHARDS")

trainer_wait() {  # label path fs links [cluster]: the trainer's data wait, one rank per host
  local label=$1 path=$2 fs=$3 links=$4 hosts=${5:-1}
  local test=${path%/train}/test
  local data=(--train-data "$path" --test-data "$test")
  [ "$label" = idx ] && data=(--data-dir "$(dirname "$path")")
  local run=(build/mnist_train)
  [ "$fs" = gluster ] && run=(bash "$CLUSTER" mpirun -np "$hosts" build/mnist_train --dist sync)
  "${run[@]}" "${data[@]}" --threads 1 --steps 200 --eval-every 100000 --log-every 1000 \
    --metrics-json "$OUT/wait.json" >/dev/null </dev/null
  /usr/bin/python3 -c "import json; j=json.load(open('$OUT/wait.json')); print(json.dumps({'what':'trainer_wait','label':'$label','fs':'$fs','links':'$links','hosts':$hosts,'steps':j['steps'],'wait_seconds':j['data_wait_seconds'],'wait_fraction':j['data_wait_fraction']}))" | emit
}
while IFS='|' read -r label path <&3; do
  trainer_wait "$label" "$path" local -
done 3< <(readers "$SHARDS")

# --- GlusterFS over emulated hosts --------------------------------------------------------------
if [ "$FS" = gluster ]; then
  GV=/mnt/gv/bench
  for links in ${LINKS:-none 1gbit}; do
    rate=()
    [ "$links" != none ] && rate=(--rate "$links")
    bash "$CLUSTER" up 3 --fs gluster "${rate[@]}"
    # The data sets on the volume, written from h1.
    bash "$CLUSTER" run h1 bash -c "$(declare -f log make_shards prepare); MNIST_DIR=$MNIST_DIR; prepare $GV"
    while IFS='|' read -r label path <&3; do
      for hosts in 1 2 3; do
        for cache in cold warm; do
          [ "$cache" = cold ] && bash "$CLUSTER" drop-caches </dev/null
          log "reader $label, $hosts host(s), GlusterFS, links $links, $cache"
          bash "$CLUSTER" mpirun -np "$hosts" build/data_bench --data "$path" --epochs 1 \
            --batch 100 --policy files </dev/null |
            tag "label=$label" fs=gluster "cache=$cache" "links=$links" "hosts=$hosts" | emit
        done
      done
      trainer_wait "$label" "$path" gluster "$links" 3
    done 3< <(readers "$GV")
  done
  bash "$CLUSTER" down
fi
/usr/bin/python3 "$DTRAIN_ROOT/scripts/bench_tables.py" data "$raw" | tee "$OUT/data.md"
