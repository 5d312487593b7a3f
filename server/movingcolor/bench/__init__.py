"""Benchmarks: throughput figures the `movingcolor bench` command writes to BENCHMARKS.md."""
