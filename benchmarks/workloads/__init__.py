"""Benchmark workloads: one module per topic, each with ``workloads(quick) -> list[dict]``.

See ``benchmarks/README.md`` for the dictionary's keys.
"""
