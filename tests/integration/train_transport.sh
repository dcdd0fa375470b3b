#!/usr/bin/env bash
# A short run in MODE over TRANSPORT must work and learn (not be fast).
#   train_transport.sh async|sync tcp|ucx-sm|ucx-tcp
. "$(dirname "$0")/lib.sh"
mode=$1 transport=$2
read -ra flags <<<"$(transport_args "$transport")" || fail "unknown transport $transport"
out=$(fresh_dir "transport-$mode-$transport")
np=3
[ "$mode" = sync ] && np=2
mpi "$np" "${flags[@]}" "$BIN" --data-dir "$MNIST" "${SMALL[@]}" --dist "$mode" --steps 300 \
  --eval-every 300 --log-every 100 --metrics-json "$out/metrics.json"
check_metrics "$out/metrics.json" --min-accuracy 0.9 --expect "mode=$mode"
