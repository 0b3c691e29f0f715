"""Checkpoints that a search resumes from exactly, and the RNG states that make it exact.

A search that stops (Ctrl-C, a closed laptop, a dashboard's Stop button) must continue
where it left off, giving the same architectures as a run that never stopped. That takes
the strategy's state *and* every random number generator it draws from: PyTorch's, NumPy's
global one and Python's ``random``. A checkpoint holds only tensors and plain containers
(dict, list, tuple, str, int, float, bool, None), so ``torch.load(path, weights_only=True)``
reads it and no pickled code ever runs on load. It is written to a temporary file and then
renamed over the old one (``os.replace`` is atomic), so a crash mid-write never leaves a
half-written checkpoint.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path

import numpy as np
import torch

from ..validation import run_folder_error

CHECKPOINT_NAME = "checkpoint.pt"


def _default_file_mode() -> int:
    """What ``open(path, "w")`` would give a new file: 0o666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


def capture_rng_state() -> dict:
    """PyTorch (CPU), NumPy (global) and Python RNG states as tensors and plain lists."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": [int(k) for k in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {"version": int(version), "internal": [int(i) for i in internal], "gauss_next": gauss_next},
    }


def restore_rng_state(state: dict) -> None:
    """Put back the generators saved by :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["kind"],
            np.array(np_state["keys"], dtype=np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    py_state = state["python"]
    random.setstate((py_state["version"], tuple(py_state["internal"]), py_state["gauss_next"]))


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block that may reseed the global RNGs, then put the caller's states back.

    Evaluators seed each child from its architecture; wrapping that in ``preserved_rng``
    keeps the controller's stream of samples independent of how children are trained.
    """
    state = capture_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        restore_rng_state(state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` with ``torch.save`` to a temporary file, then atomically rename it to ``path``."""
    return _write_atomic(path, "wb", lambda file: torch.save(state, file))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (``weights_only=True``: no code runs)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint: no checkpoint at {str(path)!r}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, empty, foreign, or refused by the safe loader
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise run_folder_error(path, f"not a readable nasrl_nb checkpoint ({type(err).__name__}: {reason})") from None
    if not isinstance(state, dict):
        raise run_folder_error(path, f"not a nasrl_nb checkpoint (it holds a {type(state).__name__}, not a dict)")
    return state


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write a small text file (a summary) by temporary file and rename, like checkpoints."""
    return _write_atomic(path, "w", lambda file: file.write(text))


def _write_atomic(path, mode: str, write) -> Path:
    """``write(file)`` into a temporary file beside ``path``, fsync it, then rename it over ``path``.

    A crash or Ctrl-C at any moment leaves either the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; every file of a run gets the same mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def json_safe(value):
    """NaN and infinities become None; tuples become lists, dataclasses dicts; other values pass unchanged."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if is_dataclass(value) and not isinstance(value, type):
        return json_safe(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return json_safe(value.item())  # NumPy / torch scalars
    return value
