"""DARTS (layer 6): the continuous relaxation of a cell and its bilevel optimisation (Liu et al. 2019)."""
