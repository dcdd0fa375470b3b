#!/usr/bin/env bash
# A short run in MODE over TRANSPORT must work and learn (not be fast).
#   train_transport.sh async|sync tcp|ucx-sm|ucx-tcp
. "$(dirname "$0")/lib.sh"
mode=$1 transport=$2
case "$transport" in
  tcp) flags=(--mca pml ob1 --mca btl self,tcp --mca btl_tcp_if_include lo --mca osc pt2pt) ;;
  ucx-sm) flags=(--mca pml ucx --mca osc ucx --mca opal_common_ucx_tls any --mca opal_common_ucx_devices any -x UCX_TLS=self,sm) ;;
  ucx-tcp) flags=(--mca pml ucx --mca osc ucx --mca opal_common_ucx_tls any --mca opal_common_ucx_devices any -x UCX_TLS=self,tcp -x UCX_NET_DEVICES=lo) ;;
  *) fail "unknown transport $transport" ;;
esac
out=$(fresh_dir "transport-$mode-$transport")
np=3
[ "$mode" = sync ] && np=2
mpi "$np" "${flags[@]}" "$BIN" --data-dir "$MNIST" --dist "$mode" --steps 60 --eval-every 60 \
  --log-every 30 --metrics-json "$out/metrics.json"
check_metrics "$out/metrics.json" --min-accuracy 0.9 --expect "mode=$mode"
