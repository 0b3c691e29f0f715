"""Export a search's result as a standalone PyTorch file: the search's deliverable.

DARTS (Liu et al. 2019) made the *genotype* the only contract between search and
evaluation; the last step of a search is to hand that genotype over as an ordinary
network. This module decides which architecture a run folder or a live search hands over
(its method's rule, :mod:`nasrl_nb.run.result`) and writes it safely;
:func:`~nasrl_nb.assembly.standalone.export_pytorch` turns it into source.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from ..checkpoint import write_text_atomic
from ..validation import run_folder_error
from .standalone import check_class_name, export_pytorch

EXPORT_MARKER = "(exported by nasrl_nb)"  # on the first line of every file export writes


def export_search(out_dir, *, class_name: str = "ExportedNet", out=None, force: bool = False) -> str:
    """The result of a finished (or running) search folder as standalone source.

    Reads ``out_dir/summary.json`` and exports the architecture its method hands over
    (:func:`run_result`): the best by reward, DARTS's last derived cell, or ENAS's derived
    architecture. With ``out`` the source is also written there by :func:`write_export`
    (``force`` as there).
    """
    return export_run(out_dir, class_name=class_name, out=out, force=force)[0]


def export_run(out_dir, *, class_name: str = "ExportedNet", out=None, force: bool = False) -> tuple[str, dict]:
    """:func:`export_search`, also returning the exported result (:func:`run_result`) to report it."""
    check_class_name(class_name)
    if out is not None:
        check_export_path(out, force=force)  # before any work: a bad --out changes nothing
    path = Path(out_dir) / "summary.json"
    summary = _read_summary(out_dir)
    try:
        result = run_result(out_dir, summary=summary)
        source = export_summary(summary, class_name=class_name, result=result)
    except ValueError as err:
        if str(err).startswith("class_name"):
            raise
        raise run_folder_error(path, str(err), advice=_SUMMARY_ADVICE) from None
    if out is not None:
        write_export(out, source, force=force)
    return source, result


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


def run_result(out_dir, *, summary: Mapping | None = None, num_candidates: int = 100, seed: int = 0) -> dict:
    """The result of the search in ``out_dir``: its summary's ``result`` entry, with ``method``.

    For the rule ``"derive"`` (ENAS, random_ws) the architecture is derived here, as
    :func:`~nasrl_nb.enas.strategy.derive` does after a search: the strategy and the supernet
    are rebuilt from ``config.json`` and ``checkpoint.pt`` (nothing in the folder changes),
    ``num_candidates`` candidates drawn with ``seed`` are ranked by shared-weight validation
    accuracy, and the best is the result (with its ``shared_accuracy``).
    """
    from ..run.result import result_entry

    summary = _read_summary(out_dir) if summary is None else summary
    entry = {"method": summary.get("method"), **result_entry(summary)}
    if entry["rule"] != "derive":
        return entry
    from ..enas.strategy import derive
    from ..run.folder import RunFolder
    from ..run.loop import Search
    from ..spaces.registry import space_from_spec
    from .config import SearchConfig
    from .factory import build_evaluator, build_reward, build_strategy

    folder = RunFolder(out_dir)
    saved = folder.read_config()
    if saved is None:
        raise ValueError(f"out_dir: no config.json in {str(out_dir)!r}; the {entry['method']} result is derived from "
                         "the run's configuration and checkpoint")
    config = SearchConfig.from_dict(saved)
    if config.evaluator != "SharedWeightEvaluator" or config.data.dataset is None:
        raise ValueError(f"out_dir: the {entry['method']} search in {str(out_dir)!r} used a {config.evaluator} on "
                         f"{'custom data' if config.data.dataset is None else config.data.dataset}; derive its result in "
                         "Python with nasrl_nb.enas.strategy.derive(search)")
    state = folder.read_checkpoint()
    space = space_from_spec(config.space)
    strategy, evaluator = build_strategy(config, space), build_evaluator(config)
    strategy.load_state_dict(state["strategy"])
    evaluator.load_state_dict(state["evaluator"])
    search = Search(space, strategy, evaluator, build_reward(config), budget=1, progress=False, seed=config.seed)
    return {**entry, **_derived(search, num_candidates=num_candidates, seed=seed, derive=derive)}


def search_result(search, *, num_candidates: int = 100, seed: int = 0) -> dict:
    """The result of a live :class:`~nasrl_nb.run.loop.Search` (as :func:`run_result` for a folder)."""
    from ..run.result import summary_result

    entry = {"method": search.method, **summary_result(search.strategy.result_rule, search.tally)}
    if entry["rule"] != "derive":
        return entry
    from ..enas.strategy import derive

    return {**entry, **_derived(search, num_candidates=num_candidates, seed=seed, derive=derive)}


def _derived(search, *, num_candidates: int, seed: int, derive) -> dict:
    ranked = derive(search, num_candidates=num_candidates, seed=seed)
    best = ranked[0]
    return {"arch": str(best["arch"]), "shared_accuracy": best["shared_accuracy"], "candidates": len(ranked),
            "derive_seed": seed}


def export_result(search, *, class_name: str = "ExportedNet") -> str:
    """Standalone source of a live search's result (:func:`search_result`): what a dashboard exports.

    Unless the result must be derived from the trained weights, this is exactly what
    ``nasrl-nb export`` writes from the run's summary.
    """
    result = search_result(search)
    return export_summary(search.summary(), class_name=class_name, result=result if result["rule"] == "derive" else None)


_SUMMARY_ADVICE = (
    "summary.json is rewritten after every step; resume the search (nasrl-nb search --out DIR --resume) "
    "to rebuild it from the checkpoint and history"
)


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
    """Write exported ``source`` to ``path`` (atomically), refusing to replace a file export did not write.

    ``force=True`` replaces any file. A file written by an earlier export is replaced.
    """
    path = check_export_path(path, force=force)
    try:
        return write_text_atomic(path, source)
    except OSError as err:
        raise ValueError(f"out: cannot write {str(path)!r} ({err.strerror or err})") from None


def export_summary(summary: Mapping, *, class_name: str = "ExportedNet", result: Mapping | None = None) -> str:
    """Standalone source of a search's result, from its summary (``Search.summary()``).

    The summary holds the result (``result``: the architecture the method hands over, by
    its strategy's ``result_rule``, :mod:`nasrl_nb.run.result`), its space and the child
    network's settings (input shape, classes, width) recorded by the evaluator. For most
    methods the result is ``best_arch``: the child with the highest *reward* (ties:
    validation accuracy), which under a budget or MnasNet's reward need not be the most
    accurate one (``most_accurate_arch``); for DARTS it is the cell derived from the final
    alphas. ENAS's result is derived from the trained supernet: pass it as ``result``
    (:func:`run_result`, :func:`search_result`) or export the run folder (:func:`export_search`).
    A result sampled in a smaller space than the search's (a curriculum's early stage) is
    read in that space (its ``space`` spec).
    """
    from ..run.result import result_entry
    from ..spaces.registry import space_from_spec

    if not isinstance(summary, Mapping):
        raise ValueError(f"summary: expected a search summary dict (Search.summary()), got {type(summary).__name__}")
    entry = {"method": summary.get("method"), **result_entry(summary)} if result is None else dict(result)
    if entry.get("rule") == "derive" and not entry.get("arch"):
        raise ValueError(f"summary: the result of the {entry.get('method')} search is {entry.get('description')}; it needs "
                         "the trained shared weights: export the run folder (nasrl-nb export DIR) or pass "
                         "result=search_result(search)")
    if not entry.get("arch"):
        raise ValueError("summary: the search has no successful architecture yet; nothing to export")
    check_class_name(class_name)
    evaluator = summary.get("evaluator") or {}
    child_kwargs = evaluator.get("child_kwargs") or {} if isinstance(evaluator, Mapping) else None
    if not isinstance(evaluator, Mapping) or not isinstance(child_kwargs, Mapping):
        raise ValueError("summary: 'evaluator' and its 'child_kwargs' must be objects")
    if "input_shape" not in evaluator or "num_classes" not in evaluator:
        raise ValueError("summary: the search did not record its child network's input shape (evaluator config)")
    try:
        space = space_from_spec(entry.get("space") or summary["space"])
        arch = space.parse(entry["arch"])
        input_shape = tuple(_whole("input_shape", v) for v in evaluator["input_shape"])
        options = {
            "num_classes": _whole("num_classes", evaluator["num_classes"]),
            "channels": _whole("channels", child_kwargs.get("channels", 16)),
            "cells_per_stage": _whole("cells_per_stage", child_kwargs.get("cells_per_stage", 1)),
        }
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"summary: not a search summary of the expected shape ({type(err).__name__}: {err})") from None
    metadata = {k: v for k, v in entry.items() if k not in ("arch", "space")}
    return export_pytorch(arch, input_shape=input_shape, class_name=class_name, result=metadata, **options)


def describe_result(result: Mapping) -> str:
    """One line saying which result was exported (the CLI prints it)."""
    where = f", evaluation {result['evaluation'] + 1}" if isinstance(result.get("evaluation"), int) else ""
    extra = ""
    if result.get("rule") == "derive":
        extra = (f" (best of {result.get('candidates')} candidates, shared-weight validation accuracy "
                 f"{result.get('shared_accuracy'):.3f})")
    return f"the {result.get('method')} search's result: {result.get('description')}{where}{extra}"


def _whole(field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field}: expected an integer, got {value!r}")
    return value
