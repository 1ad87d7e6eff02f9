"""Eval suites, runner, metrics, reports and benchmarks. May import everything."""
