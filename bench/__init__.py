"""Benchmarks of Registry Search against a real registry: ``python -m bench.run``."""
