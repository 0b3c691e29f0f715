"""Rebuild a run's ``checkpoint.pt`` from its history, without training anything.

The checkpoint holds what a search continues from: the strategy's state (a controller's
weights, its optimizer, its baseline and random generator; a population), the evaluator's
(its cache of records), the search's private RNG states and the counters. All of it follows
from ``config.json`` and the records: the same configuration proposes the same first batch;
answered with the same records, the strategy makes the same update and proposes the same
second batch; and so on. :func:`rebuild_checkpoint` replays the run that way -- a
:class:`HistoryReplay` evaluator answers each proposed architecture with its recorded record,
and the hyper-parameters a dashboard changed are set again from ``steps.jsonl`` -- then
writes the checkpoint the run wrote after its last committed step. Resuming continues
exactly as if the checkpoint had never been lost.

Refused, with the reason: a history that does not follow from the configuration (the
replay proposes another architecture than the one recorded, or computes another reward: the
message names the file and line); an asynchronous run (its updates depend on the order in
which children finished); an evaluator whose state is not in the records (a supernet's
trained weights, a tabular benchmark's random draws).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..checkpoint import CHECKPOINT_NAME, json_safe, read_search_checkpoint
from ..evaluators.base import Evaluator, SerialEvaluator
from ..run.folder import HISTORY_NAME, STEPS_NAME, RunFolder
from ..run.loop import Search
from ..spaces.registry import space_from_spec
from ..validation import RunFolderError, run_folder_error
from .config import SearchConfig
from .factory import build_reward, build_strategy

WEIGHT_SHARING = ("enas", "random_ws", "darts")  # methods whose state holds trained weights: refused
ROW_FIELDS = ("step", "evaluation", "arch", "space", "reward", "constraint_violated")  # the history's, not the evaluator's


class HistoryReplay(Evaluator):
    """Answer each proposed architecture with the record ``history.jsonl`` holds for it.

    Args:
        rows: the history records, in order.
        path: the history file (named in errors).
        cache: rebuild a :class:`~nasrl_nb.evaluators.base.SerialEvaluator`'s cache (True),
            one without a cache (False), or keep no state (None: a stateless evaluator).

    A proposed architecture that differs from the recorded one is a RunFolderError naming
    the line. :meth:`state_dict` is the state the original evaluator had after the same records.
    """

    def __init__(self, rows: Sequence[Mapping], path, *, cache: bool | None):
        self.rows, self.path, self.position = list(rows), path, 0
        self.kind = cache
        self.cache: dict[str, dict] = {}
        self.mismatch: Exception | None = None  # the error of a proposal that differs from the record

    def evaluate(self, architectures):
        records = []
        for arch in architectures:
            line = self.position + 1
            if self.position >= len(self.rows):
                raise run_folder_error(self.path, "the replay asks for more records than the history holds", line=line)
            row = self.rows[self.position]
            if str(arch) != row["arch"]:
                self.mismatch = run_folder_error(
                    self.path,
                    f"the replay of config.json proposes {str(arch)!r} but the history records {row['arch']!r}",
                    line=line,
                    advice=NOT_FROM_CONFIG,
                )
                raise self.mismatch
            record = {k: v for k, v in row.items() if k not in ROW_FIELDS}
            self.cache.setdefault(row["arch"], {k: v for k, v in record.items() if k != "cached"})
            records.append(record)
            self.position += 1
        return records

    def state_dict(self) -> dict:
        if self.kind is None:
            return {}
        return {"cache": json_safe(self.cache) if self.kind else None}

    def config(self) -> dict:
        return {"kind": type(self).__name__}


NOT_FROM_CONFIG = (
    "the history does not follow from config.json (was it edited, or copied from another run?), so no "
    "checkpoint can be rebuilt from it; start the search again in another folder"
)


def rebuild_checkpoint(out_dir, *, evaluator: Evaluator | None = None, reward_fn=None, force: bool = False) -> dict:
    """Rebuild ``out_dir/checkpoint.pt`` by replaying ``history.jsonl`` (see the module docstring).

    Args:
        out_dir: the run folder.
        evaluator: for a run made with an evaluator passed in code (a ``FunctionEvaluator``),
            the evaluator it resumes with: its kind tells what state to rebuild. Nothing is
            evaluated with it.
        reward_fn: for a run made with a custom reward, that reward.
        force: replace a checkpoint that is readable (by default only a missing or damaged
            one is replaced).

    Returns ``{"checkpoint", "steps", "evaluations"}``. The other files are not changed;
    resuming then cuts the lines of a step that was never committed, as after a kill.
    """
    folder = RunFolder(out_dir)
    saved = folder.read_config()
    if saved is None:
        raise ValueError(f"out_dir: no search in {str(folder.path)!r} (no config.json); nothing to rebuild")
    if saved.get("method") == "zero":
        raise ValueError(f"out_dir: {str(folder.path)!r} holds an AutoML-Zero run, whose functional-equivalence cache "
                         "history.jsonl does not hold, so its checkpoint cannot be rebuilt exactly; start it again "
                         "with `python -m nasrl_nb zero --out` in another folder")
    config = SearchConfig.from_dict(saved)
    _check_replayable(folder, config, evaluator, force)
    if reward_fn is None and config.reward.custom is not None:
        raise ValueError(f"reward_fn: this run used a {config.reward.custom.get('kind')}; pass reward_fn=... to rebuild it")
    steps, rows = _committed(folder, config.batch_size)

    # replay; a step that diverges where a dashboard changed lr / entropy_weight / temperature is
    # replayed again (from the start) with the values its steps.jsonl line records
    changes: dict[int, dict] = {}
    while True:
        try:
            search = _replay(folder, config, steps, rows, changes, evaluator=evaluator, reward_fn=reward_fn)
            break
        except _Diverged as diverged:
            wanted = {key: value for key, value in diverged.recorded.items() if diverged.used.get(key) != value}
            if diverged.step in changes or not wanted:
                raise diverged.error from None
            changes[diverged.step] = wanted

    # the counters the run had: its wall time from summary.json if it counts the same steps
    search.seconds = _recorded_seconds(folder, rows, len(steps))
    search.budget = max(config.budget, search.evaluations)
    folder.save_checkpoint(search.checkpoint_state())
    return {"checkpoint": str(folder.file(CHECKPOINT_NAME)), "steps": search.num_steps, "evaluations": search.evaluations}


class _Diverged(Exception):
    """Step ``step`` of the replay proposed or updated otherwise than recorded (``error`` says how)."""

    def __init__(self, step: int, error: Exception, used: dict, recorded: dict):
        super().__init__(str(error))
        self.step, self.error, self.used, self.recorded = step, error, used, recorded


def _replay(folder, config, steps, rows, changes, *, evaluator, reward_fn) -> Search:
    """The search as ``make_search`` builds it, answered from the history, with ``changes[step]`` set before each step."""
    space = space_from_spec(config.space)
    replay = HistoryReplay(rows, folder.file(HISTORY_NAME), cache=_cache_kind(config, evaluator))
    search = Search(
        space, build_strategy(config, space), replay, reward_fn or build_reward(config),
        budget=max(1, len(rows)), batch_size=config.batch_size, seed=config.seed, progress=False,
        policy_snapshots=config.policy_snapshots, config=config,
    )
    for index, line in enumerate(steps):
        if index in changes:
            search.set_hyperparameters(**changes[index])
        used = search.hyperparameters()  # the settings this step samples and updates with
        stats = line.get("stats") if isinstance(line.get("stats"), Mapping) else {}
        recorded = {key: stats[key] for key in used if isinstance(stats.get(key), (int, float))}
        search.budget = search.evaluations + len(line["rewards"])  # this step's batch, as recorded
        try:
            step = search.step()
        except RunFolderError as err:
            if replay.mismatch is err:  # another architecture proposed: another temperature?
                raise _Diverged(index, err, used, recorded) from None
            raise
        replayed = {key: step.stats.get(key) for key in recorded}
        if replayed != recorded:
            error = run_folder_error(folder.file(STEPS_NAME), f"the replay updates with {replayed} where the line "
                                     f"records {recorded}", line=index + 1, advice=NOT_FROM_CONFIG)
            raise _Diverged(index, error, used, recorded)
        for row in step.results:
            _check_row(row, rows[row["evaluation"]], folder.file(HISTORY_NAME))
        if json_safe(step.rewards) != line.get("rewards"):
            raise run_folder_error(folder.file(STEPS_NAME), f"the replay computes rewards {json_safe(step.rewards)} but "
                                   f"the line records {line.get('rewards')}", line=index + 1, advice=NOT_FROM_CONFIG)
    return search


def _check_row(replayed: Mapping, recorded: Mapping, path) -> None:
    """The replayed history line must be the recorded one (the reward is recomputed: same settings?)."""
    differ = [key for key in dict.fromkeys([*recorded, *replayed]) if replayed.get(key) != recorded.get(key)]
    if differ:
        key = differ[0]
        raise run_folder_error(path, f"the replay gives {key}={replayed.get(key)!r} where the history records "
                               f"{recorded.get(key)!r}", line=replayed["evaluation"] + 1, advice=NOT_FROM_CONFIG)


def _check_replayable(folder: RunFolder, config: SearchConfig, evaluator, force: bool) -> None:
    """Refuse what cannot be rebuilt exactly, and a readable checkpoint without ``force``."""
    parallel = getattr(config, "parallel", None)
    if getattr(parallel, "asynchronous", False):
        raise ValueError(
            f"out_dir: the search in {str(folder.path)!r} was asynchronous: its updates depended on the order in "
            "which children finished, which the history does not fix, so its checkpoint cannot be rebuilt exactly; "
            "start the search again in another folder"
        )
    if config.method in WEIGHT_SHARING or config.evaluator == "SharedWeightEvaluator":
        raise ValueError(
            f"out_dir: the {config.method} search in {str(folder.path)!r} trains shared weights (a supernet) that "
            "history.jsonl does not hold, so its checkpoint cannot be rebuilt without training; start the "
            "search again in another folder"
        )
    if evaluator is None and config.evaluator != "ChildEvaluator":
        raise ValueError(f"evaluator: this run used a {config.evaluator}; pass evaluator=... (the one you resume "
                         "with; nothing is evaluated with it) to rebuild its checkpoint")
    path = folder.file(CHECKPOINT_NAME)
    if path.exists() and not force:
        try:
            read_search_checkpoint(path)
        except ValueError:
            return  # damaged: replace it
        raise ValueError(f"out_dir: {str(path)!r} is a readable checkpoint; resume from it, or pass --force "
                         "(force=True) to rebuild it anyway")


def _cache_kind(config: SearchConfig, evaluator) -> bool | None:
    """How the run's evaluator keeps state: a SerialEvaluator's cache (on or off), or none."""
    if evaluator is None:
        return True  # a ChildEvaluator built from the configuration caches
    base = getattr(evaluator, "base", evaluator)  # a parallel evaluator keeps its base evaluator's state
    kind = type(base)
    if kind.state_dict is Evaluator.state_dict and kind.load_state_dict is Evaluator.load_state_dict:
        return None
    if isinstance(base, SerialEvaluator) and kind.state_dict is SerialEvaluator.state_dict:
        return base.cache is not None
    raise ValueError(
        f"evaluator: a {kind.__name__} keeps state that history.jsonl does not hold (trained weights, random "
        "draws), so its checkpoint cannot be rebuilt exactly; start the search again in another folder"
    )


def _committed(folder: RunFolder, batch_size: int) -> tuple[list[dict], list[dict]]:
    """The committed steps' lines and their history records (a step without its steps line is left out)."""
    history, steps_path = folder.file(HISTORY_NAME), folder.file(STEPS_NAME)
    if not steps_path.exists():
        raise run_folder_error(steps_path, "missing; the rebuild needs it to know which steps were committed")
    complete = steps_path.read_bytes().count(b"\n")  # a half-written last line (a kill) was never committed
    steps = folder.read_steps(limit=complete)
    for number, line in enumerate(steps, start=1):
        if line.get("step") != number - 1 or not isinstance(line.get("rewards"), list):
            raise run_folder_error(steps_path, f"expected the line of step {number - 1} with its rewards", line=number)
    count = sum(len(line["rewards"]) for line in steps)
    rows = folder.read_history(limit=count)  # records beyond (a step without its steps line) are not read
    if len(rows) < count:
        raise run_folder_error(history, f"has {len(rows)} records but steps.jsonl counts {count}; the records of the "
                               "last steps are lost, so no checkpoint can be rebuilt; start the search again in another folder")
    expected = [step for step, line in enumerate(steps) for _ in line["rewards"]]
    for number, (row, step) in enumerate(zip(rows, expected), start=1):
        if row.get("step") != step or row.get("evaluation") != number - 1:
            raise run_folder_error(history, f"expected evaluation {number - 1} of step {step}, got step "
                                   f"{row.get('step')!r} evaluation {row.get('evaluation')!r}", line=number)
    for number, line in enumerate(steps, start=1):
        if not 1 <= len(line["rewards"]) <= batch_size:
            raise run_folder_error(steps_path, f"{len(line['rewards'])} rewards, but config.json's batch_size is "
                                   f"{batch_size}", line=number, advice=NOT_FROM_CONFIG)
    return steps, rows


def _recorded_seconds(folder: RunFolder, rows: Sequence[Mapping], steps: int) -> float:
    """The run's wall time: summary.json's when it counts these steps, else the children's seconds summed."""
    try:
        summary = folder.read_summary()
        if summary.get("steps") == steps and isinstance(summary.get("seconds"), (int, float)):
            return float(summary["seconds"])
    except ValueError:
        pass
    return float(sum(row["seconds"] for row in rows if isinstance(row.get("seconds"), (int, float))))
