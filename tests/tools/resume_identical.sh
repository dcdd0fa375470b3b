#!/usr/bin/env bash
# Sync mode: a run interrupted at step 30 and resumed to step 60 must end with exactly the
# parameters of an uninterrupted 60-step run on the same number of ranks (bit for bit).
set -euo pipefail
bin=$1 mnist=$2 out=$3 np=${4:-2}
rm -rf "$out" && mkdir -p "$out"
common=(--data-dir "$mnist" --dist sync --batch-size 64 --eval-every 1000 --log-every 30)
mpirun --oversubscribe --bind-to none -np "$np" "$bin" "${common[@]}" --steps 60 --export "$out/straight.h5" | grep -E "final|export"
mpirun --oversubscribe --bind-to none -np "$np" "$bin" "${common[@]}" --steps 30 --model-dir "$out/ckpt" | grep -E "checkpoint|final"
mpirun --oversubscribe --bind-to none -np "$np" "$bin" "${common[@]}" --steps 60 --model-dir "$out/ckpt" --resume \
  --export "$out/resumed.h5" | grep -E "resum|checkpoint|final|export"
/usr/bin/python3 - "$out/straight.h5" "$out/resumed.h5" <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r")["params"] for p in sys.argv[1:3])
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
diff = [n for n in names if not np.array_equal(a[n][:], b[n][:])]
print(f"{len(names)} tensors compared: {'all bit-identical' if not diff else 'DIFFERENT: ' + ', '.join(diff)}")
sys.exit(1 if diff else 0)
PY
