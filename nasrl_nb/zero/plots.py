"""Plots of an AutoML-Zero run: fitness over evaluations (pure functions that return a Figure)."""

from __future__ import annotations


def plot_fitness(history, *, ax=None, reference: float | None = None, label: str = "hand-written logistic regression"):
    """Each program's fitness (dots) and the best so far (line) against the evaluation index;
    ``reference`` draws a horizontal line (the hand-written program's fitness)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    rows = [r for r in history if r.get("status") == "ok"]
    xs = [r["evaluation"] for r in rows]
    ys = [r["reward"] for r in rows]
    best, running = [], float("-inf")
    for y in ys:
        running = max(running, y)
        best.append(running)
    ax.scatter(xs, ys, s=4, alpha=0.3, color="tab:gray", label="each program")
    ax.plot(xs, best, color="tab:blue", label="best so far")
    if reference is not None:
        ax.axhline(reference, color="tab:green", linestyle="--", label=label)
    ax.set_xlabel("programs evaluated")
    ax.set_ylabel("fitness (mean held-out accuracy)")
    ax.legend(loc="lower right", fontsize=8)
    return ax.figure
