"""Tabular benchmarks: build, load and query tables of trained architectures."""
