"""The result of a search, as one object: from a live search or a run folder, written as PyTorch.

DARTS (Liu et al. 2019) made the *genotype* the only contract between search and
evaluation; the last step of a search is to hand that genotype over as an ordinary network.
:func:`result` (``nb.result(search)``, ``nb.result("runs/x")``) builds a :class:`SearchResult`:
the architecture the method hands over (its strategy's ``result_rule``,
:mod:`nasrl_nb.run.result`: the best child by reward; DARTS's cell derived from the final
alphas; ENAS's architecture derived from the trained supernet), the record that chose it,
the top candidates, the method, its configuration and the summary's figures.
:meth:`SearchResult.to_pytorch` is the one way to write it as a standalone PyTorch file
(:func:`~nasrl_nb.assembly.standalone.standalone_source` writes the source).

An AutoML-Zero run (``method == "zero"``) hands over a *program*, not a network: its result
has the best program as ``arch`` and :meth:`SearchResult.to_python` writes it as Python;
:meth:`SearchResult.to_pytorch` refuses it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..checkpoint import write_text_atomic
from ..run.result import result_entry
from ..validation import require_positive, run_folder_error
from .standalone import check_class_name, standalone_source

EXPORT_MARKER = "(exported by nasrl_nb)"  # on the first line of every file to_pytorch writes
RECORD_KEYS = ("evaluation", "step", "status", "reward", "val_accuracy", "test_accuracy")
_SUMMARY_ADVICE = (
    "summary.json is rewritten after every step; resume the search (nasrl-nb search --out DIR --resume) "
    "to rebuild it from the checkpoint and history"
)


@dataclass(frozen=True)
class SearchResult:
    """What a search hands over: the architecture, the record that chose it and where it came from.

    ``arch`` is the architecture's string (None while nothing qualifies); ``space`` the spec
    of the space it was sampled in; ``record`` the picked record's ``evaluation``, ``step``,
    ``status``, ``reward``, ``val_accuracy`` and ``test_accuracy`` (for ENAS's derivation
    ``shared_accuracy``, ``candidates`` and ``derive_seed`` instead); ``top`` the best
    candidates, best first (by reward; for a derivation by shared-weight accuracy);
    ``summary`` the search's summary (its figures) and ``config`` its configuration.
    """

    method: str | None
    rule: str
    description: str
    arch: str | None
    space: dict | None = field(repr=False)
    record: dict = field(default_factory=dict)
    top: tuple[dict, ...] = field(default=(), repr=False)
    summary: dict = field(default_factory=dict, repr=False)
    config: dict = field(default_factory=dict, repr=False)
    run_dir: str | None = field(default=None, repr=False)  # the run folder it was read from (errors name its summary)

    # --- building one ---------------------------------------------------------------------------------------
    @classmethod
    def from_summary(cls, summary: Mapping, *, history=(), top: int = 5, derived: list[dict] | None = None,
                     run_dir=None) -> SearchResult:
        """The result a summary (``Search.summary()``) names; ``history`` gives the top candidates.

        ``derived``: :func:`~nasrl_nb.enas.strategy.derive`'s ranking, for the rule ``"derive"``.
        """
        if not isinstance(summary, Mapping):
            raise ValueError(f"summary: expected a search summary dict (Search.summary()), got {type(summary).__name__}")
        top = require_positive("top", top, integer=True)
        entry = result_entry(summary)
        record = {k: entry.get(k) for k in RECORD_KEYS}
        candidates = _top_by_reward(history, top)
        if entry["rule"] == "derive" and derived:
            record = {"shared_accuracy": derived[0]["shared_accuracy"], "candidates": len(derived),
                      "derive_seed": derived[0].get("derive_seed")}
            entry["arch"] = str(derived[0]["arch"])
            candidates = tuple({"arch": str(r["arch"]), "shared_accuracy": r["shared_accuracy"]} for r in derived[:top])
        config = summary.get("config")
        return cls(method=summary.get("method"), rule=entry["rule"], description=entry["description"], arch=entry.get("arch"),
                   space=entry.get("space") or summary.get("space"), record=record, top=candidates, summary=dict(summary),
                   config=dict(config) if isinstance(config, Mapping) else {},
                   run_dir=None if run_dir is None else str(run_dir))

    @classmethod
    def from_search(cls, search, *, top: int = 5, num_candidates: int = 100, seed: int = 0) -> SearchResult:
        """The result of a live :class:`~nasrl_nb.run.loop.Search` (finished or not)."""
        derived = None
        if search.strategy.result_rule == "derive" and search.history:
            derived = _derive(search, num_candidates, seed)
        return cls.from_summary(search.summary(), history=search.history, top=top, derived=derived)

    @classmethod
    def from_run(cls, out_dir, *, top: int = 5, num_candidates: int = 100, seed: int = 0) -> SearchResult:
        """The result of the search in the run folder ``out_dir`` (read only: nothing in it changes).

        For the rule ``"derive"`` (ENAS, random_ws) the strategy and the supernet are rebuilt
        from ``config.json`` and ``checkpoint.pt`` and the architecture derived as
        :func:`~nasrl_nb.enas.strategy.derive` does after a search (``num_candidates``
        candidates drawn with ``seed``).
        """
        from ..run.folder import RunFolder

        summary, path = _read_summary(out_dir), Path(out_dir) / "summary.json"
        folder = RunFolder(out_dir)
        history = folder.read_history() if folder.file("history.jsonl").is_file() else []
        rule = result_entry(summary)["rule"]
        derived = _derive(_rebuilt_search(out_dir, summary.get("method")), num_candidates, seed) if rule == "derive" else None
        try:
            return cls.from_summary(summary, history=history, top=top, derived=derived, run_dir=out_dir)
        except ValueError as err:
            raise run_folder_error(path, str(err), advice=_SUMMARY_ADVICE) from None

    # --- reading it -------------------------------------------------------------------------------------------
    @property
    def architecture(self):
        """``arch`` as an :class:`~nasrl_nb.spaces.search_space.Architecture` of its space (None if no result)."""
        from ..spaces.registry import space_from_spec

        return None if self.arch is None else space_from_spec(self.space).parse(self.arch)

    def metadata(self) -> dict:
        """Plain JSON saying which result this is: ``method``, ``rule``, ``description`` and ``record``."""
        return {"method": self.method, "rule": self.rule, "description": self.description, **self.record}

    def describe(self) -> str:
        """One line saying which result this is (the CLI prints it)."""
        evaluation = self.record.get("evaluation")
        where = f", evaluation {evaluation + 1}" if isinstance(evaluation, int) else ""
        extra = ""
        if self.rule == "derive" and self.arch is not None:
            extra = (f" (best of {self.record['candidates']} candidates, shared-weight validation accuracy "
                     f"{self.record['shared_accuracy']:.3f})")
        return f"the {self.method} search's result: {self.description}{where}{extra}"

    # --- writing it -------------------------------------------------------------------------------------------
    def to_pytorch(self, path=None, *, class_name: str = "ExportedNet", force: bool = False) -> str:
        """The standalone PyTorch source of the result's network; with ``path`` also written there.

        The file needs only ``torch``; its ``SEARCH_RESULT`` is :meth:`metadata`. ``path``: a
        file that does not exist or that an earlier export wrote (``force=True`` replaces any
        file); it is checked before anything is generated.
        """
        check_class_name(class_name)
        if path is not None:
            check_export_path(path, force=force)
        if self.method == "zero":
            raise ValueError("method: the zero search's result is a program (AutoML-Zero), not a network; allowed "
                             "values: a NAS method's result (write this one as Python with result.to_python())")
        try:
            source = standalone_source(self._architecture(), class_name=class_name, result=self.metadata(),
                                       **self.network())
        except ValueError as err:
            if self.run_dir is None or str(err).startswith("class_name"):
                raise
            raise run_folder_error(Path(self.run_dir) / "summary.json", str(err), advice=_SUMMARY_ADVICE) from None
        if path is not None:
            write_export(path, source, force=force)
        return source

    def to_python(self) -> str:
        """An AutoML-Zero result's program as Python source (Setup, Predict and Learn functions)."""
        if self.method != "zero" or self.arch is None:
            raise ValueError(f"method: {self.method!r} results are networks (write them with to_pytorch); allowed "
                             "values: 'zero' (AutoML-Zero) with a successful program")
        from ..zero.program import Program

        return Program.parse(self.arch).to_python()

    def _architecture(self):
        # :attr:`architecture`, or a ValueError saying why there is none to export
        if self.rule == "derive" and not self.arch:
            raise ValueError(f"summary: the result of the {self.method} search is {self.description}; it needs the "
                             "trained shared weights: build the result from the run folder (nb.result(DIR)) or the "
                             "live search (nb.result(search))")
        if not self.arch:
            raise ValueError("summary: the search has no successful architecture yet; nothing to export")
        try:
            return self.architecture
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"summary: not a search summary of the expected shape ({type(err).__name__}: {err})") from None

    def network(self) -> dict:
        """The child network's settings the search recorded: ``input_shape``, ``num_classes``, ``channels``, ``cells_per_stage``."""
        evaluator = self.summary.get("evaluator") or {}
        child_kwargs = evaluator.get("child_kwargs") or {} if isinstance(evaluator, Mapping) else None
        if not isinstance(evaluator, Mapping) or not isinstance(child_kwargs, Mapping):
            raise ValueError("summary: 'evaluator' and its 'child_kwargs' must be objects")
        if "input_shape" not in evaluator or "num_classes" not in evaluator:
            raise ValueError("summary: the search did not record its child network's input shape (evaluator config)")
        try:
            return {
                "input_shape": tuple(_whole("input_shape", v) for v in evaluator["input_shape"]),
                "num_classes": _whole("num_classes", evaluator["num_classes"]),
                "channels": _whole("channels", child_kwargs.get("channels", 16)),
                "cells_per_stage": _whole("cells_per_stage", child_kwargs.get("cells_per_stage", 1)),
            }
        except (TypeError, ValueError) as err:
            raise ValueError(f"summary: not a search summary of the expected shape ({type(err).__name__}: {err})") from None


def result(source, *, top: int = 5, num_candidates: int = 100, seed: int = 0) -> SearchResult:
    """The :class:`SearchResult` of ``source``: a live search, a run folder (a path) or a summary dict.

    ``top``: how many candidates ``result.top`` keeps; ``num_candidates`` and ``seed``: ENAS's
    derivation (see :meth:`SearchResult.from_run`).
    """
    if isinstance(source, (str, os.PathLike)):
        return SearchResult.from_run(source, top=top, num_candidates=num_candidates, seed=seed)
    if isinstance(source, Mapping):
        return SearchResult.from_summary(source, top=top)
    if callable(getattr(source, "summary", None)) and hasattr(source, "strategy"):
        return SearchResult.from_search(source, top=top, num_candidates=num_candidates, seed=seed)
    raise ValueError(f"source: {type(source).__name__} is not allowed; allowed values: a Search, a run folder "
                     "(a path), or a summary dict")


def _top_by_reward(history, top: int) -> tuple[dict, ...]:
    """The ``top`` successful records by reward (ties: validation accuracy, then the earlier), best first."""
    ok = [r for r in history if r.get("status") == "ok" and isinstance(r.get("reward"), (int, float))]
    ok.sort(key=lambda r: (-r["reward"], -(r.get("val_accuracy") or 0.0)))  # stable: ties keep their order
    return tuple({k: r.get(k) for k in ("arch", *RECORD_KEYS)} for r in ok[:top])


def _derive(search, num_candidates: int, seed: int) -> list[dict]:
    from ..enas.strategy import derive

    ranked = derive(search, num_candidates=num_candidates, seed=seed)
    ranked[0] = {**ranked[0], "derive_seed": seed}
    return ranked


def _rebuilt_search(out_dir, method):
    """The ENAS (or random_ws) search of ``out_dir`` rebuilt from its config and checkpoint, to derive from."""
    from ..run.folder import RunFolder
    from ..run.loop import Search
    from ..spaces.registry import space_from_spec
    from .config import SearchConfig
    from .factory import build_evaluator, build_reward, build_strategy

    folder = RunFolder(out_dir)
    saved = folder.read_config()
    if saved is None:
        raise ValueError(f"out_dir: no config.json in {str(out_dir)!r}; the {method} result is derived from "
                         "the run's configuration and checkpoint")
    config = SearchConfig.from_dict(saved)
    if config.evaluator != "SharedWeightEvaluator" or config.data.dataset is None:
        raise ValueError(f"out_dir: the {method} search in {str(out_dir)!r} used a {config.evaluator} on "
                         f"{'custom data' if config.data.dataset is None else config.data.dataset}; build its result in "
                         "Python from the live search: nb.result(search)")
    state = folder.read_checkpoint()
    space = space_from_spec(config.space)
    strategy, evaluator = build_strategy(config, space), build_evaluator(config)
    strategy.load_state_dict(state["strategy"])
    evaluator.load_state_dict(state["evaluator"])
    return Search(space, strategy, evaluator, build_reward(config), budget=1, progress=False, seed=config.seed)


def _read_summary(out_dir) -> dict:
    path = Path(out_dir) / "summary.json"
    if not path.is_file():
        raise ValueError(f"out_dir: no summary.json in {str(out_dir)!r}; run a search with --out there first")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise run_folder_error(path, f"not valid JSON ({type(err).__name__})", advice=_SUMMARY_ADVICE) from None
    if not isinstance(summary, Mapping):
        raise run_folder_error(path, f"expected a JSON object, got a {type(summary).__name__}", advice=_SUMMARY_ADVICE)
    return summary


def _whole(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    return value


# --- writing a file safely ---------------------------------------------------------------------------------------
def check_export_path(path, *, force: bool = False) -> Path:
    """``path`` as a Path if :func:`write_export` may write there; else a ValueError naming ``out``.

    Refused: an empty name, a folder, a missing or unwritable folder, and an existing
    file that export did not write (unless ``force``).
    """
    if not isinstance(path, (str, Path)) or not str(path).strip():
        raise ValueError(f"out: {path!r} is not allowed; allowed values: a file name such as net.py")
    path = Path(path)
    parent = path.parent
    if path.is_dir():
        raise ValueError(f"out: {str(path)!r} is a folder; allowed values: a file path such as {str(path / 'net.py')!r}")
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise ValueError(f"out: the folder {str(parent)!r} {what}; allowed values: a file in an existing folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"out: the folder {str(parent)!r} is not writable; allowed values: a file in a writable folder")
    if path.exists() and not force and not _written_by_export(path):
        raise ValueError(
            f"out: {str(path)!r} exists and was not written by nasrl_nb export; pass --force (force=True) "
            "to replace it, or choose another name"
        )
    return path


def _written_by_export(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as file:
            return EXPORT_MARKER in file.readline()
    except (OSError, UnicodeDecodeError):
        return False


def write_export(path, source: str, *, force: bool = False) -> Path:
    """Write exported ``source`` to ``path`` (atomically), refusing to replace a file export did not write."""
    path = check_export_path(path, force=force)
    try:
        return write_text_atomic(path, source)
    except OSError as err:
        raise ValueError(f"out: cannot write {str(path)!r} ({err.strerror or err})") from None

