"""The RNN controller that writes architectures token by token (Zoph & Le, ICLR 2017).

Zoph & Le (2017, Sec. 3.1) generate an architecture as a sequence of decisions with an
LSTM: each step reads an embedding of the previous choice, and a softmax head picks the
next one. Skip connections use anchor points scored by content-based attention
(Sec. 3.3). From ENAS (Pham et al., ICML 2018, App. / code) we take the start token,
uniform(-0.1, 0.1) initialisation and the logit tricks ``logits <- c * tanh(logits / T)``
(temperature ``T``, then tanh clipping with ``c = tanh_constant``).

The controller works for any :class:`~nasrl_nb.spaces.search_space.SearchSpace`: it reads
``space.decisions`` and needs nothing else. The whole batch is sampled in one pass of the
LSTM (a loop over decisions, never over architectures). It draws its samples from its own
``torch.Generator`` (never torch's global RNG), so a search running in a thread and code
running in the kernel cannot disturb each other's random streams.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..spaces.search_space import Architecture, SearchSpace
from ..validation import require_positive
from .config import ControllerConfig

INIT_RANGE = 0.1  # ENAS: every controller weight starts uniform in [-0.1, 0.1]


@dataclass
class ControllerSample:
    """A batch of sampled architectures with their log pi and entropy (sums over decisions).

    ``indices`` is a LongTensor (B, D) of option indices; ``log_prob`` and ``entropy`` are
    Tensors (B,) that carry gradients back into the controller.
    """

    architectures: list[Architecture]
    indices: torch.Tensor
    log_prob: torch.Tensor
    entropy: torch.Tensor

    def __len__(self) -> int:
        return len(self.architectures)


@dataclass
class ControllerOutput:
    """What :meth:`Controller.forward` returns for a batch of given choices.

    ``logits[t]`` is (B, K_t): the step-``t`` logits after temperature and tanh clipping,
    so ``Categorical(logits=logits[t])`` is the policy for decision ``t``.
    ``decision_log_probs``/``entropies`` are (B, D) per-decision log pi(a_t | a_<t) and
    entropies (their sums over D are :meth:`Controller.log_prob`'s (B,) log pi(a) and entropy);
    ``hidden`` is (B, D, H), the top core layer's state at each step (a critic can read it).
    """

    logits: list[torch.Tensor]
    decision_log_probs: torch.Tensor  # (B, D)
    entropies: torch.Tensor
    hidden: torch.Tensor


@dataclass
class PolicySnapshot:
    """The controller's current policy in plain NumPy, for plots and dashboards.

    ``probs[t]``: decision ``t``'s distribution when every earlier decision takes its most
    likely option (the greedy path). ``marginals[t]``: how often each option was drawn in
    ``num_samples`` samples (a Monte-Carlo estimate of the marginal). ``entropy[t]``: the
    entropy of ``probs[t]`` in nats.
    """

    decisions: list[str]
    choices: list[tuple]
    probs: list[np.ndarray]
    marginals: list[np.ndarray]
    entropy: np.ndarray

    def to_dict(self) -> dict:
        """JSON-safe lists (for history files and widgets)."""
        return {
            "decisions": list(self.decisions),
            "choices": [list(c) for c in self.choices],
            "probs": [p.tolist() for p in self.probs],
            "marginals": [m.tolist() for m in self.marginals],
            "entropy": self.entropy.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> PolicySnapshot:
        return cls(
            decisions=list(data["decisions"]),
            choices=[tuple(c) for c in data["choices"]],
            probs=[np.asarray(p, dtype=float) for p in data["probs"]],
            marginals=[np.asarray(m, dtype=float) for m in data["marginals"]],
            entropy=np.asarray(data["entropy"], dtype=float),
        )


class Controller(nn.Module):
    """A recurrent policy over the decisions of ``space`` (Zoph & Le 2017; ENAS tricks).

    The base of the controllers: everything but the recurrent core, which a subclass supplies
    (:meth:`_make_core`, :meth:`_initial_state`, :meth:`_advance`): :class:`LSTMController`
    (Zoph & Le's), :class:`~nasrl_nb.controllers.gru.GRUController` and
    :class:`~nasrl_nb.controllers.attention.AttentionController`.

    Decision format: step ``t`` picks option ``a_t`` in ``0..K_t-1`` of
    ``space.decisions[t]``; an architecture is the index row ``(a_0, ..., a_{D-1})``
    (``Architecture.indices``), and a batch is a LongTensor (B, D).

    One step ``t`` (shapes for a batch of B, hidden size H):

    1. input ``x_t`` (B, H) = the learned start token for ``t = 0``, else
       ``embedding_{t-1}(a_{t-1})`` (one embedding table per decision);
    2. ``h_t`` = the recurrent core applied to ``x_t`` (:class:`LSTMController`: ``num_layers``
       stacked ``LSTMCell``\\ s);
    3. raw logits: ``head_t(h_t)`` (one ``nn.Linear(H, K_t)`` per decision), except for a
       skip decision "layer i takes layer j's output" when ``skip_attention``: its score is
       ``s = v^T tanh(W_prev h_j + W_curr h_i)`` (Zoph & Le Sec. 3.3), with raw logits
       ``[0, s]`` so that P(skip) = sigmoid(s). ``h_i`` is the current step's state and the
       anchor ``h_j`` is the state at layer j's last categorical decision;
    4. ``logits = tanh_constant * tanh(raw / temperature)`` (ENAS; no tanh when
       ``tanh_constant`` is None). A skip score goes through the same map, so
       P(skip) = sigmoid(c tanh(s / T)), which is sigmoid(s) when T = 1 and c = None;
    5. ``a_t`` ~ softmax(logits), drawn by inversion (the first option whose cumulative
       probability exceeds a uniform number ``u``) with ``u`` from the controller's own CPU
       :attr:`generator`; argmax when greedy, or the given choice when teacher forcing.

    Randomness: :attr:`generator` is seeded with ``seed``; with ``seed=None`` the seed is
    drawn from torch's global RNG once, at construction (after the weights are initialised),
    so ``seed_everything(s)`` before building the controller still repeats a run. After that
    sampling never reads or advances the global RNG. The generator's state is part of
    :meth:`state_dict` (as the module's extra state), so a checkpoint resumes the exact
    stream of samples.

    ``log_prob`` is log pi(a) = sum_t log pi(a_t | a_<t) (a log-probability, <= 0), and
    ``entropy`` sums the per-step entropies along the path, in nats. The REINFORCE loss
    built on it is :func:`nasrl_nb.rl.policy_gradient.reinforce_loss`.
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        hidden_size: int = ControllerConfig.hidden_size,
        num_layers: int = ControllerConfig.num_layers,
        temperature: float = ControllerConfig.temperature,
        tanh_constant: float | None = ControllerConfig.tanh_constant,
        skip_attention: bool = ControllerConfig.skip_attention,
        seed: int | None = ControllerConfig.seed,
    ):
        super().__init__()
        if not isinstance(space, SearchSpace):
            raise ValueError(f"space: expected a SearchSpace (MacroSpace, CellSpace, custom_space(...)), got {type(space).__name__}")
        self.space = space
        self.hidden_size = require_positive("hidden_size", hidden_size, integer=True)
        self.num_layers = require_positive("num_layers", num_layers, integer=True)
        self.temperature = temperature
        if tanh_constant is not None:
            require_positive("tanh_constant", tanh_constant)
        self.tanh_constant = tanh_constant
        decisions = space.decisions
        has_skips = any(d.kind == "skip" for d in decisions)
        self.skip_attention = bool(skip_attention) and has_skips
        H = self.hidden_size

        self.start = nn.Parameter(torch.empty(1, H))  # the start token's input
        self.cells = self._make_core()  # the recurrent core: the subclass's (LSTMController: stacked LSTM cells)
        # embeddings[t] embeds decision t's choice as the input of step t + 1
        self.embeddings = nn.ModuleList(nn.Embedding(len(d.choices), H) for d in decisions[:-1])
        attended = {t for t, d in enumerate(decisions) if d.kind == "skip" and self.skip_attention}
        self.heads = nn.ModuleDict(
            {str(t): nn.Linear(H, len(d.choices)) for t, d in enumerate(decisions) if t not in attended}
        )
        self._anchor_layer_of_step: dict[int, int] = {}
        if self.skip_attention:
            self.w_prev = nn.Linear(H, H, bias=False)  # W_prev, applied to anchor h_j
            self.w_curr = nn.Linear(H, H, bias=False)  # W_curr, applied to current h_i
            self.v_attn = nn.Linear(H, 1, bias=False)  # v
            self._anchor_layer_of_step = self._anchor_steps()
        for p in self.parameters():
            nn.init.uniform_(p, -INIT_RANGE, INIT_RANGE)
        if seed is None:  # drawn from the global RNG once, so seed_everything still fixes it
            seed = int(torch.randint(0, 2**62, (1,)))
        elif isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: must be an integer >= 0 or None, got {seed!r}")
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)  # CPU: the same stream on every device

    # --- the recurrent core: each subclass's (LSTMController below, controllers/gru.py, controllers/attention.py) ---
    def _make_core(self) -> nn.Module:
        """The core's modules (``self.cells``), built once in ``__init__``."""
        raise NotImplementedError(f"{type(self).__name__}: a controller needs a recurrent core (see LSTMController)")

    def _initial_state(self, batch_size: int):
        """The core's state before the first decision, for a batch of ``batch_size``."""
        raise NotImplementedError(f"{type(self).__name__}: a controller needs a recurrent core (see LSTMController)")

    def _advance(self, x: torch.Tensor, state):
        """One step of the core: input ``x`` (B, H) -> (top state ``h`` (B, H), new state)."""
        raise NotImplementedError(f"{type(self).__name__}: a controller needs a recurrent core (see LSTMController)")

    def _anchor_steps(self) -> dict[int, int]:
        """{step: layer} for the anchor of every layer that a skip decision attends to."""
        decisions = self.space.decisions
        last_categorical = {d.layer: t for t, d in enumerate(decisions) if d.kind == "categorical" and d.layer is not None}
        anchors = {}
        for t, d in enumerate(decisions):
            if d.kind != "skip":
                continue
            anchor = last_categorical.get(d.source)
            if d.source is None or anchor is None or anchor >= t:
                raise ValueError(
                    f"skip_attention: decision {d.name!r} attends to layer {d.source!r}, which has no categorical "
                    "decision before it to serve as its anchor; pass skip_attention=False"
                )
            anchors[anchor] = d.source
        return anchors

    # --- configuration ------------------------------------------------------------------
    @property
    def temperature(self) -> float:
        """Softmax temperature T (> 0); settable between updates (ENAS uses 5 for macro)."""
        return self._temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        self._temperature = float(require_positive("temperature", value))

    @property
    def device(self) -> torch.device:
        return self.start.device

    def manual_seed(self, seed: int) -> Controller:
        """Restart the sampling stream from ``seed`` (torch's global RNG is not touched)."""
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: must be an integer >= 0, got {seed!r}")
        self.seed = seed
        self.generator.manual_seed(seed)
        return self

    def get_extra_state(self) -> dict:
        """The sampling generator's state, saved with the weights by :meth:`state_dict`."""
        return {"generator": self.generator.get_state()}

    def set_extra_state(self, state) -> None:
        if not isinstance(state, Mapping) or not isinstance(state.get("generator"), torch.Tensor):
            raise ValueError("state: the controller's extra state must hold its generator's state")
        self.generator.set_state(state["generator"].cpu())

    def __repr__(self) -> str:
        params = sum(p.numel() for p in self.parameters())
        return (
            f"{type(self).__name__}(space={self.space!r}, hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
            f"temperature={self.temperature:g}, tanh_constant={self.tanh_constant}, "
            f"skip_attention={self.skip_attention}, seed={self.seed}, parameters={params:,})"
        )

    # --- the one pass ---------------------------------------------------------------------
    def _step_logits(self, t: int, h: torch.Tensor, anchors: dict, temperature: float) -> torch.Tensor:
        """Logits (B, K_t) of decision ``t`` from the current state ``h`` (B, H)."""
        d = self.space.decisions[t]
        if d.kind == "skip" and self.skip_attention:
            # Zoph & Le Sec. 3.3: P(layer i takes layer j) = sigmoid(v^T tanh(W_prev h_j + W_curr h_i))
            score = self.v_attn(torch.tanh(anchors[d.source] + self.w_curr(h)))  # (B, 1)
            raw = torch.cat([torch.zeros_like(score), score], dim=1)  # (B, 2): softmax = [1 - sig, sig]
        else:
            raw = self.heads[str(t)](h)  # (B, K_t)
        logits = raw / temperature  # ENAS: temperature, then tanh clipping
        if self.tanh_constant is not None:
            logits = self.tanh_constant * torch.tanh(logits)
        return logits

    def _rollout(self, batch_size, actions=None, *, greedy=False, generator=None, temperature=None):
        """Run the LSTM over all D decisions for the whole batch at once.

        ``actions`` (B, D) teacher-forces the choices; otherwise they are sampled (or
        argmax when ``greedy``). Samples draw from ``generator`` (default: :attr:`generator`).
        Returns (indices (B, D), logits list, hidden list).
        """
        generator = self.generator if generator is None else generator
        T = self.temperature if temperature is None else float(require_positive("temperature", temperature))
        B, H = batch_size, self.hidden_size
        state = self._initial_state(B)
        x = self.start.expand(B, H)  # (B, H)
        anchors: dict[int, torch.Tensor] = {}  # layer j -> W_prev h_j, (B, H)
        chosen, logits_all, hidden_all = [], [], []
        num_steps = len(self.space.decisions)
        for t in range(num_steps):
            h, state = self._advance(x, state)  # (B, H): the top layer's state at step t
            logits = self._step_logits(t, h, anchors, T)  # (B, K_t)
            if t in self._anchor_layer_of_step:
                anchors[self._anchor_layer_of_step[t]] = self.w_prev(h)
            if actions is not None:
                a = actions[:, t]
            elif greedy:
                a = logits.argmax(dim=-1)
            else:
                a = _sample_categorical(logits, generator)  # (B,)
            chosen.append(a)
            logits_all.append(logits)
            hidden_all.append(h)
            if t + 1 < num_steps:
                x = self.embeddings[t](a)  # (B, H): feed the choice back
        return torch.stack(chosen, dim=1), logits_all, hidden_all

    @staticmethod
    def _score(logits_all, indices):
        """Per-step log pi(a_t | a_<t) and entropies, each (B, D), from the step logits."""
        log_probs, entropies = [], []
        for t, logits in enumerate(logits_all):
            logp = torch.log_softmax(logits, dim=-1)  # (B, K_t)
            log_probs.append(logp.gather(1, indices[:, t : t + 1]).squeeze(1))
            entropies.append(-(logp.exp() * logp).sum(dim=-1))
        return torch.stack(log_probs, dim=1), torch.stack(entropies, dim=1)

    # --- public API -------------------------------------------------------------------------
    def sample(self, batch_size: int = 1, *, greedy: bool = False, generator: torch.Generator | None = None) -> ControllerSample:
        """Sample ``batch_size`` architectures in one batched pass (argmax when ``greedy``).

        The draws come from :attr:`generator`, or from ``generator`` (a CPU generator) when given.
        """
        batch_size = require_positive("batch_size", batch_size, integer=True)
        indices, logits_all, _ = self._rollout(batch_size, greedy=greedy, generator=generator)
        log_probs, entropies = self._score(logits_all, indices)
        return ControllerSample(self.to_architectures(indices), indices, log_probs.sum(1), entropies.sum(1))

    def forward(self, x, temperature: float | None = None) -> ControllerOutput:
        """Teacher forcing: score the given choices ``x`` (LongTensor (B, D) or architectures).

        ``temperature`` overrides :attr:`temperature` for this call only.
        """
        indices = self.as_indices(x)
        _, logits_all, hidden_all = self._rollout(indices.shape[0], indices, temperature=temperature)
        log_probs, entropies = self._score(logits_all, indices)
        return ControllerOutput(logits_all, log_probs, entropies, torch.stack(hidden_all, dim=1))

    def log_prob(self, architectures) -> tuple[torch.Tensor, torch.Tensor]:
        """(log pi(arch) (B,), entropy along its path (B,)) by batched teacher forcing."""
        out = self.forward(architectures)
        return out.decision_log_probs.sum(1), out.entropies.sum(1)

    def sample_architecture(self) -> tuple[Architecture, torch.Tensor, torch.Tensor]:
        """One architecture with its log pi and entropy (0-dim tensors with gradients)."""
        s = self.sample(1)
        return s.architectures[0], s.log_prob[0], s.entropy[0]

    @torch.no_grad()
    def policy_snapshot(self, num_samples: int = 256, *, seed: int = 0) -> PolicySnapshot:
        """The current policy as NumPy arrays; leaves every random stream untouched.

        Marginals are estimated from ``num_samples`` samples drawn with a private
        generator seeded with ``seed`` (neither torch's global RNG nor :attr:`generator`),
        so a dashboard never changes a seeded search.
        """
        num_samples = require_positive("num_samples", num_samples, integer=True)
        greedy, logits_all, _ = self._rollout(1, greedy=True)
        probs = [logits[0].double().softmax(dim=-1).cpu().numpy() for logits in logits_all]
        generator = torch.Generator().manual_seed(seed)
        drawn, _, _ = self._rollout(num_samples, generator=generator)  # (N, D)
        decisions = self.space.decisions
        marginals = [
            (torch.bincount(drawn[:, t], minlength=len(d.choices)).double() / num_samples).cpu().numpy()
            for t, d in enumerate(decisions)
        ]
        entropy = np.array([-(p * np.log(np.where(p > 0, p, 1.0))).sum() for p in probs])
        return PolicySnapshot([d.name for d in decisions], [d.choices for d in decisions], probs, marginals, entropy)

    # --- conversions ---------------------------------------------------------------------------
    def to_architectures(self, indices: torch.Tensor) -> list[Architecture]:
        """Index rows (B, D) -> architectures of this space."""
        return [self.space.from_indices(row) for row in indices.tolist()]

    def as_indices(self, actions) -> torch.Tensor:
        """Architectures (a list) or an index tensor -> LongTensor (B, D) on this device."""
        D = len(self.space.decisions)
        if isinstance(actions, Architecture):
            actions = [actions]
        if isinstance(actions, torch.Tensor):
            indices = actions.to(device=self.device, dtype=torch.long)
            if indices.dim() != 2 or indices.shape[1] != D or indices.shape[0] == 0:
                raise ValueError(f"actions: expected an index tensor of shape (B, {D}) with B > 0, got {tuple(actions.shape)}")
            sizes = torch.tensor([len(d.choices) for d in self.space.decisions], device=self.device)
            if bool(((indices < 0) | (indices >= sizes)).any()):
                raise ValueError(f"actions: indices out of range; decision t allows 0..K_t-1 with K = {sizes.tolist()}")
            return indices
        if not isinstance(actions, Sequence) or len(actions) == 0:
            raise ValueError(f"actions: expected a non-empty list of Architectures or a LongTensor (B, {D}), got {actions!r}")
        rows = []
        for arch in actions:
            if not isinstance(arch, Architecture):
                raise ValueError(f"actions: expected Architecture objects, got {type(arch).__name__}")
            if arch.space is not self.space and arch.space != self.space:
                raise ValueError(f"actions: architecture {arch!r} is not from this controller's space {self.space!r}")
            rows.append(arch.indices)
        return torch.tensor(rows, dtype=torch.long, device=self.device)


class LSTMController(Controller):
    """Zoph & Le's controller (Sec. 3.1): :class:`Controller` with ``num_layers`` stacked
    ``LSTMCell``\\ s as its core (their two-layer LSTM has two; ENAS's one).

    Step ``t``: ``(h^1_t, c^1_t) = LSTM_1(x_t, (h^1_{t-1}, c^1_{t-1}))``, each later layer reads
    the one below; the top ``h_t`` (B, H) feeds the heads.
    """

    def _make_core(self) -> nn.Module:
        """``num_layers`` stacked ``LSTMCell(H, H)``."""
        return nn.ModuleList(nn.LSTMCell(self.hidden_size, self.hidden_size) for _ in range(self.num_layers))

    def _initial_state(self, batch_size: int):
        """The core's state before the first decision: zero (h, c) per layer, each (B, H)."""
        zeros = torch.zeros(batch_size, self.hidden_size, device=self.device)
        return [(zeros, zeros)] * self.num_layers

    def _advance(self, x: torch.Tensor, state):
        """One step of the core: input ``x`` (B, H) -> (top state ``h`` (B, H), new state)."""
        new_state = []
        for cell, (h, c) in zip(self.cells, state, strict=True):
            h, c = cell(x, (h, c))  # (B, H) each
            new_state.append((h, c))
            x = h
        return x, new_state


def _sample_categorical(logits: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One draw per row of ``softmax(logits)`` (B, K) by inversion, with ``u`` ~ U[0, 1) from
    the CPU ``generator``: the first option whose cumulative probability exceeds ``u``."""
    probs = logits.detach().double().softmax(dim=-1)  # (B, K)
    cdf = probs.cumsum(dim=-1)  # (B, K)
    u = torch.rand(probs.shape[0], 1, generator=generator, dtype=torch.float64).to(probs.device)  # (B, 1)
    chosen = (cdf <= u * cdf[:, -1:]).sum(dim=-1)  # (B,): options whose cumulative mass is passed
    return chosen.clamp_(max=probs.shape[1] - 1)


def max_entropy(space: SearchSpace) -> float:
    """Entropy of the uniform policy over ``space`` in nats (an upper bound for a sample's)."""
    return sum(math.log(len(d.choices)) for d in space.decisions)
