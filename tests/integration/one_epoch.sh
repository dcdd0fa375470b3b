#!/usr/bin/env bash
# One epoch of the default CNN with the defaults must reach 98%: async (2 servers + 2 workers)
# or sync (2 ranks).
#   one_epoch.sh async|sync
# The async run is also the uninterrupted reference of the fault matrix's async signal case
# (the same layout): its metrics and its servers' last lines stay in $DTRAIN_WORK/reference-async.
. "$(dirname "$0")/lib.sh"
mode=$1
out=$(fresh_dir "reference-$mode")
np=4
extra=(--num-ps 2)
# Sync takes the node's one shared copy of the parameters here (--shared-params): the runner's
# path for it (rank 0 writes the initial values, the others wait) is then trained to 98%.
[ "$mode" = sync ] && np=2 && extra=(--shared-params)
mpi "$np" "$BIN" --data-dir "$MNIST" --dist "$mode" --epochs 1 --log-every 100 \
  --metrics-json "$out/metrics.json" "${extra[@]}" | tee "$out/log.txt" | grep -E "final|parameter server .*done|staleness"
check_metrics "$out/metrics.json" --min-accuracy 0.98 --expect "mode=$mode"
