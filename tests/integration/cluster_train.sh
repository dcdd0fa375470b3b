#!/usr/bin/env bash
# Training across the emulated hosts (scripts/cluster_local.sh, brought up by the cluster.up
# test), with the command line a user types: no MCA flags unless the transport asks.
#   cluster_train.sh MODE NP TRANSPORT [mnist_train args...]
#     MODE async|sync, NP ranks over hosts h1-h3 (6 = 2 per host), TRANSPORT default|ucx-tcp
# Checks: the job trains, its role table puts ranks (and, async, the servers, spread) on every
# host, and the transport line says what was used.
. "$(dirname "$0")/lib.sh"
mode=$1 np=$2 transport=$3
shift 3
out=$(fresh_dir "cluster-$mode-$np-$transport")
flags=()
[ "$transport" = ucx-tcp ] && read -ra flags <<<"$(dtrain_transport_args ucx-tcp)"
slots=$(((np + 2) / 3))
SLOTS=$slots bash "$CLUSTER" mpirun -np "$np" "${flags[@]}" "$BIN" \
  --dist "$mode" --threads 1 --data-dir "$MNIST" --log-every 20 --metrics-json "$out/m.json" \
  "$@" | tee "$out/log.txt" | grep -vE "^  (input|conv|pool|dense|dropout|softmax|total)|^    "
table=$(sed -n '/^dtrain:/,/^transport:/p' "$out/log.txt")
for h in h1 h2 h3; do grep -qE " $h " <<<"$table" || fail "no rank on $h in the role table"; done
if [ "$mode" = async ] && [ "$np" = 6 ]; then
  servers=$(grep -E " ps [0-9]+ " <<<"$table" | awk '{print $4}' | sort -u | wc -l)
  [ "$servers" = 2 ] || fail "the 2 servers are not on 2 different hosts (--ps-placement spread)"
fi
[ "$transport" = ucx-tcp ] && { grep -q "pml ucx, osc ucx" <<<"$table" || fail "not on UCX"; }
[ "$transport" = default ] && { grep -q "osc pt2pt chosen by dtrain" <<<"$table" || fail "no transport note"; }
check_metrics "$out/m.json" --min-accuracy "${MIN_ACCURACY:-0.85}" --expect "mode=$mode"
