# Jobs that cannot run are refused before training, with one line from rank 0 and exit 2
# (sourced by fault_matrix.sh).

# refusal_check CASE RC LOG PATTERN: exit 2, the message exactly once.
refusal_check() {
  local name=$1 rc=$2 log=$3 pattern=$4 ok=0 n
  n=$(grep -cF -e "$pattern" "$log")
  grep -m1 error "$log"
  [ "$rc" -eq 2 ] || { echo "FAIL: exit $rc, expected 2"; ok=1; }
  [ "$n" -eq 1 ] || { echo "FAIL: the message appears $n times, expected once (from rank 0)"; ok=1; }
  row "$name" "-" mpirun "refused at start, one line from rank 0" "-" "$rc" "-" "-"
  return $ok
}

refusal_case() { # NAME PATTERN NP MNIST_TRAIN-ARGS...: must be refused before training
  local name=$1 pattern=$2 np=$3 dir=$W/$1-$TRANSPORT
  shift 3
  rm -rf "$dir" && mkdir -p "$dir"
  # shellcheck disable=SC2046
  timeout 120 mpirun --oversubscribe --bind-to none -np "$np" $(transport_args "$TRANSPORT") "$BIN" "$@" >"$dir/run.log" 2>&1
  refusal_check "$name" $? "$dir/run.log" "$pattern"
}

mpmd_case() {
  local dir=$W/mpmd-$TRANSPORT
  rm -rf "$dir" && mkdir -p "$dir"
  # shellcheck disable=SC2046
  timeout 120 mpirun --oversubscribe --bind-to none $(transport_args "$TRANSPORT") -np 1 "$BIN" --data-dir "$MNIST" \
    --steps 10 --batch-size 100 : -np 1 "$BIN" --data-dir "$MNIST" --steps 10 --batch-size 50 \
    >"$dir/run.log" 2>&1
  refusal_check mpmd_options $? "$dir/run.log" "rank(s) 1 started with other options than rank 0"
}

# The reproduction of a job that hung: workers refused a checkpoint past their last step while
# the server waited for them. A hang would end in the stall abort (exit 3, "stalled"), so the
# refusal's exit 2 is the verdict, not a time.
past_the_end_case() {
  local dir=$W/past-end-$TRANSPORT
  rm -rf "$dir" && mkdir -p "$dir"
  # shellcheck disable=SC2046
  mpi 3 $(transport_args "$TRANSPORT") "$BIN" --data-dir "$MNIST" "${SMALL[@]}" --steps 50 --eval-every 1000 \
    --model-dir "$dir/ckpt" >"$dir/first.log" 2>&1
  # shellcheck disable=SC2046
  timeout 300 mpirun --oversubscribe --bind-to none -np 3 $(transport_args "$TRANSPORT") "$BIN" --data-dir "$MNIST" \
    "${SMALL[@]}" --steps 20 --stall-timeout 15 --model-dir "$dir/ckpt" >"$dir/run.log" 2>&1
  local rc=$?
  ! grep -q stalled "$dir/run.log" || { echo "FAIL: the job stalled instead of refusing"; rc=99; }
  refusal_check checkpoint_past_the_end "$rc" "$dir/run.log" "past the 20 steps this run trains for"
}
