#!/usr/bin/env bash
# The exchange chosen from measured links (--exchange auto, --num-ps auto) against every static
# configuration the choice ranges over (src/comm/exchange_model.h), on emulated hosts
# (scripts/cluster_local.sh), one rank of one thread each, the default CNN. For each host count
# (HOSTS) and link (RATES: a tc rate, or none for unshaped): sync, every --exchange (sharded,
# whole, and beyond 2 hosts ring) with every --bucket-mb of the model, and auto (no flag); async,
# --num-ps 1 .. hosts-1 and auto. ROUNDS interleaved rounds, the order of the runs reversed every
# other round (an order effect would read as a gain or a cost). Prints, per cell, the median
# images/s of each configuration, auto against the best static one and against today's defaults
# (sync: sharded, 4 MB buckets; async: 1 server), what auto chose, the start-up measurement's
# time and the prediction against the run.
#   scripts/bench_auto.sh   (ROUNDS=5 STEPS=15 HOSTS="2 3" RATES="none 1gbit 200mbit"
#                            BUCKETS="1 4 16" MODES="sync async")
# Tables to stdout and bench-results/auto.md; raw lines in bench-results/auto.jsonl. Needs root.
. "$(dirname "$0")/lib.sh"
bench_setup auto iproute2
OUT=$BENCH_OUT
raw=$BENCH_RAW
CLUSTER=$DTRAIN_ROOT/scripts/cluster_local.sh
ROUNDS=${ROUNDS:-5} STEPS=${STEPS:-15}
HOSTS=${HOSTS:-2 3} RATES=${RATES:-none 1gbit 200mbit} BUCKETS=${BUCKETS:-1 4 16}
MODES=${MODES:-sync async}
PY=/usr/bin/python3
WORK=$OUT/auto
mkdir -p "$WORK"
trap 'rc=$?; set +e; bash "$CLUSTER" down >/dev/null; exit $rc' EXIT

run() {  # HOSTS RATE MODE CONFIG [ARGS...]: one run, one JSON line
  local hosts=$1 rate=$2 mode=$3 config=$4 m="$WORK/run.json"
  shift 4
  bash "$CLUSTER" mpirun -np "$hosts" "$DTRAIN_ROOT/build/mnist_train" --data-dir "$MNIST_DIR" \
    --threads 1 --dist "$mode" --steps "$STEPS" --eval-every 0 --log-every 1000 \
    --metrics-json "$m" "$@" >"$WORK/run.log" 2>&1 || { tail -n 20 "$WORK/run.log" >&2; return 1; }
  "$PY" - "$m" "$hosts" "$rate" "$mode" "$config" "$round" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
p = m.get("exchange_plan", {})
print(json.dumps({"hosts": int(sys.argv[2]), "rate": sys.argv[3], "mode": sys.argv[4],
                  "config": sys.argv[5], "round": int(sys.argv[6]), "img_s": m["train_images_per_sec"],
                  "chosen": p.get("choice"), "measured": p.get("measured", False),
                  "probe_s": p.get("probe_seconds"), "predicted_ms": p.get("predicted_step_ms"),
                  "measured_ms": p.get("measured_step_ms"), "default": p.get("default"),
                  "predictions": {a["choice"]: a["predicted_step_ms"] for a in p.get("alternatives", [])}}))
PY
}

configs() {  # HOSTS MODE: "NAME|FLAGS" lines, auto first
  local hosts=$1 mode=$2 kind mb k
  if [ "$mode" = sync ]; then
    echo "auto|"
    for kind in sharded whole $([ "$hosts" -gt 2 ] && echo ring); do
      for mb in $BUCKETS; do echo "$kind $mb MB|--exchange $kind --bucket-mb $mb"; done
    done
  else
    echo "auto|--num-ps auto"
    for k in $(seq 1 $((hosts - 1))); do echo "$k server(s)|--num-ps $k"; done
  fi
}

for round in $(seq 1 "$ROUNDS"); do
  log "round $round of $ROUNDS"
  for hosts in $HOSTS; do
    for rate in $RATES; do
      rate_args=()
      [ "$rate" != none ] && rate_args=(--rate "$rate")
      bash "$CLUSTER" up "$hosts" "${rate_args[@]}" >/dev/null
      for mode in $MODES; do
        mapfile -t list < <(configs "$hosts" "$mode")
        [ $((round % 2)) = 0 ] && mapfile -t list < <(printf '%s\n' "${list[@]}" | tac)
        for entry in "${list[@]}"; do
          # shellcheck disable=SC2086
          run "$hosts" "$rate" "$mode" "${entry%%|*}" ${entry#*|} | tee -a "$raw"
        done
      done
    done
  done
done
"$PY" "$DTRAIN_ROOT/scripts/bench_tables.py" auto "$raw" | tee "$OUT/auto.md"
