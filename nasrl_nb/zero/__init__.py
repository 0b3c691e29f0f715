"""AutoML-Zero (Real et al. 2020, "AutoML-Zero: Evolving Machine Learning Algorithms From Scratch", ICML).

Learning algorithms evolved from primitive maths: a program is ``Setup``, ``Predict`` and
``Learn`` over a memory of scalars, vectors and matrices; regularized evolution mutates it;
its fitness is the accuracy it reaches after learning small projected binary tasks.

* :mod:`~nasrl_nb.zero.ops`: the primitive operations;
* :mod:`~nasrl_nb.zero.program`: instructions and programs, as text and as Python;
* :mod:`~nasrl_nb.zero.interpreter`: running a program on a batch of tasks at once;
* :mod:`~nasrl_nb.zero.tasks`: projected binary tasks from the digits;
* :mod:`~nasrl_nb.zero.evaluate`: fitness and the functional-equivalence cache;
* :mod:`~nasrl_nb.zero.mutations`: the paper's three mutations;
* :mod:`~nasrl_nb.zero.space`: programs as members of a search space, for the NAS loop;
* :mod:`~nasrl_nb.zero.strategy`: regularized evolution from the empty program;
* :mod:`~nasrl_nb.zero.run`: settings, building, resuming and reading a search;
* :mod:`~nasrl_nb.zero.examples`: hand-written programs (logistic regression, a Hebbian foil);
* :mod:`~nasrl_nb.zero.plots`: fitness over time.
"""
