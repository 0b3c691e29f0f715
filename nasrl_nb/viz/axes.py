"""Figure layout shared by every plot module: fixed margins, fixed title height, one axes style.

A live dashboard redraws its figures several times a second, so these avoid matplotlib's
layout engines (a constrained or tight layout measures every label again at each render)
and create a pyplot-free :class:`~matplotlib.figure.Figure` that no global state holds.
"""

from __future__ import annotations

from matplotlib.figure import Figure


def new_axes(ax, figsize, margins=(0.7, 0.2, 0.5, 0.35)):
    """``(figure, axes)``: the given axes, or a fresh Figure (no pyplot) whose axes leave
    ``margins`` = (left, right, bottom, top) inches free for labels.

    Fixed margins instead of a layout engine: a constrained layout measures every label
    again at each render, which doubles the cost of a live dashboard redraw.
    """
    if ax is not None:
        return ax.figure, ax
    width, height = figsize
    left, right, bottom, top = margins
    fig = Figure(figsize=figsize)
    ax = fig.add_axes((left / width, bottom / height, 1 - (left + right) / width, 1 - (bottom + top) / height))
    return fig, ax


def label_width(labels, fontsize: float) -> float:
    """Rough width in inches of the longest label (DejaVu Sans averages 0.6 em a glyph)."""
    return 0.6 * fontsize / 72 * max((len(str(label)) for label in labels), default=0)


def set_title(ax, title: str, **kwargs) -> None:
    """A title at a fixed height: auto-placing it measures every tick label at each render."""
    ax.set_title(title, y=1.0, pad=6, **{"fontsize": 10, **kwargs})


def style_axes(ax, title: str, xlabel: str, ylabel: str) -> None:
    """The house style: title, small labels and ticks, a light grid, no top or right spine."""
    set_title(ax, title)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3, linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
