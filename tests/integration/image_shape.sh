#!/usr/bin/env bash
# The model's input comes from the data. MNIST padded to 32x32 is written by h5py (HDF5) and by
# Python protobuf (TFRecord, TensorFlow's height/width/depth features); training on either
# builds a 1x32x32 model and learns. Data whose shape does not fit is refused before training
# with a message naming the files and both shapes: test data of another size than the training
# data, and inference data of another size than the model.
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir image-shape)
HERE=$HERE "$PY" - "$MNIST" "$out" <<'PY'
import os, struct, sys
import h5py, numpy as np
sys.path.insert(0, os.environ["HERE"])
import example_pb2
from check_independent import frame, read_idx
mnist, out = sys.argv[1:3]
for split, prefix, n in (("train", "train", 6000), ("test", "t10k", 1000)):
    images = np.pad(read_idx(f"{mnist}/{prefix}-images-idx3-ubyte")[:n], ((0, 0), (2, 2), (2, 2)))
    labels = read_idx(f"{mnist}/{prefix}-labels-idx1-ubyte")[:n]
    os.makedirs(f"{out}/h5/{split}", exist_ok=True)
    with h5py.File(f"{out}/h5/{split}/part-0.h5", "w") as f:
        f["images"], f["labels"] = images, labels
    os.makedirs(f"{out}/tfr/{split}", exist_ok=True)
    with open(f"{out}/tfr/{split}/part-0.tfrecord", "wb") as f:
        for img, y in zip(images, labels):
            ex = example_pb2.Example()
            feat = ex.features.feature
            feat["image_raw"].bytes_list.value.append(img.tobytes())
            feat["label"].int64_list.value.append(int(y))
            for k, v in (("height", 32), ("width", 32), ("depth", 1)):
                feat[k].int64_list.value.append(v)
            f.write(frame(ex.SerializeToString()))
print("wrote 32x32 MNIST as HDF5 (h5py) and TFRecord (protobuf)")
PY
for fmt in h5 tfr; do
  features=()
  [ "$fmt" = tfr ] && features=(--features image=image_raw)
  "$BIN" --train-data "$out/$fmt/train" --test-data "$out/$fmt/test" "${features[@]}" \
    "${SMALL[@]}" --steps 240 --batch-size 50 --eval-every 240 --log-every 120 --export "$out/$fmt.h5" \
    --metrics-json "$out/$fmt.json" | grep -E "^input|final"
  check_metrics "$out/$fmt.json" --min-accuracy 0.85 --expect input_shape=1x32x32
done
# Refusals: exit 2, one line naming the data and both shapes.
expect_refusal() {  # pattern, command...
  local pattern=$1 msg rc
  shift
  set +e
  msg=$(timeout 120 "$@" 2>&1)
  rc=$?
  set -e
  echo "exit $rc: $(grep -m1 error <<<"$msg")"
  [ "$rc" -eq 2 ] || fail "expected exit 2, got $rc"
  grep -qE -e "$pattern" <<<"$msg" || fail "no message matching '$pattern'"
}
expect_refusal "1x28x28 images but the training data .*holds 1x32x32" \
  "$BIN" --train-data "$out/h5/train" --test-data "$DTRAIN_WORK/shards/h5-2/test" --steps 10
"$BIN" --data-dir "$MNIST" "${SMALL[@]}" --steps 20 --eval-every 1000 --export "$DTRAIN_WORK/image-shape-28.h5" | grep export
expect_refusal "holds 1x32x32 images but the model .* takes 1x28x28" \
  mpirun --oversubscribe --bind-to none -np 2 "$BIN" --mode inference --model "$DTRAIN_WORK/image-shape-28.h5" \
  --test-data "$out/h5/test" --output "$out/pred"
echo OK
