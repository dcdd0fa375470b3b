# Faults while a job runs that it must ride through (sourced by fault_matrix.sh).

# slow_open_case: one rank 8 s late opening its HDF5 shards: no rank may enter a collective out
# of order, and the job trains normally.
slow_open_case() {
  local dir=$W/slow-open-$TRANSPORT shards=$DTRAIN_WORK/shards/h5-7 ok=0
  rm -rf "$dir" && mkdir -p "$dir"
  [ -d "$shards" ] || "$SETUP" --data-dir "$MNIST" --output "$shards" --format hdf5 --num-partitions 7 >/dev/null
  # shellcheck disable=SC2046
  DTRAIN_TEST_DELAY_OPEN=2:8 timeout 300 mpirun --oversubscribe --bind-to none -np 3 $(transport_args "$TRANSPORT") \
    -x DTRAIN_TEST_DELAY_OPEN "$BIN" "${SMALL[@]}" --dist sync --train-data "$shards/train" \
    --test-data "$shards/test" --steps 60 --eval-every 60 --log-every 30 --stall-timeout 30 \
    --model-dir "$dir/ckpt" >"$dir/run.log" 2>&1
  local rc=$?
  grep -E "final|error|stalled" "$dir/run.log"
  [ "$rc" -eq 0 ] || { echo "FAIL: exit $rc"; ok=1; }
  row slow_open sync mpirun "rank 2 opened its HDF5 shards 8 s late; trained normally" "-" "$rc" "-" "-"
  return $ok
}

# signal_storm_case: signals arrive at any instruction: while a oneDNN kernel ran they once
# corrupted the heap (src/util/signals.h says why). Hundreds of SIGUSR1 over a whole run of the
# default CNN (its JIT GEMM kernels are where it happened) must change nothing.
signal_storm_case() {
  local dir=$W/signal-storm-$TRANSPORT ok=0 sent=0 p
  rm -rf "$dir" && mkdir -p "$dir"
  start mpirun 2 "$dir/run.log" --data-dir "$MNIST" --dist sync --steps 150 --batch-size 64 \
    --log-every 5 --eval-every 100000 --metrics-json "$dir/m.json"
  wait_step "$dir/run.log" 5 300
  local end=$((SECONDS + 120))
  while kill -0 "$JOB_PID" 2>/dev/null && [ $SECONDS -lt $end ] && [ $sent -lt 5000 ]; do
    for p in $(all_rank_pids "$dir/m.json"); do kill -USR1 "$p" 2>/dev/null && sent=$((sent + 1)); done
    sleep 0.02
  done
  finish 300
  grep -E "final|error|signal" "$dir/run.log" | head -n 3
  [ "$JOB_RC" -eq 0 ] || { echo "FAIL: exit $JOB_RC after $sent signals"; ok=1; }
  [ "$sent" -ge 100 ] || { echo "FAIL: only $sent signals reached the ranks"; ok=1; }
  grep -q "final test accuracy" "$dir/run.log" || { echo "FAIL: the run did not finish"; ok=1; }
  row signal_storm sync mpirun "$sent SIGUSR1 over the run, no model dir: trained on" "$JOB_SECONDS" "$JOB_RC" "-" "-"
  return $ok
}
