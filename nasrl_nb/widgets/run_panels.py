"""Which panels a run gets, and drawing them: the one place the dashboard and the replay share.

Every run gets the panels of :mod:`.panels` (architecture, policy, entropy, rewards,
advantages, trade-off); a shared-weight run (ENAS, random_ws) adds those of
:mod:`.enas_panels` and a DARTS run shows those of :mod:`.darts_panels` instead of the
policy's (DARTS has no controller: its "policy" is the mixing weights). The live dashboard
and the replay of a run folder call the same two functions on the same
:class:`~.panels.RunState`, so they draw the same pictures from the same numbers.
"""

from __future__ import annotations

from .darts_panels import DARTS_PANELS, darts_warnings, is_darts, render_darts_panels
from .enas_panels import ENAS_PANELS, render_enas_panels
from .panels import PANELS, RunState, render_panels, warnings_for

DARTS_RUN_PANELS = DARTS_PANELS + ("rewards", "tradeoff")  # the derived cell replaces "architecture"
ZERO_RUN_PANELS = ("rewards",)  # an AutoML-Zero run's fitness per step (its programs are text: summary.json's best)


def panel_names(method: str, *, shared_weights: bool, benchmark=None) -> tuple[str, ...]:
    """The panels of a run of ``method``; ``shared_vs_true`` only with a ``benchmark`` to compare with."""
    if is_darts(method):
        return DARTS_RUN_PANELS
    if method == "zero":  # AutoML-Zero: programs, not networks; no policy, no cost
        return ZERO_RUN_PANELS
    if shared_weights:
        return PANELS + tuple(n for n in ENAS_PANELS if n != "shared_vs_true" or benchmark is not None)
    return PANELS


def render_run(state: RunState, names, *, benchmark=None, dpi: int = 80) -> dict[str, bytes]:
    """PNG bytes of each of ``names`` that has data to show in ``state`` (pure: no widgets involved)."""
    names = tuple(names)
    pngs = render_panels(state, tuple(n for n in names if n in PANELS), dpi=dpi)
    if any(n in ENAS_PANELS for n in names):
        pngs.update(render_enas_panels(state, benchmark, tuple(n for n in names if n in ENAS_PANELS), dpi=dpi))
    if any(n in DARTS_PANELS for n in names):
        pngs.update(render_darts_panels(state, tuple(n for n in names if n in DARTS_PANELS), dpi=dpi))
    return pngs


def run_warnings(state: RunState) -> list[str]:
    """The diagnostics that apply to ``state``: entropy collapse, reward plateau, DARTS's collapse."""
    messages = warnings_for(state)
    if is_darts(state.method):
        messages += darts_warnings(state)
    return messages
