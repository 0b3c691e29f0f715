"""Rank statistics (nasrl_nb.stats) against scipy and against values computed by hand, ties included."""

from __future__ import annotations

import numpy as np
import pytest

from nasrl_nb.stats import kendall_tau, rankdata, spearman_rho


def test_ranks_share_their_average_when_tied():
    # 5 ranks 1, 10 ranks 2, the two 20s share (3 + 4) / 2
    assert rankdata([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]
    assert rankdata([7, 7, 7]).tolist() == [2.0, 2.0, 2.0]


def test_spearman_and_kendall_by_hand_with_ties():
    assert spearman_rho([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman_rho([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # x ranks (1, 2.5, 2.5, 4), y ranks (1, 2, 3, 4): deviations (-1.5, 0, 0, 1.5) and (-1.5, -0.5, 0.5, 1.5),
    # so rho = 4.5 / sqrt(4.5 * 5) = sqrt(0.9)
    assert spearman_rho([1, 2, 2, 3], [5, 6, 7, 8]) == pytest.approx(np.sqrt(0.9))
    # the same pairs: 6 pairs, 5 concordant, 0 discordant, 1 tied in x: tau_b = 5 / sqrt((6 - 1) * 6)
    assert kendall_tau([1, 2, 2, 3], [5, 6, 7, 8]) == pytest.approx(5 / np.sqrt(30))
    # (1, 2), (2, 1), (3, 3): pairs 12 discordant, 13 and 23 concordant -> (2 - 1) / 3
    assert kendall_tau([1, 2, 3], [2, 1, 3]) == pytest.approx(1 / 3)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0
    assert np.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))  # no untied pair in x: undefined


def test_spearman_drops_pairs_with_a_nan_and_bad_shapes_are_refused():
    assert spearman_rho([1, 2, np.nan, 3, 4], [1, 2, 9, 3, 4]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="x, y: need at least 3 finite pairs for a rank correlation, got 1"):
        spearman_rho([1, np.nan, 2], [1, 2, np.nan])
    with pytest.raises(ValueError, match="x, y: expected two 1-D arrays of one length, got shapes"):
        spearman_rho([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="x, y: expected two 1-D arrays of one length >= 2"):
        kendall_tau([1.0], [2.0])


def test_against_scipy_with_many_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(5):
        x, y = rng.integers(0, 6, 60).astype(float), rng.normal(size=60)
        y[:20] = x[:20]  # ties in both
        assert rankdata(x) == pytest.approx(stats.rankdata(x))
        assert spearman_rho(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
        assert kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
