#!/usr/bin/env bash
# Open MPI's collective choices for sync mode across hosts: the trainer's own gradient exchange
# (rma_bench --only exchange: sharded = reduce-scatter + allgather, whole = allreduce; fp32
# and fp16 on the wire) at the CNN's size, on emulated hosts joined by shaped TCP links, under
# Open MPI's default decision and under each forced coll tuned algorithm; then coll han's
# hierarchical allreduce against tuned with 2 ranks per host. Needs root.
#   HOSTS=3 RATE=1gbit ITERATIONS=10
# Table to stdout and bench-results/collectives.md; raw lines in bench-results/collectives.jsonl.
. "$(dirname "$0")/lib.sh"
bench_setup collectives iproute2
OUT=$BENCH_OUT
raw=$BENCH_RAW
CLUSTER=$DTRAIN_ROOT/scripts/cluster_local.sh
HOSTS=${HOSTS:-3}
RATE=${RATE:-1gbit}
ITERATIONS=${ITERATIONS:-10}
trap 'rc=$?; set +e; bash "$CLUSTER" down >/dev/null; exit $rc' EXIT
rate_args=(--rate "$RATE")
[ "$RATE" = none ] && rate_args=()
bash "$CLUSTER" up "$HOSTS" "${rate_args[@]}" >/dev/null

dyn="--mca coll_tuned_use_dynamic_rules 1"
# label | ranks per host | MCA arguments
configs() {
  echo "tuned, Open MPI's default decision|1|"
  for a in 1:basic_linear 2:nonoverlapping 3:recursive_doubling 4:ring 5:segmented_ring 6:rabenseifner; do
    echo "tuned allreduce ${a#*:}|1|$dyn --mca coll_tuned_allreduce_algorithm ${a%%:*}"
  done
  for a in 1:non-overlapping 2:recursive_halving 3:ring 4:butterfly; do
    echo "tuned reduce_scatter ${a#*:}|1|$dyn --mca coll_tuned_reduce_scatter_algorithm ${a%%:*}"
  done
  for a in 2:bruck 3:ring 4:neighbor; do
    echo "tuned allgatherv ${a#*:}|1|$dyn --mca coll_tuned_allgatherv_algorithm ${a%%:*}"
  done
  echo "tuned, Open MPI's default decision|2|"
  echo "han (hierarchical), default modules|2|--mca coll_han_priority 100"
}
while IFS='|' read -r label per_host mca <&3; do
  log "$label, $HOSTS hosts x $per_host rank(s), links $RATE"
  # A configuration that crashes (coll han did, on the in-place allreduce) is a row, not the end.
  # shellcheck disable=SC2086
  if ! SLOTS=$per_host bash "$CLUSTER" mpirun -np $((HOSTS * per_host)) $mca build/rma_bench \
    --only exchange --model-iterations "$ITERATIONS" </dev/null >"$OUT/exchange.out" 2>&1; then
    err=$(grep -m1 -E 'Signal:|error|Error' "$OUT/exchange.out" || echo "mpirun failed")
    /usr/bin/python3 -c 'import json, sys; print(json.dumps({"op": "failed", "error": sys.argv[1]}))' \
      "$err" >>"$OUT/exchange.out"
  fi
  /usr/bin/python3 -c "import json,sys
for l in open(sys.argv[5]):
    if not l.startswith('{'): continue
    j=json.loads(l); j.update({'what':'exchange','label':sys.argv[1],'hosts':int(sys.argv[2]),'per_host':int(sys.argv[3]),'rate':sys.argv[4]}); print(json.dumps(j))" \
    "$label" "$HOSTS" "$per_host" "$RATE" "$OUT/exchange.out" | tee -a "$raw"
done 3< <(configs)
bash "$CLUSTER" down >/dev/null
/usr/bin/python3 "$DTRAIN_ROOT/scripts/bench_tables.py" collectives "$raw" | tee "$OUT/collectives.md"
