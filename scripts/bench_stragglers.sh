#!/usr/bin/env bash
# A slow host, measured (issue 25): 2 emulated hosts (scripts/cluster_local.sh), one rank of one
# thread each, sync with the default CNN; h2's rank limited to a third of a core (a cgroup v1 CPU
# quota, 3.3 of every 10 ms: ../shared/notes/emulated-cluster.md). In ROUNDS interleaved rounds:
# each rank alone (free on h1, limited on h2), the free pair with --balance off and speed, the
# limited pair with --balance off and speed. Prints images/s, the capacity-scaled target (the
# free pair x (free alone + limited alone) / (2 x free alone)), each run against it, the split
# the balance ended with and the step at which the limited rank was named. SWEEP: fixed splits
# (the fast rank's rows of 100, replayed from step 0 with --replay-splits) run limited in each
# round too, so the table shows what the best split of all would give beside what
# --balance speed found.
#   scripts/bench_stragglers.sh    (ROUNDS=4 STEPS=200 QUOTA_US=3333 PERIOD_US=10000 SWEEP="85 91")
# Tables to stdout and bench-results/stragglers.md; raw lines in bench-results/stragglers.jsonl.
# Async: one server beside h1's worker and a worker on h2, --balance off (each worker its share)
# and speed (the work taken from a shared counter), free and limited; its target scales the
# free async pair the same way.
# Needs root (namespaces, cgroups).
. "$(dirname "$0")/lib.sh"
bench_setup stragglers iproute2
OUT=$BENCH_OUT
raw=$BENCH_RAW
CLUSTER=$DTRAIN_ROOT/scripts/cluster_local.sh
ROUNDS=${ROUNDS:-4} STEPS=${STEPS:-200}
CG=/sys/fs/cgroup/cpu/dtrain-slow
WORK=$OUT/stragglers
mkdir -p "$WORK"
[ -d /sys/fs/cgroup/cpu ] || { echo "no cgroup v1 cpu controller at /sys/fs/cgroup/cpu" >&2; exit 2; }
trap 'rc=$?; set +e; bash "$CLUSTER" down >/dev/null; rmdir "$CG" 2>/dev/null; exit $rc' EXIT
mkdir -p "$CG"
echo "${PERIOD_US:-10000}" >"$CG/cpu.cfs_period_us"
echo "${QUOTA_US:-3333}" >"$CG/cpu.cfs_quota_us"
# The ranks start through this: in the limited runs (LIMIT_HOST=h2), the one on h2 joins the
# limited group first (its threads follow).
wrapper=$WORK/limit_h2.sh
cat >"$wrapper" <<WRAP
#!/usr/bin/env bash
[ "\$(hostname)" = "\${LIMIT_HOST:-}" ] && echo \$\$ >"$CG/cgroup.procs"
exec "\$@"
WRAP
chmod +x "$wrapper"
bash "$CLUSTER" up 2 >/dev/null

# A checkpoint that records one split from step 0 (the fast rank's rows of 100), for
# --replay-splits: only /row_splits is read from it.
split_file() {
  "$PY" -c "import h5py, numpy; h5py.File('$WORK/split$1.h5', 'w')['row_splits'] = \
numpy.array([[0, $1, 100 - $1]], dtype=numpy.int64)"
  echo "$WORK/split$1.h5"
}

run() {  # NAME HOSTS [ARGS...]: one run, one JSON line (h2 limited when NAME starts limited_)
  local name=$1 hosts=$2 m="$WORK/$1.json" limit=none
  shift 2
  [[ "$name" == limited_* ]] && limit=h2
  LIMIT_HOST=$limit bash "$CLUSTER" mpirun -x LIMIT_HOST -np "$(echo "$hosts" | tr ',' '\n' | wc -l)" --host "$hosts" \
    "$wrapper" "$DTRAIN_ROOT/build/mnist_train" --data-dir "$MNIST_DIR" --threads 1 \
    --steps "$STEPS" --eval-every 0 --log-every 1000 --metrics-json "$m" "$@" >"$WORK/$name.log" 2>&1 ||
    { tail -n 20 "$WORK/$name.log" >&2; return 1; }
  "$PY" - "$m" "$name" "$round" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
b = m.get("balance", {})
named = [s["step"] for s in m.get("stragglers", []) if s.get("host") == "h2"]
print(json.dumps({"run": sys.argv[2], "round": int(sys.argv[3]), "img_s": m["train_images_per_sec"],
                  "rows": b.get("rows_per_worker"), "split_changes": b.get("split_changes"),
                  "named_h2_at": named[0] if named else None,
                  "ms_per_row": m.get("compute_ms_per_row_per_worker")}))
PY
}

PY=/usr/bin/python3
SWEEP=${SWEEP:-85 91}
# Off and speed alternate which goes first (ABBA over the rounds): an order effect would
# otherwise read as a cost or a gain of the balance.
for round in $(seq 1 "$ROUNDS"); do
  log "round $round of $ROUNDS"
  run free_alone h1 | tee -a "$raw"
  run limited_alone h2 | tee -a "$raw"
  order="off speed"
  [ $((round % 2)) = 0 ] && order="speed off"
  for b in $order; do run "free_$b" h1,h2 --dist sync --balance "$b" | tee -a "$raw"; done
  for b in $order; do run "limited_$b" h1,h2 --dist sync --balance "$b" | tee -a "$raw"; done
  for s in $SWEEP; do
    run "limited_split$s" h1,h2 --dist sync --balance speed --replay-splits "$(split_file "$s")" | tee -a "$raw"
  done
  # Async: the server beside h1's worker; each worker --steps steps of its even share of work.
  for b in $order; do run "free_async_$b" h1,h1,h2 --dist async --balance "$b" | tee -a "$raw"; done
  for b in $order; do run "limited_async_$b" h1,h1,h2 --dist async --balance "$b" | tee -a "$raw"; done
done
"$PY" "$DTRAIN_ROOT/scripts/bench_tables.py" stragglers "$raw" | tee "$OUT/stragglers.md"
