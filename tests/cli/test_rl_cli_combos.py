"""The RL toolbox end to end through the CLI: search, --resume, export, for each optimiser and bandit,
each controller core, the rewards and the growing curriculum (tiny budgets: seconds each)."""

from __future__ import annotations

import json

import pytest

from nasrl_nb.bench.tabular import TabularBenchmark
from nasrl_nb.cli.commands import main

_TABLES: dict = {}
TABLE = ["--dataset", "bench:digits-cell"]
MULTI = ["--reward", "multi", "--reward-weights", "1", "0", "0.1", "--reference-params", "100000"]
TINY_MACRO = ["--space", "macro", "--dataset", "digits", "--max-samples", "120", "--epochs", "1", "--channels", "4",
              "--device", "cpu"]


@pytest.fixture
def one_table_load(monkeypatch):
    """Every TabularEvaluator of this module reads the shipped table once (it is read-only)."""
    load = TabularBenchmark.load.__func__

    def cached(cls, source):
        if source not in _TABLES:
            _TABLES[source] = load(cls, source)
        return _TABLES[source]

    monkeypatch.setattr(TabularBenchmark, "load", classmethod(cached))


def history(out):
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in (out / "history.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("method", "options"), [
    ("a2c", ["--controller", "gru", *MULTI, *TABLE]),
    ("trpo", ["--controller", "attention", "--reward", "zoph_le", *TABLE]),
    ("sac", ["--controller", "gru", *MULTI, *TABLE]),
    ("ucb", [*MULTI, *TABLE]),
    ("thompson", [*TABLE]),
    ("a2c", ["--controller", "attention", "--curriculum", *MULTI, *TINY_MACRO]),
    ("trpo", ["--controller", "gru", "--curriculum", "--reward", "zoph_le", *TINY_MACRO]),
])
def test_search_resume_export_through_the_cli(method, options, tmp_path, capsys, one_table_load):
    whole, part = tmp_path / "whole", tmp_path / "part"
    args = ["search", "--method", method, *options, "--batch", "2", "--seed", "3", "--quiet"]
    curriculum = "--curriculum" in options  # trains macro children: a shorter run (test_curriculum checks exactness)
    if not curriculum:
        assert main([*args, "--budget", "6", "--out", str(whole)]) == 0
    assert main([*args, "--budget", "2", "--out", str(part)]) == 0
    budget = "4" if curriculum else "6"
    assert main(["search", "--resume", "--budget", budget, "--out", str(part), "--quiet"]) == 0  # the table comes back too
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    if not curriculum:
        assert history(part) == history(whole)  # resumed exactly
    assert main(["export", str(part), "--out", str(tmp_path / "net.py")]) == 0
    assert "search's result: the evaluated architecture with the highest reward" in capsys.readouterr().err
    namespace: dict = {}
    exec(compile((tmp_path / "net.py").read_text(), "net.py", "exec"), namespace)
    assert namespace["ARCHITECTURE"] == summary["best_arch"] and namespace["SEARCH_RESULT"]["method"] == method
    if curriculum:  # grow_every = max(1, 2 // 4 stages): 1 layer, then the schedule's 3, then the full 4
        assert [len(json.loads(r["arch"])) for r in history(part)] == [1, 1, 3, 3]


@pytest.mark.parametrize(("args", "message"), [
    (["--method", "sac", "--curriculum", *TINY_MACRO], "curriculum: grows an on-policy controller; allowed methods: "
                                                       "reinforce, ppo, a2c, trpo, not 'sac'"),
    (["--method", "ucb", "--curriculum", *TINY_MACRO], "curriculum: grows an on-policy controller"),
    (["--method", "a2c", "--curriculum", *TABLE], "curriculum: grows a layered space's depth; allowed spaces: macro, zoph-le"),
    (["--method", "thompson", "--controller", "gru", *TABLE], "--controller: only for methods reinforce, ppo, a2c, trpo, "
                                                               "sac, enas; method 'thompson' does not use it"),
    (["--method", "ucb", "--epsilon", "0.1", *TABLE], "--epsilon: only for methods reinforce, ppo, a2c, trpo, sac, enas"),
])
def test_combinations_that_cannot_work_are_refused_by_name(args, message, tmp_path, capsys, one_table_load):
    assert main(["search", *args, "--budget", "2", "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert message in capsys.readouterr().err
