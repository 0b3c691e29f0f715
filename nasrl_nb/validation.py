"""Input checks that fail early with a message naming the field and what it accepts.

Every public entry point validates its arguments with these helpers, so that a typo
surfaces as one readable ``ValueError`` rather than a deep PyTorch traceback.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def require_choice(field: str, value, allowed: Iterable):
    """Return ``value`` if it is one of ``allowed``; else raise naming the field and options."""
    allowed = list(allowed)
    if value not in allowed:
        options = ", ".join(str(a) for a in allowed)
        raise ValueError(f"{field}: {value!r} is not allowed; allowed values: {options}")
    return value


def require_positive(field: str, value, *, integer: bool = False):
    """Return ``value`` if it is a finite number > 0 (an int when ``integer``); else raise."""
    kind = "a positive integer" if integer else "a positive number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{field}: must be {kind}, got {value!r}")
    if integer and not float(value).is_integer():
        raise ValueError(f"{field}: must be {kind}, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{field}: must be {kind}, got {value!r}")
    return int(value) if integer else value


def require_fraction(field: str, value, *, low: float = 0.0, high: float = 1.0):
    """Return ``value`` if ``low <= value <= high``; else raise naming the range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
        raise ValueError(f"{field}: must be a number in [{low}, {high}], got {value!r}")
    return float(value)
