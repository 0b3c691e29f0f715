"""``nasrl-nb bench info|build`` and ``nasrl-nb search --dataset csv:PATH`` (subprocesses, real tables)."""

from __future__ import annotations

import json

import pytest
from tabular_helpers import A, B, C, complete_table_lines, write_table

from nasrl_nb.bench.analysis import seed_correlation
from nasrl_nb.bench.tabular import TabularBenchmark


@pytest.fixture
def small_csv(tmp_path):
    lines = [f"{A},0,90,88,1000,2000,1.5,", f"{A},1,92,86,1000,2000,2.5,", f"{B},0,70,71,500,900,1,",
             f"{B},1,74,69,500,900,1,", f"{C},0,80,79,700,1500,2,", f"{C},1,70,80,700,1500,2,"]
    return write_table(tmp_path / "mine.csv", lines)


@pytest.fixture(scope="module")
def complete_csv(tmp_path_factory):
    return write_table(tmp_path_factory.mktemp("complete") / "complete.csv.gz", complete_table_lines())


def test_bench_info_text_and_json(run_cli, small_csv):
    text = run_cli("bench", "info", str(small_csv))
    assert text.returncode == 0, text.stderr
    assert "mine: 6 rows, 3 architectures in the table, 3 unique (of 6,466)" in text.stdout
    assert "accuracies stored as percent in the file, shown here as fractions" in text.stdout and "best 0.8700" in text.stdout
    assert "epochs per run: not recorded" in text.stdout and "None" not in text.stdout  # a CSV has no sidecar
    data = json.loads(run_cli("bench", "info", f"csv:{small_csv}", "--json", "--bins", "4").stdout)
    assert data["rows"] == 6 and data["scale"] == "percent" and data["best"]["entry"] == A
    assert sum(data["histogram"]["counts"]) == 3 and data["seed_spearman_val"] == pytest.approx(0.5)


def test_bench_info_errors(run_cli, tmp_path):
    missing = run_cli("bench", "info", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: table: file") and "nope.csv" in missing.stderr
    bad = write_table(tmp_path / "bad.csv", [f"{A},0,0.9,oops,1,1,1,"])
    result = run_cli("bench", "info", str(bad))
    assert result.returncode == 2 and "line 2: test_accuracy 'oops' is not a number" in result.stderr


@pytest.mark.slow
def test_bench_build_is_resumable(run_cli, tmp_path):
    out = tmp_path / "build"
    first = run_cli("bench", "build", "--out", str(out), "--workers", "1", "--limit", "3", timeout=300)
    assert first.returncode == 0, first.stderr
    meta = json.loads(first.stdout)
    assert meta["rows"] == 6 and meta["unique_architectures"] == 3 and "shard 0 written" in first.stderr
    bench = TabularBenchmark.load(out / "digits-cell.csv.gz")
    assert bench.seeds == (0, 1) and bench.epochs == meta["settings"]["epochs"] and bench.metadata["rows"] == 6
    rho = bench.metadata["seed_rank_correlation"]["spearman_val_accuracy"]  # the signal, measured at the merge
    assert rho == pytest.approx(round(seed_correlation(bench), 4), nan_ok=True) and "merged" in bench.metadata["build"]
    again = run_cli("bench", "build", "--out", str(out), "--workers", "1", "--limit", "3", timeout=300)
    assert again.returncode == 0 and "shard" not in again.stderr  # nothing left to train
    assert json.loads(again.stdout)["rows"] == 6


@pytest.mark.slow
def test_bench_build_settings_options(run_cli, tmp_path):
    out = tmp_path / "build"
    args = ("bench", "build", "--out", str(out), "--workers", "1", "--limit", "1", "--quiet")
    first = run_cli(*args, "--channels", "4", "--epochs", "1", "--batch-size", "256", "--lr", "0.02", timeout=300)
    assert first.returncode == 0, first.stderr
    settings = json.loads(first.stdout)["settings"]
    assert (settings["channels"], settings["epochs"], settings["batch_size"], settings["lr"]) == (4, 1, 256, 0.02)
    assert json.loads((out / "settings.json").read_text()) == settings
    other = run_cli(*args, "--channels", "8")  # the folder holds a C=4 build: resuming with C=8 is refused
    assert other.returncode == 2 and "built with other settings (batch_size, channels, epochs, lr differ)" in other.stderr
    bad = run_cli(*args, "--batch-size", "0")
    assert bad.returncode == 2 and "--batch-size: must be a positive integer, got 0" in bad.stderr


def test_search_on_a_table(run_cli, complete_csv, tmp_path):
    result = run_cli("search", "--method", "evolution", "--dataset", f"csv:{complete_csv}", "--budget", "30",
                     "--seed", "3", "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["evaluations"] == 30 and summary["evaluator"]["kind"] == "TabularEvaluator"
    assert summary["evaluator"]["select_by"] == "val_accuracy" and summary["evaluator"]["report"] == "test_accuracy"
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert len(history) == 30 and all(r["table_seed"] in (0, 1) for r in history)


def test_search_with_a_seconds_budget(run_cli, complete_csv, tmp_path):
    result = run_cli("search", "--method", "random", "--dataset", f"csv:{complete_csv}", "--budget-seconds", "15",
                     "--batch", "1", "--out", str(tmp_path / "run"), "--quiet")
    assert result.returncode == 0, result.stderr
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    seconds = sum(r["seconds"] for r in history)
    assert 15 <= seconds < 17 and json.loads(result.stdout)["evaluator"]["budget_seconds"] == 15


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "digits", "--select-by", "test_accuracy"], "select_by: only for a tabular search"),
        (["--dataset", "bench:nope"], "table: no shipped benchmark 'nope'"),
        (["--dataset", "imagenet"], "dataset: 'imagenet' is not allowed; allowed values: "),
        (["--dataset", "csv:TABLE", "--space", "macro"], "space: a table answers cells of the cell space"),
    ],
)
def test_search_table_option_errors(run_cli, complete_csv, tmp_path, args, message):
    args = [a.replace("TABLE", str(complete_csv)) for a in args]
    result = run_cli("search", *args, "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and message in result.stderr, result.stderr
