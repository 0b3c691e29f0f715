"""Input checks that fail early with a message naming the field and what it accepts.

Every public entry point validates its arguments with these helpers, so that a typo
surfaces as one readable ``ValueError`` rather than a deep PyTorch traceback.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable


def require_choice(field: str, value, allowed: Iterable):
    """Return ``value`` if it is one of ``allowed``; else raise naming the field and options."""
    allowed = list(allowed)
    if value not in allowed:
        options = ", ".join(str(a) for a in allowed)
        raise ValueError(f"{field}: {value!r} is not allowed; allowed values: {options}")
    return value


def choice(default, allowed: Iterable):
    """A dataclass field whose value is one of ``allowed``: :func:`require_choices` checks it,
    and a command line generated from the dataclass offers ``allowed`` as the option's choices."""
    return dataclasses.field(default=default, metadata={"choices": tuple(allowed)})


def require_choices(config, section: str) -> None:
    """Check each :func:`choice` field of the dataclass ``config``; an error names ``section.field``."""
    for f in dataclasses.fields(config):
        if "choices" in f.metadata:
            require_choice(f"{section}.{f.name}", getattr(config, f.name), f.metadata["choices"])


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


SEED_MAX = 2**63 - 1  # torch.manual_seed accepts every int in 0..SEED_MAX


def require_int(field: str, value, *, low: int | None = None, high: int | None = None):
    """Return ``value`` if it is an int (not a bool) within ``low..high``; else raise."""
    if low is not None and high is not None:
        allowed = f"an integer in {low}..{high}"
    elif low is not None:
        allowed = f"an integer >= {low}"
    else:
        allowed = "an integer"
    if isinstance(value, bool) or not isinstance(value, int) and not _is_integer_like(value):
        raise ValueError(f"{field}: must be {allowed}, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{field}: must be {allowed}, got {value!r}")
    return value


def _is_integer_like(value) -> bool:
    """NumPy / torch integer scalars (an ``__index__`` and no fractional part)."""
    return hasattr(value, "__index__") and not isinstance(value, (str, bytes, float))


def require_seed(field: str, value) -> int:
    """A seed: an integer in ``0..2**63-1`` (what every generator we seed accepts)."""
    return require_int(field, value, low=0, high=SEED_MAX)


def require_nonnegative(field: str, value):
    """Return ``value`` if it is a finite number >= 0; else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{field}: must be a finite number >= 0, got {value!r}")
    return value


def require_records(field: str, value) -> list:
    """Return ``value`` as a list if it is a sequence of dict records (evaluation records); else raise."""
    from collections.abc import Mapping

    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ValueError(f"{field}: expected a list of records (dicts such as Search.history), got {type(value).__name__}")
    records = list(value)
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise ValueError(f"{field}[{i}]: expected a record (a dict such as a Search.history row), got {type(record).__name__}")
    return records


class RunFolderError(ValueError):
    """A file of a run folder (``history.jsonl``, ``checkpoint.pt``, ...) is missing, corrupt or foreign.

    The message names the file (and line) and what the user can do. It is a ``ValueError``,
    so the command line reports it as one line with exit status 2.
    """


def run_folder_error(path, problem: str, *, line: int | None = None, advice: str | None = None) -> RunFolderError:
    """A :class:`RunFolderError` for ``path`` (and ``line``): ``"<file>[ line N]: <problem>; <advice>"``."""
    where = f"{str(path)!r}" + (f" line {line}" if line is not None else "")
    if advice is None:
        advice = (
            "the other files of the run are left as they are: history.jsonl keeps every evaluated "
            "architecture; start the search again in another folder (the same options propose the same "
            "architectures), or restore this file from a copy"
        )
    return RunFolderError(f"{where}: {problem}; {advice}")
