"""Search spaces: decisions, architectures, and the concrete spaces (layer 1, above ``runtime``).

``search_space`` defines the contract (``Decision``, ``SearchSpace``, ``Architecture``);
``macro_space`` is this project's layer vocabulary searched layer by layer (ENAS's wiring),
``zoph_le_space`` Zoph & Le's own CIFAR-10 space, ``cell_space`` NAS-Bench-201's cell,
``darts_space`` the DARTS space;
``registry`` maps names to spaces.
"""
