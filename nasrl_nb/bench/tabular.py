"""A tabular NAS benchmark: "how good is this architecture?" answered from a table.

NAS-Bench-201 (Dong & Yang, ICLR 2020, Sec. 2-3) trained every cell of its space and
published the results, so that a search method can be judged in seconds against ground
truth instead of in GPU-days. :class:`TabularBenchmark` reads such a table and answers a
query for any cell of :class:`~nasrl_nb.spaces.cell_space.CellSpace`.

Table format (a CSV file, optionally gzipped; one row per training run)::

    arch,seed,val_accuracy,test_accuracy,params,flops,train_seconds,val_accuracy_per_epoch
    |nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|...|,0,0.951,0.948,73018,937216,1.9,0.90;0.951

* ``arch`` (required): a NAS-Bench-201 cell string (see ``CellSpace.parse``).
* ``val_accuracy``, ``test_accuracy`` (required): fractions in [0, 1] or percent in
  [0, 100]. The scale is detected -- percent when any accuracy exceeds 1 -- unless the
  sidecar JSON says ``"metric_scale"``; :attr:`TabularBenchmark.scale` states it, and every
  value the class returns is a fraction. An empty or ``nan`` accuracy is a failed run.
* ``seed`` (optional): the training seed; several rows per architecture, one per seed.
  Without the column each architecture has one row (seed 0).
* ``params``, ``flops`` (optional): the network's size, the same for every seed.
* ``train_seconds`` (optional): the training time of that run (a search's simulated cost).
* ``val_accuracy_per_epoch`` (optional): validation accuracy after each epoch, ``;``-separated,
  the same number of epochs in every row (multi-fidelity queries).
* Other columns are ignored. A sidecar ``NAME.json`` beside ``NAME.csv[.gz]`` is read as
  :attr:`TabularBenchmark.metadata` (the builder writes its settings and versions there).

Isomorphic cells. ``CellSpace.canonical`` maps cells that compute the same function to one
string (15,625 cells, 6,466 classes). A query for a cell that is in the table returns its
own rows; a cell that is not is answered by the first row block (in file order) of its
isomorphism class. So a table of the 6,466 representatives (digits-cell) answers all
15,625 cells, and the full official table (15,625 cells trained separately) keeps each
cell's own numbers.

What is an error (a ``ValueError`` naming the file, the line and the field):

* a malformed row: wrong number of fields, a bad cell string, a non-number, a negative or
  out-of-range accuracy, a per-epoch list of another length;
* an inconsistent duplicate: the same ``(arch, seed)`` twice, or rows of one ``arch`` that
  disagree on ``params`` or ``flops`` (they describe the network, not the run). Isomorphic
  cells written differently may differ -- in params, say, when a conv sits on a dead edge --
  and are not duplicates;
* a missing architecture: a query whose isomorphism class has no row.

Queries are dictionary look-ups: the first query of a cell computes its canonical string
and remembers which entry answers it; later look-ups (:meth:`TabularBenchmark.index`) cost
about a microsecond, a full :meth:`~TabularBenchmark.query` dict about fifteen.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import numpy as np

from ..spaces.cell_space import CellSpace
from ..spaces.search_space import Architecture
from .table_rows import PER_RUN_COLUMNS, TableRows, read_rows

REQUIRED_COLUMNS: tuple[str, ...] = ("arch", "val_accuracy", "test_accuracy")
OPTIONAL_COLUMNS: tuple[str, ...] = ("seed", "params", "flops", "train_seconds", "val_accuracy_per_epoch")
METRICS: tuple[str, ...] = ("val_accuracy", "test_accuracy")  # accuracies: scale-detected, returned as fractions
SCALES: tuple[str, ...] = ("fraction", "percent")


def data_folder():
    """The folder of the tables shipped inside the package (``nasrl_nb/bench/data``)."""
    return resources.files("nasrl_nb.bench").joinpath("data")


def shipped_benchmarks() -> list[str]:
    """Names of the shipped tables (``bench:NAME``): ``["digits-cell", "mnist1d-cell"]`` in this package."""
    folder = data_folder()
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(".csv.gz") for p in folder.iterdir() if p.name.endswith(".csv.gz"))


def resolve_table(source) -> Path:
    """The file behind ``bench:NAME``, ``csv:PATH`` or a plain path (errors list what is shipped)."""
    text = str(source)
    names = ", ".join(shipped_benchmarks()) or "none in this installation"
    if text.startswith("bench:"):
        name = text[len("bench:"):]
        path = Path(str(data_folder().joinpath(f"{name}.csv.gz")))
        if not path.exists():
            raise ValueError(f"table: no shipped benchmark {name!r}; allowed values: {names} (or csv:PATH for your own)")
        return path
    if text.startswith("csv:"):
        text = text[len("csv:"):]
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"table: file {text!r} does not exist (expected bench:NAME with NAME in: {names}; or csv:PATH)")
    return path


def _sidecar(path: Path) -> dict:
    name = path.name
    for suffix in (".csv.gz", ".csv", ".gz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    meta = path.with_name(name + ".json")
    if not meta.exists():
        return {}
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{meta}: not valid JSON ({err})") from None


class TabularBenchmark:
    """A table of trained cells, queried by architecture.

    Build one with :meth:`load` (``"bench:digits-cell"``, ``"csv:PATH"`` or a path) or
    :meth:`from_rows`. Attributes: ``name``, ``path``, ``scale`` (``"fraction"`` or
    ``"percent"``: how the file wrote accuracies), ``seeds`` (all seeds in the table),
    ``epochs`` (length of the per-epoch curves, None without them), ``metadata`` (the
    sidecar JSON), ``columns`` (the optional columns present), ``space`` (the cell space).

    The table is held as NumPy arrays over *entries* (distinct ``arch`` strings, file order)
    and seeds: ``val_accuracy``/``test_accuracy``/``train_seconds`` of shape (E, S) with NaN
    where an entry lacks a seed, ``params``/``flops`` of shape (E,), per-epoch curves (E, S, T).
    """

    def __init__(self, rows: Iterable[tuple[int, dict]], *, name: str = "table", path=None, metadata=None,
                 columns: Iterable[str] = (), space: CellSpace | None = None):
        self.space = space or CellSpace()
        self.name, self.path = name, None if path is None else Path(path)
        self.metadata = dict(metadata or {})
        columns = set(columns)
        self.columns = tuple(c for c in OPTIONAL_COLUMNS if c in columns)  # the optional columns present
        self._present = columns
        self._where = str(self.path or name)
        self._load(rows)
        self._memo: dict[Architecture, int] = {}

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def load(cls, source) -> TabularBenchmark:
        """Read ``bench:NAME`` (a shipped table), ``csv:PATH`` or a path to a ``.csv``/``.csv.gz``."""
        path = resolve_table(source)
        opener = gzip.open if path.name.endswith(".gz") else open
        try:
            with opener(path, "rt", encoding="utf-8", newline="") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError, EOFError) as err:
            raise ValueError(f"{path}: cannot read the table ({err})") from None
        name = path.name.removesuffix(".gz").removesuffix(".csv")
        return cls.from_csv_text(text, name=name, path=path, metadata=_sidecar(path))

    @classmethod
    def from_csv_text(cls, text: str, *, name: str = "table", path=None, metadata=None) -> TabularBenchmark:
        """Parse the CSV ``text`` (header + rows); errors name ``path`` (or ``name``) and the line."""
        where = str(path or name)
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header:
            raise ValueError(f"{where}: empty table; expected a header with columns {', '.join(REQUIRED_COLUMNS)}")
        header = [h.strip() for h in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"{where}, line 1: missing column(s) {', '.join(missing)}; required: {', '.join(REQUIRED_COLUMNS)}; "
                f"optional: {', '.join(OPTIONAL_COLUMNS)}"
            )
        if len(set(header)) != len(header):
            raise ValueError(f"{where}, line 1: duplicate column names in {header}")

        def rows():
            for values in reader:
                line = reader.line_num
                if not values or all(not v.strip() for v in values):
                    continue
                if len(values) != len(header):
                    raise ValueError(f"{where}, line {line}: {len(values)} fields, the header has {len(header)}")
                yield line, dict(zip(header, values))

        return cls(rows(), name=name, path=path, metadata=metadata, columns=header)

    @classmethod
    def from_rows(cls, rows: Iterable[dict], *, name: str = "table", metadata=None) -> TabularBenchmark:
        """A table from dicts with the CSV's keys (values as numbers or strings); row k is "line k+2"."""
        rows = [dict(r) for r in rows]
        columns = set().union(*(r.keys() for r in rows)) if rows else set()
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"{name}: missing column(s) {', '.join(missing)}; required: {', '.join(REQUIRED_COLUMNS)}")
        return cls(((k + 2, r) for k, r in enumerate(rows)), name=name, metadata=metadata, columns=columns)

    def _load(self, rows: Iterable[tuple[int, dict]]) -> None:
        """Read and check every row, then pack the table into arrays (see the class docstring)."""
        table = read_rows(rows, space=self.space, columns=self._present, where=self._where)
        line_of = self._pack(table)
        self._set_scale(line_of)
        self._means = {c: _mean(self._runs[c], axis=1) for c in PER_RUN_COLUMNS}  # a query without a seed
        self._curve_means = None if self._curves is None else _mean(self._curves, axis=1)
        self._index_classes(table)

    def _pack(self, table: TableRows) -> np.ndarray:
        """The runs as arrays over entries x seeds (x epochs); returns each run's line, for errors."""
        self.seeds = tuple(sorted({seed for _, seed, _ in table.runs}))
        column_of = {seed: k for k, seed in enumerate(self.seeds)}
        shape = (len(table.index), len(self.seeds))
        self.epochs = table.epochs
        self.archs: list[str] = list(table.index)
        self.architectures: list[Architecture] = table.architectures
        self._has = np.zeros(shape, dtype=bool)
        self._runs = {c: np.full(shape, np.nan) for c in PER_RUN_COLUMNS}
        self._curves = np.full((*shape, table.epochs), np.nan) if table.epochs else None
        line_of = np.zeros(shape, dtype=np.int64)
        for entry, seed, values in table.runs:
            s = column_of[seed]
            self._has[entry, s] = True
            line_of[entry, s] = table.lines[entry, seed]
            for c in PER_RUN_COLUMNS:
                if c in values:
                    self._runs[c][entry, s] = values[c]
            if self._curves is not None and values.get("curve"):
                self._curves[entry, s] = values["curve"]
        self.params = np.array([size[0] for size in table.sizes])
        self.flops = np.array([size[1] for size in table.sizes])
        return line_of

    def _set_scale(self, line_of: np.ndarray) -> None:
        """Accuracies as fractions: the scale is the sidecar's, else percent iff any accuracy exceeds 1."""
        accuracies = [self._runs[c] for c in METRICS] + ([self._curves] if self._curves is not None else [])
        largest = max(float(np.nanmax(a)) if np.isfinite(a).any() else 0.0 for a in accuracies)
        stated = self.metadata.get("metric_scale")
        if stated is not None and stated not in SCALES:
            raise ValueError(f"{self._where}: metadata metric_scale {stated!r} is not allowed; "
                             f"allowed values: {', '.join(SCALES)}")
        self.scale = stated or ("percent" if largest > 1.0 else "fraction")
        limit = 100.0 if self.scale == "percent" else 1.0
        for c in METRICS:
            bad = np.argwhere(self._runs[c] > limit)
            if len(bad):
                e, s = bad[0]
                raise ValueError(
                    f"{self._where}, line {line_of[e, s]}: {c} {self._runs[c][e, s]:g} exceeds {limit:g} "
                    f"(the table's accuracies are in {self.scale})"
                )
        if self.scale == "percent":
            for c in METRICS:
                self._runs[c] /= 100.0
            if self._curves is not None:
                self._curves /= 100.0

    def _index_classes(self, table: TableRows) -> None:
        """Isomorphism classes: canonical string -> the first entry of its class (file order)."""
        self.canonical: list[str] = [self.space.canonical(a) for a in self.architectures]
        self._entry_of_arch = table.index
        self._entry_of_class: dict[str, int] = {}
        for e, key in enumerate(self.canonical):
            self._entry_of_class.setdefault(key, e)

    # --- size -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        """Number of entries (distinct ``arch`` strings in the table)."""
        return len(self.archs)

    @property
    def rows(self) -> int:
        """Number of runs (rows of the CSV)."""
        return int(self._has.sum())

    @property
    def unique_architectures(self) -> int:
        """Number of isomorphism classes the table covers (6,466 for a complete table)."""
        return len(self._entry_of_class)

    def __repr__(self) -> str:
        return (
            f"TabularBenchmark({self.name!r}, rows={self.rows}, entries={len(self)}, unique={self.unique_architectures}, "
            f"seeds={self.seeds}, scale={self.scale!r}, epochs={self.epochs})"
        )

    # --- queries ----------------------------------------------------------------------------
    def index(self, arch) -> int:
        """The entry that answers ``arch`` (an Architecture or a cell string): its own, else its class's."""
        if not isinstance(arch, Architecture):
            arch = self.space.parse(arch)
        entry = self._memo.get(arch)
        if entry is None:
            if arch.space != self.space:
                raise ValueError(f"arch: {arch} is not a cell of {self.space!r}; this table holds NAS-Bench-201 cells")
            entry = self._entry_of_arch.get(str(arch))
            if entry is None:
                entry = self._entry_of_class.get(self.space.canonical(arch))
            if entry is None:
                raise ValueError(
                    f"arch: {arch} is not in {self._where} (no row for it or any isomorphic cell; the table covers "
                    f"{self.unique_architectures:,} of 6,466 unique cells)"
                )
            self._memo[arch] = entry
        return entry

    def __contains__(self, arch) -> bool:
        try:
            self.index(arch)
        except ValueError:
            return False
        return True

    def seeds_of(self, arch) -> tuple[int, ...]:
        """The seeds with a run of ``arch``'s entry."""
        row = self._has[self.index(arch)]
        return tuple(s for s, ok in zip(self.seeds, row) if ok)

    def run_mask(self) -> np.ndarray:
        """(E, S) booleans: which entry has a run of which seed."""
        return self._has.copy()

    def run_columns(self, arch) -> np.ndarray:
        """Positions (into :attr:`seeds`) of the runs of ``arch``'s entry."""
        return np.flatnonzero(self._has[self.index(arch)])

    def query(self, arch, *, seed: int | None = None, epoch: int | None = None) -> dict:
        """Everything the table knows about ``arch``; accuracies as fractions.

        With ``seed`` the values of that run; without, the mean over the entry's seeds.
        With ``epoch`` (1-based) ``val_accuracy`` is the per-epoch value after that many
        epochs and ``train_seconds`` is scaled by ``epoch / epochs`` (multi-fidelity).
        Keys: ``arch`` (as asked), ``entry`` (the table's cell that answered), ``canonical``,
        ``seeds``, ``val_accuracy``, ``test_accuracy``, ``params``, ``flops``,
        ``train_seconds``, ``val_accuracy_per_epoch``.
        """
        e = self.index(arch)
        if seed is None:  # the mean over the entry's runs, precomputed
            seeds = [s for s, ok in zip(self.seeds, self._has[e]) if ok]
            values = {c: float(self._means[c][e]) for c in PER_RUN_COLUMNS}
            curve = None if self._curve_means is None else self._curve_means[e]
        else:
            s = self.seeds.index(seed) if seed in self.seeds else -1
            if s < 0 or not self._has[e, s]:
                allowed = ", ".join(str(x) for x, ok in zip(self.seeds, self._has[e]) if ok)
                raise ValueError(f"seed: {seed!r} is not allowed for {self.archs[e]}; allowed values: {allowed}")
            seeds = [seed]
            values = {c: float(self._runs[c][e, s]) for c in PER_RUN_COLUMNS}
            curve = None if self._curves is None else self._curves[e, s]
        result = {
            "arch": str(arch),
            "entry": self.archs[e],
            "canonical": self.canonical[e],
            "seeds": seeds,
            "val_accuracy": values["val_accuracy"],
            "test_accuracy": values["test_accuracy"],
            "params": _maybe_int(self.params[e]),
            "flops": _maybe_int(self.flops[e]),
            "train_seconds": _maybe_float(values["train_seconds"]),
            "val_accuracy_per_epoch": None if curve is None else curve.tolist(),
        }
        if epoch is not None:
            result["val_accuracy"] = self._at_epoch(curve, epoch)
            if result["train_seconds"] is not None:
                result["train_seconds"] *= epoch / self.epochs
        return result

    def _at_epoch(self, curve, epoch: int) -> float:
        if curve is None:
            raise ValueError(f"epoch: {self._where} has no val_accuracy_per_epoch column")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= self.epochs:
            raise ValueError(f"epoch: {epoch!r} is not allowed; allowed values: 1..{self.epochs}")
        return float(curve[epoch - 1])

    def run_value(self, column: str, entry: int, seed_column: int, *, epoch: int | None = None) -> float:
        """One run's value by array position (the evaluator's fast path; no checks beyond indexing)."""
        if epoch is not None:
            return float(self._curves[entry, seed_column, epoch - 1])
        return float(self._runs[column][entry, seed_column])

    # --- whole-table arrays (for analysis) -------------------------------------------------------
    def values(self, column: str = "test_accuracy", *, reduce: str = "mean") -> np.ndarray:
        """Per entry (E,): a per-run column averaged over seeds (``reduce="mean"``), or all runs (E, S)
        with ``reduce="none"``; ``params`` / ``flops`` per entry."""
        if column in ("params", "flops"):
            return getattr(self, column).copy()
        if column not in self._runs:
            raise ValueError(f"column: {column!r} is not allowed; allowed values: {', '.join((*PER_RUN_COLUMNS, 'params', 'flops'))}")
        if reduce == "none":
            return self._runs[column].copy()
        if reduce != "mean":
            raise ValueError(f"reduce: {reduce!r} is not allowed; allowed values: mean, none")
        return self._means[column].copy()

    def class_entries(self) -> np.ndarray:
        """The entry answering each isomorphism class (one per unique architecture), file order."""
        return np.array(sorted(self._entry_of_class.values()), dtype=np.int64)

    def space_entries(self) -> np.ndarray:
        """For every cell of the space in ``space.enumerate()`` order (15,625), the entry that answers it.

        Raises naming the first cell without an answer when the table is incomplete.
        """
        if getattr(self, "_space_entries", None) is None:
            self._space_entries = np.array([self.index(a) for a in self.space.enumerate()], dtype=np.int64)
        return self._space_entries

    def missing(self, *, limit: int | None = None) -> list[str]:
        """Cells of the space that no row answers (up to ``limit`` of them)."""
        out = []
        for arch in self.space.enumerate():
            if str(arch) not in self._entry_of_arch and self.space.canonical(arch) not in self._entry_of_class:
                out.append(str(arch))
                if limit is not None and len(out) >= limit:
                    break
        return out

    def best(self, column: str = "test_accuracy") -> dict:
        """The entry with the highest mean ``column`` (the optimum a search's regret is measured to)."""
        values = self.values(column)
        e = int(np.nanargmax(values))
        return {**self.query(self.archs[e]), "rank_by": column}


def _mean(values: np.ndarray, axis=None):
    """Mean ignoring NaN runs; NaN (without a warning) when every run is NaN."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _maybe_int(value) -> int | None:
    return None if not np.isfinite(value) else int(value)


def _maybe_float(value) -> float | None:
    value = float(value)
    return None if not math.isfinite(value) else value
