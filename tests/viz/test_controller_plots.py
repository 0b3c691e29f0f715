"""The controller unrolled over its decisions: one LSTM step per decision, a softmax per step."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from nasrl_nb.spaces.cell_space import CellSpace
from nasrl_nb.spaces.macro_space import MacroSpace
from nasrl_nb.viz.controller_plots import CHOSEN_COLOR, controller_unrolled


def _bars(fig, color=None):
    """The softmax bars drawn (square boxes above the cells), optionally of one colour."""
    from matplotlib.colors import to_hex

    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, FancyBboxPatch) and p.get_y() > 0.5]
    return [b for b in bars if color is None or to_hex(b.get_facecolor()) == color]


def test_one_step_per_decision_each_with_its_options_and_the_sampled_one_marked():
    space = CellSpace()
    arch = space.sample(3)
    fig = controller_unrolled(space, arch=arch)
    assert isinstance(fig, Figure) and fig.steps == len(space.decisions) == 6
    assert len(_bars(fig)) == sum(len(d.choices) for d in space.decisions)
    chosen = _bars(fig, CHOSEN_COLOR)
    assert len(chosen) == 6
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert [str(d.choices[i]) for d, i in zip(space.decisions, arch.indices)] == [
        t for t in texts if t in {str(c) for d in space.decisions for c in d.choices}
    ]


def test_long_spaces_are_cut_at_max_steps_and_say_how_many_are_left():
    space = MacroSpace(num_layers=3)
    fig = controller_unrolled(space, max_steps=4)
    assert fig.steps == 4
    assert any(t.get_text() == f"... {len(space.decisions) - 4} more" for t in fig.axes[0].texts)


def test_bar_heights_follow_the_given_probabilities():
    space = CellSpace()
    probs = [np.array([0.6, 0.1, 0.1, 0.1, 0.1])] * 6
    heights = [b.get_height() for b in _bars(controller_unrolled(space, probs=probs))]
    assert heights[0] == pytest.approx(0.7) and heights[1] == pytest.approx(0.7 / 6)


def test_bad_input_names_the_field():
    with pytest.raises(ValueError, match="max_steps: must be a positive int"):
        controller_unrolled(CellSpace(), max_steps=0)
    with pytest.raises(ValueError, match=r"probs: expected one vector per decision \(6\)"):
        controller_unrolled(CellSpace(), probs=[np.ones(5) / 5])
