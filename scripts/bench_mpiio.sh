#!/usr/bin/env bash
# MPI-IO under the HDF5 reader: Open MPI's default component (ompio) against ROMIO
# (--mca io romio321), with and without hints, reading HDF5 shards from a GlusterFS volume on
# 3 emulated hosts (1 reader per host, warm and cold). Hints are given the way mnist_train's
# --io-hint gives them (data_bench --io-hints). ompio ignores ROMIO's hints, so each figure
# names its component. Needs root.   REPEATS=3 LINKS=none (or e.g. 1gbit)
# Table to stdout and bench-results/mpiio.md; raw lines in bench-results/mpiio.jsonl.
. "$(dirname "$0")/lib.sh"
bench_setup mpiio
OUT=$BENCH_OUT
raw=$BENCH_RAW
CLUSTER=$DTRAIN_ROOT/scripts/cluster_local.sh
REPEATS=${REPEATS:-3}
LINKS=${LINKS:-none}
trap 'rc=$?; set +e; bash "$CLUSTER" down >/dev/null; exit $rc' EXIT

rate=()
[ "$LINKS" != none ] && rate=(--rate "$LINKS")
bash "$CLUSTER" up 3 --fs gluster "${rate[@]}"
GV=/mnt/gv/bench-mpiio
log "writing HDF5 shards (10 partitions) onto the volume from h1"
bash "$CLUSTER" run h1 build/mnist_data_setup --data-dir "$MNIST_DIR" --output "$GV" \
  --format hdf5 --num-partitions 10 >/dev/null </dev/null

# label | mpirun MCA arguments | data_bench --io-hints
configs() {
  echo "ompio (default)||"
  echo "ompio, ROMIO hints given (ignored)||romio_cb_read=enable,cb_buffer_size=16777216,romio_ds_read=disable"
  echo "romio321|--mca io romio321|"
  echo "romio321, data sieving off|--mca io romio321|romio_ds_read=disable"
  echo "romio321, collective buffering on|--mca io romio321|romio_cb_read=enable,cb_buffer_size=16777216,cb_nodes=3"
}
for i in $(seq 1 "$REPEATS"); do
  while IFS='|' read -r label mca hints <&3; do
    for cache in cold warm; do
      [ "$cache" = cold ] && bash "$CLUSTER" drop-caches </dev/null
      log "HDF5 reader, 3 hosts, $label, $cache (round $i)"
      # shellcheck disable=SC2086
      bash "$CLUSTER" mpirun -np 3 $mca build/data_bench --data "$GV/train" --epochs 1 \
        --batch 100 --policy files --io-hints "$hints" </dev/null |
        /usr/bin/python3 -c "import json,sys
j=json.loads(sys.stdin.read()); j.update({'label':sys.argv[1],'cache':sys.argv[2],'links':sys.argv[3],'round':int(sys.argv[4])}); print(json.dumps(j))" \
          "$label" "$cache" "$LINKS" "$i" | tee -a "$raw"
    done
  done 3< <(configs)
done
bash "$CLUSTER" down >/dev/null
/usr/bin/python3 "$DTRAIN_ROOT/scripts/bench_tables.py" mpiio "$raw" | tee "$OUT/mpiio.md"
