"""Rewards (layer 2): from an evaluation record to a number, and Pareto fronts."""
