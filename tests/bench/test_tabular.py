"""TabularBenchmark: the table format, isomorphism, errors, speed; and the shipped digits-cell.

Every table here is written by the test itself (real CSV files, small or synthetic with a
known ground truth); only the last test reads the shipped table, when it is present.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from tabular_helpers import C2, HEADER, A, B, C, complete_table_lines, write_table

from nasrl_nb.bench.tabular import TabularBenchmark, shipped_benchmarks
from nasrl_nb.spaces.cell_space import CellSpace


def write(tmp_path, lines, name="t.csv", header=HEADER):
    return write_table(tmp_path / name, lines, header)


SMALL = [
    f"{A},0,0.90,0.88,1000,2000,1.5,0.80;0.90",
    f"{A},1,0.92,0.86,1000,2000,2.5,0.82;0.92",
    f"{B},0,0.70,0.71,500,900,1.0,0.60;0.70",
    f"{B},1,0.74,0.69,500,900,1.0,0.64;0.74",
    f"{C},0,0.80,0.79,700,1500,2.0,0.75;0.80",
]


def test_load_and_query_fraction_table(tmp_path):
    bench = TabularBenchmark.load(f"csv:{write(tmp_path, SMALL)}")
    assert (bench.rows, len(bench), bench.unique_architectures) == (5, 3, 3)
    assert bench.seeds == (0, 1) and bench.scale == "fraction" and bench.epochs == 2
    mean = bench.query(A)
    assert mean["val_accuracy"] == pytest.approx(0.91) and mean["test_accuracy"] == pytest.approx(0.87)
    assert mean["train_seconds"] == pytest.approx(2.0) and mean["params"] == 1000 and mean["flops"] == 2000
    assert mean["val_accuracy_per_epoch"] == pytest.approx([0.81, 0.91]) and mean["seeds"] == [0, 1]
    one = bench.query(A, seed=1)
    assert (one["val_accuracy"], one["test_accuracy"], one["train_seconds"]) == (0.92, 0.86, 2.5)
    assert bench.query(C)["seeds"] == [0] and bench.seeds_of(C) == (0,)
    low = bench.query(A, seed=0, epoch=1)
    assert low["val_accuracy"] == 0.80 and low["train_seconds"] == pytest.approx(0.75)  # half the epochs, half the time
    assert bench.best()["entry"] == A and bench.best("val_accuracy")["entry"] == A
    with pytest.raises(ValueError, match=r"seed: 1 is not allowed for .*allowed values: 0"):
        bench.query(C, seed=1)
    with pytest.raises(ValueError, match=r"epoch: 3 is not allowed; allowed values: 1\.\.2"):
        bench.query(A, epoch=3)


def test_percent_is_detected_and_returned_as_fractions(tmp_path):
    percent = [f"{A},0,90,88,1000,2000,1.5,80;90", f"{B},0,70.5,71,500,900,1.0,60;70.5"]
    bench = TabularBenchmark.load(write(tmp_path, percent, "p.csv.gz"))
    assert bench.scale == "percent" and bench.name == "p"
    assert bench.query(B)["val_accuracy"] == pytest.approx(0.705)
    assert bench.query(A)["val_accuracy_per_epoch"] == pytest.approx([0.8, 0.9])
    # a sidecar may state the scale: then 0.9 means 0.9 percent
    path = write(tmp_path, [f"{A},0,0.9,0.8,,,,"], "tiny.csv")
    (tmp_path / "tiny.json").write_text(json.dumps({"metric_scale": "percent", "name": "tiny"}))
    stated = TabularBenchmark.load(path)
    assert stated.scale == "percent" and stated.query(A)["val_accuracy"] == pytest.approx(0.009)
    assert stated.metadata["name"] == "tiny" and stated.query(A)["params"] is None


def test_minimal_columns_without_seed(tmp_path):
    bench = TabularBenchmark.load(write(tmp_path, [f"{A},0.5,0.4", f"{B},0.6,0.7"], header="arch,val_accuracy,test_accuracy"))
    assert bench.seeds == (0,) and bench.columns == () and bench.epochs is None
    assert bench.query(B)["train_seconds"] is None and bench.query(B)["val_accuracy_per_epoch"] is None


def test_isomorphic_cells_are_answered_by_their_class(tmp_path):
    space = CellSpace()
    assert space.canonical(space.parse(C)) == space.canonical(space.parse(C2))
    bench = TabularBenchmark.load(write(tmp_path, SMALL))
    assert C2 in bench and bench.query(C2)["entry"] == C and bench.query(C2)["arch"] == C2
    # a table holding both strings answers each with its own row
    both = TabularBenchmark.load(write(tmp_path, [*SMALL, f"{C2},0,0.60,0.61,650,1400,2.0,0.5;0.6"], "both.csv"))
    assert (len(both), both.unique_architectures) == (4, 3)
    assert both.query(C2)["entry"] == C2 and both.query(C2)["val_accuracy"] == 0.60


def test_missing_architecture_names_the_file(tmp_path):
    path = write(tmp_path, SMALL)
    bench = TabularBenchmark.load(path)
    other = "|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"
    assert other not in bench
    with pytest.raises(ValueError, match=r"arch: .* is not in .*t\.csv .*covers 3 of 6,466"):
        bench.query(other)
    assert len(bench.missing(limit=5)) == 5


@pytest.mark.parametrize(
    ("lines", "header", "message"),
    [
        ([f"{A},0,0.9,0.8,1,1,1,0.9;0.9", "|bad|,0,0.9,0.8,1,1,1,"], HEADER, r"line 3: arch: expected 3 node groups"),
        ([f"{A},0,0.9,0.8,1,1,1"], HEADER, r"line 2: 7 fields, the header has 8"),
        ([f"{A},0,high,0.8,1,1,1,"], HEADER, r"line 2: val_accuracy 'high' is not a number"),
        ([f"{A},0,-0.1,0.8,1,1,1,"], HEADER, r"line 2: val_accuracy '-0.1' must be a finite number >= 0"),
        ([f"{A},0,90,80,1,1,1,", f"{B},0,90,180,1,1,1,"], HEADER, r"line 3: test_accuracy 180 exceeds 100"),
        ([f"{A},0.5,0.9,0.8,1,1,1,"], HEADER, r"line 2: seed '0.5' is not an integer"),
        ([f"{A},,0.9,0.8,1,1,1,"], HEADER, r"line 2: seed is empty"),
        ([f"{A},0,0.9,0.8,1,1,1,0.5;0.9", f"{B},0,0.9,0.8,1,1,1,0.9"], HEADER, r"line 3: val_accuracy_per_epoch has 1 epochs, earlier rows have 2"),
        ([f"{A},0,0.9,0.8,1,1,1,", f"{A},0,0.9,0.8,1,1,1,"], HEADER, r"line 3: duplicate row for arch .* and seed 0 \(first at line 2\)"),
        ([f"{A},0,0.9,0.8,100,1,1,", f"{A},1,0.9,0.8,101,1,1,"], HEADER, r"line 3: params 101 of arch .* differs from 100 at line 2"),
        ([f"{A},0.9"], "arch,val_accuracy", r"line 1: missing column\(s\) test_accuracy"),
        ([], HEADER, r"the table has a header but no rows"),
    ],
)
def test_malformed_tables_name_file_line_and_field(tmp_path, lines, header, message):
    path = write(tmp_path, lines, header=header)
    with pytest.raises(ValueError, match=message) as info:
        TabularBenchmark.load(path)
    assert str(path) in str(info.value)


def test_sources_that_do_not_exist(tmp_path):
    with pytest.raises(ValueError, match=r"table: no shipped benchmark 'nope'; allowed values"):
        TabularBenchmark.load("bench:nope")
    with pytest.raises(ValueError, match=r"table: file .*missing\.csv' does not exist"):
        TabularBenchmark.load(f"csv:{tmp_path / 'missing.csv'}")


def test_failed_runs_keep_nan_and_means_skip_them(tmp_path):
    bench = TabularBenchmark.load(write(tmp_path, [f"{A},0,nan,nan,1,1,1,", f"{A},1,0.8,0.7,1,1,1,"]))
    assert np.isnan(bench.query(A, seed=0)["val_accuracy"])
    assert bench.query(A)["val_accuracy"] == pytest.approx(0.8)


def test_a_query_costs_microseconds(tmp_path):
    bench = TabularBenchmark.load(write(tmp_path, SMALL))
    arch = bench.space.parse(A)
    bench.index(arch)
    start = time.perf_counter()
    for _ in range(10_000):
        bench.index(arch)
    per_query = (time.perf_counter() - start) / 10_000
    assert per_query < 20e-6, f"index lookup took {per_query * 1e6:.1f} us"


# --- a complete synthetic table: every one of the 6,466 classes -------------------------------------
@pytest.fixture(scope="module")
def complete_table(tmp_path_factory):
    return TabularBenchmark.load(write_table(tmp_path_factory.mktemp("complete") / "complete.csv.gz", complete_table_lines()))


def test_a_complete_table_answers_every_cell(complete_table):
    bench = complete_table
    assert bench.unique_architectures == 6466 and len(bench) == 6466 and bench.rows == 2 * 6466
    entries = bench.space_entries()
    assert entries.shape == (15625,)
    for arch, e in zip(list(bench.space.enumerate())[::97], entries[::97]):
        assert bench.space.canonical(arch) == bench.canonical[e]
    assert bench.missing() == []


def test_shipped_digits_cell_if_present():
    if "digits-cell" not in shipped_benchmarks():
        pytest.skip("digits-cell is not built into this checkout yet")
    bench = TabularBenchmark.load("bench:digits-cell")
    assert bench.unique_architectures == 6466 and len(bench.seeds) >= 2
    assert bench.scale == "fraction" and bench.epochs is not None
    entries = bench.space_entries()  # every one of the 15,625 cells gets an answer
    assert len(entries) == 15625 and len(set(entries.tolist())) == 6466
    assert bench.metadata.get("unique_architectures") == 6466
