"""Rewards: the number a search maximizes, computed from one evaluation record.

Zoph & Le (2017, Sec. 3.2) reward the controller with a child's validation accuracy; in
their CIFAR-10 experiments (Sec. 4.1) precisely "the maximum validation accuracy of the
last 5 epochs cubed" (:class:`ZophLeReward`, ``objective="zoph_le"``). The default here is
plain validation accuracy after the last epoch (:class:`AccuracyReward`).
Hardware-aware NAS adds costs: MnasNet (Tan et al. 2019, Sec. 3, Eq. 2) multiplies the
accuracy by a soft latency factor ``ACC(m) * [LAT(m) / T]^w``; others add a penalty or
reject children above a budget. Every reward here is a :class:`RewardFunction`: an object
with ``reward(record) -> float`` and a ``failure_reward`` given to children that failed to
build or train, so that the search loop never special-cases an objective.

A *record* is what an evaluator returns (see :mod:`nasrl_nb.evaluators.base`): a dict with
``status`` (``"ok"`` | ``"failed"``), ``val_accuracy`` (fraction in [0, 1], after the last
epoch), ``val_accuracies`` (one per epoch, when the evaluator trained the child), ``params``,
``flops`` and ``latency_ms``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..validation import choice, require_choice, require_choices, require_positive

COST_METRICS: tuple[str, ...] = ("params", "flops", "latency_ms")
OBJECTIVES: tuple[str, ...] = ("accuracy", "zoph_le")  # the base reward, by name (see make_reward)
CONSTRAINT_MODES: tuple[str, ...] = ("hard", "penalty", "mnasnet")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_number(field: str, value) -> float:
    if not _finite(value):
        raise ValueError(f"{field}: must be a finite number, got {value!r}")
    return float(value)


def is_scorable(record: Mapping) -> bool:
    """True when ``record`` is a successful evaluation with a finite validation accuracy."""
    if not isinstance(record, Mapping):
        raise ValueError(f"record: expected an evaluation record (a dict such as a Search.history row), got {type(record).__name__}")
    return record.get("status") == "ok" and _finite(record.get("val_accuracy"))


# --- the weighted multi-objective formula: accuracy, speed, size -------------------------
def efficiency_score(latency_ms: float, reference_latency_ms: float) -> float:
    """``max(0, 1 - latency_ms / reference_latency_ms)``: 1 for an instant net, 0 at or above the reference."""
    reference_latency_ms = require_positive("reference_latency_ms", reference_latency_ms)
    return max(0.0, 1.0 - _check_number("latency_ms", latency_ms) / reference_latency_ms)


def complexity_score(params: float, reference_params: float) -> float:
    """``min(1, params / reference_params)``: 0 for no parameters, 1 at or above the reference."""
    reference_params = require_positive("reference_params", reference_params)
    return min(1.0, max(0.0, _check_number("params", params)) / reference_params)


def check_weights(weights: Sequence[float]) -> tuple[float, float, float]:
    """Validate ``(w_accuracy, w_efficiency, w_complexity)``: three finite numbers >= 0, not all 0."""
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence) or len(weights) != 3:
        raise ValueError(f"weights: expected three numbers (accuracy, efficiency, complexity), got {weights!r}")
    checked = tuple(_check_number("weights", w) for w in weights)
    if any(w < 0 for w in checked) or not any(checked):
        raise ValueError(f"weights: must be >= 0 and not all zero, got {weights!r}")
    return checked


def compute_reward(accuracy: float, efficiency: float, complexity: float, weights=(1.0, 0.0, 0.0)) -> float:
    """``w_acc * accuracy + w_eff * efficiency - w_cplx * complexity``.

    Args:
        accuracy: validation accuracy, a fraction in [0, 1].
        efficiency: speed score in [0, 1], higher is faster; see :func:`efficiency_score`
            (``1 - latency_ms / reference_latency_ms``, clipped at 0).
        complexity: size score in [0, 1], higher is bigger; see :func:`complexity_score`
            (``params / reference_params``, clipped at 1). It is *subtracted*.
        weights: ``(w_acc, w_eff, w_cplx)``, each >= 0. The default is plain accuracy.
    """
    w_acc, w_eff, w_cplx = check_weights(weights)
    for field, value in (("accuracy", accuracy), ("efficiency", efficiency), ("complexity", complexity)):
        if not 0.0 <= _check_number(field, value) <= 1.0:
            raise ValueError(f"{field}: must be a number in [0.0, 1.0], got {value!r}")
    return w_acc * accuracy + w_eff * efficiency - w_cplx * complexity


# --- reward objects -----------------------------------------------------------------------
class RewardFunction:
    """Base class: ``reward(record)`` for a successful child, ``failure_reward`` otherwise.

    Subclasses implement :meth:`score` for records that :func:`is_scorable` accepts, and may
    report :meth:`constraint_violated` (a hard budget exceeded). Calling the object is the
    same as :meth:`reward`.
    """

    def __init__(self, *, failure_reward: float = 0.0):
        self.failure_reward = _check_number("failure_reward", failure_reward)

    def reward(self, record: Mapping) -> float:
        """The reward of one evaluation record; ``failure_reward`` when it failed."""
        if not is_scorable(record):
            return self.failure_reward
        return float(self.score(record))

    __call__ = reward

    def score(self, record: Mapping) -> float:
        raise NotImplementedError

    def constraint_violated(self, record: Mapping) -> bool:
        """True when the child exceeds a budget of this reward (never for plain objectives)."""
        return False

    label = "reward"  # what the reward is, in words, for plots and tables

    def config(self) -> dict:
        """Plain-JSON description (stored in a search's summary)."""
        return {"kind": type(self).__name__, "failure_reward": self.failure_reward}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "kind")
        return f"{type(self).__name__}({args})"


class AccuracyReward(RewardFunction):
    """Validation accuracy after the child's last epoch (the default reward).

    This is the quantity Zoph & Le (2017, Sec. 3.2) describe; the exact reward of their
    experiments (best of the last 5 epochs, cubed) is :class:`ZophLeReward`.
    """

    label = "validation accuracy"

    def score(self, record: Mapping) -> float:
        return float(record["val_accuracy"])


class ZophLeReward(RewardFunction):
    """Zoph & Le's reward (2017, Sec. 4.1): ``max(val_accuracies[-5:]) ** 3``.

    "We use the maximum validation accuracy of the last 5 epochs cubed as the reward."
    The maximum over the last epochs smooths a noisy final epoch; cubing stretches the top of
    the accuracy range (0.90 -> 0.729, 0.95 -> 0.857), so the controller sees the difference
    between good children more than between bad ones.

    Args:
        last_epochs: how many final epochs the maximum runs over (5 in the paper).
        power: the exponent (3 in the paper).

    It reads ``record["val_accuracies"]`` (one per epoch; :class:`~nasrl_nb.evaluators.base.ChildEvaluator`
    records them). A record without a usable list -- a ``FunctionEvaluator`` or a lookup
    table that reports only the final ``val_accuracy`` -- falls back to ``val_accuracy ** power``,
    the same formula with a window of one epoch. Non-finite entries are ignored.
    """

    label = "Zoph & Le: max val accuracy of the last 5 epochs, cubed"

    def __init__(self, *, last_epochs: int = 5, power: float = 3.0, failure_reward: float = 0.0):
        super().__init__(failure_reward=failure_reward)
        self.last_epochs = require_positive("last_epochs", last_epochs, integer=True)
        self.power = require_positive("power", power)
        if (self.last_epochs, self.power) != (5, 3.0):
            self.label = f"max val accuracy of the last {self.last_epochs} epochs ** {self.power:g}"

    def best_recent_accuracy(self, record: Mapping) -> float:
        """``max`` of the finite accuracies among the last ``last_epochs`` epochs, else ``val_accuracy``."""
        per_epoch = record.get("val_accuracies")
        if isinstance(per_epoch, Sequence) and not isinstance(per_epoch, (str, bytes)):
            recent = [float(a) for a in list(per_epoch)[-self.last_epochs:] if _finite(a)]
            if recent:
                return max(recent)
        return float(record["val_accuracy"])

    def score(self, record: Mapping) -> float:
        return min(1.0, max(0.0, self.best_recent_accuracy(record))) ** self.power

    def config(self) -> dict:
        return {**super().config(), "last_epochs": self.last_epochs, "power": self.power}


class MultiObjectiveReward(RewardFunction):
    """:func:`compute_reward` applied to a record, with its efficiency and complexity scores.

    ``reference_latency_ms`` and ``reference_params`` set the scale of the two scores; they
    are needed only when their weight is non-zero.
    """

    label = "weighted accuracy, efficiency and complexity"

    def __init__(
        self,
        weights=(1.0, 0.0, 0.0),
        *,
        reference_params: float | None = None,
        reference_latency_ms: float | None = None,
        failure_reward: float = 0.0,
    ):
        super().__init__(failure_reward=failure_reward)
        self.weights = check_weights(weights)
        if self.weights[1] and reference_latency_ms is None:
            raise ValueError("reference_latency_ms: needed when the efficiency weight is non-zero")
        if self.weights[2] and reference_params is None:
            raise ValueError("reference_params: needed when the complexity weight is non-zero")
        self.reference_params = None if reference_params is None else require_positive("reference_params", reference_params)
        self.reference_latency_ms = (
            None if reference_latency_ms is None else require_positive("reference_latency_ms", reference_latency_ms)
        )

    def score(self, record: Mapping) -> float:
        efficiency = efficiency_score(record["latency_ms"], self.reference_latency_ms) if self.weights[1] else 0.0
        complexity = complexity_score(record["params"], self.reference_params) if self.weights[2] else 0.0
        accuracy = min(1.0, max(0.0, float(record["val_accuracy"])))
        return compute_reward(accuracy, efficiency, complexity, self.weights)

    def config(self) -> dict:
        return {
            **super().config(),
            "weights": list(self.weights),
            "reference_params": self.reference_params,
            "reference_latency_ms": self.reference_latency_ms,
        }


def check_limits(max_params=None, max_flops=None, max_latency_ms=None) -> dict[str, float]:
    """``{metric: limit}`` for the limits that are given, each a positive number."""
    given = {"params": max_params, "flops": max_flops, "latency_ms": max_latency_ms}
    return {metric: require_positive(f"max_{metric}", value) for metric, value in given.items() if value is not None}


def relative_excess(record: Mapping, limits: Mapping[str, float]) -> float:
    """``sum_k max(0, cost_k / limit_k - 1)`` over the limited metrics (0 inside every budget).

    A missing or non-finite cost counts as infinitely over budget.
    """
    total = 0.0
    for metric, limit in limits.items():
        cost = record.get(metric)
        total += math.inf if not _finite(cost) else max(0.0, cost / limit - 1.0)
    return total


class ConstrainedReward(RewardFunction):
    """A base reward with budgets on ``params``, ``flops`` and/or ``latency_ms``.

    Modes:
        ``"hard"``: rejection sampling. A child over any budget gets ``violation_reward``
            (default: ``failure_reward``) and :meth:`constraint_violated` is True; its
            status stays ``"ok"``.
        ``"penalty"``: ``base - penalty_weight * relative_excess`` (see
            :func:`relative_excess`); a child over budget is still flagged.
    """

    @property
    def label(self) -> str:
        budgets = ", ".join(f"{metric} <= {limit:g}" for metric, limit in self.limits.items())
        return f"{self.base.label} ({self.mode} budget: {budgets})"

    def __init__(
        self,
        base: RewardFunction | None = None,
        *,
        max_params: float | None = None,
        max_flops: float | None = None,
        max_latency_ms: float | None = None,
        mode: str = "hard",
        penalty_weight: float = 1.0,
        violation_reward: float | None = None,
        failure_reward: float | None = None,
    ):
        base = base if base is not None else AccuracyReward()
        if not isinstance(base, RewardFunction):
            raise ValueError(f"base: expected a RewardFunction, got {type(base).__name__}")
        super().__init__(failure_reward=base.failure_reward if failure_reward is None else failure_reward)
        self.base = base
        self.limits = check_limits(max_params, max_flops, max_latency_ms)
        if not self.limits:
            raise ValueError("max_params, max_flops, max_latency_ms: give at least one budget")
        self.mode = require_choice("constraint_mode", mode, ("hard", "penalty"))
        self.penalty_weight = require_positive("penalty_weight", penalty_weight)
        self.violation_reward = self.failure_reward if violation_reward is None else _check_number("violation_reward", violation_reward)

    def constraint_violated(self, record: Mapping) -> bool:
        return is_scorable(record) and relative_excess(record, self.limits) > 0

    def score(self, record: Mapping) -> float:
        excess = relative_excess(record, self.limits)
        if excess == 0:
            return self.base.score(record)
        if self.mode == "hard" or math.isinf(excess):
            return self.violation_reward
        return self.base.score(record) - self.penalty_weight * excess

    def config(self) -> dict:
        return {
            **super().config(),
            "base": self.base.config(),
            "limits": dict(self.limits),
            "mode": self.mode,
            "penalty_weight": self.penalty_weight,
            "violation_reward": self.violation_reward,
        }


class MnasNetReward(RewardFunction):
    """MnasNet's soft constraint (Tan et al. 2019, Eq. 2): ``ACC * prod_k (cost_k / target_k)^w_k``.

    ``w_k = alpha`` when ``cost_k <= target_k`` and ``beta`` otherwise. The paper's soft
    setting is ``alpha = beta = w = -0.07`` (a net twice as slow loses ~5% of its reward,
    a net twice as fast gains ~5%); ``alpha=0, beta=-1`` is its hard-ish variant that
    only punishes exceeding the target.

    Args:
        targets: ``{metric: target}`` with metrics from ``params``, ``flops``, ``latency_ms``.
        w: default exponent for both sides (must be <= 0).
        alpha, beta: exponents below / above the target (default ``w``), each <= 0.
        base: the ``ACC`` term (default :class:`AccuracyReward`; :class:`ZophLeReward` for
            Zoph & Le's cubed accuracy).
    """

    label = "MnasNet: accuracy x (cost / target) ** w"

    def __init__(
        self,
        targets: Mapping[str, float],
        *,
        w: float = -0.07,
        alpha: float | None = None,
        beta: float | None = None,
        base: RewardFunction | None = None,
        failure_reward: float = 0.0,
    ):
        super().__init__(failure_reward=failure_reward)
        self.base = _check_base(base, failure_reward)
        if not isinstance(targets, Mapping) or not targets:
            raise ValueError(f"targets: expected a dict such as {{'latency_ms': 5.0}}, got {targets!r}")
        self.targets = {require_choice("targets key", k, COST_METRICS): require_positive(f"targets[{k!r}]", v) for k, v in targets.items()}
        self.alpha = _check_number("alpha", w if alpha is None else alpha)
        self.beta = _check_number("beta", w if beta is None else beta)
        for name, value in (("alpha", self.alpha), ("beta", self.beta)):
            if value > 0:
                raise ValueError(f"{name}: must be <= 0 (a bigger or slower net must not earn more), got {value}")

    def score(self, record: Mapping) -> float:
        factor = 1.0
        for metric, target in self.targets.items():
            cost = record.get(metric)
            if not _finite(cost) or cost <= 0:
                return self.failure_reward
            exponent = self.alpha if cost <= target else self.beta
            factor *= (cost / target) ** exponent
        return self.base.score(record) * factor

    def config(self) -> dict:
        config = {**super().config(), "targets": dict(self.targets), "alpha": self.alpha, "beta": self.beta}
        if type(self.base) is not AccuracyReward:  # the default base is left out: older configs stay equal
            config["base"] = self.base.config()
        return config


def _check_base(base, failure_reward: float) -> RewardFunction:
    if base is None:
        return AccuracyReward(failure_reward=failure_reward)
    if not isinstance(base, RewardFunction):
        raise ValueError(f"base: expected a RewardFunction (AccuracyReward, ZophLeReward, ...), got {type(base).__name__}")
    return base


def objective_reward(objective: str = "accuracy", *, failure_reward: float = 0.0) -> RewardFunction:
    """The base reward named ``objective``: ``"accuracy"`` (validation accuracy after the last
    epoch, :class:`AccuracyReward`) or ``"zoph_le"`` (max of the last 5 epochs, cubed,
    :class:`ZophLeReward`)."""
    require_choice("objective", objective, OBJECTIVES)
    cls = ZophLeReward if objective == "zoph_le" else AccuracyReward
    return cls(failure_reward=failure_reward)


REWARD_OBJECTIVES = (*OBJECTIVES, "multi")  # multi: compute_reward's weighted sum of accuracy, speed and size (MultiObjectiveReward)


@dataclass
class RewardConfig:
    """The reward (:func:`~nasrl_nb.rewards.objectives.make_reward`); ``custom`` when a reward_fn is passed."""

    max_params: float | None = None  # budget on parameters
    max_flops: float | None = None  # budget on FLOPs per image
    max_latency_ms: float | None = None  # budget on latency (batch of 1)
    constraint_mode: str = choice("hard", CONSTRAINT_MODES)  # hard, penalty or mnasnet
    failure_reward: float = 0.0  # the reward of a child that failed to train
    custom: dict | None = None  # config() of a reward_fn passed in code (then the fields above are unused)
    objective: str = choice("accuracy", REWARD_OBJECTIVES)  # accuracy, zoph_le, or multi: compute_reward(accuracy, efficiency, complexity)
    weights: list | None = dataclasses.field(default=None, metadata={"nargs": 3, "metavar": ("W_ACC", "W_EFF", "W_CPLX")})  # multi: (w_accuracy, w_efficiency, w_complexity); None: (1, 0, 0)
    reference_params: float | None = None  # multi: params at which complexity reaches 1
    reference_latency_ms: float | None = None  # multi: latency at which efficiency reaches 0

    def __post_init__(self):
        require_choices(self, "reward")
        if self.objective != "multi" and (self.weights is not None or self.reference_params is not None
                                          or self.reference_latency_ms is not None):
            raise ValueError("reward_weights, reference_params, reference_latency_ms: only for reward 'multi', "
                             f"not {self.objective!r}")
        if self.weights is not None:
            self.weights = list(check_weights(self.weights))


def make_reward(
    *,
    max_params: float | None = RewardConfig.max_params,
    max_flops: float | None = RewardConfig.max_flops,
    max_latency_ms: float | None = RewardConfig.max_latency_ms,
    constraint_mode: str = RewardConfig.constraint_mode,
    failure_reward: float = RewardConfig.failure_reward,
    objective: str = RewardConfig.objective,
) -> RewardFunction:
    """The ``objective`` reward, constrained by the budgets that are given.

    ``objective`` names the base reward (:func:`objective_reward`): ``"accuracy"`` (the
    default, validation accuracy after the last epoch) or ``"zoph_le"`` (Zoph & Le 2017,
    Sec. 4.1: the maximum validation accuracy of the last 5 epochs, cubed).
    ``constraint_mode`` is ``"hard"`` or ``"penalty"`` (:class:`ConstrainedReward`) or
    ``"mnasnet"`` (:class:`MnasNetReward` with the budgets as targets and the objective as
    its accuracy term).
    """
    require_choice("constraint_mode", constraint_mode, CONSTRAINT_MODES)
    base = objective_reward(objective, failure_reward=failure_reward)
    limits = check_limits(max_params, max_flops, max_latency_ms)
    if not limits and constraint_mode != "hard":
        raise ValueError(
            f"constraint_mode: {constraint_mode!r} needs a budget; allowed: give max_params, max_flops or "
            "max_latency_ms with it (the default 'hard' needs none)"
        )
    if not limits:
        return base
    if constraint_mode == "mnasnet":
        return MnasNetReward(limits, base=base, failure_reward=failure_reward)
    return ConstrainedReward(
        base,
        max_params=max_params,
        max_flops=max_flops,
        max_latency_ms=max_latency_ms,
        mode=constraint_mode,
    )
