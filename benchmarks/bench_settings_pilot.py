"""Which build settings give digits-cell a table whose two seeds agree? A pilot on a sample.

The shipped digits-cell table (2 epochs, batch 128, i.e. 18 Adam steps per child) ranks
cells differently from seed to seed (Spearman 0.700 on validation accuracy). This script
trains a fixed, seeded random sample of unique cells with both seeds under several
candidate :class:`~nasrl_nb.bench.build.BuildSettings`, using the builder's own
``train_cell``, and prints per setting:

* Spearman and Kendall rank correlation of ``val_accuracy`` between seed 0 and seed 1;
* median, best and worst validation accuracy (mean of the two seeds);
* seconds per training, and its ratio to the shipped settings (``shipped``), which are
  trained in the same process, cell by cell interleaved with every candidate, so that a
  loaded machine slows all settings alike;
* the estimated wall time of the full build (6,466 cells x 2 seeds, 2 workers), scaled by
  that ratio from the shipped build's cost (its summed training seconds over its workers,
  from the table's metadata);
* the Spearman-Brown estimate of the reliability of a table whose value per cell is the mean
  of k seeds, ``k rho / (1 + (k - 1) rho)`` for k = 2 and 3 (an estimate from the one-seed
  agreement ``rho``, not a measurement).

The sample is uniform and kept in its random order, so a run cut by ``--deadline`` (or a
summary of the first cells) is still a uniform sample.

It also prints the shipped table's own seed correlation on the same sample, for comparison.

    python -m benchmarks.bench_settings_pilot                          # 120 cells, default candidates
    python -m benchmarks.bench_settings_pilot --cells 20 --settings shipped c8-e4-b32
    python -m benchmarks.bench_settings_pilot --settings shipped "channels=8,epochs=3,batch_size=32,lr=0.01"
    python -m benchmarks.bench_settings_pilot --summarize pilot.jsonl  # report from saved results
    python -m benchmarks.bench_settings_pilot --dataset mnist1d --cells 50 --settings shipped lr=0.01

With ``--dataset mnist1d`` every setting trains on MNIST-1D; ``shipped`` is then mnist1d-cell's
own settings (``BuildSettings.for_dataset("mnist1d")``: C = 8) and every other candidate overrides
them; the setting ``digits`` (digits-cell's own runs, trained in the same process) is the baseline of
the ratios, so that ``est.wall`` is again the ratio times digits-cell's build wall time, robust to
the machine's load; ``abs.wall`` (mean wall seconds per cell, both seeds, x 6,466 cells / 2
workers) is as measured, load included.

A candidate is a name from ``CANDIDATES`` or ``key=value,...`` overriding the dataset's shipped
BuildSettings fields.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

from benchmarks import REPO

META = json.loads((REPO / "nasrl_nb" / "bench" / "data" / "digits-cell.json").read_text())
SHIPPED_WALL_SECONDS = round(META["total_train_seconds"] / META["build"]["workers"])  # the build's cost on its workers
SHIPPED_TRAININGS = META["rows"]
UNIQUE_CELLS = META["unique_architectures"]  # 6,466: every table trains the same unique cells

# name -> overrides of the dataset's shipped BuildSettings (``BuildSettings.for_dataset(dataset)``)
CANDIDATES: dict[str, dict] = {
    "shipped": {},
    "digits": {"dataset": "digits"},  # digits-cell's own runs: the time baseline of a pilot on another dataset
    "c16-e2-b64": {"batch_size": 64},
    "c16-e2-b32": {"batch_size": 32},
    "c16-e2-b32-lr01": {"batch_size": 32, "lr": 0.01},
    "c16-e2-b16-lr01": {"batch_size": 16, "lr": 0.01},
    "c8-e3-b32": {"channels": 8, "epochs": 3, "batch_size": 32},
    "c8-e3-b32-lr01": {"channels": 8, "epochs": 3, "batch_size": 32, "lr": 0.01},
    "c8-e4-b64": {"channels": 8, "epochs": 4, "batch_size": 64},
    # round 2: the shipped budget or less, with a gentler optimizer (less seed-to-seed chaos)
    "c16-e2-b128-lr01": {"lr": 0.01},
    "c16-e2-b128-lr003": {"lr": 0.003},
    "c16-e2-b64-lr003": {"batch_size": 64, "lr": 0.003},
    "c16-e1-b64-lr01": {"epochs": 1, "batch_size": 64, "lr": 0.01},
    # round 3: the lr sweep at the shipped cost
    "c16-e2-b128-lr001": {"lr": 0.001},
    "c16-e1-b64-lr003": {"epochs": 1, "batch_size": 64, "lr": 0.003},
}


def parse_setting(text: str) -> tuple[str, dict]:
    """``name`` from CANDIDATES, or ``key=value,...`` (fields of BuildSettings)."""
    from nasrl_nb.bench.build import BuildSettings

    if text in CANDIDATES:
        return text, CANDIDATES[text]
    fields = BuildSettings.__dataclass_fields__
    overrides = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in fields or key in ("seeds", "dataset"):
            raise ValueError(f"settings: expected a name in {sorted(CANDIDATES)} or key=value,... with keys in "
                             f"{sorted(k for k in fields if k not in ('seeds', 'dataset'))}, got {text!r}")
        overrides[key] = type(getattr(BuildSettings(), key))(value)
    return text, overrides


def resolve_settings(overrides: dict, dataset: str):
    """The BuildSettings of a candidate: ``dataset``'s shipped settings with ``overrides``;
    a candidate that names its own dataset (``digits``) gets that dataset's shipped settings."""
    from nasrl_nb.bench.build import BuildSettings

    overrides = dict(overrides)
    return BuildSettings.for_dataset(overrides.pop("dataset", dataset), **overrides)


def sample_cells(n: int, seed: int) -> list[str]:
    """``n`` unique cells drawn uniformly without replacement, in the order drawn (not sorted: any
    prefix of the sample, e.g. the cells a deadline left trained, is itself a uniform sample)."""
    from nasrl_nb.bench.build import unique_cells

    cells = [str(a) for a in unique_cells()]
    return random.Random(seed).sample(cells, n)


def spearman_brown(rho: float, k: int) -> float:
    """Reliability of the mean of ``k`` parallel measurements whose pairwise correlation is ``rho``:
    ``k rho / (1 + (k - 1) rho)`` (Spearman 1910, Brown 1910)."""
    return k * rho / (1 + (k - 1) * rho)


def shipped_rows(dataset: str = "digits") -> dict[str, dict[int, float]]:
    import csv
    import gzip

    path = REPO / "nasrl_nb" / "bench" / "data" / f"{dataset}-cell.csv.gz"
    table: dict[str, dict[int, float]] = {}
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f):
            table.setdefault(row["arch"], {})[int(row["seed"])] = float(row["val_accuracy"])
    return table


def correlations(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    """``(Spearman's rho, Kendall's tau-b)`` of the finite pairs."""
    from nasrl_nb.stats import kendall_tau, spearman_rho

    ok = [(a, b) for a, b in pairs if math.isfinite(a) and math.isfinite(b)]
    a, b = zip(*ok)
    return spearman_rho(a, b), kendall_tau(a, b)


def bootstrap_spearman(pairs: list[tuple[float, float]], *, draws: int = 1000, seed: int = 0) -> tuple[float, float]:
    """A 90% percentile-bootstrap interval of the seed-to-seed Spearman (cells resampled)."""
    import numpy as np

    from nasrl_nb.stats import spearman_rho

    a = np.array(pairs)
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():  # a resample of tied values has no correlation: skipped as NaN
        warnings.simplefilter("ignore")
        rhos = [spearman_rho(*a[rng.integers(0, len(a), len(a))].T) for _ in range(draws)]
    return float(np.nanpercentile(rhos, 5)), float(np.nanpercentile(rhos, 95))


def summarize(records: list[dict], cells: list[str]) -> list[dict]:
    """One line per setting from the saved per-cell records."""
    import numpy as np

    by_setting: dict[str, dict[str, dict]] = {}
    for r in records:
        by_setting.setdefault(r["setting"], {})[r["arch"]] = r
    base = by_setting.get("digits") or by_setting.get("shipped", {})  # digits-cell's own runs when present
    lines = []
    for name, rec in by_setting.items():
        archs = [a for a in cells if a in rec]
        pairs = [tuple(rec[a]["val"]) for a in archs]
        means = np.array([np.mean(p) for p in pairs])
        rho, tau = correlations(pairs)
        seconds = sum(rec[a]["seconds"] for a in archs) / (2 * len(archs))
        common = [a for a in archs if a in base]
        ratio = (sum(rec[a]["seconds"] for a in common) / sum(base[a]["seconds"] for a in common)) if common else math.nan
        lines.append({
            "setting": name, "overrides": rec[archs[0]]["overrides"], "cells": len(archs),
            "spearman": rho, "spearman_90ci": bootstrap_spearman(pairs), "kendall": tau,
            "median": float(np.median(means)), "best": float(means.max()), "worst": float(means.min()),
            "mean_abs_seed_diff": float(np.mean([abs(a - b) for a, b in pairs])),
            "seconds_per_training": seconds, "ratio": ratio,
            "est_full_wall_s": ratio * SHIPPED_WALL_SECONDS,
            "est_abs_wall_s": sum(rec[a]["seconds"] for a in archs) / len(archs) * UNIQUE_CELLS / 2,
            "spearman_top_half": correlations([p for p, m in zip(pairs, means) if m >= np.median(means)])[0],
            "reliability_2_seeds": spearman_brown(rho, 2), "reliability_3_seeds": spearman_brown(rho, 3),
        })
    return lines


def print_report(lines: list[dict], cells: list[str], *, dataset: str = "digits") -> None:
    table = shipped_rows(dataset)
    pairs = [(table[a][0], table[a][1]) for a in cells]
    rho, tau = correlations(pairs)
    lo, hi = bootstrap_spearman(pairs)
    print(f"shipped {dataset}-cell table on the same {len(cells)} cells: Spearman {rho:.3f} (90% CI {lo:.2f}-{hi:.2f})  "
          f"Kendall {tau:.3f}")
    head = (f"{'setting':<34}{'cells':>6}{'spearman':>9}{'90% CI':>14}{'kendall':>8}{'sp.top50%':>10}{'median':>8}{'best':>7}"
            f"{'worst':>7}{'|d|':>7}{'s/train':>8}{'ratio':>7}{'est.wall':>9}{'abs.wall':>9}{'SB k=2':>7}{'SB k=3':>7}")
    print(head)
    for x in lines:
        lo, hi = x["spearman_90ci"]
        print(f"{x['setting']:<34}{x['cells']:>6}{x['spearman']:>9.3f}{f'{lo:.2f}-{hi:.2f}':>14}{x['kendall']:>8.3f}{x['spearman_top_half']:>10.3f}"
              f"{x['median']:>8.3f}{x['best']:>7.3f}{x['worst']:>7.3f}{x['mean_abs_seed_diff']:>7.3f}"
              f"{x['seconds_per_training']:>8.3f}{x['ratio']:>7.2f}{x['est_full_wall_s']:>8.0f}s{x['est_abs_wall_s']:>8.0f}s"
              f"{x['reliability_2_seeds']:>7.3f}{x['reliability_3_seeds']:>7.3f}")
    print(f"est.wall = ratio x {SHIPPED_WALL_SECONDS} s (digits-cell's build: {SHIPPED_TRAININGS} trainings, 2 seeds, 2 workers; "
          "x 1.5 for 3 seeds); |d| = mean |val(seed 0) - val(seed 1)|; sp.top50% = Spearman among the better half of the "
          f"sample; abs.wall = mean wall seconds per cell x {UNIQUE_CELLS} cells / 2 workers; SB k = Spearman-Brown "
          "reliability of the mean of k seeds")


def bn_check(cells: list[str], settings, data) -> None:
    """Seed-to-seed Spearman of val accuracy as trained (eval-mode BN) and after BN recalibration."""
    from nasrl_nb.evaluators.base import architecture_seed
    from nasrl_nb.nn.child_network import ChildNetwork
    from nasrl_nb.nn.training import accuracy, recalibrate_batch_norm, train_and_evaluate
    from nasrl_nb.runtime import seed_everything
    from nasrl_nb.spaces.registry import get_space

    space = get_space("cell")
    plain, recal = [], []
    for arch_text in cells:
        arch = space.parse(arch_text)
        pair_plain, pair_recal = [], []
        for seed in settings.seeds:  # as train_cell does
            child_seed = architecture_seed(seed, arch)
            seed_everything(child_seed)
            net = ChildNetwork(arch, data.input_shape, data.num_classes, channels=settings.channels,
                               cells_per_stage=settings.cells_per_stage)
            result = train_and_evaluate(net, data, epochs=settings.epochs, lr=settings.lr, batch_size=settings.batch_size,
                                        seed=child_seed, device="cpu", optimizer=settings.optimizer,
                                        lr_schedule=settings.lr_schedule)
            pair_plain.append(result.val_accuracy)
            recalibrate_batch_norm(net, data.X_train, batch_size=settings.batch_size)
            pair_recal.append(accuracy(net, data.X_val, data.y_val))
        plain.append(tuple(pair_plain))
        recal.append(tuple(pair_recal))
    for name, pairs in (("as trained (eval-mode BN)", plain), ("after BN recalibration", recal)):
        rho, tau = correlations(pairs)
        lo, hi = bootstrap_spearman(pairs)
        print(f"{name:<28} Spearman {rho:.3f} (90% CI {lo:.2f}-{hi:.2f})  Kendall {tau:.3f}  "
              f"median {statistics.median(sum(pairs, ())):.3f}  mean |d| {statistics.mean(abs(a - b) for a, b in pairs):.3f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits", help="dataset every setting trains on (default: digits)")
    parser.add_argument("--cells", type=int, default=120, help="unique cells sampled (default: 120)")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the cell sample (default: 0)")
    parser.add_argument("--settings", nargs="+", default=list(CANDIDATES), help="candidates (names or key=value,...)")
    parser.add_argument("--out", default=None, help="append one JSON line per (cell, setting) to this file "
                        "(pairs already in it are not trained again)")
    parser.add_argument("--summarize", nargs="+", default=None, help="only print the report of saved --out files "
                        "(every cell in them that all --settings trained, whatever its sample)")
    parser.add_argument("--bn-check", default=None, metavar="SETTING",
                        help="only compare eval-mode BN with recalibrated BN under this setting")
    parser.add_argument("--deadline", type=float, default=None, help="stop starting new cells after this many seconds")
    args = parser.parse_args(argv)

    cells = sample_cells(args.cells, args.sample_seed)
    if args.summarize:
        names = [parse_setting(s)[0] for s in args.settings]
        records = [r for path in args.summarize for r in map(json.loads, open(path)) if r["setting"] in names]
        present = {r["setting"] for r in records}
        cells = list(dict.fromkeys(r["arch"] for r in records))  # the files' cells, in the order first met
        records = list({(r["arch"], r["setting"]): r for r in records}.values())  # a cell trained twice counts once
        done = [a for a in cells if sum(r["arch"] == a for r in records) == len(present)]  # cells every setting trained
        print_report(summarize([r for r in records if r["arch"] in done], done), done, dataset=args.dataset)
        return 0

    import torch

    from nasrl_nb.bench.build import train_cell
    from nasrl_nb.nn.data import load_dataset

    torch.set_num_threads(1)  # as each build worker does
    if args.bn_check:
        bn_settings = resolve_settings(parse_setting(args.bn_check)[1], args.dataset)
        bn_check(cells, bn_settings, load_dataset(bn_settings.dataset, seed=bn_settings.data_seed, device="cpu"))
        return 0
    settings = dict(parse_setting(s) for s in args.settings)
    if "shipped" not in settings:
        settings = {"shipped": {}, **settings}  # the in-process baseline for the ratios
    if args.dataset != "digits" and "digits" not in settings:
        settings = {"digits": CANDIDATES["digits"], **settings}  # the time baseline: digits-cell's runs themselves
    resolved = {name: resolve_settings(overrides, args.dataset) for name, overrides in settings.items()}
    datasets = {one.dataset: load_dataset(one.dataset, seed=one.data_seed, device="cpu") for one in resolved.values()}
    records = []
    if args.out and Path(args.out).exists():  # resume: keep what an earlier run of this sample recorded
        records = [r for r in map(json.loads, open(args.out)) if r["arch"] in cells and r["setting"] in settings]
    done_pairs = {(r["arch"], r["setting"]) for r in records}
    out = open(args.out, "a") if args.out else None
    start = time.perf_counter()
    for k, arch in enumerate(cells, 1):
        if args.deadline is not None and time.perf_counter() - start > args.deadline:
            print(f"deadline reached after {k - 1} cells", flush=True)
            break
        order = list(settings.items())
        if k % 2 == 0:
            order.reverse()  # alternate the order: no setting always runs first or last
        for name, overrides in order:
            if (arch, name) in done_pairs:
                continue
            tic = time.perf_counter()
            one = resolved[name]
            rows = train_cell(arch, one, datasets[one.dataset])
            wall = time.perf_counter() - tic  # building, counting FLOPs and both seeds' training
            rec = {"setting": name, "overrides": overrides, "settings": one.to_json(), "arch": arch, "val": [r["val_accuracy"] for r in rows],
                   "test": [r["test_accuracy"] for r in rows], "seconds": wall}
            records.append(rec)
            if out:
                out.write(json.dumps(rec) + "\n")
                out.flush()
        if k % 10 == 0 or k == len(cells):
            print(f"{k}/{len(cells)} cells, {time.perf_counter() - start:.0f} s", flush=True)
    done = [a for a in cells if sum(r["arch"] == a for r in records) == len(settings)]
    print_report(summarize([r for r in records if r["arch"] in done], done), done, dataset=args.dataset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
