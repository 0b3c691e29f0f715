"""The command line, ``python -m nasrl_nb`` (top layer)."""

from .commands import main

__all__ = ["main"]
