#!/usr/bin/env python3
"""Turns the JSON lines the benchmark scripts collect into Markdown tables (and gnuplot data),
one module per benchmark under scripts/tables/.

  bench_tables.py compute RAW.jsonl ONEDNN_VERBOSE.txt
  bench_tables.py data|collectives|mpiio|scaling|node_loss|stragglers|auto RAW.jsonl
  bench_tables.py transport RAW.jsonl OUTDIR
  bench_tables.py cluster RAW.jsonl CORES DATFILE
"""
import sys

from tables import (auto, cluster, collectives, compute, data, mpiio, node_loss, scaling,
                    stragglers, transport)

REPORTS = {
    "compute": compute.compute,
    "data": data.data_tables,
    "collectives": collectives.collectives,
    "mpiio": mpiio.mpiio,
    "scaling": scaling.scaling,
    "transport": transport.transport,
    "cluster": cluster.cluster,
    "node_loss": node_loss.node_loss,
    "stragglers": stragglers.stragglers,
    "auto": auto.auto,
}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in REPORTS:
        sys.exit(__doc__)
    REPORTS[sys.argv[1]](*sys.argv[2:])
