"""The progressive part of PNAS: cells from simple to complex (Liu et al. 2018, Sec. 3.1).

PNAS grows cells one block at a time: the cells with one block first (Liu et al.'s B = 1),
then every kept cell with each possible next block. In the NAS-Bench-201 cell
(:class:`~nasrl_nb.spaces.cell_space.CellSpace`) a cell's complexity is its number of
non-``none`` edges, so:

1. step 1 is every cell with exactly one non-``none`` edge: ``E x (|ops| - 1)`` cells (6 x 4 = 24);
2. expanding a cell gives every cell with one of its ``none`` edges set to another op: a cell
   with ``b`` edges has ``(E - b) (|ops| - 1)`` expansions, each with ``b + 1`` edges;
3. after ``E`` steps the cells are full (no ``none`` edge left).

Cells are the search space's immutable :class:`~nasrl_nb.spaces.search_space.Architecture`;
these functions are pure. Isomorphic cells (:meth:`CellSpace.canonical`: same function,
relabelled nodes) are different cells here -- a cell that computes nothing yet (no path from
input to output) may grow into any cell -- and the strategy uses the canonical form only to
avoid training the same function twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from math import comb

from ..spaces.cell_space import CellSpace
from ..spaces.search_space import Architecture
from .config import beam_size_rule

EMPTY = "none"  # the op that leaves an edge out


def check_space(space) -> CellSpace:
    """``space`` if it is a cell space with a ``none`` op, the only space PNAS grows; else a ValueError."""
    if not isinstance(space, CellSpace):
        raise ValueError(f"space: PNAS grows NAS-Bench-201 cells edge by edge; allowed spaces: cell, not {space!r}")
    if EMPTY not in space.ops or len(space.ops) < 2:
        raise ValueError(f"space: PNAS grows cells from their 'none' edges; the cell's ops must include 'none' and "
                         f"another op, got {list(space.ops)}")
    return space


def num_edges(arch: Architecture) -> int:
    """The cell's complexity: its number of non-``none`` edges."""
    return sum(choice != EMPTY for choice in arch.choices)


def one_edge_cells(space: CellSpace) -> list[Architecture]:
    """Step 1: every cell with exactly one non-``none`` edge, edge by edge, op by op."""
    check_space(space)
    empty = space.ops.index(EMPTY)
    cells = []
    for t in range(len(space.decisions)):
        for k in range(len(space.ops)):
            if k != empty:
                indices = [empty] * len(space.decisions)
                indices[t] = k
                cells.append(space.from_indices(indices))
    return cells


def expand(arch: Architecture) -> list[Architecture]:
    """Every cell with one more non-``none`` edge than ``arch`` and all of its edges (edge, then op order)."""
    space = check_space(arch.space)
    return [space.from_indices(i) for i in expand_indices(arch.indices, space.ops.index(EMPTY), len(space.ops))]


def expand_indices(indices: tuple, empty: int, num_ops: int) -> list[tuple]:
    """:func:`expand` on index tuples: each ``empty`` entry set, in turn, to every other op."""
    return [indices[:t] + (new,) + indices[t + 1:] for t, k in enumerate(indices) if k == empty
            for new in range(num_ops) if new != empty]


def expand_all(cells: Iterable[Architecture], exclude: Iterable[Architecture] = ()) -> list[Architecture]:
    """The expansions of every cell, each once (first-seen order), leaving out ``exclude``."""
    seen = set(exclude)
    out = []
    for cell in cells:
        for child in expand(cell):
            if child not in seen:
                seen.add(child)
                out.append(child)
    return out


def counts_per_step(space: CellSpace) -> list[int]:
    """Cells with 1, 2, ..., E non-``none`` edges when every cell is kept: ``C(E, b) (|ops| - 1)^b``."""
    check_space(space)
    edges, ops = len(space.decisions), len(space.ops) - 1
    return [comb(edges, b) * ops**b for b in range(1, edges + 1)]


def distinct_functions(space: CellSpace, cells: Sequence[Architecture]) -> int:
    """How many different functions (canonical forms) ``cells`` compute."""
    return len({space.canonical(c) for c in cells})


def pnas_beam_size(budget: int, space: CellSpace) -> int:
    """K for ``budget`` evaluations in ``space`` by :func:`~nasrl_nb.pnas.config.beam_size_rule`: step 1
    trains one cell per function among the one-edge cells, the expansion steps share the rest."""
    return beam_size_rule(budget, distinct_functions(space, one_edge_cells(space)), len(check_space(space).decisions))
