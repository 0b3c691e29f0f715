"""nasrl_nb: Neural Architecture Search with Reinforcement Learning, in Jupyter, for real.

Public names are imported lazily (PEP 562), so ``import nasrl_nb`` loads only what is
used and never pulls in ipywidgets, matplotlib, networkx or ray.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Architecture": "search_space",
    "Decision": "search_space",
    "SearchSpace": "search_space",
    "custom_space": "search_space",
    "space_from_spec": "search_space",
    "MacroSpace": "macro_space",
    "LayerSpec": "macro_space",
    "ARCHITECTURE_VOCAB": "macro_space",
    "CellSpace": "cell_space",
    "CELL_OPS": "cell_space",
    "SPACES": "spaces",
    "get_space": "spaces",
    "parse_architecture": "spaces",
    "OPS": "operations",
    "ACTIVATIONS": "operations",
    "NORMALIZATIONS": "operations",
    "build_op": "operations",
    "quick_mode": "runtime",
    "seed_everything": "runtime",
    "resolve_device": "runtime",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nasrl_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
