# The model directory damaged, full or read-only (sourced by fault_matrix.sh).

# damaged_case HOW: the newest checkpoint truncated or garbage (the job warns and falls back to
# the previous one), or every checkpoint garbage (refused at start, each file named).
damaged_case() {
  local how=$1 dir=$W/$1-$TRANSPORT
  rm -rf "$dir" && mkdir -p "$dir"
  local args=(--data-dir "$MNIST" "${SMALL[@]}" --dist sync --batch-size 64 --eval-every 100000
    --log-every 20 --model-dir "$dir/ckpt" --checkpoint-steps 20)
  # shellcheck disable=SC2046
  mpi 2 $(transport_args "$TRANSPORT") "$BIN" "${args[@]}" --steps 60 >"$dir/first.log" 2>&1
  local newest bad ok=0
  newest=$(newest_ckpt "$dir/ckpt")
  case "$how" in
    truncated_checkpoint) truncate -s "$(($(stat -c %s "$newest") / 2))" "$newest" && bad=$newest ;;
    garbage_checkpoint) head -c 100000 /dev/urandom >"$newest" && bad=$newest ;;
    no_valid_checkpoint) for f in "$dir"/ckpt/ckpt-*.h5; do head -c 5000 /dev/urandom >"$f"; done ;;
  esac
  start mpirun 2 "$dir/resume.log" "${args[@]}" --steps 80 --metrics-json "$dir/m.json"
  finish 300
  grep -E "warning|error|resuming" "$dir/resume.log" | head -n 4
  if [ "$how" = no_valid_checkpoint ]; then
    [ "$JOB_RC" -eq 2 ] && grep -q "no valid checkpoint among 3 file" "$dir/resume.log" ||
      { echo "FAIL: expected a clear refusal (exit 2)"; ok=1; }
    row "$how" sync mpirun "refused: no valid checkpoint (names each file)" "$JOB_SECONDS" "$JOB_RC" "-" "-"
    return $ok
  fi
  grep -q "warning: $bad" "$dir/resume.log" || { echo "FAIL: no warning naming $bad"; ok=1; }
  grep -q "resuming from .*ckpt-0000000040.h5" "$dir/resume.log" || { echo "FAIL: did not fall back to step 40"; ok=1; }
  [ "$JOB_RC" -eq 0 ] && [ "$(metric "$dir/m.json" last_step)" = 80 ] || { echo "FAIL: the resumed run did not finish"; ok=1; }
  row "$how" sync mpirun "warned, fell back to the previous checkpoint" "$JOB_SECONDS" "$JOB_RC" "20 steps" "resumed from step 40, finished"
  return $ok
}

# disk_full_case: the second checkpoint does not fit: the error names the file and the cause,
# the first stays whole, no partial file is left. The default CNN: its checkpoint (parameters
# and Adam's two moments, 39 MB) fits in the 60 MB tmpfs once.
disk_full_case() {
  local dir=$W/disk-full-$TRANSPORT
  rm -rf "$dir" && mkdir -p "$dir/ckpt"
  # shellcheck disable=SC2016,SC2046
  unshare --mount bash -c '
    mount -t tmpfs -o size=60m tmpfs "$1/ckpt" || exit 9
    shift
    "$@"
    rc=$?
    ls -la "$0/ckpt"
    /usr/bin/python3 "$FAULT_DIR/checkpoint_tools.py" whole "$0/ckpt/ckpt-0000000020.h5" || rc=98
    ls "$0/ckpt" | grep -q tmp && rc=97
    exit $rc' "$dir" "$dir" mpirun --oversubscribe --bind-to none -np 2 $(transport_args "$TRANSPORT") "$BIN" \
    --data-dir "$MNIST" --dist sync --batch-size 64 --steps 60 --checkpoint-steps 20 \
    --eval-every 100000 --log-every 20 --model-dir "$dir/ckpt" >"$dir/run.log" 2>&1
  local rc=$? ok=0
  grep -E "error|ckpt-|readable" "$dir/run.log" | head -n 6
  [ "$rc" -eq 1 ] || { echo "FAIL: exit $rc (97: a partial file was left; 98: the earlier checkpoint is damaged)"; ok=1; }
  grep -q "No space left on device" "$dir/run.log" && grep -q "ckpt-0000000040.h5" "$dir/run.log" ||
    { echo "FAIL: the error does not name the file and the cause"; ok=1; }
  row disk_full sync mpirun "stopped: error names the file and 'No space left on device'; earlier checkpoint intact, no partial file" "-" "$rc" "20 steps" "-"
  return $ok
}

readonly_case() {
  local dir=$W/readonly-$TRANSPORT
  rm -rf "$dir" && mkdir -p "$dir/ckpt"
  # Root ignores mode bits: a read-only bind mount is what stops it.
  # shellcheck disable=SC2016,SC2046
  unshare --mount bash -c 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && shift && exec "$@"' \
    "$dir/ckpt" x mpirun --oversubscribe --bind-to none -np 3 $(transport_args "$TRANSPORT") "$BIN" \
    --data-dir "$MNIST" --steps 20 --model-dir "$dir/ckpt" >"$dir/run.log" 2>&1
  refusal_check readonly_model_dir $? "$dir/run.log" "--model-dir $dir/ckpt: cannot write there: Read-only file system"
}
