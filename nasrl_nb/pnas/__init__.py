"""PNAS: Progressive Neural Architecture Search (Liu et al., ECCV 2018, arXiv:1712.00559).

Cells are searched from simple to complex: train the cells with one operation, expand each
kept cell by one more operation, let a learned predictor rank the expansions and train only
the top K, and repeat. Three modules, one concept each:

* :mod:`~nasrl_nb.pnas.expansion`: the cells with one non-``none`` edge and their expansions;
* :mod:`~nasrl_nb.pnas.predictor`: the surrogate, an ensemble of small MLPs over the cell's tokens;
* :mod:`~nasrl_nb.pnas.strategy`: the search strategy that puts them in the search loop;
* :mod:`~nasrl_nb.pnas.config`: its settings (``config.json``'s ``pnas`` section).
"""
