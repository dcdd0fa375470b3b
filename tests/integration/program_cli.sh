#!/usr/bin/env bash
# Every program answers --version (dtrain's version and commit, the libraries it runs on and
# the x86-64 level of its own loops) and --help without a launcher, and refuses a misspelt
# option or a bad value with exit 2 and a message naming it; the benchmarks also refuse
# missing data that way (no uncaught exception, no core).
. "$(dirname "$0")/lib.sh"
version=$(sed -nE 's/^project\(dtrain VERSION ([0-9.]+).*/\1/p' "$DTRAIN_ROOT/CMakeLists.txt")

# expect_refusal WHAT TEXT COMMAND...: exit 2 and TEXT in the message.
expect_refusal() {
  local what=$1 text=$2 rc=0 out
  shift 2
  out=$("$@" 2>&1) || rc=$?
  [ "$rc" = 2 ] || fail "$what: exit $rc, expected 2: $out"
  grep -qF -- "$text" <<<"$out" || fail "$what: the message does not name '$text': $out"
  ! grep -q 'terminate called' <<<"$out" || fail "$what: an uncaught exception: $out"
  echo "ok: $what: $(grep -F -- "$text" <<<"$out" | head -n1)"
}

for p in mnist_train mnist_data_setup compute_bench data_bench rma_bench; do
  out=$("$DTRAIN_BUILD/$p" --version) || fail "$p --version failed"
  grep -qE "^$p \(dtrain\) $version, commit " <<<"$out" || fail "$p --version: $out"
  grep -qE '^  loops: +x86-64' <<<"$out" || fail "$p --version names no level for its loops: $out"
  help=$("$DTRAIN_BUILD/$p" --help) || fail "$p --help failed"
  grep -qi 'usage' <<<"$help" || fail "$p --help prints no usage"
  expect_refusal "$p --no-such-option" "no-such-option" "$DTRAIN_BUILD/$p" --no-such-option
done
echo "ok: --version and --help of every program: $(grep loops <<<"$out" | sed 's/^ *//')"
expect_refusal "compute_bench --batches" "--batches 10,x" "$DTRAIN_BUILD/compute_bench" --batches 10,x --ceiling no
expect_refusal "compute_bench --threads" "--threads two" "$DTRAIN_BUILD/compute_bench" --threads two --ceiling no
expect_refusal "compute_bench --data-dir" "/nonexistent/mnist" "$DTRAIN_BUILD/compute_bench" \
  --data-dir /nonexistent/mnist --ceiling no
expect_refusal "data_bench --policy" "--policy evenly" mpi 1 "$DTRAIN_BUILD/data_bench" --policy evenly \
  --data-dir "$MNIST"
expect_refusal "rma_bench --only" "--only everything" mpi 2 "$DTRAIN_BUILD/rma_bench" --only everything
