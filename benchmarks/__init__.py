"""kk's benchmarks: `python -m benchmarks.run --fast` (or `make bench`); results go to BENCHMARKS.md."""
