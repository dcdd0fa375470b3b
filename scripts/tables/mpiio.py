"""bench_mpiio.sh: the HDF5 reader by MPI-IO component and hints."""
from tables.common import rows, table, fmt


def mpiio(raw):
    """HDF5 reader by MPI-IO component and hints: the median over rounds of each figure."""
    data = [r for r in rows(raw) if "examples_per_sec" in r]
    groups = {}
    for r in data:
        groups.setdefault((r["label"], r["cache"]), []).append(r)
    base = {}
    body = []
    for (label, cache), rs in groups.items():
        per_reader = sorted(r["examples_per_sec"] / max(1, r["ranks"]) for r in rs)
        med = per_reader[len(per_reader) // 2]
        base.setdefault(cache, med)  # the first configuration (ompio, no hints) is the baseline
        body.append([label, cache, rs[0].get("links", "none"), len(rs), fmt(med), f"{fmt(per_reader[0])}-{fmt(per_reader[-1])}",
                     f"{med / base[cache]:.2f}"])
    print("### HDF5 reader on GlusterFS, 3 hosts x 1 reader, by MPI-IO component and hints\n")
    print(table(["MPI-IO", "cache", "links", "rounds", "examples/s per reader (median)", "range", "vs ompio"], body))
