"""genoma.sim: simulated cohorts (msprime) for tests and benchmarks."""
