"""One module per benchmark report (scripts/bench_tables.py picks one)."""
