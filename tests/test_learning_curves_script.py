"""benchmarks/learning_curves.py's options for other methods' variants and for real children."""

from __future__ import annotations

import pytest

from benchmarks import learning_curves
from nasrl_nb.assembly.compare import learning_curve


def test_variant_rows_run_the_method_named_by_variant_of(digits_cell_table, monkeypatch):
    monkeypatch.setitem(learning_curves._TABLE, "bench", digits_cell_table)
    args = learning_curves.parse_args(["--variant-of", "ucb", "--variant", 'c 4={"bandit_kwargs": {"exploration": 4}}'])
    assert args.variant_of == "ucb" and learning_curves.parse_args([]).variant_of == "reinforce"
    settings = {"bandit_kwargs": {"exploration": 4.0}}
    row = learning_curves.run_one((args.variant_of, 0, 20, False, settings))
    # a UCB search (no policy, so no entropy) with exploration 4: the same picks as the library's own run
    assert row["method"] == "ucb" and row["entropy_first"] is None
    assert row["curve"] == learning_curve(digits_cell_table, "ucb", 0, budget=20, settings=settings).best.tolist()
    assert row["curve"] != learning_curves.run_one(("ucb", 0, 20, False, {"bandit_kwargs": {"exploration": 0.125}}))["curve"]


def test_real_methods_default_and_bad_names(capsys):
    assert learning_curves.parse_args([]).real_methods == ["random", "reinforce"]
    assert learning_curves.parse_args(["--real-methods", "evolution", "thompson"]).real_methods == ["evolution", "thompson"]
    with pytest.raises(SystemExit) as err:
        learning_curves.parse_args(["--real-methods", "bogus"])
    assert err.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err
