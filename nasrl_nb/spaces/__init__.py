"""Search spaces: decisions, architectures, and the concrete spaces (layer 1, above ``runtime``).

``search_space`` defines the contract (``Decision``, ``SearchSpace``, ``Architecture``);
``macro_space`` is Zoph & Le's layer-by-layer space, ``cell_space`` NAS-Bench-201's cell;
``registry`` maps names to spaces.
"""
