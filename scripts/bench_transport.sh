#!/usr/bin/env bash
# RDMA against TCP: for each MPI transport, the bare operations dtrain is built on (Accumulate
# push, Get pull, Fetch_and_op latency, Allreduce) from 8 B to 16 MB and at the model's 13.1 MB
# gradient, the trainer's own push/pull/allreduce at that size, and whole training (async
# 1 PS + 2 workers, sync 2 ranks) images/s and time per step. This machine has no RDMA device:
# the one-sided shared-memory paths (osc rdma or sm over vader, UCX self,sm with cma) stand in
# for it, against TCP (UCX self,tcp and ob1 self,tcp). Output: bench-results/transport.md
# (Markdown tables with RDMA/TCP ratios) and PNG plots drawn with gnuplot.
# QUICK=1: fewer sizes and steps, and the small CNN (a smoke test, for the Slurm test).
. "$(dirname "$0")/lib.sh"
bench_setup transport gnuplot-nox python3
OUT=$BENCH_OUT
raw=$BENCH_RAW
STEPS=${STEPS:-150}
ARCH=${ARCH:-cnn}
SIZES=8,64,512,4096,32768,262144,1048576,4194304,13098536,16777216
if [ "${QUICK:-0}" = 1 ]; then STEPS=20 ARCH=cnn-small SIZES=8,1048576,13098536; fi
ORDER=(rdma sm ucx-sm ucx-tcp tcp)
tag() { /usr/bin/python3 -c "import json,sys
for l in sys.stdin:
    l=l.strip()
    if l.startswith('{'):
        j=json.loads(l); j.update($1); print(json.dumps(j))"; }
for t in "${ORDER[@]}"; do
  log "transport $t: MPI operations 8 B .. 16 MB"
  # shellcheck disable=SC2046
  mpirun --oversubscribe --bind-to none -np 2 $(DTRAIN_NET_IF=lo dtrain_transport_args "$t") build/rma_bench --sizes "$SIZES" |
    tag "{'what':'micro','transport':'$t'}" | tee -a "$raw" | cut -c1-110
  for mode in async sync; do
    np=3; [ $mode = sync ] && np=2
    log "transport $t: $mode training ($np ranks, $STEPS steps)"
    # shellcheck disable=SC2046
    mpirun --oversubscribe --bind-to none -np $np $(DTRAIN_NET_IF=lo dtrain_transport_args "$t") build/mnist_train \
      --data-dir "$MNIST_DIR" --arch "$ARCH" --dist $mode --steps "$STEPS" --eval-every 100000 --log-every 100000 --metrics-json "$OUT/t.json" >/dev/null
    /usr/bin/python3 -c "import json; j=json.load(open('$OUT/t.json')); w=j['workers']
per=j['train_images_per_sec']/(w if j['mode']=='async' else 1)
print(json.dumps({'what':'train','transport':'$t','mode':'$mode','img_s':j['train_images_per_sec'],
 'step_ms':1000*100/per, 'accuracy':j['test_accuracy']}))" | tee -a "$raw"
  done
done
/usr/bin/python3 "$DTRAIN_ROOT/scripts/bench_tables.py" transport "$raw" "$OUT" | tee "$OUT/transport.md"
for p in bandwidth latency training; do
  gnuplot "$OUT/$p.gp" && echo "plot: $OUT/$p.png"
done
