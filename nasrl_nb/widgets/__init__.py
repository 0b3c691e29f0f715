"""ipywidgets front ends: thin wiring of controls and live updates to the pure views.

Import from here only in a notebook (this package imports ipywidgets and matplotlib):
:class:`SearchDashboard` (watch, pause, step and steer a running search of any method;
``SearchDashboard.from_settings(...)`` adds menus to choose the method, the controller,
epsilon-greedy, a growing curriculum and the reward, and shows ENAS's and DARTS's own panels for those methods),
:class:`StepThroughWidget` (one stage of a step per press), :class:`ReplayViewer`
(scrub through a finished run directory of any method, with the same panels) and :class:`SpaceExplorer` (build an
architecture decision by decision and train it); for DARTS :class:`DartsMonitor` (mixing
weights, derived cell and collapse, live) and :class:`BilevelStepThrough` (one bilevel step).
"""

from .darts import BilevelStepThrough, DartsMonitor
from .dashboard import SearchDashboard
from .explorer import SpaceExplorer
from .method_picker import MethodPicker
from .replay import ReplayViewer
from .stepthrough import StepThroughWidget

__all__ = ["SearchDashboard", "StepThroughWidget", "ReplayViewer", "SpaceExplorer", "DartsMonitor", "BilevelStepThrough",
           "MethodPicker"]
