"""The shipped tables (digits-cell, mnist1d-cell): each loads, answers all 15,625 cells, states how it
was built, and holds exactly the rows of its committed build (no partial table is shipped).

The check of a table against its build is itself tested first on a fake build written here.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from nasrl_nb.bench.analysis import seed_correlation
from nasrl_nb.bench.build import COLUMNS, BuildSettings, check_table_against_build, merge, shards, unique_cells
from nasrl_nb.bench.tabular import TabularBenchmark, resolve_table, shipped_benchmarks

ROOT = Path(__file__).resolve().parents[2]
BUILDS = ROOT / "benchmarks" / "builds"


@pytest.fixture(scope="module")
def fake_build(tmp_path_factory):
    """A complete build folder of made-up rows: every unique cell, two seeds, 130 shards of 50."""
    folder = tmp_path_factory.mktemp("build")
    settings = BuildSettings.for_dataset("mnist1d")
    (folder / "settings.json").write_text(json.dumps(settings.to_json()))
    for index, archs in shards(unique_cells(), settings.shard_size):
        with open(folder / f"shard_{index:04d}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            for k, arch in enumerate(archs):
                for seed in settings.seeds:
                    acc = round(0.1 + 0.8 * ((index * 50 + k) * 7919 % 6466) / 6466 + 0.01 * seed, 6)
                    writer.writerow({"arch": arch, "seed": seed, "val_accuracy": acc, "test_accuracy": acc, "params": 10,
                                     "flops": 20, "train_seconds": 1.0, "val_accuracy_per_epoch": f"{acc / 2};{acc}"})
    return folder, settings


def test_a_table_merged_from_its_build_matches_it(fake_build, tmp_path):
    folder, settings = fake_build
    meta = merge(folder, tmp_path / "t.csv.gz", settings=settings)
    assert meta["rows"] == 2 * 6466
    report = check_table_against_build(tmp_path / "t.csv.gz", folder)
    assert report["match"] and report["rows_table"] == report["rows_build"] == 2 * 6466 and report["first_difference"] is None


def test_a_partial_or_edited_table_does_not_match_its_build(fake_build, tmp_path):
    folder, settings = fake_build
    merge(folder, tmp_path / "partial.csv.gz", settings=settings, limit=3000)  # the first 60 shards only
    partial = check_table_against_build(tmp_path / "partial.csv.gz", folder)
    assert not partial["match"] and partial["rows_table"] == 6000 and partial["first_difference"] == 6002
    merge(folder, tmp_path / "t.csv.gz", settings=settings)
    with gzip.open(tmp_path / "t.csv.gz", "rt") as f:
        lines = f.read().splitlines()
    lines[10] = lines[10].replace(",1.0,", ",2.0,")  # one row's training seconds changed by hand
    with gzip.open(tmp_path / "edited.csv.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")
    edited = check_table_against_build(tmp_path / "edited.csv.gz", folder)
    assert not edited["match"] and edited["first_difference"] == 11 and edited["rows_table"] == edited["rows_build"]


def test_an_incomplete_build_cannot_vouch_for_a_table(fake_build, tmp_path):
    folder, settings = fake_build
    merge(folder, tmp_path / "t.csv.gz", settings=settings)
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    for path in folder.iterdir():
        if path.name != "shard_0129.csv":
            (incomplete / path.name).write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match=r"1 of 130 shards missing \(first: 129\); run the build again"):
        check_table_against_build(tmp_path / "t.csv.gz", incomplete)


def test_check_script_exit_status(fake_build, tmp_path, capsys):
    from benchmarks.check_shipped_table import main

    folder, settings = fake_build
    merge(folder, tmp_path / "t.csv.gz", settings=settings)
    assert main([f"csv:{tmp_path / 't.csv.gz'}", str(folder)]) == 0 and '"match": true' in capsys.readouterr().out
    merge(folder, tmp_path / "p.csv.gz", settings=settings, limit=50)
    assert main([str(tmp_path / "p.csv.gz"), str(folder)]) == 1
    assert main([str(tmp_path / "t.csv.gz"), str(tmp_path)]) == 2 and "no settings.json" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["digits-cell", "mnist1d-cell"])
def test_shipped_table_answers_every_cell_and_states_its_build(name):
    if name not in shipped_benchmarks():
        pytest.skip(f"{name} is not shipped in this checkout")
    path = resolve_table(f"bench:{name}")
    assert 100_000 < path.stat().st_size < 1_000_000  # a few hundred KB
    bench = TabularBenchmark.load(f"bench:{name}")
    assert bench.unique_architectures == 6466 and bench.rows == 2 * 6466 and bench.seeds == (0, 1)
    entries = bench.space_entries()  # every one of the 15,625 cells gets an answer
    assert len(entries) == 15625 and len(set(entries.tolist())) == 6466 and bench.missing() == []
    meta = bench.metadata
    assert meta["name"] == name and meta["settings"]["dataset"] == name.removesuffix("-cell")
    assert meta["settings"]["epochs"] == bench.epochs and meta["total_train_seconds"] > 0
    rho = meta["seed_rank_correlation"]["spearman_val_accuracy"]  # measured on the table when it was merged
    assert rho == pytest.approx(seed_correlation(bench, "val_accuracy"), abs=5e-5)


@pytest.mark.parametrize("name", ["mnist1d-cell"])
def test_shipped_table_matches_its_committed_build(name):
    """A shipped table whose build is committed holds exactly that build's rows (all of its shards)."""
    if name not in shipped_benchmarks():
        pytest.skip(f"{name} is not shipped in this checkout")
    if not (BUILDS / name).is_dir():
        pytest.skip(f"the build of {name} is not in this checkout")
    report = check_table_against_build(resolve_table(f"bench:{name}"), BUILDS / name)
    assert report["match"], report


def test_the_widgets_referee_is_the_table_of_the_search_dataset():
    """A shared-weight search's scatter is judged by the table built on its own dataset, or by none."""
    from nasrl_nb.spaces.registry import get_space
    from nasrl_nb.widgets.enas_panels import default_benchmark

    cell = get_space("cell")
    for dataset in ("digits", "mnist1d"):
        bench = default_benchmark(cell, dataset)
        if f"{dataset}-cell" in shipped_benchmarks():
            assert bench is not None and bench.metadata["settings"]["dataset"] == dataset
        else:
            assert bench is None
    assert default_benchmark(cell, None) is None and default_benchmark(cell, "nope") is None  # custom data: no referee
    assert default_benchmark(get_space("macro"), "digits") is None


def test_cli_reads_the_shipped_mnist1d_cell(run_cli, tmp_path):
    """``bench info mnist1d-cell`` and ``search --dataset bench:mnist1d-cell`` work as for digits-cell."""
    if "mnist1d-cell" not in shipped_benchmarks():
        pytest.skip("mnist1d-cell is not shipped in this checkout")
    bench = TabularBenchmark.load("bench:mnist1d-cell")
    info = run_cli("bench", "info", "mnist1d-cell", timeout=300)
    assert info.returncode == 0, info.stderr
    assert "mnist1d-cell: 12,932 rows, 6,466 architectures in the table, 6,466 unique (of 6,466)" in info.stdout
    assert f"between seeds 0 and 1: {seed_correlation(bench):.3f}" in info.stdout
    run = run_cli("search", "--method", "random", "--dataset", "bench:mnist1d-cell", "--budget", "12", "--seed", "1",
                  "--out", str(tmp_path / "run"), "--quiet", timeout=300)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["evaluations"] == 12 and summary["evaluator"]["kind"] == "TabularEvaluator"
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert all(r["test_accuracy"] == pytest.approx(bench.query(r["arch"])["test_accuracy"]) for r in history)
