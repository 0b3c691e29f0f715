"""Checkpoints that a search resumes from exactly, and the RNG states that make it exact.

A search that stops (Ctrl-C, a closed laptop, a dashboard's Stop button) must continue
where it left off, giving the same architectures as a run that never stopped. That takes
the strategy's state *and* every random number generator it draws from: PyTorch's, NumPy's
global one and Python's ``random``. A checkpoint holds only tensors and plain containers
(dict, list, tuple, str, int, float, bool, None), so ``torch.load(path, weights_only=True)``
reads it and no pickled code ever runs on load. It is written to a temporary file and then
renamed over the old one (``os.replace`` is atomic), so a crash mid-write never leaves a
half-written checkpoint.

What a search's checkpoint holds (:func:`search_checkpoint`, checked on the way back by
:func:`read_search_checkpoint`): its counters, the strategy's and the evaluator's state and
the search's private RNG states (:class:`PrivateRng`), all as of its last committed step.
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

from .runtime import seed_everything
from .validation import run_folder_error

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "nasrl_nb.search.loop/2"  # the name it was given when the loop wrote it: kept, old runs resume


def _default_file_mode() -> int:
    """What ``open(path, "w")`` would give a new file: 0o666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


def capture_rng_state() -> dict:
    """PyTorch (CPU, and CUDA once it is in use), NumPy (global) and Python RNG states as tensors and plain lists."""
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    cuda = {"cuda": torch.cuda.get_rng_state_all()} if torch.cuda.is_available() and torch.cuda.is_initialized() else {}
    return {
        **cuda,  # one ByteTensor per GPU
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
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)  # a checkpoint from a machine with other GPUs keeps this one's


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


def rebuild_advice(run_dir) -> str:
    """What to do when ``checkpoint.pt`` of the run in ``run_dir`` is missing or damaged."""
    return (
        "the history is kept (history.jsonl holds every evaluated architecture): rebuild the checkpoint "
        f"from it with `nasrl-nb rebuild-checkpoint {run_dir}` (Python: nasrl_nb.rebuild_checkpoint(out_dir)), "
        "then resume; or start the search again in another folder (the same options propose the same architectures)"
    )


class PrivateRng:
    """The RNG states (torch, NumPy, Python) a search owns, apart from its caller's.

    A step starts from the states of the last commit (:meth:`active` with ``restart=True``)
    and each later block continues where the previous one ended; :meth:`commit` makes the
    current states the next step's start. Outside the blocks the caller's generators are in
    place, so code run between steps cannot change which architectures are proposed.
    """

    def __init__(self, state: dict):
        self.committed = self.current = state

    @classmethod
    def seeded(cls, seed: int) -> PrivateRng:
        """The states ``seed_everything(seed)`` gives; the caller's generators are left as they were."""
        caller = capture_rng_state()
        seed_everything(seed)
        state = capture_rng_state()
        restore_rng_state(caller)
        return cls(state)

    @contextmanager
    def active(self, *, restart: bool = False) -> Iterator[None]:
        """Swap the search's states in for the block (the committed ones with ``restart``); keep where it ends."""
        caller = capture_rng_state()
        restore_rng_state(self.committed if restart else self.current)
        try:
            yield
            self.current = capture_rng_state()
        finally:
            restore_rng_state(caller)

    def commit(self) -> None:
        self.committed = self.current


def search_checkpoint(search, *, strategy_state: dict, rng_state: dict) -> dict:
    """What ``checkpoint.pt`` holds for ``search`` (a :class:`~nasrl_nb.run.loop.Search`).

    ``strategy_state`` and ``rng_state`` are those of the last committed step; counters and
    the evaluator's ``state_dict()`` are read from ``search``.
    """
    evaluator_state = getattr(search.evaluator, "state_dict", None)
    return {
        "format": CHECKPOINT_FORMAT,
        "method": search.method,
        "seed": search.seed,
        "batch_size": search.batch_size,
        "budget": search.budget,
        "step": search.num_steps,
        "evaluations": search.evaluations,
        "seconds": search.seconds,
        "strategy": strategy_state,
        "evaluator": evaluator_state() if callable(evaluator_state) else {},
        "rng": rng_state,
    }


def read_search_checkpoint(path: str | os.PathLike) -> dict:
    """The state written by :func:`search_checkpoint`; a foreign or damaged one is a RunFolderError."""
    state = load_checkpoint(path)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise run_folder_error(path, f"not a search checkpoint (format {state.get('format')!r}, expected {CHECKPOINT_FORMAT!r})",
                               advice=rebuild_advice(Path(path).parent))
    try:
        _check_checkpoint_fields(state)
    except (KeyError, TypeError, ValueError) as err:
        raise run_folder_error(path, f"a damaged search checkpoint ({type(err).__name__}: {err})",
                               advice=rebuild_advice(Path(path).parent)) from None
    return state


def _check_checkpoint_fields(state: Mapping) -> None:
    """Raise KeyError / TypeError / ValueError when a checkpoint lacks a field or has one of the wrong type."""
    for name in ("step", "evaluations"):
        if isinstance(state[name], bool) or not isinstance(state[name], int) or state[name] < 0:
            raise ValueError(f"{name} is {state[name]!r}")
    float(state["seconds"])
    for name in ("strategy", "evaluator", "rng"):
        if not isinstance(state[name], Mapping):
            raise TypeError(f"{name} must be a dict")
    state["method"], state["seed"], state["batch_size"]  # noqa: B018 -- present


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
        raise run_folder_error(path, f"not a readable nasrl_nb checkpoint ({type(err).__name__}: {reason})",
                               advice=rebuild_advice(path.parent)) from None
    if not isinstance(state, dict):
        raise run_folder_error(path, f"not a nasrl_nb checkpoint (it holds a {type(state).__name__}, not a dict)",
                               advice=rebuild_advice(path.parent))
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
