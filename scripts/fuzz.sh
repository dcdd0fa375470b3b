#!/usr/bin/env bash
# Runs each libFuzzer target (TFRecord framing + Example parser, IDX parser; ASan + UBSan) for
# FUZZ_SECONDS (default 30) from its corpus in tests/fuzz/corpus, which holds what longer
# sessions found (every input that reached new code, minimised with -merge=1), so a short run
# starts where they ended. Fails on any crash, leak, timeout or out-of-memory.
#   scripts/fuzz.sh                         (scripts/sanitize.sh runs it)
#   FUZZ_SECONDS=600 scripts/fuzz.sh        a longer session
#   FUZZ_MERGE=1 FUZZ_SECONDS=600 scripts/fuzz.sh   ... whose new inputs join the committed corpus
. "$(dirname "$0")/lib.sh"
apt_install clang libclang-rt-14-dev "${DTRAIN_BUILD_PACKAGES[@]}"
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
dir=${FUZZ_TREE:-$DTRAIN_ROOT/build-asan}
if [ ! -f "$dir/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$DTRAIN_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDTRAIN_SANITIZE=ON -DDTRAIN_FUZZ=ON >/dev/null
fi
cmake --build "$dir" -j "$(nproc)" --target fuzz_tfrecord fuzz_idx >/dev/null
for target in tfrecord idx; do
  corpus="$DTRAIN_ROOT/tests/fuzz/corpus/$target"
  work="$dir/corpus-$target"
  mkdir -p "$work"
  log "fuzzing $target for ${FUZZ_SECONDS}s from $(ls "$corpus" | wc -l) corpus inputs"
  # -rss_limit_mb and -timeout turn runaway allocations and hangs into failures.
  if ! (cd "$dir" && "$dir/fuzz_$target" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
    -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 "$work" "$corpus" \
    >"$dir/fuzz_$target.log" 2>&1); then
    tail -n 60 "$dir/fuzz_$target.log" >&2
    echo "fuzz_$target failed: the crashing input is in $dir (crash-*, leak-*, timeout-*)" >&2
    exit 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|cov:" "$dir/fuzz_$target.log" | tail -n 3
  if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    "$dir/fuzz_$target" -merge=1 -max_len=16384 "$corpus" "$work" >/dev/null 2>&1
    log "corpus $target: $(ls "$corpus" | wc -l) inputs"
  fi
done
log "fuzzing found nothing"
