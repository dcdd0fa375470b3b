#!/usr/bin/env bash
# Compute benchmark: dtrain's training step (forward, loss, backward, Adam) and inference
# images/s at batch 64, 100 and 256 with 1 and 2 threads, the GFLOP/s they mean, and -- in the
# same run, on the same machine -- the PyTorch reference (../shared/peers/torch_mnist.py, or
# $PEERS) on the same settings, with the ratio. Then where dtrain's step time goes, per oneDNN
# primitive (ONEDNN_VERBOSE timings). Tables go to stdout and bench-results/compute.md.
#   scripts/bench_compute.sh                     (every part)
#   PARTS="builds" scripts/bench_compute.sh      (only the portable build against -march=native
#                                                 and bf16 against fp32; parts: peers builds verbose)
. "$(dirname "$0")/lib.sh"
bench_setup compute python3-torch python3-numpy libopenblas0-openmp
OUT=$BENCH_OUT
raw=$BENCH_RAW
PEERS=${PEERS:-$DTRAIN_ROOT/../shared/peers}
export MNIST_DIR="$MNIST_DIR"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
# dtrain at 1 and 2 threads, each beside the PyTorch reference.
peers_part() {
  for t in 1 2; do
    log "dtrain, $t thread(s)"
    OMP_PROC_BIND=close build/compute_bench --threads "$t" --batches 64,100,256 --infer-batches 64,100,256,1000 \
      --repeats 3 --window-images 3200 --data-dir "$MNIST_DIR" | tee -a "$raw"
    if [ -f "$PEERS/torch_mnist.py" ]; then
      for b in 64 100 256; do
        log "PyTorch train, batch $b, $t thread(s)"
        /usr/bin/python3 "$PEERS/torch_mnist.py" train --threads "$t" --batch "$b" --window-images 3200 --warmup 10 \
          --repeats 3 --max-windows 5 | grep '^RESULT' | sed 's/^RESULT {/{"engine":"pytorch",/' | tee -a "$raw"
      done
      for b in 64 100 256 1000; do
        for mode in eager jit_opt; do
          log "PyTorch infer ($mode), batch $b, $t thread(s)"
          /usr/bin/python3 "$PEERS/torch_mnist.py" infer --threads "$t" --batch "$b" --mode "$mode" --window-images 6400 \
            --repeats 3 --max-windows 5 | grep '^RESULT' | sed 's/^RESULT {/{"engine":"pytorch",/' | tee -a "$raw"
        done
      done
    else
      echo "no PyTorch reference at $PEERS: dtrain figures only" >&2
    fi
  done
}

builds_part() {
  # The default build is portable: oneDNN and dtrain's own loops choose their code at run time
  # (src/util/isa_level.h). Against a build made with -march=native for this machine, side by
  # side in 3 interleaved rounds (2 threads; the optimizer pass too: Adam is one of the loops).
  log "the portable build against -march=native"
  BUILD_TARGET=compute_bench build "$DTRAIN_ROOT/build-native" -DDTRAIN_NATIVE=ON
  # Where the CPU computes bf16 natively, the same rounds also run --precision bf16 (portable
  # build): its ratio to fp32 is measured side by side as well.
  # --precision auto must cost nothing where it picks fp32: on a CPU without AVX512_BF16 it
  # runs beside fp32 as it is; on one with it, both run with oneDNN capped to AVX512_CORE
  # (ONEDNN_MAX_CPU_ISA), which is how such a CPU looks to dtrain (tests/integration/precision.sh).
  variants="portable native"
  if grep -qw avx512_bf16 /proc/cpuinfo; then
    variants="$variants bf16 capped-fp32 capped-auto"
  else
    variants="$variants auto"
    echo "this CPU lacks AVX512_BF16: no bf16 rows (mnist_train refuses --precision bf16 here)" >&2
  fi
  for round in 1 2 3; do
    for b in $variants; do
      dir=build precision=fp32 cap=
      [ "$b" = native ] && dir=build-native
      [ "$b" = bf16 ] && precision=bf16
      [[ "$b" == *auto ]] && precision=auto
      [[ "$b" == capped-* ]] && cap=AVX512_CORE
      env ${cap:+ONEDNN_MAX_CPU_ISA=$cap} OMP_PROC_BIND=close "$dir/compute_bench" --threads 2 --batches 100,256 --infer-batches 1000 \
        --repeats 3 --window-images 3200 --ceiling no --timeline-overhead no --data-dir "$MNIST_DIR" \
        --precision "$precision" |
        grep -E '"what":"(train|infer|optimizer)"' | sed "s/^{/{\"build\":\"$b\",\"round\":$round,/" | tee -a "$raw"
    done
    # PyTorch's bf16 autocast beside it (channels-last; the same CNN, the peers' definition).
    if [[ " $variants " == *" bf16 "* ]] && [ -f "$PEERS/common.py" ]; then
      PEERS=$PEERS /usr/bin/python3 "$DTRAIN_ROOT/scripts/torch_bf16.py" --threads 2 --batches 100,256 \
        --infer-batch 1000 | sed "s/^{\"engine\": \"pytorch\", /{\"build\": \"torch\", \"round\": $round, \"engine\": \"pytorch\", /" |
        tee -a "$raw"
    fi
  done
}

verbose_part() {
  log "where the time goes (batch 100, 2 threads)"
  verbose_file=$OUT/onednn_verbose.txt
  ONEDNN_VERBOSE=1 OMP_PROC_BIND=close build/compute_bench --threads 2 --batches 100 --infer-batches 1000 --repeats 1 \
    --window-images 2000 --data-dir "$MNIST_DIR" >"$verbose_file" 2>&1
  # That run measured the 2-thread ceilings again, at the end: the tables take the best of both.
  grep -E '^\{.*"what": ?"ceiling"' "$verbose_file" >>"$raw" || true
  if grep -qw avx512_bf16 /proc/cpuinfo; then  # bf16's primitives, for the record
    ONEDNN_VERBOSE=1 OMP_PROC_BIND=close build/compute_bench --threads 2 --batches 100 --infer-batches 1000 \
      --repeats 1 --window-images 2000 --ceiling no --precision bf16 --data-dir "$MNIST_DIR" \
      >"$OUT/onednn_verbose_bf16.txt" 2>&1
  fi
}

verbose_file=/dev/null  # the primitive table only from this run's own verbose part
for part in ${PARTS:-peers builds verbose}; do "${part}_part"; done
/usr/bin/python3 "$DTRAIN_ROOT/scripts/bench_tables.py" compute "$raw" "$verbose_file" | tee "$OUT/compute.md"
