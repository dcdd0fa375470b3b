#!/usr/bin/env bash
# Data on the GlusterFS volume of the emulated cluster (cluster.up: 3 hosts, /mnt/gv):
#  1. mnist_data_setup under mpirun on 3 hosts writes HDF5 and TFRecord shards onto the volume,
#     each rank its own partitions; --verify from another host reads them back whole.
#  2. The 3-rank sync job that hung at start-up when shards sat on GlusterFS (ranks 0 and 1 in
#     MPI_Win_allocate, rank 2 in a collective MPI_File_close) now trains to the end.
#  3. Async and sync runs read the shards from every host, exactly once per epoch (the converter
#     keeps example ids; the read counts are in the metrics).
. "$(dirname "$0")/lib.sh"
cluster=$CLUSTER
gv=/mnt/gv/dtrain-tests
bash "$cluster" run h1 rm -rf "$gv"
bash "$cluster" run h1 mkdir -p "$gv"
for fmt in hdf5 tfrecord; do
  bash "$cluster" mpirun -np 3 "$SETUP" --data-dir "$MNIST" --output "$gv/$fmt" --format "$fmt" \
    --num-partitions 6 | sort
  # Read back on another host than the one that wrote most of it.
  bash "$cluster" run h3 "$SETUP" --data-dir "$MNIST" --output "$gv/$fmt" --format "$fmt" --verify-only |
    grep verified
done
timeout 600 bash "$cluster" mpirun -np 3 "$BIN" --train-data "$gv/hdf5/train" --test-data "$gv/hdf5/test" \
  "${SMALL[@]}" --dist sync --exchange sharded --steps 150 --threads 1 --eval-every 150 --log-every 50 --model-dir "$gv/ck" \
  --stall-timeout 120 | grep -E "final|error|stalled" || fail "the sync job on GlusterFS shards did not finish"
for mode in async sync; do
  bash "$cluster" mpirun -np 3 "$BIN" --dist "$mode" --threads 1 --train-data "$gv/tfrecord/train" \
    "${SMALL[@]}" --test-data "$gv/tfrecord/test" --steps 300 --eval-every 300 --log-every 100 \
    --metrics-json "$DTRAIN_WORK/gluster-$mode.json" | grep -E "final"
  check_metrics "$DTRAIN_WORK/gluster-$mode.json" --min-accuracy 0.9 --expect "mode=$mode"
done
echo OK
