"""MethodPicker: choose a search method, its controller, epsilon-greedy, a curriculum and the reward.

The first row of a dashboard made with :meth:`~.dashboard.SearchDashboard.from_settings`:

1. a ``method`` menu: every name of :data:`nasrl_nb.assembly.methods.METHODS` that can run on
   the dashboard's space and evaluator (:func:`applicable_methods`);
2. a ``controller`` menu (``lstm``, ``gru``, ``attention``: the controller's core, for the RL
   methods and ENAS) and an ``epsilon-greedy`` slider (the probability of proposing a uniform
   random architecture instead of the controller's sample);
3. a ``curriculum`` checkbox: grow the macro or zoph-le space's depth during the search (Zoph & Le 2017,
   Sec. 4.1; :class:`~nasrl_nb.strategies.curriculum.CurriculumStrategy`), enabled only where
   ``make_search(curriculum=True)`` runs (:meth:`MethodPicker.curriculum_unavailable` says
   why not, also in the checkbox's tooltip);
4. a ``reward`` menu: :data:`~nasrl_nb.assembly.config.REWARD_OBJECTIVES` (accuracy, zoph_le,
   multi) less those the settings rule out (:func:`reward_options`).

:meth:`MethodPicker.build` turns the current choice into a fresh
:class:`~nasrl_nb.run.loop.Search` with :func:`~nasrl_nb.assembly.factory.make_search`,
the same names and settings as ``python -m nasrl_nb search --method ... --controller ...
--epsilon ... --curriculum --reward ...``. The picker knows nothing of the dashboard: the
dashboard observes it, and asks :meth:`MethodPicker.refusal` before it uses a change made in code.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import ipywidgets as W

from ..assembly.config import REWARD_OBJECTIVES, methods_reading
from ..assembly.methods import BANDIT_METHODS, RL_METHODS
from ..controllers.registry import CONTROLLERS
from ..darts.relaxed_supernets import RELAXED_SUPERNETS
from ..enas.strategy import ONESHOT_METHODS
from ..enas.supernet import SUPERNET_SPACES
from ..spaces.registry import get_space, space_from_spec
from ..spaces.search_space import SearchSpace
from ..strategies.curriculum import CURRICULUM_METHODS, GROWABLE_SPACES
from ..validation import require_choice, require_fraction

CONTROLLER_METHODS: tuple[str, ...] = (*RL_METHODS, "enas")  # a controller, its core and epsilon-greedy
MULTI_ONLY: tuple[str, ...] = ("reward_weights", "reference_params", "reference_latency_ms")  # the 'multi' reward's
BUDGETS: tuple[str, ...] = ("max_params", "max_flops", "max_latency_ms")  # the constrained rewards' budgets


def resolve_space(space) -> SearchSpace:
    """A :class:`SearchSpace` from a name, a spec dict or a space (None: the cell space, make_search's default)."""
    if space is None:
        return get_space("cell")
    if isinstance(space, SearchSpace):
        return space
    return get_space(space) if isinstance(space, str) else space_from_spec(space)


def applicable_methods(space: SearchSpace, *, dataset=None, evaluator=None) -> tuple[str, ...]:
    """The methods that can search ``space`` with ``evaluator`` (None: children trained on ``dataset``).

    Every method that proposes architectures to an evaluator runs anywhere; ENAS and
    random_ws bring their own evaluator (a shared-weight supernet, of the cell or macro
    space, trained on the dataset), so they need no ``evaluator`` given; DARTS needs a
    relaxed supernet of the space (cell, darts) and data to train it on: the dataset, or
    the one a tabular evaluator's table was built on. PNAS grows NAS-Bench-201 cells edge by
    edge, so it runs on the cell space.
    """
    methods = [*RL_METHODS, "random", "evolution", *BANDIT_METHODS]
    if space.name == "cell":
        methods.append("pnas")
    if evaluator is None and space.name in SUPERNET_SPACES:
        methods += ONESHOT_METHODS
    has_data = evaluator is None or dataset is not None or getattr(evaluator, "bench", None) is not None
    if space.name in RELAXED_SUPERNETS and has_data:
        methods.append("darts")
    return tuple(methods)


def reward_options(settings: Mapping) -> tuple[str, ...]:
    """The rewards ``make_search`` builds with ``settings``: all of REWARD_OBJECTIVES, except
    ``multi`` when a budget (max_params, max_flops, max_latency_ms) is given -- it weighs the
    costs itself."""
    if any(settings.get(name) is not None for name in BUDGETS):
        return tuple(name for name in REWARD_OBJECTIVES if name != "multi")
    return tuple(REWARD_OBJECTIVES)


class MethodPicker:
    """The method, controller, epsilon-greedy, curriculum and reward widgets, and :meth:`build`.

    Args:
        space, dataset, evaluator: as for :func:`~nasrl_nb.assembly.factory.make_search`; the
            same evaluator serves every search built, reset to its state of now before each.
        method, controller, epsilon, curriculum, reward: the first choice. ``curriculum=True``
            must be possible for ``method`` here, ``reward`` one of :func:`reward_options`
            (else a ValueError names the field and why).
        settings: the other ``make_search`` keywords (budget, seed, ...); those that only
            some methods take (``trainer_kwargs``, ``darts_kwargs``, ``supernet_train_steps``, ...
            see :func:`~nasrl_nb.assembly.config.methods_reading`)
            go to those methods only, ``curriculum_kwargs`` only with the curriculum and
            ``reward_weights``, ``reference_params``, ``reference_latency_ms`` only with the
            ``multi`` reward. With ``reward_fn`` the reward menu is disabled. DARTS runs one
            search epoch per step (batch size 1). With ``out_dir`` every search built writes
            its run folder there: the first as ``overwrite`` says, each later one replacing
            the run the previous build wrote.
    """

    def __init__(self, *, space=None, dataset=None, evaluator=None, method: str = "reinforce",
                 controller: str = "lstm", epsilon: float = 0.0, curriculum: bool = False, reward: str = "accuracy",
                 **settings):
        if "resume" in settings:
            raise ValueError("resume: a dashboard that builds searches starts them afresh; pass "
                             "resume_search(out_dir) to SearchDashboard(search) to continue a run")
        self.space = resolve_space(space)
        self.dataset = dataset
        self.evaluator = evaluator
        self.settings = dict(settings)
        self.methods = applicable_methods(self.space, dataset=dataset, evaluator=evaluator)
        require_choice("method", method, self.methods)
        require_choice("controller", controller, CONTROLLERS)
        require_fraction("epsilon", epsilon)
        if not isinstance(curriculum, bool):
            raise ValueError(f"curriculum: must be True or False, got {curriculum!r}")
        if curriculum and self.curriculum_unavailable(method) is not None:
            raise ValueError(f"curriculum: {self.curriculum_unavailable(method)}")
        self.rewards = reward_options(self.settings)
        if "reward_fn" in self.settings and reward != "accuracy":
            raise ValueError(f"reward: {reward!r} and a reward_fn given; pass one or the other")
        if reward == "multi" and "multi" not in self.rewards:
            raise ValueError(f"reward: 'multi' weighs costs itself, so not with {'/'.join(BUDGETS)}; "
                             f"allowed values: {', '.join(self.rewards)}")
        require_choice("reward", reward, self.rewards)
        given = [name for name in MULTI_ONLY if self.settings.get(name) is not None]
        if given and "multi" not in self.rewards:
            raise ValueError(f"{', '.join(given)}: only for reward 'multi', which takes no {'/'.join(BUDGETS)}")
        self.builds = 0
        self._evaluator_state = None if evaluator is None else copy.deepcopy(evaluator.state_dict())
        style = {"description_width": "110px"}
        self.method = W.Dropdown(options=self.methods, value=method, description="method", style=style)
        self.controller = W.Dropdown(options=tuple(CONTROLLERS), value=controller, description="controller",
                                     style=style)
        self.epsilon = W.FloatSlider(value=float(epsilon), min=0.0, max=0.5, step=0.01, description="epsilon-greedy",
                                     readout_format=".2f", continuous_update=False, style=style)
        self.curriculum = W.Checkbox(value=curriculum, description="curriculum", indent=False,
                                     layout=W.Layout(width="110px"))
        self.reward = W.Dropdown(options=self.rewards, value=reward, description="reward",
                                 style={"description_width": "50px"}, layout=W.Layout(width="170px"))
        self.fields: dict[str, W.Widget] = {"method": self.method, "controller": self.controller,
                                            "epsilon": self.epsilon, "curriculum": self.curriculum,
                                            "reward": self.reward}  # make_search's names
        self.widget = W.HBox(list(self.fields.values()), layout=W.Layout(flex_flow="row wrap"))  # wraps when narrow
        self.widget.add_class("nasrl-method-picker")
        self.set_enabled(True)

    def curriculum_unavailable(self, method: str) -> str | None:
        """Why ``make_search(curriculum=True)`` cannot run ``method`` here (None: it can)."""
        if not isinstance(self.space, tuple(GROWABLE_SPACES.values())):
            return f"grows a layered space's depth (--space macro or zoph-le); this space is {self.space.name!r}"
        options = self.settings.get("curriculum_kwargs") or {}
        start = options.get("start_layers", 1) if isinstance(options, Mapping) else 1
        if isinstance(start, int) and start >= self.space.num_layers:
            return f"the space has {self.space.num_layers} layer(s), none above curriculum start_layers={start}"
        if method not in CURRICULUM_METHODS:
            return f"grows an on-policy controller; allowed methods: {', '.join(CURRICULUM_METHODS)}, not {method!r}"
        if getattr(self.evaluator, "bench", None) is not None:
            return "a lookup table holds only its own space's depth, not the shallower stages"
        if self.settings.get("asynchronous"):
            return "for synchronous searches: a stale result of a shallower stage cannot be scored"
        return None

    @property
    def choice(self) -> dict:
        """The ``make_search`` keywords of the current choice: method, reward, and controller,
        epsilon and curriculum where they apply."""
        method = self.method.value
        chosen = {"method": method}
        if method in CONTROLLER_METHODS:
            chosen.update(controller=self.controller.value, epsilon=float(self.epsilon.value))
        curriculum = self.curriculum.value and self.curriculum_unavailable(method) is None
        if curriculum:
            chosen["curriculum"] = True
        if "reward_fn" not in self.settings:
            chosen["reward"] = self.reward.value
        settings = {k: v for k, v in self.settings.items() if methods_reading(k) is None or method in methods_reading(k)}
        if not curriculum:
            settings.pop("curriculum_kwargs", None)
        if self.reward.value != "multi":
            settings = {k: v for k, v in settings.items() if k not in MULTI_ONLY}
        if method == "darts":
            settings.pop("batch_size", None)  # one search epoch per step (make_search's DARTS default)
        return {**settings, **chosen}

    def build(self):
        """A fresh :class:`~nasrl_nb.run.loop.Search` of the current choice."""
        from ..assembly.factory import make_search

        if self.evaluator is not None:
            self.evaluator.load_state_dict(copy.deepcopy(self._evaluator_state))  # as if never used
        choice = self.choice
        if self.builds and choice.get("out_dir") is not None:
            choice["overwrite"] = True  # the folder holds the run this picker's previous build wrote
        search = make_search(space=self.space, dataset=self.dataset, evaluator=self.evaluator, **choice)
        self.builds += 1
        return search

    def set_enabled(self, enabled: bool) -> None:
        """Enable the menus (between runs) or disable them (while a search runs); controller and
        epsilon only for the methods that have a controller, the curriculum only where it runs,
        the reward menu unless a reward_fn was given. A disabled checkbox says why in its tooltip."""
        self.method.disabled = not enabled
        has_controller = self.method.value in CONTROLLER_METHODS
        self.controller.disabled = self.epsilon.disabled = not (enabled and has_controller)
        why_not = self.curriculum_unavailable(self.method.value)
        self.curriculum.disabled = not enabled or why_not is not None
        self.curriculum.tooltip = ("grow the space's depth during the search (Zoph & Le)" if why_not is None
                                   else f"curriculum: {why_not}")
        self.reward.disabled = not enabled or "reward_fn" in self.settings

    def refusal(self, widget, value) -> str | None:
        """Why setting ``widget`` to ``value`` between runs has no search to build (None: it has):
        a controller setting without a controller, a curriculum where it cannot run, a reward
        menu beside a reward_fn."""
        method = self.method.value
        if widget in (self.controller, self.epsilon) and method not in CONTROLLER_METHODS:
            return f"only for {', '.join(CONTROLLER_METHODS)}, not method {method!r}"
        if widget is self.curriculum and value and self.curriculum_unavailable(method) is not None:
            return self.curriculum_unavailable(method)
        if widget is self.reward and "reward_fn" in self.settings:
            return "a reward_fn was given; its reward is used"
        return None

    def field(self, widget) -> str:
        """The ``make_search`` name of one of the picker's widgets."""
        return next(name for name, w in self.fields.items() if w is widget)

    def observe(self, handler) -> None:
        """Call ``handler(change)`` when the method, controller, epsilon, curriculum or reward changes."""
        for widget in self.fields.values():
            widget.observe(handler, names="value")
