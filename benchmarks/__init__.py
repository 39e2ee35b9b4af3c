"""Benchmarks: the model table (compile-only, any machine) and GPU latency (skips without a GPU)."""
