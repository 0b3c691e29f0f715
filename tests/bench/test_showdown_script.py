"""benchmarks/showdown.py: the supernets take the width of the table's own children unless told."""

from __future__ import annotations

import pytest

from benchmarks.showdown import one_shot_settings, parse_args
from nasrl_nb.bench.tabular import TabularBenchmark


@pytest.mark.parametrize(("table", "channels"), [("bench:digits-cell", 16), ("bench:mnist1d-cell", 8)])
def test_the_supernet_width_is_the_tables_unless_given(table, channels):
    bench = TabularBenchmark.load(table)
    assert bench.metadata["settings"]["channels"] == channels
    assert one_shot_settings(parse_args(["--table", table, "--epochs", "3"]), bench).channels == channels
    given = one_shot_settings(parse_args(["--table", table, "--channels", "4"]), bench)
    assert given.channels == 4
