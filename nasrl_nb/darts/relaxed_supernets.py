"""Relaxed supernets by search-space name: what ``--method darts`` searches for each ``--space``.

Each is a class built as ``cls(space, input_shape, num_classes, *, channels, cells_per_stage, batch_norm)``
(``batch_norm``: ``"darts"`` or ``"affine"``, see :mod:`~nasrl_nb.darts.mixed_op`); every one
follows the contract of :mod:`nasrl_nb.darts.architect`. The caller seeds the
global RNG before building (the alphas and weights are drawn from it).
"""

from __future__ import annotations

from ..spaces.search_space import SearchSpace
from .architect import RelaxedSupernetBase
from .relaxed_cell import RelaxedCellSupernet
from .supernet import DartsSupernet

RELAXED_SUPERNETS: dict[str, type[RelaxedSupernetBase]] = {
    "cell": RelaxedCellSupernet,  # NAS-Bench-201's cell (Dong & Yang 2020, Sec. 5)
    "darts": DartsSupernet,  # DARTS's normal + reduction cells (Liu et al. 2019, Sec. 2)
}


def build_relaxed_supernet(space: SearchSpace, input_shape, num_classes: int, *, channels: int = 16, cells_per_stage: int = 1,
                           batch_norm: str = "darts"):
    """The relaxed supernet of ``space`` (looked up by ``space.name`` in :data:`RELAXED_SUPERNETS`)."""
    supernet = RELAXED_SUPERNETS.get(space.name)
    if supernet is None:
        raise ValueError(f"space: {space.name!r} has no relaxed supernet for DARTS; allowed values: {', '.join(RELAXED_SUPERNETS)}")
    return supernet(space, input_shape, num_classes, channels=channels, cells_per_stage=cells_per_stage, batch_norm=batch_norm)
