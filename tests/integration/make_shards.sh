#!/usr/bin/env bash
# The shards the multi-rank data tests read, written once by the converter: HDF5 and TFRecord,
# 7 and 2 partitions, compressed and not.
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir shards)
"$SETUP" --data-dir "$MNIST" --output "$out/h5-7" --format hdf5 --num-partitions 7
"$SETUP" --data-dir "$MNIST" --output "$out/h5-2" --format hdf5 --num-partitions 2 --compress
"$SETUP" --data-dir "$MNIST" --output "$out/tfr-7" --format tfrecord --num-partitions 7
"$SETUP" --data-dir "$MNIST" --output "$out/tfr-2" --format tfrecord --num-partitions 2 --compress
