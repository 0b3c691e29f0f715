"""Reading a tabular benchmark's rows: the checks of the table format, row by row.

:class:`~nasrl_nb.bench.tabular.TabularBenchmark` documents the format. This module reads
``(line, row)`` pairs (a row is a dict of the CSV's fields) into :class:`TableRows`, ready to
be packed into arrays, and raises a ``ValueError`` naming the file, the line and the field
for a malformed row (a bad cell string, a non-number, a negative value, a per-epoch list of
another length) or an inconsistent duplicate (the same ``(arch, seed)`` twice, or rows of one
``arch`` that disagree on ``params`` or ``flops``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..spaces.cell_space import CellSpace
from ..spaces.search_space import Architecture

PER_RUN_COLUMNS: tuple[str, ...] = ("val_accuracy", "test_accuracy", "train_seconds")  # one value per (arch, seed)
SIZE_COLUMNS: tuple[str, ...] = ("params", "flops")  # one value per arch: they describe the network


@dataclass
class TableRows:
    """The rows of a table, checked.

    ``index`` maps each distinct ``arch`` string to its entry (file order) and
    ``architectures[entry]`` is its parsed cell; ``runs`` holds ``(entry, seed, values)`` per row, ``values`` having the per-run columns present
    and ``"curve"`` (the per-epoch list) when the table has curves; ``sizes[entry]`` is
    ``(params, flops)``; ``lines[(entry, seed)]`` is the row's line; ``epochs`` the curves'
    length (None without curves).
    """

    index: dict[str, int] = field(default_factory=dict)
    architectures: list[Architecture] = field(default_factory=list)
    runs: list[tuple[int, int, dict]] = field(default_factory=list)
    sizes: list[tuple[float, float]] = field(default_factory=list)
    lines: dict[tuple[int, int], int] = field(default_factory=dict)
    epochs: int | None = None


def parse_number(where: str, line: int, name: str, text, *, integer: bool = False, allow_empty: bool = True) -> float:
    """``text`` as a finite number (>= 0 unless ``name`` is ``seed``); empty or ``nan`` is NaN if allowed."""
    text = "" if text is None else str(text).strip()
    if text == "" or text.lower() == "nan":
        if allow_empty:
            return math.nan
        raise ValueError(f"{where}, line {line}: {name} is empty; expected a number")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}, line {line}: {name} {text!r} is not a number") from None
    if integer and not value.is_integer():
        raise ValueError(f"{where}, line {line}: {name} {text!r} is not an integer")
    if math.isinf(value) or (value < 0 and name != "seed"):
        raise ValueError(f"{where}, line {line}: {name} {text!r} must be a finite number >= 0")
    return value


def read_rows(rows: Iterable[tuple[int, dict]], *, space: CellSpace, columns: set[str], where: str) -> TableRows:
    """Check and collect ``rows``; ``columns`` are the table's columns, ``where`` names it in errors."""
    reader = _RowReader(space, columns, where)
    for line, row in rows:
        reader.add(line, row)
    if not reader.table.runs:
        raise ValueError(f"{where}: the table has a header but no rows")
    return reader.table


class _RowReader:
    """One row at a time into a :class:`TableRows`, with the state the duplicate checks need."""

    def __init__(self, space: CellSpace, columns: set[str], where: str):
        self.space, self.columns, self.where = space, columns, where
        self.table = TableRows()
        self.size_lines: list[int] = []  # entry -> the line its size came from

    def add(self, line: int, row: dict) -> None:
        text = str(row.get("arch", "")).strip()
        entry = self._entry(line, text)
        seed = self._seed(line, row, entry, text)
        self.table.runs.append((entry, seed, self._values(line, row)))
        self._size(line, row, entry, text)

    def _entry(self, line: int, text: str) -> int:
        """The entry of the arch string ``text``, parsed once per distinct string."""
        index = self.table.index
        if text not in index:
            try:
                self.table.architectures.append(self.space.parse(text))
            except ValueError as err:
                raise ValueError(f"{self.where}, line {line}: {err}") from None
            index[text] = len(index)
        return index[text]

    def _seed(self, line: int, row: dict, entry: int, text: str) -> int:
        """The row's seed (0 without a seed column); one run per ``(arch, seed)``."""
        seed = 0
        if "seed" in self.columns:
            seed = int(parse_number(self.where, line, "seed", row.get("seed"), integer=True, allow_empty=False))
        first = self.table.lines.setdefault((entry, seed), line)
        if first != line:
            raise ValueError(
                f"{self.where}, line {line}: duplicate row for arch {text} and seed {seed} (first at line {first}); "
                "each (arch, seed) may appear once"
            )
        return seed

    def _values(self, line: int, row: dict) -> dict:
        """The run's per-run columns, and its per-epoch curve when the table has curves."""
        values = {c: parse_number(self.where, line, c, row.get(c)) for c in PER_RUN_COLUMNS if c in self.columns}
        if "val_accuracy_per_epoch" in self.columns:
            values["curve"] = self._curve(line, str(row.get("val_accuracy_per_epoch") or "").strip())
        return values

    def _curve(self, line: int, text: str) -> list[float]:
        curve = [parse_number(self.where, line, "val_accuracy_per_epoch", v) for v in text.split(";")] if text else []
        if curve:
            if self.table.epochs is None:
                self.table.epochs = len(curve)
            elif len(curve) != self.table.epochs:
                raise ValueError(f"{self.where}, line {line}: val_accuracy_per_epoch has {len(curve)} epochs, "
                                 f"earlier rows have {self.table.epochs}")
        return curve

    def _size(self, line: int, row: dict, entry: int, text: str) -> None:
        """Record the network's size at its first row; every later row of the arch must agree."""
        size = tuple(parse_number(self.where, line, c, row.get(c)) for c in SIZE_COLUMNS)
        if entry == len(self.table.sizes):
            self.table.sizes.append(size)
            self.size_lines.append(line)
            return
        for name, old, new in zip(SIZE_COLUMNS, self.table.sizes[entry], size):
            if not (math.isnan(old) and math.isnan(new)) and old != new:
                raise ValueError(
                    f"{self.where}, line {line}: {name} {new:g} of arch {text} differs from {old:g} at line "
                    f"{self.size_lines[entry]} ({name} describes the network, so every seed must agree)"
                )
