#!/usr/bin/env bash
# Trains the same short run from the IDX files, the HDF5 shards and the TFRecord shards and
# checks that all three end with the same test accuracy and loss. The converter keeps example
# order, so with the global shard policy all three see identical batches: the results must agree
# to the last bit, which is a stronger check than "similar accuracy".
. "$(dirname "$0")/lib.sh"
data=$DTRAIN_WORK/shards
out=$(fresh_dir same-training)
common=("${SMALL[@]}" --steps 500 --eval-every 500 --log-every 250 --threads 2)
"$BIN" "${common[@]}" --data-dir "$MNIST" --metrics-json "$out/idx.json"
"$BIN" "${common[@]}" --train-data "$data/h5-7/train" --test-data "$data/h5-7/test" --metrics-json "$out/h5.json"
"$BIN" "${common[@]}" --train-data "$data/tfr-2/train" --test-data "$data/tfr-2/test" --metrics-json "$out/tfr.json"
/usr/bin/python3 - "$out" <<'PY'
import json, sys
runs = {k: json.load(open(f"{sys.argv[1]}/{k}.json")) for k in ("idx", "h5", "tfr")}
for k, j in runs.items():
    print(f"{k:4s} test accuracy {j['test_accuracy']:.4f} loss {j['test_loss']:.6f}")
ref = runs["idx"]
bad = [k for k, j in runs.items() if (j["test_accuracy"], j["test_loss"]) != (ref["test_accuracy"], ref["test_loss"])]
assert ref["test_accuracy"] >= 0.95, "the short run did not learn"
sys.exit(f"runs differ: {bad}" if bad else 0)
PY
