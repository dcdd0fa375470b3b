// Runs an ONNX model in ONNX Runtime on IDX test images and writes the probabilities, one JSON
// array per image, for onnx_export.sh to compare with dtrain's own predictions.
//   node onnx_agree.js MODEL.onnx IMAGES-IDX COUNT OUT.jsonl
const ort = require('onnxruntime-node');
const fs = require('fs');

async function main() {
  const [model, idxPath, countArg, outPath] = process.argv.slice(2);
  const idx = fs.readFileSync(idxPath);
  const rows = idx.readUInt32BE(8), cols = idx.readUInt32BE(12);
  const count = Math.min(Number(countArg), idx.readUInt32BE(4));
  const session = await ort.InferenceSession.create(model);
  const out = fs.createWriteStream(outPath);
  const batch = 500;
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const px = rows * cols;
    const pixels = Float32Array.from(idx.subarray(16 + start * px, 16 + (start + n) * px), (v) => v / 255);
    const images = new ort.Tensor('float32', pixels, [n, 1, rows, cols]);
    const { probabilities } = await session.run({ images });
    const classes = probabilities.dims[1];
    for (let i = 0; i < n; i++) {
      out.write(JSON.stringify(Array.from(probabilities.data.slice(i * classes, (i + 1) * classes))) + '\n');
    }
  }
  out.end();
  console.log(`ONNX Runtime ${ort.env.versions.common}: ${count} images through ${model}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
