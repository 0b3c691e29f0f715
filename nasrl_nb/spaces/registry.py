"""Name -> search-space registry, so the CLI, histories and checkpoints can name a space."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Mapping

from ..validation import require_choice
from .cell_space import CellSpace
from .darts_space import DartsSpace
from .macro_space import MacroSpace
from .search_space import Architecture, SearchSpace, custom_space
from .zoph_le_space import ZophLeSpace

SPACES: dict[str, type[SearchSpace]] = {"macro": MacroSpace, "cell": CellSpace, "darts": DartsSpace, "zoph-le": ZophLeSpace}

# spaces defined above this layer (AutoML-Zero's programs): name -> a function from the spec (without its
# "space" key) to the space; each registers itself when its module is imported (register_spec_reader)
SPEC_READERS: dict[str, Callable[[dict], SearchSpace]] = {}


def register_spec_reader(name: str, reader: Callable[[dict], SearchSpace]) -> None:
    """Let :func:`space_from_spec` rebuild the spaces named ``name`` with ``reader(spec)``.

    For spaces that live in a higher layer than this registry (``"zero"``:
    :class:`~nasrl_nb.zero.space.ProgramSpace`, registered by :mod:`nasrl_nb.zero.space`), so that
    a run folder of theirs is read by the same functions as every other run folder.
    """
    if name in SPACES or name == "custom":
        raise ValueError(f"name: {name!r} is a built-in space; allowed values: another name")
    SPEC_READERS[name] = reader


def get_space(name: str, **kwargs) -> SearchSpace:
    """Build the space registered as ``name`` (``"macro"``, ``"cell"``, ``"darts"`` or ``"zoph-le"``) with its options."""
    require_choice("space", name, SPACES)
    allowed = [p for p in inspect.signature(SPACES[name]).parameters if p not in ("self", "args", "kwargs")]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"space {name!r}: unknown options {unknown}; allowed keys: {allowed}")
    return SPACES[name](**kwargs)


def parse_architecture(space: SearchSpace | str, text: str) -> Architecture:
    """Read ``text`` in ``space``'s format (NAS-Bench-201 string for cell, JSON for macro and zoph-le)."""
    if isinstance(space, str):
        space = get_space(space)
    return space.parse(text)


def space_from_spec(spec: Mapping) -> SearchSpace:
    """Rebuild a space from :meth:`SearchSpace.spec` (histories and checkpoints store it)."""
    if not isinstance(spec, Mapping):
        raise ValueError(f"space: expected a space spec dict such as {{'space': 'cell'}}, got {type(spec).__name__}")
    spec = dict(spec)
    kind = spec.pop("space", None)
    if kind == "custom":
        if set(spec) != {"vocab"}:
            raise ValueError(f"space 'custom': expected exactly the key 'vocab', got {sorted(spec)}")
        return custom_space(spec["vocab"])
    if kind in SPEC_READERS:
        return SPEC_READERS[kind](spec)
    if kind not in SPACES:
        raise ValueError(f"space: {kind!r} is not allowed; allowed values: {', '.join([*SPACES, 'custom', *SPEC_READERS])}"
                         + (" (import nasrl_nb.zero first to read an AutoML-Zero run)" if kind == "zero" else ""))
    return get_space(kind, **spec)


def architecture_from_json(text: str) -> Architecture:
    """The inverse of :meth:`Architecture.to_json`: rebuild the space, then parse the choice."""
    data = json.loads(text)
    return space_from_spec(data["space"]).parse(data["arch"])


def record_space(space: SearchSpace, record: Mapping) -> SearchSpace:
    """The space a history record's architecture was sampled in: its ``space`` spec, else ``space``.

    A record carries ``space`` when it was sampled in another space than the search's own
    (a growing curriculum's shallower stages: :mod:`nasrl_nb.strategies.curriculum`).
    """
    spec = record.get("space")
    return space if spec is None else _space_from_json(json.dumps(spec, sort_keys=True))


def record_architecture(space: SearchSpace, record: Mapping) -> Architecture:
    """Parse a history record's ``arch`` in the space it was sampled in (:func:`record_space`)."""
    return record_space(space, record).parse(record["arch"])


@functools.lru_cache(maxsize=64)
def _space_from_json(text: str) -> SearchSpace:  # a history holds a few stage spaces, each on many records
    return space_from_spec(json.loads(text))
