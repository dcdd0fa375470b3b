#!/usr/bin/env bash
# Data benchmark: examples/s and MB/s of every reader (IDX in memory, HDF5 through MPI-IO,
# TFRecord plain and GZIP) with 1 and 2 ranks, set against how fast training consumes
# examples, and the time the trainer actually waits for data per step (target: < 1% of the step;
# readers >= 10x the consumption). Tables to stdout and bench-results/data.md.
. "$(dirname "$0")/lib.sh"
apt_install "${DTRAIN_BUILD_PACKAGES[@]}"
fetch_mnist
build "$DTRAIN_ROOT/build"
cd "$DTRAIN_ROOT"
OUT="$DTRAIN_ROOT/bench-results"
SHARDS="$DTRAIN_ROOT/data/shards"
mkdir -p "$OUT"
raw="$OUT/data.jsonl"
: >"$raw"
make_shards() {  # name, converter args
  local name=$1; shift
  [ -f "$SHARDS/$name/.complete" ] && return 0
  log "writing $name shards"
  rm -rf "${SHARDS:?}/$name"
  build/mnist_data_setup --data-dir "$MNIST_DIR" --output "$SHARDS/$name" --num-partitions 10 "$@" >/dev/null
  touch "$SHARDS/$name/.complete"
}
make_shards hdf5 --format hdf5
make_shards tfrecord --format tfrecord
make_shards tfrecord-gz --format tfrecord --compress
readers=("idx|" "hdf5|$SHARDS/hdf5/train" "tfrecord|$SHARDS/tfrecord/train" "tfrecord (GZIP)|$SHARDS/tfrecord-gz/train")
for entry in "${readers[@]}"; do
  label=${entry%%|*} path=${entry#*|}
  for np in 1 2; do
    log "reader $label, $np rank(s)"
    args=(--epochs 3 --batch 100 --policy files)
    if [ -n "$path" ]; then args+=(--data "$path"); else args+=(--data-dir "$MNIST_DIR"); fi
    mpirun --oversubscribe --bind-to none -np "$np" build/data_bench "${args[@]}" |
      /usr/bin/python3 -c "import json,sys; j=json.loads(sys.stdin.read()); j['label']='$label'; print(json.dumps(j))" | tee -a "$raw"
  done
done
log "training consumption rate"
build/compute_bench --threads 2 --batches 100 --infer-batches 100 --repeats 3 --data-dir "$MNIST_DIR" |
  /usr/bin/python3 -c "import json,sys
rows=[json.loads(l) for l in sys.stdin if l.startswith('{')]
j=next(r for r in rows if r['what']=='train'); print(json.dumps({'what':'train_rate','img_s':j['img_s']}))" | tee -a "$raw"
for entry in "${readers[@]}"; do
  label=${entry%%|*} path=${entry#*|}
  log "trainer waiting on $label"
  args=(--steps 400 --eval-every 100000 --log-every 1000 --metrics-json "$OUT/wait.json")
  if [ -n "$path" ]; then args+=(--train-data "$path" --test-data "${path%/train}/test"); else args+=(--data-dir "$MNIST_DIR"); fi
  build/mnist_train "${args[@]}" >/dev/null
  /usr/bin/python3 -c "import json; j=json.load(open('$OUT/wait.json')); print(json.dumps({'what':'trainer_wait','label':'$label','steps':j['steps'],'wait_seconds':j['data_wait_seconds'],'wait_fraction':j['data_wait_fraction']}))" | tee -a "$raw"
done
/usr/bin/python3 "$DTRAIN_ROOT/scripts/bench_tables.py" data "$raw" | tee "$OUT/data.md"
