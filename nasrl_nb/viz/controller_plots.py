"""The controller unrolled over its decisions (Zoph & Le 2017, Sec. 3.1, Fig. 2).

One LSTM step per decision, left to right: step ``t`` reads the embedding of the token sampled
at step ``t - 1`` (a learned start token at ``t = 0``) and its hidden state ``h_{t-1}``; its
softmax head gives ``pi(a_t | a_<t)`` over that decision's options; the token sampled from it
is fed to step ``t + 1``. The drawing is a pure function of the space (and, optionally, of the
sampled architecture and each step's probabilities), so a notebook and a test draw the same.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..spaces.search_space import Architecture, SearchSpace
from .axes import set_title

CELL_COLOR = "#bbdefb"  # LSTM cells
CHOSEN_COLOR = "#ef6c00"  # the sampled option's bar and token
OTHER_COLOR = "#b0bec5"  # the options not sampled


def controller_unrolled(space: SearchSpace, ax=None, *, arch: Architecture | None = None,
                        probs: Sequence | None = None, max_steps: int = 6,
                        title: str = "The controller, unrolled over its decisions") -> Figure:
    """Draw the first ``max_steps`` decisions of ``space`` as an unrolled LSTM controller.

    Each step ``t`` is an LSTM cell (bottom row), its softmax over the options of decision ``t``
    (a small bar chart above the cell, the sampled option in orange) and the sampled token,
    drawn as an arrow into step ``t + 1``. ``arch`` is the architecture whose tokens are shown
    (default: ``space.sample(0)``); ``probs`` one probability vector per decision (default:
    uniform, an untrained controller; ``controller.policy_snapshot().probs`` gives a real one, on
    its most likely path). Bars share one scale: height 0.7 is probability ``max(0.5, largest drawn)``.
    Returns the Figure; ``fig.steps`` is the number of steps drawn.
    """
    decisions = list(space.decisions)
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 1:
        raise ValueError(f"max_steps: must be a positive int, got {max_steps!r}")
    arch = arch if arch is not None else space.sample(0)
    chosen = list(arch.indices)
    if probs is None:
        probs = [np.full(len(d.choices), 1.0 / len(d.choices)) for d in decisions]
    if len(probs) != len(decisions):
        raise ValueError(f"probs: expected one vector per decision ({len(decisions)}), got {len(probs)}")
    steps = min(max_steps, len(decisions))
    # one height scale for every step (a bar of height 0.7 is probability `scale`), so steps compare
    scale = max(0.5, max(float(np.max(probs[t])) for t in range(steps)))
    more = len(decisions) - steps

    if ax is None:
        fig = Figure(figsize=(1.9 * steps + (1.0 if more else 0.4), 3.6))
        ax = fig.add_axes((0.01, 0.01, 0.98, 0.86))
    else:
        fig = ax.figure
    ax.set_xlim(-0.9, steps - 0.2 + (0.7 if more else 0.0))
    ax.set_ylim(-0.85, 2.55)
    ax.axis("off")

    def arrow(start, end, **kwargs):
        ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, linewidth=1.1,
                                     color=kwargs.pop("color", "#37474f"), shrinkA=0, shrinkB=0, **kwargs))

    ax.text(-0.75, 0.0, "start", ha="center", va="center", fontsize=8, color="#37474f")
    for t in range(steps):
        decision, p = decisions[t], np.asarray(probs[t], dtype=float)
        # the LSTM cell of step t: h_t = LSTM(embed(a_{t-1}), h_{t-1})
        ax.add_patch(FancyBboxPatch((t - 0.32, -0.22), 0.64, 0.44, boxstyle="round,pad=0.02",
                                    facecolor=CELL_COLOR, edgecolor="#1565c0"))
        ax.text(t, 0.0, f"LSTM\nt={t}", ha="center", va="center", fontsize=7.5)
        if t > 0:
            arrow((t - 0.66, 0.0), (t - 0.34, 0.0))  # h_{t-1}
            ax.text(t - 0.5, -0.1, "h", ha="center", va="top", fontsize=7, color="#37474f")
        else:
            arrow((-0.55, 0.0), (-0.34, 0.0))
        # its softmax head over this decision's options, drawn as bars
        arrow((t, 0.24), (t, 0.62))
        width = 0.6 / max(len(p), 1)
        for k, pk in enumerate(p):
            x = t - 0.3 + k * width
            color = CHOSEN_COLOR if k == chosen[t] else OTHER_COLOR
            ax.add_patch(FancyBboxPatch((x + 0.1 * width, 0.66), 0.8 * width, 0.7 * pk / scale,
                                        boxstyle="square,pad=0", facecolor=color, edgecolor="none"))
        ax.text(t, 1.45, f"softmax: {decision.name}", ha="center", va="bottom", fontsize=6.5, color="#37474f")
        # the sampled token, fed to the next step's input
        token = str(decision.choices[chosen[t]])
        ax.text(t, 1.72, token, ha="center", va="bottom", fontsize=7.5, color=CHOSEN_COLOR, fontweight="bold")
        if t + 1 < steps or more:
            arrow((t + 0.3, 1.8), (t + 0.68, 0.12), color=CHOSEN_COLOR, connectionstyle="arc3,rad=-0.2",
                  linestyle="--")  # embed(a_t): the next cell's input
    if more:
        ax.text(steps - 0.1, 0.0, f"... {more} more", ha="left", va="center", fontsize=8, color="#37474f")
    ax.text(-0.75, -0.55, "dashed: the sampled token, embedded, is the next step's input; h: the hidden state", ha="left", va="center", fontsize=7,
            color=CHOSEN_COLOR)
    set_title(ax, title)
    fig.steps = steps
    return fig
