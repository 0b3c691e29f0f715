"""benchmarks/bench_settings_pilot.py: its sample, the settings it trains and its reliability estimate."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.bench_settings_pilot import (
    parse_setting,
    resolve_settings,
    sample_cells,
    spearman_brown,
    summarize,
)
from nasrl_nb.bench.build import BuildSettings, unique_cells


def test_any_prefix_of_the_sample_is_uniform_over_the_enumeration():
    """A run cut by its deadline keeps the first cells of the sample: they must not lean to the
    enumeration's start (the cells whose first edge is none or skip_connect), as a sorted sample does."""
    cells = [str(a) for a in unique_cells()]
    index = {a: k for k, a in enumerate(cells)}
    sample = sample_cells(200, seed=3)
    assert sample == sample_cells(200, seed=3) and len(set(sample)) == 200 and set(sample) <= set(index)
    assert sample_cells(200, seed=4) != sample
    first = np.array([index[a] for a in sample[:100]]) / len(cells)
    # uniform positions: mean 0.5, standard error 1 / sqrt(12 x 100) = 0.029; a sorted sample's first half is near 0.25
    assert abs(first.mean() - 0.5) < 4 / np.sqrt(12 * 100)


def test_shipped_means_the_datasets_own_table_settings():
    mnist1d_shipped = resolve_settings(parse_setting("shipped")[1], "mnist1d")
    assert mnist1d_shipped == BuildSettings.for_dataset("mnist1d") and mnist1d_shipped.channels == 8
    longer = resolve_settings(parse_setting("epochs=4")[1], "mnist1d")
    assert (longer.dataset, longer.channels, longer.epochs, longer.lr) == ("mnist1d", 8, 4, 0.003)
    digits = resolve_settings(parse_setting("digits")[1], "mnist1d")  # the time baseline: digits-cell's own runs
    assert digits == BuildSettings() and (digits.dataset, digits.channels) == ("digits", 16)
    assert resolve_settings(parse_setting("shipped")[1], "digits") == BuildSettings()
    with pytest.raises(ValueError, match="settings: expected a name"):
        parse_setting("dataset=mnist1d")


def test_spearman_brown_predicts_the_agreement_of_seed_means():
    assert spearman_brown(0.7, 1) == pytest.approx(0.7)
    assert spearman_brown(0.7, 2) == pytest.approx(1.4 / 1.7)
    # oracle: cells with a true score and independent seed noise; the correlation of two disjoint means
    # of k seeds is the single-seed correlation stepped up by the formula
    rng = np.random.default_rng(0)
    true = rng.normal(size=40_000)
    seeds = true + rng.normal(scale=1.3, size=(6, true.size))  # one-seed correlation 1 / (1 + 1.69) = 0.37
    one = np.corrcoef(seeds[0], seeds[1])[0, 1]
    for k in (2, 3):
        means = np.corrcoef(seeds[:k].mean(0), seeds[k:2 * k].mean(0))[0, 1]
        assert spearman_brown(one, k) == pytest.approx(means, abs=0.02)


def test_the_summary_reports_the_reliability_of_two_and_three_seeds():
    rng = np.random.default_rng(1)
    cells = [f"cell{k}" for k in range(30)]
    records = []
    for k, arch in enumerate(cells):
        for name, scale, seconds in (("digits", 0.0, 1.0), ("shipped", 0.5, 2.0)):
            val = [k / 30 + scale * rng.normal(), k / 30 + scale * rng.normal()]
            records.append({"setting": name, "overrides": {}, "arch": arch, "val": val, "seconds": seconds})
    lines = {x["setting"]: x for x in summarize(records, cells)}
    shipped = lines["shipped"]
    assert lines["digits"]["spearman"] == pytest.approx(1.0) and shipped["spearman"] < 0.9
    assert shipped["ratio"] == pytest.approx(2.0)  # against digits-cell's runs, trained alongside
    for k in (2, 3):
        expected = k * shipped["spearman"] / (1 + (k - 1) * shipped["spearman"])
        assert shipped[f"reliability_{k}_seeds"] == pytest.approx(expected)
