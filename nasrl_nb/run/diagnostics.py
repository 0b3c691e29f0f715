"""Warnings for the failure modes that the NAS literature knows, as pure functions.

* **Entropy collapse** — the controller commits before it has explored (Pham et al. 2018
  add an entropy bonus to the REINFORCE loss against exactly this).
* **Reward plateau** — the mean reward of recent batches has stopped moving.
* **Skip-connection dominance** — in DARTS the share of ``skip_connect`` in the derived
  cell rises as search goes on and accuracy collapses (Zela et al. 2020; Chu et al. 2020).

Each function returns a message (str) when the warning applies and ``None`` otherwise, so
dashboards, loggers and tests can all use them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def entropy_collapse(entropy_per_step: Sequence[float], max_entropy: float, *, progress: float,
                     threshold: float = 0.1, early: float = 0.5) -> str | None:
    """Warn when the policy's mean entropy fell below ``threshold`` x its maximum early on.

    ``entropy_per_step``: the policy's total (or mean) entropy after each update, in nats;
    ``max_entropy``: the same quantity for a uniform policy; ``progress``: fraction of the
    budget spent. Collapse in the first ``early`` fraction of the budget is the warning.
    """
    if not len(entropy_per_step) or max_entropy <= 0:
        return None
    ratio = float(entropy_per_step[-1]) / max_entropy
    if ratio < threshold and progress < early:
        return (f"entropy collapse: the policy kept {ratio:.0%} of its maximum entropy after only "
                f"{progress:.0%} of the budget; raise the entropy weight or the temperature")
    return None


def reward_plateau(mean_reward_per_step: Sequence[float], *, window: int = 5, tolerance: float = 1e-3) -> str | None:
    """Warn when the last ``window`` batch means moved by less than ``tolerance`` in all."""
    rewards = np.asarray(mean_reward_per_step, dtype=float)
    rewards = rewards[np.isfinite(rewards)]
    if rewards.size < window:
        return None
    recent = rewards[-window:]
    spread = float(recent.max() - recent.min())
    if spread < tolerance:
        return (f"reward plateau: the mean reward of the last {window} batches moved by only {spread:.2g}; "
                "the search may have converged (or the controller's learning rate is too low)")
    return None


def skip_share(ops: Sequence[str], *, threshold: float = 0.5) -> str | None:
    """Warn when ``skip_connect`` is more than ``threshold`` of a derived cell's ops (DARTS)."""
    ops = [op for op in ops if op != "none"]
    if not ops:
        return None
    share = sum(op == "skip_connect" for op in ops) / len(ops)
    if share > threshold:
        return (f"skip connections dominate: {share:.0%} of the derived cell's ops are skip_connect; "
                "DARTS is known to collapse this way (try early stopping or a regularized search)")
    return None
