"""The run folder: every file a search writes, how it is written, and how it is read back.

A search with ``out_dir`` keeps five files there:

============== ================================================================================
config.json    the :class:`~nasrl_nb.assembly.config.SearchConfig` (written once, diffed on resume)
history.jsonl  one JSON line per evaluated architecture (its record, reward, step)
steps.jsonl    one JSON line per policy update (rewards, baseline, advantages, stats, policy)
checkpoint.pt  strategy, evaluator and RNG states and counters (``torch.load(weights_only=True)``)
summary.json   counts and the best architectures so far (rewritten after every step)
============== ================================================================================

A kill at any instant leaves a run that resumes: the lines of a step are flushed and
fsync'ed *before* the checkpoint that counts them is atomically replaced, so the
checkpoint never counts a line that is not on disk; lines beyond it (a step whose
checkpoint never landed, perhaps half a line) are cut off on resume. ``config.json``,
``summary.json`` and ``checkpoint.pt`` are replaced by rename, never half written. All
files get the same permissions (``0o666`` less the umask, like any file ``open`` creates).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..checkpoint import (
    CHECKPOINT_NAME,
    json_safe,
    load_checkpoint,
    rebuild_advice,
    save_checkpoint,
    write_text_atomic,
)
from ..spaces.registry import record_architecture, space_from_spec
from ..spaces.search_space import Architecture, SearchSpace
from ..validation import run_folder_error

CONFIG_NAME = "config.json"
HISTORY_NAME = "history.jsonl"
STEPS_NAME = "steps.jsonl"
SUMMARY_NAME = "summary.json"
RUN_FILES = (CONFIG_NAME, HISTORY_NAME, STEPS_NAME, CHECKPOINT_NAME, SUMMARY_NAME)


class RunFolder:
    """The files of one run in ``path`` (see the module docstring)."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def holds_run(self) -> bool:
        """True if any file of a run is there (even a run killed while it was being created)."""
        return any(self.file(name).exists() for name in RUN_FILES)

    def has_records(self) -> bool:
        """True if ``history.jsonl`` or ``steps.jsonl`` holds anything (a step was written)."""
        return any(self.file(name).is_file() and self.file(name).stat().st_size > 0 for name in (HISTORY_NAME, STEPS_NAME))

    def missing_checkpoint_error(self):
        """The error for a run with records but no ``checkpoint.pt`` (resuming must not start afresh over them)."""
        return run_folder_error(self.file(CHECKPOINT_NAME), "missing, but the run has records", advice=rebuild_advice(self.path))

    # --- writing ------------------------------------------------------------------------
    def create(self, config: Mapping) -> None:
        """Start a run: ``config.json`` first, then empty history and steps files."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.file(CONFIG_NAME), json.dumps(config, indent=2) + "\n")
        for name in (HISTORY_NAME, STEPS_NAME):
            write_text_atomic(self.file(name), "")

    def clear(self) -> None:
        """Remove the run's files (``overwrite=True``); other files in the folder stay."""
        for name in RUN_FILES:
            self.file(name).unlink(missing_ok=True)

    def append(self, history_rows: Iterable[Mapping], step_line: Mapping) -> None:
        """Append one step's history lines and its steps line, flushed and fsync'ed to disk."""
        _append_lines(self.file(HISTORY_NAME), history_rows)
        _append_lines(self.file(STEPS_NAME), [step_line])

    def save_checkpoint(self, state: dict) -> None:
        save_checkpoint(self.file(CHECKPOINT_NAME), state)

    def write_summary(self, summary: Mapping) -> None:
        write_text_atomic(self.file(SUMMARY_NAME), json.dumps(summary, indent=2) + "\n")

    def truncate(self, *, evaluations: int, steps: int) -> None:
        """Cut history and steps to the lines the checkpoint counts (resume after a kill)."""
        for name, count in ((HISTORY_NAME, evaluations), (STEPS_NAME, steps)):
            path = self.file(name)
            data = path.read_bytes() if path.exists() else b""
            end = _offset_after_lines(data, count)
            if end is None:
                lines = data.count(b"\n")
                problem = f"has {lines} complete lines but the checkpoint counts {count} (records are missing)"
                raise run_folder_error(path, problem, advice=rebuild_advice(self.path))
            if end < len(data):
                os.truncate(path, end)

    # --- reading ------------------------------------------------------------------------
    def read_config(self) -> dict | None:
        path = self.file(CONFIG_NAME)
        return _read_json(path) if path.exists() else None

    def read_checkpoint(self) -> dict:
        return load_checkpoint(self.file(CHECKPOINT_NAME))

    def read_summary(self) -> dict:
        path = self.file(SUMMARY_NAME)
        if not path.exists():
            raise ValueError(f"out_dir: no {SUMMARY_NAME} in {str(self.path)!r}; pass the out_dir of a search")
        return _read_json(path)

    def read_history(self, *, limit: int | None = None) -> list[dict]:
        """History records; a line without ``arch`` and ``status`` strings is a RunFolderError."""
        path = self.file(HISTORY_NAME)
        records = read_jsonl(path, limit=limit)
        for number, record in enumerate(records, start=1):
            accuracy = record.get("val_accuracy")
            if not isinstance(record.get("status"), str) or not isinstance(record.get("arch"), str):
                raise run_folder_error(path, "not a history record (needs 'arch' and 'status' strings)", line=number)
            if accuracy is not None and (isinstance(accuracy, bool) or not isinstance(accuracy, (int, float))):
                raise run_folder_error(path, f"val_accuracy must be a number or null, got {accuracy!r}", line=number)
        return records

    def read_steps(self, *, limit: int | None = None) -> list[dict]:
        path = self.file(STEPS_NAME)
        return read_jsonl(path, limit=limit) if path.exists() else []


def history_row(arch, record: Mapping, reward: float, violated: bool, *, space: SearchSpace | None = None) -> dict:
    """The ``history.jsonl`` line of one evaluated architecture (``step`` and ``evaluation`` set at commit).

    An architecture of another space than the search's ``space`` (a growing curriculum's
    shallower stage) carries its own space's spec as ``space``, so every reader parses it in
    the space it was sampled in (:func:`~nasrl_nb.spaces.registry.record_architecture`).
    """
    row = {
        "step": None,
        "evaluation": None,
        "arch": str(arch),
        **{k: v for k, v in record.items() if k not in ("arch", "space")},
        "reward": reward,
        "constraint_violated": violated,
    }
    if space is not None and arch.space != space:
        row["space"] = arch.space.spec()
    return json_safe(row)


def step_line(step: int, rewards, stats: Mapping, policy) -> dict:
    """The ``steps.jsonl`` line of one update (what a replay needs beyond the history).

    ``baseline`` and ``advantages`` are the values the update's loss used and ``kl`` /
    ``clip_fraction`` PPO's (None otherwise), all read from the strategy's stats, never
    recomputed here.
    """
    return json_safe({
        "step": step,
        "rewards": list(rewards),
        "baseline": stats.get("baseline"),
        "advantages": stats.get("advantages"),
        "kl": stats.get("kl"),
        "clip_fraction": stats.get("clip_fraction"),
        "stats": {k: v for k, v in stats.items() if k != "advantages"},
        "policy": None if policy is None else policy.to_dict(),
    })


def read_jsonl(path, *, limit: int | None = None) -> list[dict]:
    """The JSON objects of ``path``, one a line (the first ``limit`` of them).

    A line that is not a JSON object, or bytes that are not UTF-8, raise a
    :class:`~nasrl_nb.validation.RunFolderError` (a ValueError) naming the file and line.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"out_dir: no {path.name} in {str(path.parent)!r}")
    records = []
    with open(path, "rb") as file:
        for number, raw in enumerate(file, start=1):
            if limit is not None and len(records) >= limit:
                break
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise run_folder_error(path, "not UTF-8 text (a damaged or foreign file)", line=number) from None
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as err:
                problem = f"not a JSON record ({getattr(err, 'msg', type(err).__name__)})"
                raise run_folder_error(path, problem, line=number) from None
            if not isinstance(record, dict):
                raise run_folder_error(path, f"expected a JSON object, got a {type(record).__name__}", line=number)
            records.append(record)
    return records


def read_history(out_dir, *, limit: int | None = None) -> list[dict]:
    """The records in ``out_dir/history.jsonl`` (the first ``limit`` of them)."""
    return RunFolder(out_dir).read_history(limit=limit)


@dataclass
class Run:
    """A run read back from its folder (for replays): summary, config, history and steps."""

    path: Path
    summary: dict
    config: dict | None
    history: list[dict]
    steps: list[dict]

    @property
    def space(self) -> SearchSpace:
        """The search's space; a record with its own ``space`` (a curriculum stage) is parsed with
        :func:`~nasrl_nb.spaces.registry.record_architecture`, see :meth:`architecture`."""
        return space_from_spec(self.summary["space"])

    def architecture(self, record: Mapping) -> Architecture:
        """``record``'s architecture, parsed in the space it was sampled in."""
        return record_architecture(self.space, record)

    @property
    def method(self) -> str:
        return self.summary["method"]

    @property
    def budget(self) -> int:
        return int(self.summary["budget"])


def load_run(out_dir) -> Run:
    """Read a run folder as of its ``summary.json``: lines a running search added since are left out."""
    folder = RunFolder(out_dir)
    summary = folder.read_summary()
    return Run(
        path=folder.path,
        summary=summary,
        config=folder.read_config(),
        history=folder.read_history(limit=int(summary["evaluations"])),
        steps=folder.read_steps(limit=int(summary["steps"])),
    )


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise run_folder_error(path, "not UTF-8 text (a damaged or foreign file)") from None
    except json.JSONDecodeError as err:
        raise run_folder_error(path, f"not valid JSON ({err.msg})", line=err.lineno) from None
    if not isinstance(data, dict):
        raise run_folder_error(path, f"expected a JSON object, got a {type(data).__name__}")
    return data


def _append_lines(path: Path, records: Iterable[Mapping]) -> None:
    with open(path, "a", encoding="utf-8") as file:
        file.writelines(json.dumps(record) + "\n" for record in records)
        file.flush()
        os.fsync(file.fileno())


def _offset_after_lines(data: bytes, count: int) -> int | None:
    """The byte offset just after the first ``count`` complete lines (None if there are fewer)."""
    offset = 0
    for _ in range(count):
        newline = data.find(b"\n", offset)
        if newline < 0:
            return None
        offset = newline + 1
    return offset
