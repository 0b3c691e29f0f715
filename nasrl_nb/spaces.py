"""Name -> search-space registry, so the CLI, histories and checkpoints can name a space."""

from __future__ import annotations

from .cell_space import CellSpace
from .macro_space import MacroSpace
from .search_space import Architecture, SearchSpace
from .validation import require_choice

SPACES: dict[str, type[SearchSpace]] = {"macro": MacroSpace, "cell": CellSpace}


def get_space(name: str, **kwargs) -> SearchSpace:
    """Build the space registered as ``name`` (``"macro"`` or ``"cell"``) with its options."""
    require_choice("space", name, SPACES)
    return SPACES[name](**kwargs)


def parse_architecture(space: SearchSpace | str, text: str) -> Architecture:
    """Read ``text`` in ``space``'s format (NAS-Bench-201 string for cell, JSON for macro)."""
    if isinstance(space, str):
        space = get_space(space)
    return space.parse(text)
