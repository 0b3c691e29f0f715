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
            "gpu_days",
            "answer = 800 * 28",
            "A GPU-day is one GPU busy for one day: 800 GPUs for 28 days is 800 x 28 GPU-days (times 24 for GPU-hours). "
            "That is about 50,000 times ENAS's 0.45 GPU-days (22,400 / 0.45); ENAS's abstract claims a rounder 1000x.",
        ),
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
            "max_entropy",
            "import math\n"
            "answer = sum(math.log(len(d.choices)) for d in ex_space.decisions)",
            "A uniform decision with K options has entropy log K (in nats: the natural log); the decisions are "
            "sampled one after another, so their entropies add.",
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
        Solution(
            "expansion_count",
            'answer = sum(op == "none" for op in arch.choices) * (len(arch.space.ops) - 1)',
            "Each 'none' edge of the cell can take any op but 'none'; its other edges stay as they are.",
        ),
        Solution(
            "beam_size",
            "answer = (300 - functions) // (6 - 1)  # (300 - 9) // 5 = 58",
            "budget = |step 1| + K (B - 1): step 1 trains the 9 distinct one-edge functions, the 5 expansion "
            "steps share the rest, rounded down to stay within the budget.",
        ),
        Solution(
            "learn_rule",
            'answer = ["s_sub s2 s0 s1",   # s2 = label - sigmoid(w.x): the error\n'
            '          "sv_mul v0 s2 v0",  # v0 = s2 * x (x is loaded again before the next Predict)\n'
            '          "v_add v1 v1 v0"]   # w = w + (label - p) x',
            "The error label - sigmoid(w.x) (s0 - s1), times the features, added to the weights: "
            "w += (label - p) x, a gradient step on the logistic loss with learning rate 1.",
        ),
        Solution(
            "fec_collisions",
            'answer = {"a", "b", "e", "f"}',
            "Programs that make the same predictions on the probe hash alike, whatever their text; a dead line or "
            "commuted inputs change nothing, a new step size or a stale value changes every later prediction.",
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


# --- 00_start_here ------------------------------------------------------------------------


def check_gpu_days(answer, gpus: int = 800, days: float = 28) -> CheckResult:
    """Is ``answer`` the compute of ``gpus`` GPUs busy for ``days`` days, in GPU-days (``gpus * days``)?

    The default is Zoph & Le's CIFAR-10 search as Zoph et al. (2018, Sec. 1) report it: 800 GPUs for
    28 days. GPU-hours (x24), a sum and a single factor each get a hint.
    """
    expected = gpus * days
    value = _as_float(answer)
    if value is None:
        return _not_a_number(answer)
    if _near(value, expected):
        return _passed(
            f"{expected:,g} GPU-days: GPUs times days, as a cluster's bill counts them. One GPU would need "
            f"{expected / 365:,.0f} years."
        )
    if _near(value, expected * 24):
        return _hint("That is GPU-hours; the question asks for GPU-days (one GPU busy for one day).")
    if _near(value, gpus + days):
        return _hint("You added GPUs and days. Each of the GPUs is busy on every one of the days.")
    if _near(value, gpus) or _near(value, days):
        return _hint("That is one of the two factors; the compute grows with both the GPUs and the days.")
    if _near(value, expected / 24) or _near(value, gpus / days) or _near(value, days / gpus):
        return _hint("Check the operation: N GPUs for D days do N times the work of one GPU for D days.")
    return _hint("A GPU-day is one GPU busy for one day: how many of them does the search use up?")


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


# --- 03_controller -------------------------------------------------------------------------


def check_max_entropy(space: SearchSpace, answer) -> CheckResult:
    """Is ``answer`` the entropy, in nats, of the uniform policy over ``space`` (``sum_t log K_t``)?

    Compared with :func:`~nasrl_nb.controllers.lstm.max_entropy` to 5e-4 (three printed decimals
    pass). Bits (log2), a mean over the decisions, one decision, a flipped sign, a product of the
    logs and the space's size each get a hint.
    """
    from .controllers.lstm import max_entropy

    expected = max_entropy(space)
    value = _as_float(answer)
    if value is None:
        return _not_a_number(answer)
    counts = [len(d.choices) for d in space.decisions]

    def near(x: float) -> bool:
        return math.isclose(value, x, rel_tol=1e-4, abs_tol=5e-4)

    if near(expected):
        return _passed(
            f"{expected:.3f} nats: each decision with K options adds log K, so the uniform policy's entropy is "
            "the log of the space's size. A trained controller's entropy lies below it."
        )
    if near(expected / math.log(2)):
        return _hint("That is in bits (log base 2). The controller reports nats: use the natural logarithm.")
    if near(expected / math.log(10)):
        return _hint("That uses log base 10. The controller reports nats: use the natural logarithm.")
    if near(-expected):
        return _hint("Check the sign: entropy is -sum p log p, and log p < 0, so it is never negative.")
    if near(expected / len(counts)):
        return _hint("That is the mean over the decisions. The decisions are sampled in sequence: their entropies add.")
    if any(near(math.log(k)) for k in counts):
        return _hint("That is the entropy of one decision; the policy samples all of them, and entropies add.")
    if near(math.prod(math.log(k) for k in counts)):
        return _hint("You multiplied the logarithms. The log of a product is the sum of the logs.")
    if value.is_integer() and int(value) in (math.prod(counts), sum(counts), len(counts)):
        return _hint("That is a count, not an entropy: a uniform decision with K options has entropy log K.")
    return _hint("A uniform decision with K options has entropy -sum (1/K) log(1/K) = log K; combine the decisions.")


# --- 04_reinforce ---------------------------------------------------------------------------


def _tiny_controller(seed: int):
    """A small LSTMController on the NAS-Bench-201 cell space (fast, 6 decisions)."""
    from .controllers.lstm import LSTMController
    from .spaces.cell_space import CellSpace

    with torch.random.fork_rng():  # leave the student's seeded global RNG untouched
        torch.manual_seed(seed)
        return LSTMController(CellSpace(), hidden_size=16)


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

    Compared with :meth:`PolicyGradientTrainer.update_baseline`
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
        expected = trainer.update_baseline(rewards)
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
    return _passed("Your update matches PolicyGradientTrainer.update_baseline.")


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


# --- helpers for the checkers below -----------------------------------------------------------


def _as_float(answer) -> float | None:
    """``answer`` as a finite float (Python, NumPy or one-element torch number), else None."""
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if hasattr(answer, "item") and getattr(answer, "size", None) == 1:  # a NumPy scalar or 1-element array
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return None
    value = float(answer)
    return value if math.isfinite(value) else None


def _not_a_number(answer) -> CheckResult:
    return _hint(f"Your answer should be one finite number, but it is {type(answer).__name__} {answer!r}.")


def _near(a: float, b: float, rel: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)


def _call(student_fn, *args):
    """``(value, None)`` from ``student_fn(*args)``, or ``(None, hint)`` when it is not callable or raises."""
    if not callable(student_fn):
        return None, _hint(f"Pass your function itself (its name, without calling it), not {type(student_fn).__name__}.")
    try:
        return student_fn(*args), None
    except Exception as err:  # a bug in the student's code becomes a hint, not a traceback
        return None, _hint(f"Your function raised {type(err).__name__}: {err}")


def _as_vector(value, length: int | None = None):
    """``value`` as a 1-D float64 NumPy array (list, tuple, NumPy or torch), else None."""
    import numpy as np

    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return None
    if length is not None and array.shape != (length,):
        return None
    return array


# --- 06_benchmarks_and_baselines ---------------------------------------------------------------


def _final_picks(results, method: str):
    """Each run's final pick test accuracy (the last column of ``curves``), finite values only."""
    import numpy as np

    if method not in results:
        raise ValueError(f"method: {method!r} is not allowed; allowed values: {sorted(results)}")
    final = np.asarray(results[method].curves, dtype=float)[:, -1]
    return final[np.isfinite(final)]


def check_difference_se(results, answer, method: str = "reinforce", baseline: str = "random") -> CheckResult:
    """Is ``answer`` ``(difference, standard_error)`` of ``method`` minus ``baseline``?

    ``results`` is what :func:`~nasrl_nb.assembly.compare.compare_methods` returns; each run's
    score is its final pick's test accuracy (``curves[:, -1]``). The difference is of the two
    means; the runs of two methods are independent samples, so the standard error of the
    difference is ``sqrt(s_a^2 / n_a + s_b^2 / n_b)`` with sample variances (``ddof=1``).
    """
    import numpy as np

    a, b = _final_picks(results, method), _final_picks(results, baseline)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"results: need at least 2 runs of {method!r} and of {baseline!r}, got {len(a)} and {len(b)}")
    try:
        diff, se = (_as_float(v) for v in answer)
    except (TypeError, ValueError):
        return _hint("Give two numbers: answer = (difference, standard_error).")
    if diff is None or se is None:
        return _hint("Give two finite numbers: answer = (difference, standard_error).")
    expected_diff = float(a.mean() - b.mean())
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    expected_se = float(np.sqrt(var_a + var_b))
    if not _near(diff, expected_diff, abs_tol=1e-7):
        if _near(diff, -expected_diff, abs_tol=1e-7):
            return _hint(f"Check the sign: the difference is {method} minus {baseline}, so a better {method} is positive.")
        if _near(diff, float(np.median(a) - np.median(b)), abs_tol=1e-7):
            return _hint("Compare the means of the runs, not their medians: the standard error is that of a mean.")
        return _hint("The difference is mean(final picks of one method) - mean(final picks of the other), "
                     "with each run's final pick in the last column of result.curves.")
    if _near(se, expected_se, abs_tol=1e-7):
        z = expected_diff / expected_se if expected_se > 0 else math.inf
        verdict = "larger than 2 SE: unlikely to be chance" if abs(z) > 2 else "within 2 SE: not distinguishable from seed noise"
        return _passed(f"The difference is {z:+.1f} standard errors, {verdict}.")
    variants = [
        (var_a + var_b, "You forgot the square root: var_a/n_a + var_b/n_b is the variance of the difference."),
        (np.sqrt(a.var(ddof=0) / len(a) + b.var(ddof=0) / len(b)),
         "Use the sample variance (ddof=1, NumPy's default is ddof=0): the means are estimated from the same runs."),
        (np.sqrt(var_a) + np.sqrt(var_b), "Standard errors do not add; the variances of independent means do."),
        (np.sqrt(a.var(ddof=1) + b.var(ddof=1)), "That is the spread of single runs: divide each variance by its "
                                                 "number of runs to get the uncertainty of a mean."),
        (a.std(ddof=1) + b.std(ddof=1), "That adds standard deviations of single runs; divide each variance by its "
                                        "number of runs, add the variances, then take the square root."),
        (np.sqrt(var_a), "Both means are uncertain: add the baseline's variance of the mean too."),
        (np.sqrt(var_b), "Both means are uncertain: add this method's variance of the mean too."),
    ]
    if len(a) == len(b):
        variants.append((float((a - b).std(ddof=1) / np.sqrt(len(a))),
                         "The two methods' runs are independent samples, not pairs: add the two variances of the means "
                         "instead of taking the spread of per-seed differences."))
    for candidate, hint in variants:
        if _near(se, float(candidate), abs_tol=1e-9):
            return _hint(hint)
    return _hint("The difference is right. Its standard error: the variance of each mean is the sample variance "
                 "over its runs divided by the number of runs; independent variances add.")


def check_protocol_pick(history, answer) -> CheckResult:
    """Is ``answer`` (a record of ``history``, its ``arch`` string or the Architecture) the protocol's pick?

    NAS-Bench-201's protocol: among the successful evaluations, pick the cell with the best
    *validation* accuracy the search saw (one noisy run per query); the pick is then judged
    by its mean test accuracy, which the search never looks at.
    """
    ok = [r for r in history if r.get("status", "ok") == "ok" and math.isfinite(r.get("val_accuracy", math.nan))]
    if not ok:
        raise ValueError("history: no successful record to pick from")
    if isinstance(answer, dict):
        answer = answer.get("arch")
    if answer is None or not isinstance(answer, str) and not hasattr(answer, "choices"):
        return _hint(f"Give the picked cell: a record of the history, its 'arch' string, or the Architecture, "
                     f"not {type(answer).__name__} {answer!r}.")
    key = str(answer)
    mine = [r for r in ok if r["arch"] == key]
    if not mine:
        return _hint("That cell is not among this search's successful evaluations: the pick is one of the records "
                     "the search saw.")
    best_val = max(r["val_accuracy"] for r in ok)
    if max(r["val_accuracy"] for r in mine) == best_val:
        return _passed("The best validation accuracy the search saw; its test accuracy is only read to judge it.")
    if "test_accuracy" in ok[0] and max(r["test_accuracy"] for r in mine) == max(r["test_accuracy"] for r in ok):
        return _hint("You picked by test accuracy. A search never sees the test split: it picks by validation "
                     "accuracy, and the test accuracy then judges the pick without being chosen for.")
    if key == ok[-1]["arch"]:
        return _hint("That is the last cell evaluated, not the best: the run keeps the best validation accuracy it saw.")
    if min(r["val_accuracy"] for r in mine) == min(r["val_accuracy"] for r in ok):
        return _hint("That is the worst validation accuracy: take the maximum.")
    return _hint("Pick the record with the highest 'val_accuracy' among the successful ones (status 'ok').")


# --- 07_enas -------------------------------------------------------------------------------------


def _edge_names(answer) -> set[str] | None:
    """``answer`` as a set of ``"j->i:op"`` strings (spaces ignored), else None."""
    if isinstance(answer, str) or answer is None:
        return None
    try:
        names = {"".join(item.split()) for item in answer}
    except (TypeError, AttributeError):
        return None
    return names


def check_subgraph_weights(supernet, arch, answer) -> CheckResult:
    """Is ``answer`` the set of the supernet's edge ops whose weights the child ``arch`` uses?

    Each name is ``"j->i:op"`` (the op on the edge from node ``j`` to node ``i``), as
    :func:`~nasrl_nb.viz.enas_plots.highlighted` writes them. The child owns, on each edge, the
    one op it picked; a ``none`` edge computes nothing, and parameter-free ops (skip, pooling)
    own no weights. Read off the supernet itself (the modules whose parameters
    :meth:`~nasrl_nb.enas.supernet.CellSupernet.child_parameters` sums).
    """
    cell = next((b for b in supernet.features if hasattr(b, "edges")), None)
    if cell is None:
        raise ValueError(f"supernet: {type(supernet).__name__} is not allowed; allowed values: a CellSupernet")
    edge_ops = supernet.space.edge_ops(arch)
    picked = {f"{j}->{i}:{op}" for (i, j), op in edge_ops.items() if op != "none"}
    expected = {f"{j}->{i}:{op}" for (i, j), op in edge_ops.items()
                if op != "none" and any(p.numel() for p in cell.edges[i - 1][j][op].parameters())}
    names = _edge_names(answer)
    if names is None or not all(isinstance(n, str) and "->" in n and ":" in n for n in names):
        return _hint('Give a list of strings "j->i:op", one per edge op that carries weights, such as "0->1:nor_conv_3x3".')
    if names == expected:
        return _passed(f"{len(expected)} weight-carrying ops in each supernet cell: a step through this child trains "
                       "only these weights there (besides the stem, reductions and classifier every child shares).")
    reversed_names = {f"{n.split(':')[0].split('->')[1]}->{n.split(':')[0].split('->')[0]}:{n.split(':', 1)[1]}"
                      for n in names if n.count("->") == 1}
    if reversed_names == expected:
        return _hint("Write each edge from -> to: j->i with j < i (the edge into node i from node j).")
    if any(n.endswith(":none") for n in names):
        return _hint("A none edge computes nothing: no op, no weights; leave it out.")
    if names == picked:
        return _hint("Some of these ops have no weights: skip_connect and avg_pool_3x3 are parameter-free, so a "
                     "child that picks them trains nothing there.")
    per_edge = {}
    for n in names:
        per_edge.setdefault(n.split(":")[0], set()).add(n)
    if any(len(v) > 1 for v in per_edge.values()):
        return _hint("The child runs ONE op per edge (the one it picked); the supernet holds the others for other children.")
    missing, extra = len(expected - names), len(names - expected)
    parts = []
    if missing:
        parts.append(f"{missing} weight-carrying op{'s' if missing > 1 else ''} of the child {'are' if missing > 1 else 'is'} missing")
    if extra:
        parts.append(f"{extra} of yours {'are' if extra > 1 else 'is'} not picked by this child or carr{'y' if extra > 1 else 'ies'} no weights")
    return _hint("; ".join(parts) + ": read each edge's op from space.edge_ops(arch).")


def _pair_counts(x, y):
    import numpy as np

    i, j = np.triu_indices(len(x), k=1)
    s = np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
    return int((s > 0).sum()), int((s < 0).sum()), len(i)


def check_kendall_tau(shared, true, answer) -> CheckResult:
    """Is ``answer`` Kendall's tau between shared-weight scores and true accuracies?

    Accepts the library's tau-b (:func:`~nasrl_nb.stats.kendall_tau`, ties corrected)
    and tau-a ``(C - D) / (n (n - 1) / 2)``, which equal each other when nothing ties.
    """
    import numpy as np

    from .stats import kendall_tau, spearman_rho

    x, y = np.asarray(shared, dtype=float), np.asarray(true, dtype=float)
    value = _as_float(answer)
    if value is None:
        return _not_a_number(answer)
    tau_b = kendall_tau(x, y)
    concordant, discordant, pairs = _pair_counts(x, y)
    tau_a = (concordant - discordant) / pairs
    if _near(value, tau_b, abs_tol=1e-6):
        return _passed(f"tau = {tau_b:.3f}: over all pairs of cells, (agreeing - disagreeing) orders, ties corrected.")
    if _near(value, tau_a, abs_tol=1e-6):
        return _passed(f"tau-a = {tau_a:.3f}, (C - D) over all pairs; with tied scores the library's tau-b "
                       f"({tau_b:.3f}) also discounts the tied pairs.")
    n = len(x)
    variants = [
        (-tau_b, "The sign is flipped: a pair is concordant when both lists order it the same way."),
        (-tau_a, "The sign is flipped: a pair is concordant when both lists order it the same way."),
        (spearman_rho(x, y) if n >= 3 else math.nan, "That is Spearman's rho (a correlation of ranks); Kendall's "
                                                         "tau counts agreeing and disagreeing pairs."),
        (float(np.corrcoef(x, y)[0, 1]) if n >= 2 else math.nan, "That is Pearson's correlation of the values; "
                                                                 "Kendall's tau only looks at the order of each pair."),
        (concordant / pairs, "Subtract the discordant pairs: tau = (C - D) / pairs, from -1 to 1."),
        ((concordant - discordant) / (n * n), "Count each unordered pair once: there are n (n - 1) / 2 pairs."),
        ((concordant - discordant) / (n * (n - 1)), "Count each unordered pair once: there are n (n - 1) / 2 pairs."),
    ]
    for candidate, hint in variants:
        if math.isfinite(candidate) and _near(value, float(candidate), abs_tol=1e-6):
            return _hint(hint)
    if not -1 <= value <= 1:
        return _hint("Kendall's tau lies between -1 and 1: (concordant - discordant) over the number of pairs.")
    return _hint("For every pair of cells (i < j), compare the order by shared weights with the order by true "
                 "accuracy: tau = (agreeing - disagreeing) / number of pairs.")


# --- 09_scale_out --------------------------------------------------------------------------------


class _FifoEvaluator:
    """A stand-in evaluator whose children return in the order they were submitted (equal child times)."""

    def __init__(self, workers: int):
        self.workers = workers
        self._queue: list[int] = []
        self._next = 0

    def submit(self, arch) -> int:
        self._next += 1
        self._queue.append(self._next)
        return self._next

    def next_results(self):
        ticket = self._queue.pop(0)
        return [(ticket, {"status": "ok", "val_accuracy": 0.5})]


def reference_staleness(workers: int, updates: int) -> list[int]:
    """Staleness of each update of an asynchronous search (update size 1, ``workers`` children in
    flight, children returning in the order proposed), from :class:`~nasrl_nb.evaluators.asynchronous.AsyncBatches` itself."""
    from .evaluators.asynchronous import AsyncBatches

    batches = AsyncBatches(_FifoEvaluator(workers), update_size=1)
    out: list[int] = []
    for version in range(updates):
        wanted = batches.wanted(updates - len(out))  # the budget left: evaluations not yet used by an update
        _, records = batches.next_batch([None] * wanted, version)
        out.extend(r["staleness"] for r in records)
    return out


def check_staleness(student_fn: Callable[[int, int], list]) -> CheckResult:
    """Does ``student_fn(workers, updates)`` return each update's staleness?

    The setting of notebook 09's asynchronous search: one record per update, ``workers``
    children kept in flight, children that all take the same time (they return in the order
    they were proposed). Compared with :class:`~nasrl_nb.evaluators.asynchronous.AsyncBatches`
    run on a stand-in evaluator.
    """
    for workers, updates in [(3, 6), (1, 4), (2, 5), (5, 9), (4, 2)]:
        expected = reference_staleness(workers, updates)
        value, hint = _call(student_fn, workers, updates)
        if hint is not None:
            return hint
        got = _as_vector(value)
        if got is None or got.shape != (updates,):
            return _hint(f"Return one staleness per update: a list of {updates} ints for updates={updates}.")
        if [float(v) for v in got] == [float(v) for v in expected]:
            continue
        case = f" (workers={workers}, updates={updates})"
        if not got.any():
            return _hint("All zeros is a synchronous search. Here the children in flight were proposed by "
                         "older policies: count the updates made since each child was proposed" + case + ".")
        if [float(v) for v in got] == [float(min(t, workers)) for t in range(updates)]:
            return _hint("Off by one: the child used by an update was proposed when an earlier result came back; with "
                         "k workers the oldest child in flight is k - 1 updates old, not k" + case + ".")
        if [float(v) for v in got] == [float(t) for t in range(updates)]:
            return _hint("Staleness does not grow forever: after the first round every update's child was proposed "
                         "only a few updates earlier, when a worker became free" + case + ".")
        return _hint("Follow the children: the first `workers` are proposed by policy 0, then each update proposes one "
                     "new child; staleness = the update's number - the number of the policy that proposed its child" + case + ".")
    return _passed("Your staleness matches AsyncBatches: the first children wait for more and more updates, then "
                   "every update learns from a child proposed workers - 1 updates ago.")


def check_parallel_speedup(student_fn: Callable[[float, float, int, int], float]) -> CheckResult:
    """Does ``student_fn(controller_seconds, child_seconds, batch, workers)`` give a synchronous step's speed-up?

    One step: the controller's update (serial) plus a batch of ``batch`` children of
    ``child_seconds`` each; on ``workers`` workers the children train in ``ceil(batch / workers)``
    rounds, since a child cannot be split. Speed-up = serial time / parallel time (Amdahl's law
    with whole children).
    """
    cases = [(0.5, 2.0, 7, 3), (0.2, 1.0, 6, 3), (1.0, 3.0, 4, 8), (0.0, 1.0, 5, 2), (0.3, 0.5, 1, 4)]
    for controller, child, batch, workers in cases:
        value, hint = _call(student_fn, controller, child, batch, workers)
        if hint is not None:
            return hint
        got = _as_float(value)
        if got is None:
            return _not_a_number(value)
        serial = controller + batch * child
        expected = serial / (controller + math.ceil(batch / workers) * child)
        if _near(got, expected):
            continue
        wrong = [
            (float(workers), "k workers give k times only when everything is parallel and the batch fills them; keep "
                             "the serial controller time, and count whole rounds of children."),
            (serial / (controller + batch / workers * child),
             "A child cannot be split between workers: a batch of b children on k workers takes ceil(b / k) rounds."),
            (batch / math.ceil(batch / workers) if controller else math.nan,
             "The controller's update does not run in parallel: keep its time in both the serial and the parallel step "
             "(Amdahl's law)."),
            ((controller + math.ceil(batch / workers) * child) / serial,
             "Upside down: a speed-up is the serial time over the parallel time (greater than 1)."),
        ]
        for candidate, message in wrong:
            if math.isfinite(candidate) and _near(got, candidate):
                return _hint(message)
        return _hint(f"For controller_seconds={controller}, child_seconds={child}, batch={batch}, workers={workers}: "
                     "time one step serially and on the workers, and divide.")
    return _passed("Your speed-up matches: whole children per round, and the serial controller time caps it.")


# --- 10_showdown --------------------------------------------------------------------------------


def check_equal_cost_evaluations(result, bench, answer) -> CheckResult:
    """Is ``answer`` the number of evaluations the showdown's multi-trial budget buys?

    ``result`` is :func:`~nasrl_nb.assembly.comparable_cost.run_showdown`'s result. The budget is the mean
    one-shot cost in table seconds (CPU seconds / ``time_scale``); with every child charged the
    table's mean ``train_seconds``, a search evaluates until its spending *reaches* the budget
    (the evaluation that crosses it counts): ``ceil(budget / mean child seconds)``.
    """
    import numpy as np

    value = _as_int(answer)
    if value is None:
        return _not_a_count(answer)
    child = float(np.nanmean(bench.values("train_seconds")))
    one_shot = [r for r in result.records if r.get("kind") == "one-shot"]
    if not one_shot or not child > 0:
        raise ValueError("result: needs one-shot records and a table with train_seconds")
    budget = float(np.mean([r["cpu_seconds"] for r in one_shot])) / result.time_scale
    expected = math.ceil(budget / child - 1e-9)
    if value == expected:
        return _passed(f"{expected} evaluation{'' if expected == 1 else 's'}: {budget:.2f} table seconds at {child:.3f} s per child, the one that "
                       "crosses the budget included.")
    cpu = float(np.mean([r["cpu_seconds"] for r in one_shot]))
    if value == math.floor(budget / child) and value != expected:
        return _hint("One short: a search stops at the evaluation that reaches the budget, so that one counts too.")
    if value in (math.ceil(cpu / child), math.floor(cpu / child)) and abs(result.time_scale - 1) > 0.05:
        return _hint("Those are CPU seconds of this machine; the table charges table seconds: divide the one-shot CPU "
                     "time by time_scale first.")
    if value in (math.ceil(cpu * result.time_scale / child), math.floor(cpu * result.time_scale / child)):
        return _hint("time_scale is CPU seconds now per table second: divide by it, do not multiply.")
    return _too_high_or_low(value, expected, "Budget in table seconds (mean one-shot CPU seconds / time_scale), divided "
                                             "by the mean train_seconds of the table's cells, rounded up.")


def significant_winner(records, baseline: str = "random", z: float = 2.0, *, use_se: bool = True,
                       baseline_se: bool = True) -> str | None:
    """The method with the best mean test accuracy whose lead over ``baseline`` exceeds ``z``
    standard errors of the difference (``sqrt(s_m^2/n_m + s_b^2/n_b)``, sample variances); None if none."""
    import numpy as np

    scores: dict[str, list[float]] = {}
    for r in records:
        scores.setdefault(r["method"], []).append(float(r["test_accuracy"]))
    if baseline not in scores:
        raise ValueError(f"baseline: {baseline!r} is not allowed; allowed values: {sorted(scores)}")

    def var_of_mean(values):
        values = np.asarray(values)
        var = values.var(ddof=1) if len(values) > 1 else 0.0
        return var / len(values) if use_se else var

    base = np.mean(scores[baseline])
    winners = {}
    for method, values in scores.items():
        if method == baseline:
            continue
        se = math.sqrt(var_of_mean(values) + (var_of_mean(scores[baseline]) if baseline_se else 0.0))
        lead = float(np.mean(values) - base)
        if lead > z * se:
            winners[method] = float(np.mean(values))
    return max(winners, key=winners.get) if winners else None


def check_significant_winner(records, answer, baseline: str = "random") -> CheckResult:
    """Is ``answer`` the method with the best mean whose lead over ``baseline`` exceeds 2 SE (None if none)?"""
    methods = list(dict.fromkeys(r["method"] for r in records))
    expected = significant_winner(records, baseline)
    if isinstance(answer, str) and answer.strip().lower() in ("none", ""):
        answer = None
    if answer is not None and not isinstance(answer, str):
        return _hint(f"Answer with a method's name (a string such as {methods[0]!r}), or None.")
    if answer is not None and answer not in methods:
        return _hint(f"{answer!r} is not one of the methods: {', '.join(methods)} (or None).")
    if answer == expected:
        if expected is None:
            return _passed("No method leads by more than 2 standard errors: with these runs none is "
                           "distinguishable from random search.")
        return _passed("The best mean among the methods whose lead over random search exceeds 2 standard errors.")
    if answer == baseline:
        return _hint(f"{baseline} is the baseline itself: the question is which other method beats it clearly.")
    import numpy as np

    mean = {m: float(np.mean([r["test_accuracy"] for r in records if r["method"] == m])) for m in methods}
    if answer is not None and mean[answer] <= mean[baseline]:
        return _hint(f"{answer}'s mean is not above {baseline}'s: a winner must lead, by more than 2 SE.")
    if answer is not None and answer == significant_winner(records, baseline, use_se=False):
        return _hint("You used standard deviations of single runs; the uncertainty of a mean is its standard error, "
                     "std / sqrt(runs).")
    if answer == significant_winner(records, baseline, baseline_se=False):
        return _hint("The baseline's mean is uncertain too: the SE of a difference adds both variances of the means.")
    if answer is None and expected is not None and significant_winner(records, baseline, use_se=False) is None:
        return _hint("You used standard deviations of single runs; the uncertainty of a mean is its standard error, "
                     "std / sqrt(runs).")
    if answer is None:
        return _hint("At least one method leads by more than 2 standard errors of the difference.")
    if answer == max((m for m in methods if m != baseline), key=mean.get):
        return _hint("That is the best mean, but its lead over random search is within 2 standard errors of the "
                     "difference: not distinguishable from seed noise.")
    return _hint("Among the methods whose lead exceeds 2 SE (sqrt(s_m^2/n_m + s_b^2/n_b)), take the best mean.")


# --- 11_rl_algorithms ----------------------------------------------------------------------------


def check_ppo_objective(student_fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor], clip: float = 0.2,
                        *, seed: int = 0) -> CheckResult:
    """Does ``student_fn(ratio, advantages, clip)`` compute PPO's clipped surrogate objective?

    ``mean(min(r A, clip(r, 1 - eps, 1 + eps) A))`` (Schulman et al. 2017, Eq. 7), the quantity to
    *maximise*; compared with :func:`~nasrl_nb.rl.ppo.ppo_loss` (its negation). A
    per-example tensor whose mean is the objective passes too.
    """
    from .rl.ppo import ppo_loss

    generator = torch.Generator().manual_seed(seed)
    ratio = torch.cat([torch.tensor([0.5, 0.9, 1.0, 1.1, 1.5, 0.7, 1.3]), 0.4 + 1.2 * torch.rand(9, generator=generator)])
    advantages = torch.cat([torch.tensor([1.0, -1.0, 0.5, -0.5, 1.0, -2.0, -1.0]), torch.randn(9, generator=generator)])
    value, hint = _call(student_fn, ratio.clone(), advantages.clone(), clip)
    if hint is not None:
        return hint
    got = _as_vector(value)
    if got is None or got.size not in (1, len(ratio)) or not all(math.isfinite(v) for v in got):
        return _hint(f"Return the objective as one number (the batch mean) or one value per example ({len(ratio)}).")
    expected = -float(ppo_loss(ratio.log().unsqueeze(1), torch.zeros(len(ratio), 1), advantages.unsqueeze(1), clip)[0])
    got_mean = float(got.mean())
    if _near(got_mean, expected, rel=1e-5, abs_tol=1e-6):
        return _passed("Your objective matches PPO's: the ratio gains nothing beyond 1 +/- eps in the direction the "
                       "advantage favours, and the min keeps the pessimistic bound.")
    clipped = ratio.clamp(1 - clip, 1 + clip)
    variants = [
        (-expected, "That is the loss (negated); the objective is what PPO maximises: no minus sign."),
        (float((ratio * advantages).mean()), "Without clipping this is the plain importance-weighted objective: "
                                             "clip the ratio to [1 - eps, 1 + eps] and take the min of the two terms."),
        (float((clipped * advantages).mean()), "Clipping alone is not enough: take the min of the clipped and the "
                                               "unclipped term, so that a step that hurts is never hidden by the clip."),
        (float(torch.max(ratio * advantages, clipped * advantages).mean()),
         "Take the min, not the max: PPO's objective is a pessimistic (lower) bound."),
        (float(torch.min(ratio * advantages, ratio * advantages.clamp(1 - clip, 1 + clip)).mean()),
         "Clip the probability ratio r, not the advantage."),
        (float(torch.min(ratio, clipped).mul(advantages).mean()),
         "Take the min of the two products r A and clip(r) A: with a negative advantage the order of the ratios flips."),
    ]
    for candidate, message in variants:
        if _near(got_mean, candidate, rel=1e-5, abs_tol=1e-6):
            return _hint(message)
    return _hint("Per example: min(r * A, clip(r, 1 - eps, 1 + eps) * A); then average over the batch.")


def check_ucb_scores(student_fn: Callable, bandit) -> CheckResult:
    """Does ``student_fn(means, counts, sigma, c)`` give UCB1's scores of one decision's options?

    ``mean + c * sigma * sqrt(2 ln N / n)`` with ``N`` the decision's total count and ``+inf`` for an
    option never tried (Auer et al. 2002, scaled by the rewards' spread ``sigma``); compared with
    :meth:`~nasrl_nb.rl.bandits.FactoredUCB1.scores` on every decision of ``bandit`` and on a
    fresh bandit of the same space that has left some options untried.
    """
    import numpy as np

    from .rl.bandits import FactoredUCB1

    fresh = FactoredUCB1(bandit.space, exploration=bandit.exploration, seed=1)
    rng = np.random.default_rng(0)
    archs = [bandit.space.sample(rng) for _ in range(2)]
    fresh.observe(archs, [0.6, 0.8])
    for b in (bandit, fresh):
        for t in range(len(b.counts)):
            counts = np.asarray(b.counts[t] + b.pending[t], dtype=float)
            means, sigma = np.asarray(b.means(t), dtype=float), float(b.sigma())
            value, hint = _call(student_fn, means.copy(), counts.copy(), sigma, float(b.exploration))
            if hint is not None:
                return hint
            got = _as_vector(value, len(counts))
            if got is None:
                return _hint(f"Return one score per option: an array of {len(counts)} numbers.")
            expected = np.asarray(b.scores(t), dtype=float)
            untried = counts == 0
            if not np.array_equal(np.isposinf(got), untried):
                return _hint("An option never tried (count 0) scores +inf (np.inf), so that UCB1 plays every option "
                             "once before it trusts any mean; every tried option has a finite score.")
            if np.allclose(got[~untried], expected[~untried], rtol=1e-6, atol=1e-9):
                continue
            total, n = max(counts.sum(), 1.0), np.maximum(counts, 1)
            c = float(b.exploration)
            variants = [
                (means - c * sigma * np.sqrt(2 * math.log(total) / n), "Optimism adds the bonus: mean + bonus."),
                (means + c * sigma * 2 * math.log(total) / n, "You forgot the square root over 2 ln N / n."),
                (means + c * sigma * np.sqrt(math.log(total) / n), "UCB1's bonus is sqrt(2 ln N / n): the 2 is missing."),
                (means + c * np.sqrt(2 * math.log(total) / n), "Scale the bonus by sigma, the rewards' spread: these "
                                                               "rewards are not in [0, 1]."),
                (means + c * sigma * np.sqrt(2 * total / n), "Take the logarithm of N: the bonus grows like ln N, "
                                                             "so exploration slows down over time."),
                (means + c * sigma * np.sqrt(2 * math.log(total) / total), "Divide by the option's own count n, not "
                                                                           "the total N: rarely tried options get the "
                                                                           "larger bonus."),
                (means, "The mean alone is greedy: add the exploration bonus c * sigma * sqrt(2 ln N / n)."),
            ]
            for candidate, message in variants:
                if np.allclose(got[~untried], candidate[~untried], rtol=1e-6, atol=1e-9):
                    return _hint(message)
            return _hint("score = mean + c * sigma * sqrt(2 * ln(N) / n), with N = counts.sum() and n each option's "
                         "count; +inf where n == 0.")
    return _passed("Your scores match FactoredUCB1.scores: optimism in the face of uncertainty, largest for options "
                   "tried least.")


# --- 04_reinforce (rank advantages) --------------------------------------------------------------


def check_rank_advantages(rewards, window, answer) -> CheckResult:
    """Is ``answer`` the centred-rank advantage of each reward of ``rewards`` within ``window``?

    REINFORCE's default (:func:`~nasrl_nb.rl.policy_gradient.rank_advantages`; Wierstra et al.
    2014, Sec. 3.1): ``A_k = sqrt(12) (F(R_k) - 1/2)`` with the mid-rank quantile
    ``F(R) = (#{w < R} + #{w == R} / 2) / n`` over the ``n`` rewards of ``window`` (which holds
    this batch's rewards too).
    """
    import numpy as np

    from .rl.policy_gradient import rank_advantages

    r = torch.as_tensor(_as_vector(rewards), dtype=torch.float64)
    w = torch.as_tensor(_as_vector(window), dtype=torch.float64)
    if r.numel() == 0 or w.numel() == 0:
        raise ValueError("rewards, window: need at least one reward in each")
    got = _as_vector(answer)
    if got is None or answer is None or not np.all(np.isfinite(got)):
        return _hint(f"Give one advantage per reward of the batch (a list, array or tensor of {r.numel()} numbers), "
                     f"not {type(answer).__name__} {answer!r}.")
    if got.shape != (r.numel(),):
        return _hint(f"Give one advantage per reward of the batch: {r.numel()} numbers, not {got.size}.")
    expected = rank_advantages(r, w).numpy()
    if np.allclose(got, expected, rtol=1e-6, atol=1e-9):
        return _passed("Your advantages match rank_advantages: only the rewards' order in the window counts, "
                       "and the window's median is the baseline.")
    n = w.numel()
    below = (w[None, :] < r[:, None]).sum(1).double().numpy()
    equal = (w[None, :] == r[:, None]).sum(1).double().numpy()
    quantile = (below + equal / 2) / n
    r_np, w_np = r.numpy(), w.numpy()
    z = (r_np - w_np.mean()) / w_np.std() if w_np.std() > 0 else r_np * np.nan
    variants = [
        (-expected, "Check the sign: a reward above the window's median gets a positive advantage."),
        (quantile - 0.5, "Centred, but not scaled: multiply by sqrt(12) so that the advantages have unit spread "
                         "(uniform quantiles have standard deviation 1/sqrt(12))."),
        (math.sqrt(12.0) * quantile, "Centre the quantile: subtract 1/2, so that the window's median gets 0 and "
                                     "the advantages average 0 over the window."),
        (math.sqrt(12.0) * ((below + equal) / n - 0.5), "A tie counts half: F(R) = (#{w < R} + #{w == R} / 2) / n, "
                                                        "and R itself is in the window, so it ties with itself."),
        (math.sqrt(12.0) * (below / n - 0.5), "A tie counts half: F(R) = (#{w < R} + #{w == R} / 2) / n, and R itself "
                                              "is in the window, so it ties with itself."),
        (rank_advantages(r, r).numpy(), "Rank each reward among the whole window (the recent rewards, this batch's "
                                        "included), not only among this batch."),
        (r_np - np.median(w_np), "These are gaps to the median: rank advantages use only the order of the rewards "
                                 "(their quantile in the window), not their distance."),
        (r_np - w_np.mean(), "These are gaps to a mean baseline: rank advantages use only the order of the rewards "
                             "(their quantile in the window), not their distance."),
        (z, "These are z-scores: rank advantages replace each reward by its quantile in the window, so that one "
            "broken child cannot set the scale."),
    ]
    for candidate, message in variants:
        if np.all(np.isfinite(candidate)) and np.allclose(got, candidate, rtol=1e-6, atol=1e-9):
            return _hint(message)
    return _hint("A_k = sqrt(12) * (F(R_k) - 1/2), where F(R_k) is the share of the window's rewards below R_k, "
                 "ties (R_k itself included) counting half.")


# --- 08_darts ------------------------------------------------------------------------------------


def _alpha_matrix(alphas):
    """``alphas`` (a tensor (E, K) or (K,), a Parameter, an array) as a float64 tensor (E, K)."""
    a = torch.as_tensor(alphas.detach() if isinstance(alphas, torch.Tensor) else alphas, dtype=torch.float64)
    if a.dim() == 1:
        a = a[None, :]
    if a.dim() != 2 or a.numel() == 0:
        raise ValueError(f"alphas: expected a (E, K) or (K,) tensor, got shape {tuple(a.shape)}")
    return a


def check_mixing_weights(alphas, answer) -> CheckResult:
    """Is ``answer`` the mixing weights of ``alphas``: one softmax per edge (DARTS Eq. 2)?

    ``alphas`` is (E, K), one row of architecture parameters per edge (or one edge's (K,)); the
    weights are ``exp(alpha_o) / sum_o' exp(alpha_o')`` along each row, so each edge's weights
    sum to 1.
    """
    import numpy as np

    a = _alpha_matrix(alphas)
    squeeze = torch.as_tensor(alphas.detach() if isinstance(alphas, torch.Tensor) else alphas).dim() == 1
    if isinstance(answer, torch.Tensor):
        answer = answer.detach()
    try:
        got = np.asarray(answer, dtype=float)
    except (TypeError, ValueError):
        got = None
    if answer is None or got is None or got.size != a.numel() or not np.all(np.isfinite(got)):
        shape = f"({a.shape[1]},)" if squeeze else f"({a.shape[0]}, {a.shape[1]})"
        return _hint(f"Give the weights as a tensor or array of shape {shape}: one weight per op on every edge, "
                     f"not {type(answer).__name__} {answer!r}.")
    got = got.reshape(a.shape)
    expected = torch.softmax(a, dim=-1).numpy()
    if np.allclose(got, expected, rtol=1e-5, atol=1e-7):
        return _passed("One softmax per edge: every edge's weights are positive and sum to 1.")
    an = a.numpy()
    variants = [
        (np.exp(an), "Normalise: divide each edge's exp(alpha) by their sum over the ops, so that they sum to 1."),
        (an / an.sum(axis=1, keepdims=True), "Exponentiate first: softmax is exp(alpha) / sum(exp(alpha)); "
                                             "dividing the alphas themselves gives negative or unbounded weights."),
        (an, "These are the alphas themselves: the weights are their softmax over each edge's ops."),
        (torch.softmax(-a, dim=-1).numpy(), "Check the sign: a larger alpha gives a larger weight."),
        (np.exp(an) / np.exp(an).sum(), "Each edge has its own softmax: normalise every row (over the ops), not "
                                        "the whole matrix."),
    ]
    if a.shape[0] > 1:
        variants.append((torch.softmax(a, dim=0).numpy(), "Take the softmax over the ops of each edge (the last "
                                                          "dimension, dim=-1), not over the edges."))
    variants.append((np.eye(a.shape[1])[an.argmax(axis=1)], "That is the derived one-hot choice: the relaxation "
                                                            "keeps every op, weighted by the softmax of the alphas."))
    for candidate, message in variants:
        if np.allclose(got, candidate, rtol=1e-5, atol=1e-7):
            return _hint(message)
    return _hint("weights[e, o] = exp(alpha[e, o]) / sum over o' of exp(alpha[e, o']): a softmax along each edge.")


def check_derived_ops(alphas, op_names, answer) -> CheckResult:
    """Is ``answer`` the op DARTS derives on every edge: the argmax of its alphas, ``none`` excluded?

    DARTS Sec. 2.4 keeps the strongest non-zero op of each edge (NAS-Bench-201's ``genotype()``
    keeps ``none`` in the running). The softmax is monotone, so the argmax of the weights is
    that of the alphas; ties go to the op listed first. ``answer``: op names (or their indices
    in ``op_names``) in edge order, or an Architecture whose ``choices`` are those names.
    """
    a = _alpha_matrix(alphas)
    names = [str(n) for n in op_names]
    if len(names) != a.shape[1]:
        raise ValueError(f"op_names: {len(names)} names for {a.shape[1]} columns of alphas")
    if hasattr(answer, "choices"):
        answer = list(answer.choices)
    if answer is None or isinstance(answer, str) or not hasattr(answer, "__iter__"):
        return _hint(f"Give one op name per edge, in edge order (a list of {a.shape[0]} strings), "
                     f"not {type(answer).__name__} {answer!r}.")
    got = []
    for item in answer:
        k = _as_int(item)
        if k is not None and 0 <= k < len(names):
            got.append(names[k])
        elif isinstance(item, str) and item in names:
            got.append(item)
        else:
            return _hint(f"Each entry is an op name from {names} (or its index), not {item!r}.")
    if len(got) != a.shape[0]:
        return _hint(f"Give one op per edge: {a.shape[0]} edges, {len(got)} ops.")

    def pick(matrix, exclude_none=True):
        m = matrix.clone()
        if exclude_none and "none" in names:
            m[:, names.index("none")] = -math.inf
        return [names[k] for k in m.argmax(dim=1).tolist()]

    expected = pick(a)
    if got == expected:
        return _passed("The strongest op of every edge, none excluded: DARTS's discrete cell (Sec. 2.4).")
    if got == pick(a, exclude_none=False):
        return _hint("`none` cannot be derived: DARTS (Sec. 2.4) takes the argmax over the other ops, since the "
                     "zero op's weight only says how weak the edge is (NAS-Bench-201's rule keeps it).")
    if got == pick(-a):
        return _hint("That is the weakest op of each edge: take the largest alpha (the largest softmax weight).")
    if got == pick(-a, exclude_none=False):
        return _hint("That is the weakest op of each edge: take the largest alpha, none excluded.")
    if "none" in got:
        return _hint("`none` cannot be derived: DARTS (Sec. 2.4) excludes the zero op from the argmax.")
    wrong = sum(g != e for g, e in zip(got, expected))
    return _hint(f"{wrong} of {len(got)} edges differ: on each edge (each row of alphas) take the op with the "
                 f"largest alpha, none excluded, the first one on a tie.")


def _tensor_list(value) -> list[torch.Tensor] | None:
    """``value`` as a list of float tensors (one tensor, or a list/tuple of tensors or arrays); None if it is not."""
    if isinstance(value, torch.Tensor):
        return [value.detach()]
    if isinstance(value, (list, tuple)) and value:
        try:
            return [torch.as_tensor(v.detach() if isinstance(v, torch.Tensor) else v, dtype=torch.float64) for v in value]
        except (TypeError, ValueError, RuntimeError):
            return None
    return None


def _relative_error(got: list[torch.Tensor], expected: list[torch.Tensor]) -> float:
    diff = math.sqrt(sum(float(((g.double() - e.double()) ** 2).sum()) for g, e in zip(got, expected)))
    scale = math.sqrt(sum(float((e.double() ** 2).sum()) for e in expected))
    return diff / max(scale, 1e-12)


def check_hessian_vector_product(net, batch, v, answer, criterion: Callable | None = None) -> CheckResult:
    """Is ``answer`` the exact ``grad^2_{alpha,w} L(w, alpha) v`` that DARTS's Eq. 8 approximates?

    ``net``: a relaxed supernet (``weight_parameters()``, ``arch_parameters()``); ``batch``:
    ``(X, y)`` of the training loss ``L``; ``v``: one tensor per weight tensor. The product is
    ``d/d alpha (grad_w L . v)``: the gradient w.r.t. the alphas of the dot product of the
    weight gradient with ``v`` (double backward). ``answer``: one tensor per alpha tensor
    (a list or tuple; a single tensor when the net has one alpha tensor). The net's weights
    and BatchNorm statistics are left as they were.
    """
    from .darts.architect import finite_difference_hvp

    criterion = criterion or nn.functional.cross_entropy
    weights, alphas = list(net.weight_parameters()), list(net.arch_parameters())
    v = [torch.as_tensor(t) for t in v]
    if [tuple(t.shape) for t in v] != [tuple(p.shape) for p in weights]:
        raise ValueError("v: expected one tensor per weight tensor of net.weight_parameters(), with their shapes")
    buffers = [b.detach().clone() for b in net.buffers()]
    try:
        loss = criterion(net(batch[0]), batch[1])
        grad_w = torch.autograd.grad(loss, weights, create_graph=True)
        exact = [t.detach() for t in torch.autograd.grad(sum((g * t).sum() for g, t in zip(grad_w, v)), alphas)]
        grad_alpha = [t.detach() for t in torch.autograd.grad(criterion(net(batch[0]), batch[1]), alphas)]
        estimate, _ = finite_difference_hvp(net, criterion, batch, weights, alphas, v)
    finally:
        with torch.no_grad():
            for b, saved in zip(net.buffers(), buffers):
                b.copy_(saved)
    got = _tensor_list(answer)
    shapes = [tuple(a.shape) for a in alphas]
    if got is not None and [tuple(g.shape) for g in got] == [tuple(p.shape) for p in weights] and shapes != [
            tuple(p.shape) for p in weights]:
        return _hint("That is shaped like the weights: a product with the Hessian w.r.t. w. Eq. 8's product is mixed: "
                     "differentiate grad_w L . v a second time w.r.t. the alphas, not the weights.")
    if got is None or [tuple(g.shape) for g in got] != shapes:
        return _hint(f"Give one tensor per alpha tensor (shapes {shapes}): the product lives in the space of the "
                     f"alphas, not {type(answer).__name__}.")
    if not all(torch.isfinite(g).all() for g in got):
        return _hint("The answer holds NaN or infinite values.")
    if _relative_error(got, exact) < 1e-3:
        return _passed("Double backward gives grad^2_{alpha,w} L v exactly: the product Eq. 8's central difference "
                       "approximates with two extra forward-backward passes.")
    variants = [
        ([-e for e in exact], "Check the sign: differentiate +grad_w L . v; Eq. 7 subtracts xi times this product "
                              "afterwards, it is not part of it."),
        (grad_alpha, "That is grad_alpha L itself: take grad_w L (keep its graph: create_graph=True), dot it with v, "
                     "and differentiate that scalar w.r.t. the alphas."),
        (estimate, "That is Eq. 8's finite-difference estimate (eps = 0.01 / ||v||), not the exact product: compute "
                   "it by double backward (create_graph=True in the first grad), then compare the two."),
    ]
    for candidate, message in variants:
        if _relative_error(got, candidate) < 1e-3:
            return _hint(message)
    return _hint("Compute g = grad_w L with create_graph=True, the scalar sum over tensors of (g * v).sum(), and "
                 "its gradient w.r.t. the alphas (torch.autograd.grad), on the given batch.")


# --- 05_multi_objective (MnasNet's soft constraint) ---------------------------------------------


def check_mnasnet_reward(record, answer, target_params: float, w: float = -0.07) -> CheckResult:
    """Is ``answer`` MnasNet's soft-constrained reward of ``record`` with a parameter target?

    Tan et al. 2019, Eq. 2: ``ACC * (params / target) ** w`` with ``w = -0.07`` on both sides of
    the target, ``ACC`` the *validation* accuracy (:class:`~nasrl_nb.rewards.objectives.MnasNetReward`).
    """
    from .rewards.objectives import MnasNetReward

    expected = MnasNetReward({"params": target_params}, w=w).reward(record)
    value = _as_float(answer)
    if value is None:
        return _not_a_number(answer)
    if _near(value, expected, rel=1e-6):
        verdict = "above" if record["params"] > target_params else "within"
        return _passed(f"A child {verdict} the target is scaled smoothly by (params / target) ** w: "
                       f"no cliff at the budget.")
    acc, params = float(record["val_accuracy"]), float(record["params"])
    ratio = params / float(target_params)
    variants = [
        (acc * ratio ** -w, "Check the sign of the exponent: w is negative, so a larger network gets a smaller reward."),
        (acc * (1 / ratio) ** w, "The ratio is params / target (cost over target), raised to w < 0."),
        (ratio ** w, "Multiply by the accuracy: the cost only scales the accuracy, it is not the reward."),
        (acc * ratio * w, "The cost enters as a power, (params / target) ** w, not as a product with w."),
        (acc + w * ratio, "MnasNet's penalty is multiplicative: ACC * (params / target) ** w, not a sum."),
        (acc + w * math.log(ratio), "Close in spirit (a log-linear penalty), but MnasNet multiplies: "
                                    "ACC * (params / target) ** w."),
        (acc, "That is the accuracy alone: the soft constraint scales it by (params / target) ** w."),
        (acc * (ratio ** w if ratio > 1 else 1.0), "The soft form applies the same w on both sides of the target: "
                                                   "a smaller network earns a little more."),
        (acc if ratio <= 1 else 0.0, "That is the hard constraint: the soft one scales the accuracy smoothly instead "
                                     "of rejecting the child."),
    ]
    test = record.get("test_accuracy")
    if _as_float(test) is not None:
        variants.insert(0, (float(test) * ratio ** w, "Use the validation accuracy: the test split is never "
                                                      "seen by a search, not even in its reward."))
    for candidate, message in variants:
        if _near(value, candidate, rel=1e-6):
            return _hint(message)
    return _hint("reward = val_accuracy * (params / target) ** w, with w = -0.07 (MnasNet's soft constraint).")


# --- 12_pnas -----------------------------------------------------------------------------


def check_expansion_count(arch, answer) -> CheckResult:
    """Is ``answer`` the number of PNAS expansions of the cell ``arch`` (cells with one more non-``none`` edge)?"""
    from .pnas.expansion import expand

    expected = len(expand(arch))
    value = _as_int(answer)
    if value is None:
        return _not_a_count(answer)
    ops = len(arch.space.ops)
    free = sum(choice == "none" for choice in arch.choices)
    if value == expected:
        return _passed(f"{expected} expansions: each of the {free} 'none' edges can take any of the "
                       f"{ops - 1} other ops, and the cell keeps its edges.")
    if value == free * ops:
        return _hint("An expansion adds an edge: setting a 'none' edge to 'none' again changes nothing.")
    if value == len(arch.choices) * (ops - 1):
        return _hint("PNAS keeps the cell's edges and adds one: only the edges that are still 'none' can change.")
    if value == free:
        return _hint("That is the number of edges that can be added; each can carry several ops.")
    return _too_high_or_low(value, expected, "Count the 'none' edges, then the ops each of them could take instead.")


def check_beam_size(budget, answer, first_step: int = 9, edges: int = 6) -> CheckResult:
    """Is ``answer`` K, PNAS's cells trained per expansion step, from :data:`~nasrl_nb.pnas.config.BEAM_SIZE_RULE`?

    ``budget = |step 1| + K (B - 1)`` solved for K (Liu et al. 2018, Sec. 3.1), with ``first_step``
    cells trained at step 1 (the distinct functions among the one-edge cells, 9 on the cell space)
    and ``edges`` steps in all; K is rounded down so that the steps stay within the budget.
    """
    from .pnas.config import beam_size_rule

    expected = beam_size_rule(budget, first_step, edges)
    value = _as_int(answer)
    if value is None:
        return _not_a_count(answer)
    if value == expected:
        return _passed(f"K = {expected}: step 1 trains {first_step} cells, and the {edges - 1} expansion steps "
                       f"share the other {budget - first_step} evaluations.")
    if value == budget // (edges - 1) or value == math.ceil(budget / (edges - 1)):
        return _hint("Step 1 spends part of the budget before any expansion: take its cells off first.")
    if value == (budget - 24) // (edges - 1):
        return _hint("Step 1 trains one cell per distinct function, not all 24 one-edge cells: equivalent cells "
                     "are trained once.")
    if value in (budget // edges, (budget - first_step) // edges):
        return _hint(f"Step 1 is not an expansion step: after it, {edges - 1} steps share what is left.")
    if value == math.ceil((budget - first_step) / (edges - 1)):
        return _hint("Round down: with K rounded up the expansion steps would need more evaluations than the "
                     "budget has left.")
    return _too_high_or_low(value, expected, "Solve budget = |step 1| + K (B - 1) for K, rounding down.")


# --- 13_automl_zero ------------------------------------------------------------------------


def _zero_defaults(layout, tasks):
    from .zero.program import MemoryLayout
    from .zero.tasks import projected_binary_tasks

    layout = MemoryLayout(scalars=4, vectors=2, matrices=0, dim=8) if layout is None else layout
    tasks = projected_binary_tasks(4, dim=layout.dim, seed=0) if tasks is None else tasks
    return layout, tasks


def _as_program(answer, predict):
    """``answer`` as a Program (a Program, its text, Learn's text, or a list of Instructions/texts as Learn),
    or a hint string saying why not."""
    from .zero.program import Instruction, Program

    try:
        if isinstance(answer, Program):
            return answer
        if isinstance(answer, str):
            if ":" in answer:
                return Program.parse(answer)
            return Program(predict=predict, learn=tuple(Instruction.parse(t) for t in answer.split(";") if t.strip()))
        if isinstance(answer, (list, tuple)):
            learn = tuple(a if isinstance(a, Instruction) else Instruction.parse(a) for a in answer)
            return Program(predict=predict, learn=learn)
    except ValueError as error:
        return f"Your program could not be read: {error}"
    return (f"Give Learn as a list of Instructions (or their text, e.g. 's_sub s2 s0 s1'), or a whole Program, "
            f"not {type(answer).__name__} {answer!r}.")


def _same_function(a, b, layout, tasks) -> bool:
    """Do programs ``a`` and ``b`` make the same predictions, training and held-out, on ``tasks``?"""
    import numpy as np

    from .zero.interpreter import execute

    runs = [execute(p, layout, tasks.x_train, tasks.y_train, tasks.x_valid, rng=np.random.default_rng(0))
            for p in (a, b)]
    with np.errstate(all="ignore"):
        return all(np.allclose(getattr(runs[0], f), getattr(runs[1], f), rtol=1e-9, atol=1e-9, equal_nan=True)
                   for f in ("train_predictions", "valid_logits"))


def check_learn_rule(answer, layout=None, tasks=None) -> CheckResult:
    """Is ``answer`` the Learn function of logistic regression trained by SGD with learning rate 1?

    ``answer``: Learn as a list of :class:`~nasrl_nb.zero.program.Instruction` (or their texts, or
    one text with ``;``), run after the reference Predict ``s1 = dot(v1, v0)``; or a whole
    :class:`~nasrl_nb.zero.program.Program`. Every program that learns what
    :func:`~nasrl_nb.zero.examples.logistic_regression` learns passes (another scratch scalar,
    commuted inputs, extra dead lines): the check runs both on ``tasks`` over ``layout`` (default:
    4 scalars, 2 vectors, no matrix, dimension 8; 4 tasks of seed 0) and compares every prediction.
    """
    from .zero.examples import hebbian, logistic_regression
    from .zero.program import Instruction, Program

    layout, tasks = _zero_defaults(layout, tasks)
    reference = logistic_regression()
    program = _as_program(answer, reference.predict)
    if isinstance(program, str):
        return _hint(program)
    try:
        program.check(layout)
    except ValueError as error:
        return _hint(f"{error} (the memory has {layout.scalars} scalars and {layout.vectors} vectors).")
    if _same_function(program, reference, layout, tasks):
        return _passed("Your Learn is w += (label - sigmoid(w.x)) x: the gradient step of the logistic loss, "
                       "with the error term label - prediction.")
    if not _same_function(reference.replace("predict", program.predict), reference, layout, tasks):
        return _hint("Keep Predict as s1 = dot(v1, v0): Learn must train the weights that Predict reads (v1).")
    wrong = [
        (Program(predict=program.predict), "Your Learn leaves the weights v1 as they are: add a step to them."),
        (hebbian().replace("predict", program.predict),
         "There is no error term: w += label * x is the Hebbian rule. Scale x by label - prediction (s0 - s1)."),
        (reference.replace("learn", (Instruction("s_sub", 2, (1, 0)), *reference.learn[1:])).replace(
            "predict", program.predict),
         "Check the sign: the gradient of the loss is (prediction - label) x, and descent steps against it."),
        (reference.replace("learn", (reference.learn[0], Instruction("sv_mul", 1, (2, 0)))).replace(
            "predict", program.predict),
         "The weights are replaced by the last correction instead of accumulated: add the step to w (v_add)."),
    ]
    for candidate, message in wrong:
        if _same_function(program, candidate, layout, tasks):
            return _hint(message)
    if not any(i.op == "s_sub" and i.inputs == (0, 1) for i in program.learn):
        return _hint("The step is the error label - prediction (s0 - s1, a scalar) times the features v0, "
                     "added to the weights v1.")
    if program.setup:
        return _hint("Setup runs once, before any example: this rule needs none (learning rate 1, no constant).")
    return _hint("The order matters: compute the error first, then scale v0 by it, then add the result to v1; "
                 "use a learning rate of 1 (no constant).")


def check_fec_collisions(reference, candidates: dict, answer, evaluator=None, layout=None) -> CheckResult:
    """Is ``answer`` the names of ``candidates`` whose probe hash equals ``reference``'s?

    Those are the programs the functional-equivalence cache would answer with ``reference``'s
    fitness (:func:`~nasrl_nb.zero.evaluate.probe_hash` on ``evaluator.probe``; default: a
    :class:`~nasrl_nb.zero.evaluate.ProgramEvaluator` with 4 search tasks). ``answer``: any
    iterable of names (a list, set, tuple), or one name as a string.
    """
    from .zero.evaluate import ProgramEvaluator, probe_hash

    if not candidates:
        raise ValueError("candidates: need at least one named program")
    evaluator = ProgramEvaluator(num_tasks=4, test_tasks=0) if evaluator is None else evaluator
    layout, _ = _zero_defaults(layout, evaluator.probe)
    key = probe_hash(reference, layout, evaluator.probe, seed=evaluator.seed)
    expected = {name for name, p in candidates.items() if probe_hash(p, layout, evaluator.probe, seed=evaluator.seed) == key}
    if isinstance(answer, str):
        answer = [answer]
    try:
        chosen = {str(a) for a in answer}
    except TypeError:
        return _hint(f"Give the names of the programs (a list or set of strings), not {type(answer).__name__} {answer!r}.")
    unknown = chosen - set(candidates)
    if unknown:
        return _hint(f"{', '.join(sorted(unknown))}: not a program's name here; allowed values: "
                     f"{', '.join(candidates)}.")
    if chosen == expected:
        return _passed(f"{len(expected)} of the {len(candidates)} programs hash alike: the cache compares what "
                       "programs predict, not their text, so a line nobody reads changes nothing.")
    if chosen - expected:
        return _hint("Some programs you chose learn differently (another step size, or a value used before it is "
                     "computed): any change of a prediction on the probe changes the hash.")
    return _hint("Some programs you left out differ from the reference only in their text (a line whose result "
                 "nobody reads, inputs in another order): the cache hashes predictions, not text.")
