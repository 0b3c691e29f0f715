"""Tabular benchmarks (layer 5): build, load and query tables of trained architectures."""
