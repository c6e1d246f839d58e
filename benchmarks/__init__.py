"""Benchmarks, run on demand (see the README); never part of the test suite."""
