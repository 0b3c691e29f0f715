"""Plots (layer 5): pure functions that return a matplotlib Figure; widgets wire them up."""
