"""runflow's benchmarks: runflow against the loops users would write instead (README.md)."""
