#!/usr/bin/env bash
# ONNX export, checked by tools no one here wrote: Debian's python3-onnx checker (full check,
# with shape inference) and ONNX Runtime (the npm package onnxruntime-node, installed by
# scripts/test.sh into the build directory). The exported CNN must give, on all 10,000 MNIST
# test images, the predictions dtrain's own --mode inference gives, with no probability more
# than 1e-5 apart. Other architectures export too (and the Node.js snippet of docs/checkpoints.md runs).
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir onnx)
modules=$DTRAIN_BUILD/npm/node_modules
[ -d "$modules/onnxruntime-node" ] || fail "no onnxruntime-node in $modules (scripts/test.sh installs it)"
export NODE_PATH=$modules
# Trained in bf16 where the CPU has it (--precision auto): the export holds the fp32 master
# weights, so ONNX Runtime must still agree with the fp32 inference of dtrain.
"$BIN" --data-dir "$MNIST" --steps 60 --eval-every 60 --log-every 30 --model-dir "$out/ckpt" \
  --precision auto --export "$out/model.onnx" | grep -E "final|export|precision"
ckpt=$(ls "$out"/ckpt/ckpt-*.h5 | tail -n1)
"$BIN" --mode export --model "$ckpt" --export "$out/from-ckpt.onnx" | grep exported
cmp "$out/model.onnx" "$out/from-ckpt.onnx" && echo "the export at the end and the export of the checkpoint are the same bytes"
check() {  # model.onnx: the ONNX checker, full
  "$PY" - "$1" <<'PY'
import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
ops = [n.op_type for n in m.graph.node]
print(f"onnx {onnx.__version__} checker (full): OK; IR {m.ir_version}, opset {m.opset_import[0].version}; "
      f"inputs {[i.name for i in m.graph.input]}, outputs {[o.name for o in m.graph.output]}; {' '.join(ops)}")
PY
}
check "$out/model.onnx"
# dtrain's own predictions of the same weights, and ONNX Runtime's.
mpi 2 "$BIN" --mode inference --model "$ckpt" --data-dir "$MNIST" --output "$out/pred" \
  --output-mapping id,probabilities | grep accuracy
node "$HERE/onnx_agree.js" "$out/model.onnx" "$MNIST/t10k-images-idx3-ubyte" 10000 "$out/ort.jsonl"
compare() {  # dtrain predictions dir, ORT jsonl, count
  "$PY" - "$1" "$2" "$3" <<'PY'
import glob, json, sys
import numpy as np
pred_dir, ort_path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
ours = {}
for f in glob.glob(pred_dir + "/part-*"):
    for line in open(f):
        r = json.loads(line)
        ours[r["id"]] = r["probabilities"]
a = np.array([ours[i] for i in range(count)])
b = np.array([json.loads(l) for l in open(ort_path)][:count])
same = int((a.argmax(1) == b.argmax(1)).sum())
diff = float(np.abs(a - b).max())
print(f"ONNX Runtime against dtrain on {count} images: {same} identical predictions, "
      f"largest probability difference {diff:.2e}")
sys.exit(0 if same == count and diff <= 1e-5 else 1)
PY
}
compare "$out/pred" "$out/ort.jsonl" 10000 || fail "ONNX Runtime and dtrain disagree"
# Every architecture dtrain trains exports: an MLP, and a network with an even kernel and an
# odd pool window.
for arch in mlp "conv:4:8:relu,maxpool:3,conv:3:4,dense:32:relu,dropout:0.5,dense:10"; do
  name=$(echo "$arch" | tr ':,.' '___')
  "$BIN" --data-dir "$MNIST" --arch "$arch" --steps 30 --eval-every 1000 \
    --model-dir "$out/ckpt-$name" >/dev/null
  c=$(ls "$out/ckpt-$name"/ckpt-*.h5 | tail -n1)
  "$BIN" --mode export --model "$c" --export "$out/$name.onnx" >/dev/null
  check "$out/$name.onnx"
  "$BIN" --mode inference --model "$c" --data-dir "$MNIST" --output "$out/pred-$name" \
    --output-mapping id,probabilities >/dev/null
  node "$HERE/onnx_agree.js" "$out/$name.onnx" "$MNIST/t10k-images-idx3-ubyte" 1000 "$out/ort-$name.jsonl"
  compare "$out/pred-$name" "$out/ort-$name.jsonl" 1000 || fail "$arch: ONNX Runtime and dtrain disagree"
done
# The snippet of docs/checkpoints.md, as printed there, on the exported model.
sed -n '/^```js onnx-snippet/,/^```$/p' "$DTRAIN_ROOT/docs/checkpoints.md" | sed '1d;$d' >"$out/snippet.js"
[ -s "$out/snippet.js" ] || fail "no onnx-snippet block in docs/checkpoints.md"
node "$out/snippet.js" "$out/model.onnx" "$MNIST/t10k-images-idx3-ubyte" | tee "$out/snippet.txt"
"$PY" - "$out/snippet.txt" "$out/pred" <<'PY' || fail "the docs snippet's predictions differ from dtrain's"
import glob, json, sys
ours = {}
for f in glob.glob(sys.argv[2] + "/part-*"):
    for line in open(f):
        r = json.loads(line)
        ours[r["id"]] = max(range(10), key=lambda c: r["probabilities"][c])
lines = [l.split() for l in open(sys.argv[1]) if l.strip()]
bad = [l for l in lines if ours[int(l[0])] != int(l[1])]
print(f"docs snippet: {len(lines)} predictions, {len(bad)} differ from dtrain's")
sys.exit(1 if bad or not lines else 0)
PY
echo OK
