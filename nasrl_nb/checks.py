"""Exercise checkers for the notebooks: a clear pass, or a hint that does not give the answer.

Each ``check_*`` function compares a student's answer with what the library computes and
returns a :class:`CheckResult`. A notebook shows it as a green tick or an orange hint
(``_repr_html_``); it is truthy only when the answer is right, so a solution cell can
``assert check_space_size(space, answer)``. Checkers never print and never raise for a
wrong answer: a wrong answer is the normal case while learning. They recognise the usual
mistakes (adding instead of multiplying, counting buffers, a flipped sign in the REINFORCE
loss, ...) and name the idea that was missed rather than the number that was expected.
:func:`solution` shows an exercise's reference answer only when a student asks for it.
"""

from __future__ import annotations

import html
import json
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import nn

from .rl.policy_gradient import reinforce_loss
from .spaces.search_space import SearchSpace


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one exercise check: ``passed`` and a message for the student."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return ("\u2714 " if self.passed else "\u2718 Not yet. ") + self.message

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        if self.passed:
            color, border, mark = "#e8f5e9", "#2e7d32", "\u2714 Correct"
        else:
            color, border, mark = "#fff3e0", "#ef6c00", "\u2718 Not yet \u2014 hint"
        return (
            f'<div style="background:{color};border-left:4px solid {border};padding:6px 10px;'
            f'margin:4px 0;color:#222"><b>{mark}:</b> {html.escape(self.message)}</div>'
        )


def _passed(message: str) -> CheckResult:
    return CheckResult(True, message)


def _hint(message: str) -> CheckResult:
    return CheckResult(False, message)


@dataclass(frozen=True)
class Solution:
    """A reference answer, shown only when asked for: ``nb.checks.solution("reinforce_loss")``.

    In a notebook it renders collapsed (an HTML ``<details>``), so that even a cell run by
    "Run All" shows the answer only when the student opens it.
    """

    name: str
    code: str
    why: str

    def __str__(self) -> str:
        return f"Reference answer ({self.name}):\n{self.code}\n# {self.why}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return (
            f"<details><summary>Reference answer: <code>{html.escape(self.name)}</code> (click to open)</summary>"
            f"<pre>{html.escape(self.code)}</pre><p>{html.escape(self.why)}</p></details>"
        )


_SOLUTIONS = {
    s.name: s
    for s in (
        Solution("space_size", "answer = 5 ** 6", "6 edges, each one of 5 operations: independent choices multiply."),
        Solution(
            "macro_space_size",
            "answer = (2 * 3) ** 2",
            "Per layer 2 layer types times 3 activations; 2 layers, each chosen independently.",
        ),
        Solution(
            "unique_cells",
            'space = nb.CellSpace(ops=["none", "skip_connect", "nor_conv_3x3"])\n'
            "answer = len({space.canonical(arch) for arch in space.enumerate()})",
            "Cells with the same canonical string compute the same function; count the distinct strings.",
        ),
        Solution(
            "param_count",
            "answer = 16 * 32 * 3 * 3",
            "One 3x3 kernel per (input channel, output channel) pair, and no bias.",
        ),
        Solution(
            "output_shape",
            "answer = (7, data.num_classes)",
            "The batch dimension first, then one score (logit) per class.",
        ),
        Solution(
            "reinforce_loss",
            "def my_reinforce_loss(log_prob, rewards, baseline):\n"
            "    return -((rewards - baseline) * log_prob).mean()",
            "The advantage R - b weights each log-probability; the minus sign turns the optimiser's descent into "
            "ascent on the expected reward. A sum, or an advantage divided by its standard deviation, is a positive "
            "multiple of the same gradient.",
        ),
        Solution(
            "pareto_front",
            'ok = [r for r in search.history if r["status"] == "ok"]\n'
            'key = lambda r: (r["val_accuracy"], -r["flops"])  # both: larger is better\n'
            "answer = [r for r in ok\n"
            "          if not any(all(a >= b for a, b in zip(key(o), key(r))) and key(o) != key(r) for o in ok)]",
            "A record is on the front when no other one is at least as good on both metrics and better on one; "
            "failed runs never count, runs over the budget do.",
        ),
    )
}


def solution(name: str) -> Solution:
    """The reference answer of the exercise ``name`` (one of ``_SOLUTIONS``), to show on request."""
    if name not in _SOLUTIONS:
        raise ValueError(f"name: {name!r} is not allowed; allowed values: {', '.join(sorted(_SOLUTIONS))}")
    return _SOLUTIONS[name]


def _as_int(answer) -> int | None:
    """``answer`` as an exact int if it is a whole number (int, NumPy/torch scalar, integral float)."""
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool):
        return None
    if isinstance(answer, numbers.Integral):
        return int(answer)
    if isinstance(answer, numbers.Real) and math.isfinite(answer) and float(answer).is_integer():
        return int(answer)
    return None


def _not_a_count(answer) -> CheckResult:
    return _hint(f"Your answer should be a whole number (an int), but it is {type(answer).__name__} {answer!r}.")


def _too_high_or_low(answer: int, expected: int, how: str) -> CheckResult:
    direction = "too high" if answer > expected else "too low"
    return _hint(f"{answer:,} is {direction}. {how}")


# --- 01_search_space ---------------------------------------------------------------------


def check_space_size(space: SearchSpace, answer) -> CheckResult:
    """Is ``answer`` the number of architectures in ``space``?"""
    expected = space.size()
    value = _as_int(answer)
    if value is None:
        return _not_a_count(answer)
    if isinstance(answer, float) and value != expected and math.isclose(answer, expected, rel_tol=1e-9):
        return _hint("Close, but a float cannot hold a count this large exactly: multiply Python ints instead.")
    if value == expected:
        return _passed(f"{expected:,} architectures: every decision's options multiply.")
    counts = [len(d.choices) for d in space.decisions]
    if value == sum(counts):
        return _hint(
            "You added the option counts. The decisions are independent: every option of one decision "
            "combines with every option of all the others."
        )
    if value == len(counts):
        return _hint(
            "That is the number of decisions (tokens the controller emits). Each decision has several options."
        )
    if any(value * k == expected for k in counts if k > 1):
        return _hint(
            f"You are one decision short. The space has {len(counts)} decisions; did you include all of "
            "them (skip-connection decisions too)?"
        )
    return _too_high_or_low(value, expected, "Take len(d.choices) for each d in space.decisions and combine them.")


@lru_cache(maxsize=8)
def _unique_cells(spec_json: str) -> tuple[int, int, int]:
    """(all cells, connected cells, distinct functions) of the cell space with this spec."""
    from .spaces.registry import space_from_spec

    space = space_from_spec(json.loads(spec_json))
    archs = list(space.enumerate())
    connected = sum(space.is_valid(a) for a in archs)
    return len(archs), connected, len({space.canonical(a) for a in archs})


def check_unique_cells(answer, space=None) -> CheckResult:
    """Is ``answer`` the number of functionally distinct cells (NAS-Bench-201: 6,466)?

    ``space`` defaults to the 4-node NAS-Bench-201 :class:`~nasrl_nb.spaces.cell_space.CellSpace`.
    """
    if space is None:
        from .spaces.cell_space import CellSpace

        space = CellSpace()
    if not hasattr(space, "canonical"):
        raise ValueError(f"space: {type(space).__name__} is not allowed; allowed values: a CellSpace")
    total, connected, expected = _unique_cells(json.dumps(space.spec(), sort_keys=True))
    value = _as_int(answer)
    if value is None:
        return _not_a_count(answer)
    if value == expected:
        return _passed(
            f"{expected:,} distinct cells out of {total:,}: the rest repeat one of them with relabelled "
            "nodes, extra skip/none edges, or dead branches."
        )
    if value == total:
        return _hint(
            "That counts every cell. Many compute the same function (an edge into a dead node, nodes in "
            "another order); count the distinct values of space.canonical(arch)."
        )
    if value == connected:
        return _hint(
            "You removed the disconnected cells, but isomorphic cells are still counted twice; count "
            "distinct space.canonical(arch) strings instead."
        )
    return _too_high_or_low(
        value, expected, "Group the cells of space.enumerate() by space.canonical(arch) and count the groups."
    )


# --- 02_child_network ---------------------------------------------------------------------


def check_param_count(net: nn.Module, answer) -> CheckResult:
    """Is ``answer`` the number of learnable scalars in ``net`` (``count_parameters``)?"""
    from .nn.complexity import count_parameters

    expected = count_parameters(net)
    value = _as_int(answer)
    if value is None:
        return _not_a_count(answer)
    if value == expected:
        return _passed(f"{expected:,} parameters.")
    params = list(net.named_parameters())
    buffers = sum(b.numel() for b in net.buffers())
    trainable = sum(p.numel() for _, p in params if p.requires_grad)
    no_bias = sum(p.numel() for name, p in params if not name.endswith("bias"))
    if buffers and value == expected + buffers:
        return _hint(
            "You also counted buffers (such as batch-norm running mean and variance). They are state, "
            "not learned weights: count net.parameters() only."
        )
    if value == len(params):
        return _hint("That is the number of parameter tensors. Count the scalars in each one (numel).")
    if trainable != expected and value == trainable:
        return _hint("You counted only trainable tensors; frozen parameters still count as parameters here.")
    if no_bias != expected and value == no_bias:
        return _hint("Close: remember the biases (and the affine weights of normalization layers).")
    return _too_high_or_low(
        value, expected, "Add up p.numel() over net.parameters(), or work it out layer by layer."
    )


def check_output_shape(net: nn.Module, x: torch.Tensor, answer) -> CheckResult:
    """Is ``answer`` the shape of ``net(x)``? (``net`` runs in eval mode under ``no_grad``.)"""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            expected = tuple(net(x).shape)
    finally:
        net.train(was_training)
    try:
        value = tuple(int(v) for v in answer)
    except (TypeError, ValueError):
        return _hint(f"Give the shape as a tuple of ints such as (2, 3), not {type(answer).__name__} {answer!r}.")
    if value == expected:
        return _passed(f"net(x).shape == {expected}.")
    if value == expected[1:]:
        return _hint("Almost: PyTorch keeps the batch dimension in front of the output too.")
    if sorted(value) == sorted(expected):
        return _hint("The right numbers in the wrong order: the batch dimension comes first.")
    if value == tuple(x.shape):
        return _hint("That is the input's shape. What does the network's last layer output for each example?")
    if len(value) != len(expected):
        return _hint(f"Wrong number of dimensions: the output has {len(expected)}, your answer has {len(value)}.")
    return _hint("Follow the shapes from the input to the classifier; the last layer sets the final size.")


# --- 04_reinforce ---------------------------------------------------------------------------


def _tiny_controller(seed: int):
    """A small NASController on the NAS-Bench-201 cell space (fast, 6 decisions)."""
    from .controllers.lstm import NASController
    from .spaces.cell_space import CellSpace

    with torch.random.fork_rng():  # leave the student's seeded global RNG untouched
        torch.manual_seed(seed)
        return NASController(CellSpace(), hidden_size=16)


def check_reinforce_loss(
    student_fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor],
    controller=None,
    *,
    trials: int = 3,
    batch_size: int = 8,
    seed: int = 0,
) -> CheckResult:
    """Does ``student_fn(log_prob, rewards, baseline)`` give a REINFORCE loss with this baseline?

    On ``trials`` random batches of ``batch_size`` sampled architectures, the student's loss
    of ``log_prob = controller.log_prob(actions)[0]`` (shape (B,), with gradients), rewards
    (B,) in [0, 1] and a float baseline is differentiated with respect to ``log_prob``. The
    gradient of a loss with respect to the controller's weights is
    ``sum_k dL/dlog_prob_k * grad log pi(a_k)``, so the loss is a REINFORCE loss exactly when
    ``dL/dlog_prob = -c (R - b)`` for some ``c > 0`` (Zoph & Le 2017 Eq. 3; Williams 1992):
    the library's :func:`~nasrl_nb.rl.policy_gradient.reinforce_loss` (the mean, ``c = 1/B``),
    a sum (``c = 1``) and an advantage divided by its standard deviation
    (``c = 1/(B std)``) all pass; the message says what the scale changes. A flipped
    sign, a missing or added baseline, the batch mean in place of the baseline, a detached
    ``log_prob`` and other weights each get a hint. The architectures come from a generator
    of the checker's own, so the controller's sampling stream is untouched.
    """
    controller = controller if controller is not None else _tiny_controller(seed)
    generator = torch.Generator().manual_seed(seed)
    scales = []
    for trial in range(trials):
        actions = controller.sample(batch_size, generator=torch.Generator().manual_seed(seed + trial)).architectures
        rewards = torch.rand(batch_size, generator=generator)
        baseline = float(rewards.mean()) + 0.1 * float(torch.randn(1, generator=generator))
        log_prob, _ = controller.log_prob(actions)  # (B,), log pi(a) <= 0
        try:
            loss = student_fn(log_prob, rewards.clone(), baseline)
        except Exception as err:  # a bug in the student's code becomes a hint, not a traceback
            return _hint(f"Your function raised {type(err).__name__}: {err}")
        if not isinstance(loss, torch.Tensor):
            return _hint(f"Return a torch tensor (so autograd can differentiate it), not {type(loss).__name__}.")
        if loss.numel() != 1:
            return _hint(f"Return one number for the whole batch (a scalar), not shape {tuple(loss.shape)}.")
        if not math.isfinite(float(loss.detach())):
            return _hint("Your loss is not finite; log_prob is already a logarithm, so do not take log() again.")
        weights = None  # dL/dlog_prob, (B,): how much each sample's log-probability is pushed
        if loss.requires_grad:
            (weights,) = torch.autograd.grad(loss.reshape(()), log_prob, allow_unused=True)
        if weights is None or not torch.any(weights != 0):
            return _hint(
                "No gradient reaches log_prob: the loss must depend on log_prob itself (no detach(), no .item(), "
                "no multiplying it by 0); (reward - baseline) is the constant weight of each log_prob."
            )
        reference_lp = log_prob.detach().requires_grad_()  # (B,), a leaf of its own for the library's loss
        (expected,) = torch.autograd.grad(reinforce_loss(reference_lp, rewards - baseline), reference_lp)
        scale = _positive_multiple(weights, expected)  # expected = -(R - b) / B
        if scale is None:
            return _hint(_diagnose_weights(weights, rewards, baseline))
        scales.append(scale)
    if all(math.isclose(s, 1.0, rel_tol=1e-4) for s in scales):
        how = "it matches nasrl_nb.reinforce_loss (the mean over the batch) in gradient"
    elif all(math.isclose(s, batch_size, rel_tol=1e-4) for s in scales):
        how = (f"its gradient is {batch_size} (the batch size) times nasrl_nb.reinforce_loss's, a sum instead of a "
               "mean: the same direction, with a step that grows with the batch (the mean keeps the learning rate's "
               "meaning when the batch size changes)")
    else:
        how = (f"its gradient is a positive multiple of nasrl_nb.reinforce_loss's (x{min(scales):.3g} to "
               f"x{max(scales):.3g} on the checker's batches), for example an advantage divided by its standard "
               "deviation: the same direction, with a step size that no longer depends on the rewards' scale")
    return _passed(
        f"A REINFORCE loss: {how}. Minimising it makes architectures that beat the baseline more likely."
    )


def _positive_multiple(weights: torch.Tensor, direction: torch.Tensor, rtol: float = 1e-4) -> float | None:
    """``c > 0`` with ``weights == c * direction`` (to ``rtol`` of their norm), else None."""
    weights, direction = weights.detach().double(), direction.detach().double()
    scale = float(weights @ direction / (direction @ direction))
    residual = float(torch.linalg.vector_norm(weights - scale * direction))
    if scale > 0 and residual <= rtol * float(torch.linalg.vector_norm(weights)):
        return scale
    return None


def _diagnose_weights(weights: torch.Tensor, rewards: torch.Tensor, baseline: float) -> str:
    """Name the likely slip from ``dL/dlog_prob``, compared with the usual wrong weightings."""
    variants = [
        (rewards - baseline, "Check the sign: the optimizer minimises the loss, but we want high rewards to become more likely."),
        (-rewards, "Subtract the baseline from the reward: the advantage R - b is what weights log_prob."),
        (rewards, "Two slips: check the sign, and subtract the baseline from the reward."),
        (-(rewards + baseline), "The baseline is subtracted from the reward, not added."),
        (
            -(rewards - rewards.mean()),
            "You used the batch's mean reward as the baseline; use the baseline you are given (a moving average "
            "of earlier batches), as the trainer does.",
        ),
    ]
    for direction, hint in variants:
        if _positive_multiple(weights, direction) is not None:
            return hint
    return "Weight each log_prob by its advantage (reward - baseline), combine over the batch, and flip the sign."


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-7)


def check_baseline_update(
    student_fn: Callable[[float, torch.Tensor, float], float],
    *,
    decay: float = 0.9,
    trials: int = 3,
    seed: int = 0,
) -> CheckResult:
    """Does ``student_fn(baseline, rewards, decay)`` return the next moving-average baseline?

    Compared with :meth:`PolicyGradientTrainer.compute_baseline`
    (``b <- decay * b + (1 - decay) * mean(R)``) from random previous baselines and
    reward batches.
    """
    from .rl.policy_gradient import PolicyGradientTrainer

    generator = torch.Generator().manual_seed(seed)
    trainer = PolicyGradientTrainer(_tiny_controller(seed), baseline_decay=decay)
    for _ in range(trials):
        previous = float(torch.rand(1, generator=generator))
        rewards = torch.rand(6, generator=generator, dtype=torch.float64)
        trainer.baseline = previous
        expected = trainer.compute_baseline(rewards)
        try:
            answer = student_fn(previous, rewards.clone(), decay)
            value = float(answer)
        except Exception as err:  # a bug in the student's code becomes a hint, not a traceback
            return _hint(f"Your function raised {type(err).__name__}: {err}")
        if _close(value, expected):
            continue
        mean = float(rewards.mean())
        if _close(value, (1 - decay) * previous + decay * mean):
            return _hint("The weights are swapped: decay is how much of the OLD baseline to keep.")
        if _close(value, mean):
            return _hint("That is only this batch's mean; the baseline should also remember earlier batches.")
        if _close(value, decay * previous + (1 - decay) * float(rewards.sum())):
            return _hint("Use the batch's mean reward, not its sum.")
        return _hint("Blend the old baseline and the batch's mean reward; the two weights add up to 1.")
    return _passed("Your update matches PolicyGradientTrainer.compute_baseline.")


# --- 05_multi_objective ------------------------------------------------------------------------


def check_pareto_front(
    records,
    answer,
    metrics=("val_accuracy", "params"),
    maximize=(True, False),
) -> CheckResult:
    """Is ``answer`` (records, or their indices in ``records``) the Pareto front of ``records``?

    Compared, as a set, with :func:`nasrl_nb.rewards.pareto.pareto_front` for the same ``metrics``
    and directions (default: high accuracy, few parameters). Every record that trained counts,
    over a constraint's budget or not; failed records never do. Records with identical metrics
    are one point of the front: an answer that keeps one of them passes.
    """
    from .rewards.pareto import pareto_front

    records = list(records)
    front = pareto_front(records, metrics, maximize)
    expected = {id(r) for r in front}
    try:
        chosen = {id(records[a]) if _as_int(a) is not None else id(a) for a in answer}
    except (TypeError, IndexError):
        return _hint("Give the front as a list of records (or of their positions in the list).")
    if not chosen <= {id(r) for r in records}:
        return _hint("Pick records from the list itself (the same dicts, or their positions).")
    if chosen == expected:
        return _passed(f"{len(expected)} records on the front: none is beaten on every metric by another.")
    points = {tuple(r[m] for m in metrics) for r in front}  # the front's distinct metric values
    if chosen < expected and {tuple(r[m] for m in metrics) for r in front if id(r) in chosen} == points:
        twins = len(expected) - len(chosen)
        return _passed(
            f"{len(points)} points on the front: none is beaten on every metric by another. {twins} more "
            f"record{' has' if twins == 1 else 's have'} the same metrics as one you chose and "
            f"{'is' if twins == 1 else 'are'} on the front too (equal records do not dominate each other)."
        )
    flipped = tuple(not m for m in maximize)
    if chosen and chosen == {id(r) for r in pareto_front(records, metrics, flipped)}:
        return _hint("Check the directions: which metrics should be high and which low?")
    extra, missing = len(chosen - expected), len(expected - chosen)
    parts = []
    if extra:
        parts.append(f"{extra} of your records {'is' if extra == 1 else 'are'} dominated: another record is at least "
                     "as good on every metric and strictly better on one")
    if missing:
        parts.append(f"{missing} non-dominated record{'' if missing == 1 else 's'} {'is' if missing == 1 else 'are'} "
                     "missing (failed runs never count; runs over a budget do)")
    return _hint("; ".join(parts) + ".")
