"""ipywidgets front ends: thin wiring of controls and live updates to the pure views.

Import from here only in a notebook (this package imports ipywidgets and matplotlib):
:class:`SearchDashboard` (watch, pause, step and steer a running search),
:class:`StepThroughWidget` (one stage of a step per press), :class:`ReplayViewer`
(scrub through a finished run directory) and :class:`SpaceExplorer` (build an
architecture decision by decision and train it); for DARTS :class:`DartsMonitor` (mixing
weights, derived cell and collapse, live) and :class:`BilevelStepThrough` (one bilevel step).
"""

from .darts import BilevelStepThrough, DartsMonitor
from .dashboard import SearchDashboard
from .explorer import SpaceExplorer
from .replay import ReplayViewer
from .stepthrough import StepThroughWidget

__all__ = ["SearchDashboard", "StepThroughWidget", "ReplayViewer", "SpaceExplorer", "DartsMonitor", "BilevelStepThrough"]
