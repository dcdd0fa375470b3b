#!/usr/bin/env bash
# Train briefly with --export, TensorBoard events and a metrics CSV; then check the event file
# independently, plot the CSV, run data-parallel inference on 2 ranks from the exported model
# and from the checkpoint, and check the exported file by a numpy forward pass (h5py).
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir inference-export)
bin=$BIN mnist=$MNIST root=$DTRAIN_ROOT
"$bin" --data-dir "$mnist" "${SMALL[@]}" --steps 150 --eval-every 50 --log-every 50 --summary-steps 25 --model-dir "$out/ckpt" \
  --log-dir "$out/logs" --metrics-csv "$out/metrics.csv" --export "$out/model.h5" | grep -E "final|export|TensorBoard"
/usr/bin/python3 "$HERE/check_tensorboard.py" "$out/logs" "$out/metrics.csv" "$out/model.h5"
bash "$root/scripts/plot_metrics.sh" "$out/metrics.csv" "$out/curves.png"
head -c 8 "$out/curves.png" | od -An -c | grep -q "P   N   G" || { echo "FAIL: not a PNG"; exit 1; }
mpi 2 "$bin" --mode inference --model "$out/model.h5" --data-dir "$mnist" \
  --output "$out/pred" --output-mapping id,label,prediction,probabilities
[ "$(cat "$out"/pred/part-* | wc -l)" -eq 10000 ] || { echo "FAIL: not 10000 predictions"; exit 1; }
/usr/bin/python3 "$HERE/check_export.py" "$out/model.h5" "$mnist" "$out/pred" 300
ckpt=$(ls "$out"/ckpt/ckpt-*.h5 | tail -n 1)
mpi 2 "$bin" --mode inference --model "$ckpt" --data-dir "$mnist" \
  --output "$out/pred-csv" --output-format csv --output-mapping id,prediction,features | grep accuracy
cols=$(head -n 1 "$out/pred-csv/part-00000" | tr ',' '\n' | wc -l)
[ "$cols" -eq 66 ] || { echo "FAIL: $cols CSV columns, expected id + prediction + 64 features (the last hidden layer)"; exit 1; }
"$bin" --mode export --model "$ckpt" --export "$out/from-ckpt.h5" | grep exported
echo OK
