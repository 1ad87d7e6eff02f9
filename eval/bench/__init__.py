"""Benchmarks: python -m eval.bench NAME [args] (python -m eval.bench --help lists them)."""
