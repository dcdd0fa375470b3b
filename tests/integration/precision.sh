#!/usr/bin/env bash
# --precision: bf16 where the CPU has AVX512_BF16, refused elsewhere. The refusal is checked on
# every machine by capping oneDNN below bf16 (ONEDNN_MAX_CPU_ISA=AVX512_CORE: what an AVX-512
# CPU without AVX512_BF16 offers; on an AVX2 machine the cap changes nothing): --precision bf16
# ends with exit 2 and a message naming the missing instruction set, auto picks fp32 and says
# why. Where bf16 is native, a short run in bf16 learns and records its precision, and its
# checkpoint resumes in fp32, whose checkpoint resumes in bf16.
. "$(dirname "$0")/lib.sh"
out=$(fresh_dir precision)
rc=0
msg=$(ONEDNN_MAX_CPU_ISA=AVX512_CORE "$BIN" --data-dir "$MNIST" --precision bf16 "${SMALL[@]}" --steps 10 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "--precision bf16 without AVX512_BF16: exit $rc, expected 2: $msg"
grep -q 'error: .*--precision bf16: .*needs AVX512_BF16' <<<"$msg" || fail "the refusal does not name AVX512_BF16: $msg"
echo "ok: refused: $(grep -m1 'error:' <<<"$msg")"
ONEDNN_MAX_CPU_ISA=AVX512_CORE "$BIN" --data-dir "$MNIST" --precision auto "${SMALL[@]}" --steps 20 --eval-every 20 \
  --metrics-json "$out/auto.json" >"$out/auto.log" 2>&1 || { cat "$out/auto.log"; fail "--precision auto"; }
grep -E '^precision: fp32 \(auto: ' "$out/auto.log" || fail "auto did not say it picked fp32 and why"
check_metrics "$out/auto.json" --min-accuracy 0 --expect precision=fp32
if ! grep -qw avx512_bf16 /proc/cpuinfo; then
  echo "this CPU lacks AVX512_BF16: no bf16 run (the refusal above is what this machine can show)"
  exit 0
fi
"$BIN" --data-dir "$MNIST" --precision bf16 "${SMALL[@]}" --steps 300 --eval-every 300 --metrics-json "$out/bf16.json" \
  --model-dir "$out/run" >"$out/bf16.log" 2>&1 || { cat "$out/bf16.log"; fail "--precision bf16"; }
grep -E '^precision: bf16' "$out/bf16.log"
check_metrics "$out/bf16.json" --min-accuracy 0.9 --expect precision=bf16
# The checkpoint says which precision wrote it (its weights are fp32 either way).
"$PY" - "$out/run" <<'PY'
import glob, sys
import h5py
ckpt = sorted(glob.glob(f"{sys.argv[1]}/ckpt-*.h5"))[-1]
with h5py.File(ckpt) as f:
    p = f.attrs["precision"]
    p = p.decode() if isinstance(p, bytes) else p
    assert p == "bf16", f"{ckpt}: precision {p!r}"
    print(f"ok: {ckpt} records precision {p}")
PY
# A checkpoint is fp32 whichever precision wrote it: the bf16 one resumed in fp32, and back.
for step_precision in 400:fp32 500:bf16; do
  steps=${step_precision%:*} p=${step_precision#*:}
  "$BIN" --data-dir "$MNIST" --precision "$p" "${SMALL[@]}" --steps "$steps" --eval-every 100 \
    --model-dir "$out/run" --metrics-json "$out/resume-$p.json" >"$out/resume-$p.log" 2>&1 ||
    { cat "$out/resume-$p.log"; fail "resuming in $p"; }
  grep -E "^resuming from .*ckpt-0*$((steps - 100))\.h5" "$out/resume-$p.log" || fail "no resume in $p"
  check_metrics "$out/resume-$p.json" --min-accuracy 0.9 --expect precision="$p" --expect last_step="$steps"
done
