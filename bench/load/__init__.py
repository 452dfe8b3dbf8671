"""Load generators of the benchmarks."""
