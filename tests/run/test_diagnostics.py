"""The failure-mode warnings: each fires on its pattern and stays silent otherwise."""

import math

from nasrl_nb.run.diagnostics import entropy_collapse, reward_plateau, skip_share


def test_entropy_collapse_fires_only_when_early_and_low():
    maximum = 6 * math.log(5)
    assert entropy_collapse([maximum, 0.05 * maximum], maximum, progress=0.2) is not None
    assert entropy_collapse([maximum, 0.05 * maximum], maximum, progress=0.9) is None  # late: convergence
    assert entropy_collapse([maximum, 0.5 * maximum], maximum, progress=0.2) is None
    assert entropy_collapse([], maximum, progress=0.1) is None


def test_reward_plateau_needs_a_full_flat_window():
    assert reward_plateau([0.5] * 5) is not None
    assert reward_plateau([0.5] * 4) is None
    assert reward_plateau([0.1, 0.2, 0.3, 0.4, 0.5]) is None
    assert reward_plateau([0.1, 0.5, 0.5, 0.5, 0.5, 0.5]) is not None
    assert reward_plateau([float("nan")] * 3 + [0.5] * 2) is None  # NaNs are ignored, not counted


def test_skip_share_ignores_none_edges():
    assert skip_share(["skip_connect", "skip_connect", "nor_conv_3x3", "none", "none", "none"]) is not None
    assert skip_share(["skip_connect", "nor_conv_3x3", "nor_conv_1x1", "none"]) is None
    assert skip_share(["none"] * 6) is None
