"""Build a tabular benchmark: train every unique cell of the NAS-Bench-201 space, for real.

NAS-Bench-201 (Dong & Yang 2020, Sec. 2) trains each of the 15,625 cells of its space and
publishes the results as a table. This module does the same on offline data (digits-cell on
scikit-learn's 8x8 digits, mnist1d-cell on MNIST-1D's 1 x 40 signals, Greydanus 2020):
the 6,466 cells that are unique up to isomorphism (``CellSpace.canonical``) are each trained
``len(seeds)`` times; the other 9,159 cells are answered through their canonical form.

The build is resumable and parallel:

1. the unique cells are listed in a fixed order and cut into shards of ``shard_size`` cells;
2. worker processes (one torch thread each; the search's
   :class:`~nasrl_nb.evaluators.process.ProcessEvaluator`, so a killed worker's cell is retried)
   train the cells; the parent writes each shard, once all its cells are back, atomically as
   ``shard_NNNN.csv`` in the build folder;
3. a killed build, started again with the same settings, skips the shards already on disk;
4. when every shard is there, they are merged into one gzipped CSV with a JSON sidecar
   holding the settings, the library versions and the build's wall time.

Nothing is extrapolated: every row of the table is one real training run.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import platform
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..evaluators.base import SerialEvaluator, make_record

COLUMNS: tuple[str, ...] = (
    "arch",
    "seed",
    "val_accuracy",
    "test_accuracy",
    "params",
    "flops",
    "train_seconds",
    "val_accuracy_per_epoch",
)


@dataclass(frozen=True)
class BuildSettings:
    """How each child of the table is built and trained (defaults: the shipped digits-cell).

    :meth:`for_dataset` gives a dataset's documented defaults (:data:`DATASET_DEFAULTS`).
    """

    dataset: str = "digits"
    data_seed: int = 0  # fixes the train/val/test split, the same one ``load_dataset`` gives
    channels: int = 16  # C of NAS-Bench-201's skeleton: stages of C, 2C, 4C
    cells_per_stage: int = 1  # NAS-Bench-201 uses 5 on 32x32 images; 1 suits 8x8 digits
    epochs: int = 2  # short, so that architectures differ by how fast they learn
    batch_size: int = 128
    lr: float = 0.003
    optimizer: str = "adam"
    lr_schedule: str = "cosine"  # annealed to 0: the last epoch's accuracy is stable
    seeds: tuple[int, ...] = (0, 1)
    shard_size: int = 50

    def to_json(self) -> dict:
        return {**asdict(self), "seeds": list(self.seeds)}

    @classmethod
    def for_dataset(cls, dataset: str = "digits", **overrides) -> BuildSettings:
        """``dataset``'s defaults from :data:`DATASET_DEFAULTS`, then ``overrides`` (fields of this class)."""
        from ..nn.data import DATASETS
        from ..validation import require_choice

        require_choice("dataset", dataset, DATASETS)
        unknown = sorted(set(overrides) - set(cls.__dataclass_fields__) | ({"dataset"} & set(overrides)))
        if unknown:
            allowed = ", ".join(f for f in cls.__dataclass_fields__ if f != "dataset")
            raise ValueError(f"{unknown[0]}: not a build setting to override; allowed values: {allowed}")
        return cls(dataset=dataset, **{**DATASET_DEFAULTS.get(dataset, {}), **overrides})

    @property
    def table_name(self) -> str:
        """The table this build makes: ``"<dataset>-cell"`` (digits-cell, mnist1d-cell)."""
        return f"{self.dataset}-cell"


# dataset -> the settings its shipped table is built with (overrides of BuildSettings' fields);
# each chosen by benchmarks/bench_settings_pilot.py (BENCHMARKS.md, "Build settings pilot")
DATASET_DEFAULTS: dict[str, dict] = {
    "digits": {},
    # C = 8: half the cost of C = 16 on MNIST-1D (about 1.1x digits-cell's build, so about 2 h on 2 cores, against
    # 2.3x for C = 16) and less seed-to-seed noise (mean |val(seed 0) - val(seed 1)| 0.033 against 0.059);
    # pilot of 19 cells: Spearman 0.68 (90% CI 0.38-0.86) against 0.24 for C = 16 on the same cells
    "mnist1d": {"channels": 8, "epochs": 2, "batch_size": 128, "lr": 0.003},
}

DESCRIPTIONS = {
    "digits": "Every unique NAS-Bench-201 cell trained on scikit-learn's digits (8x8) by nasrl_nb's builder",
    "mnist1d": "Every unique NAS-Bench-201 cell trained on MNIST-1D (1 x 40 signals, Greydanus 2020) by nasrl_nb's builder",
}


def unique_cells(space=None) -> list:
    """One representative per isomorphism class, in the space's enumeration order.

    The representative is the first cell of its class in ``space.enumerate()``, so the list
    is the same on every machine.
    """
    from ..spaces.registry import get_space

    space = space or get_space("cell")
    seen: dict[str, object] = {}
    for arch in space.enumerate():
        seen.setdefault(space.canonical(arch), arch)
    return list(seen.values())


def shards(cells: Sequence, shard_size: int) -> list[tuple[int, list[str]]]:
    """``[(shard_index, [arch strings])]`` covering ``cells`` in order."""
    return [(k, [str(a) for a in cells[i : i + shard_size]]) for k, i in enumerate(range(0, len(cells), shard_size))]


class CellTrainer(SerialEvaluator):
    """The evaluator the build runs on worker processes: one record (its table ``rows``) per cell.

    A :class:`~nasrl_nb.evaluators.base.SerialEvaluator` like a search's children, so the
    builder runs on the same parallel evaluators (the data sent to each worker once, a dead
    worker's cell retried once, then its rows recorded without accuracies).
    """

    def __init__(self, settings: BuildSettings, data):
        super().__init__(cache=False)
        self.settings, self.data = settings, data

    def evaluate_one(self, arch) -> dict:
        return make_record(rows=train_cell(str(arch), self.settings, self.data))


def train_cell(arch_text: str, settings: BuildSettings, data) -> list[dict]:
    """Train one cell once per seed; one table row per seed (a failed run keeps NaNs)."""
    from ..checkpoint import preserved_rng
    from ..evaluators.base import architecture_seed
    from ..nn.child_network import ChildNetwork
    from ..nn.complexity import count_flops, count_parameters
    from ..nn.training import train_and_evaluate
    from ..runtime import seed_everything
    from ..spaces.registry import get_space

    arch = get_space("cell").parse(arch_text)
    rows = []
    with preserved_rng():
        for seed in settings.seeds:
            child_seed = architecture_seed(seed, arch)
            seed_everything(child_seed)
            net = ChildNetwork(
                arch, data.input_shape, data.num_classes, channels=settings.channels, cells_per_stage=settings.cells_per_stage
            )
            if not rows:
                params, flops = count_parameters(net), count_flops(net, net.input_shape)
            result = train_and_evaluate(
                net, data, epochs=settings.epochs, lr=settings.lr, batch_size=settings.batch_size, seed=child_seed,
                device="cpu", optimizer=settings.optimizer, lr_schedule=settings.lr_schedule,
            )
            rows.append({
                "arch": arch_text,
                "seed": seed,
                "val_accuracy": result.val_accuracy,
                "test_accuracy": result.test_accuracy,
                "params": params,
                "flops": flops,
                "train_seconds": round(result.seconds, 4),
                "val_accuracy_per_epoch": ";".join(f"{a:.6g}" for a in result.val_accuracies),
            })
    return rows


def _shard_path(folder: Path, index: int) -> Path:
    return folder / f"shard_{index:04d}.csv"


def _write_csv(path: Path, rows: Sequence[dict]) -> None:
    """Write ``rows`` atomically: a kill leaves either the old file or the whole new one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _check_settings(folder: Path, settings: BuildSettings) -> None:
    """A build folder belongs to one set of settings; resuming with others is an error."""
    path = folder / "settings.json"
    if path.exists():
        saved = json.loads(path.read_text())
        if saved != settings.to_json():
            diff = sorted(k for k in set(saved) | set(settings.to_json()) if saved.get(k) != settings.to_json().get(k))
            raise ValueError(f"build folder {folder}: built with other settings ({', '.join(diff)} differ); use a new folder")
    else:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings.to_json(), indent=2) + "\n")


def build(
    folder,
    *,
    settings: BuildSettings = BuildSettings(),
    workers: int = 2,
    limit: int | None = None,
    progress: bool = True,
) -> Iterator[int]:
    """Train the shards of ``folder`` that are missing; yields each shard index as it lands.

    ``limit`` keeps only the first ``limit`` unique cells (for tests and trial builds).
    """
    folder = Path(folder)
    _check_settings(folder, settings)
    cells = unique_cells()
    if limit is not None:
        cells = cells[:limit]
    started = folder / "started.json"
    if not started.exists():
        started.write_text(json.dumps({"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "workers": workers}) + "\n")
    todo = [job for job in shards(cells, settings.shard_size) if not _shard_path(folder, job[0]).exists()]
    if not todo:
        return
    from ..evaluators.process import ProcessEvaluator
    from ..nn.data import load_dataset
    from ..spaces.registry import get_space

    space = get_space("cell")
    trainer = CellTrainer(settings, load_dataset(settings.dataset, seed=settings.data_seed, device="cpu"))
    with ProcessEvaluator(trainer, workers=workers) as evaluator:
        owner = {}  # ticket -> (shard index, position in the shard)
        texts = dict(todo)
        rows: dict[int, list] = {index: [None] * len(archs) for index, archs in todo}
        for index, archs in todo:
            for position, text in enumerate(archs):
                owner[evaluator.submit(space.parse(text))] = (index, position)
        while evaluator.outstanding:
            for ticket, record in evaluator.next_results():
                index, position = owner.pop(ticket)
                rows[index][position] = record.get("rows") or _failed_rows(texts[index][position], settings)
                if all(cell is not None for cell in rows[index]):
                    _write_csv(_shard_path(folder, index), [row for cell in rows.pop(index) for row in cell])
                    yield index


def _failed_rows(arch_text: str, settings: BuildSettings) -> list[dict]:
    """Rows without accuracies for a cell whose worker died twice (a failed training keeps NaNs too)."""
    return [{"arch": arch_text, "seed": seed, "val_accuracy": math.nan, "test_accuracy": math.nan, "params": math.nan,
             "flops": math.nan, "train_seconds": 0.0, "val_accuracy_per_epoch": ""} for seed in settings.seeds]


def merge(folder, out, *, settings: BuildSettings = BuildSettings(), limit: int | None = None, name: str | None = None) -> dict:
    """Merge the shards of ``folder`` into ``out`` (a ``.csv.gz``) and its ``.json`` sidecar.

    ``name`` defaults to ``settings.table_name`` (``"digits-cell"``, ``"mnist1d-cell"``).
    """
    import torch

    folder, out = Path(folder), Path(out)
    cells = unique_cells()
    if limit is not None:
        cells = cells[:limit]
    jobs = shards(cells, settings.shard_size)
    missing = [k for k, _ in jobs if not _shard_path(folder, k).exists()]
    if missing:
        raise ValueError(f"build folder {folder}: {len(missing)} of {len(jobs)} shards missing (first: {missing[0]}); run the build again")
    rows = []
    for k, _ in jobs:
        with open(_shard_path(folder, k), newline="") as f:
            rows.extend(csv.DictReader(f))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(out, "wb", mtime=0) as f:  # mtime=0: the same rows give the same bytes
        f.write(text.getvalue().encode())
    seconds = sum(float(r["train_seconds"]) for r in rows)
    meta = {
        "name": name or settings.table_name,
        "description": DESCRIPTIONS.get(
            settings.dataset, f"Every unique NAS-Bench-201 cell trained on {settings.dataset} by nasrl_nb's builder"
        ),
        "rows": len(rows),
        "unique_architectures": len(cells),
        "settings": settings.to_json(),
        "metric_scale": "fraction",
        "total_train_seconds": round(seconds, 1),
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "nasrl_nb": _version()},
        "machine": {"processor": platform.machine(), "cpus": os.cpu_count()},
    }
    started = folder / "started.json"
    if started.exists():
        meta["build"] = {**json.loads(started.read_text()), "merged": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    sidecar = out.with_name(out.name.removesuffix(".csv.gz") + ".json")
    sidecar.write_text(json.dumps(meta, indent=2) + "\n")
    if len(settings.seeds) >= 2 and len(cells) >= 3:  # the table's signal, measured on the table as it loads
        from .analysis import seed_correlation
        from .tabular import TabularBenchmark

        rho = seed_correlation(TabularBenchmark.load(f"csv:{out}"), "val_accuracy")
        meta["seed_rank_correlation"] = {"spearman_val_accuracy": round(rho, 4)}
        sidecar.write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _version() -> str:
    from .. import __version__

    return __version__
