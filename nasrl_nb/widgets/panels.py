"""The data a dashboard draws, from a live search or from a run directory on disk.

:class:`RunState` is the one input of every view panel, so the live dashboard and the
replay viewer draw exactly the same pictures from the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..spaces.search_space import SearchSpace

PANELS = ("architecture", "policy", "entropy", "rewards", "advantages", "tradeoff")


@dataclass
class RunState:
    """History records and per-step summaries of a search (all plain JSON data).

    ``steps``: one dict per update with ``step``, ``rewards``, ``baseline`` and
    ``advantages`` (the values the update's loss used, from its stats), PPO's ``kl`` and
    ``clip_fraction`` (None otherwise), ``stats`` (the update's statistics: a DARTS search's
    epochs and mixing weights are there) and ``policy`` (a ``PolicySnapshot.to_dict()`` or
    None), as in ``steps.jsonl``.
    """

    space: SearchSpace
    method: str
    budget: int
    history: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)

    @classmethod
    def from_search(cls, search) -> RunState:
        steps = [
            {"step": s.step, "rewards": list(s.rewards), "baseline": s.baseline, "advantages": s.advantages,
             "kl": s.stats.get("kl"), "clip_fraction": s.stats.get("clip_fraction"),
             "stats": {k: v for k, v in s.stats.items() if k != "advantages"},  # as steps.jsonl holds them
             "policy": None if s.policy is None else s.policy.to_dict()}
            for s in list(search.steps)
        ]
        return cls(search.space, search.method, search.budget, list(search.history), steps)

    @classmethod
    def load(cls, run_dir) -> RunState:
        """Read a run folder written by a search (:func:`~nasrl_nb.run.folder.load_run`)."""
        from ..run.folder import SUMMARY_NAME, load_run
        from ..zero import space as _programs  # noqa: F401  registers the "zero" space: AutoML-Zero runs read alike

        if not (Path(run_dir) / SUMMARY_NAME).exists():
            raise ValueError(f"run_dir: {str(run_dir)!r} holds no summary.json; pass the --out folder of a search")
        run = load_run(run_dir)
        return cls(space=run.space, method=run.method, budget=run.budget, history=run.history, steps=run.steps)

    @property
    def num_steps(self) -> int:
        return max(len(self.steps), 1 + max((r["step"] for r in self.history), default=-1))

    def upto(self, num_steps: int) -> RunState:
        """The state after the first ``num_steps`` updates (for scrubbing through a replay)."""
        return RunState(
            self.space, self.method, self.budget,
            [r for r in self.history if r["step"] < num_steps],
            [s for s in self.steps if s["step"] < num_steps],
        )

    def latest_architecture(self):
        """The last record's architecture, in the space it was sampled in (a curriculum's stage)."""
        from ..spaces.registry import record_architecture

        return record_architecture(self.space, self.history[-1]) if self.history else None

    def best_record(self) -> dict | None:
        """The record with the highest reward (ties: validation accuracy), as in ``summary.json``."""
        from ..run.summary import best_by_reward

        return best_by_reward(self.history)

    @property
    def shared_weights(self) -> bool:
        """Whether the children were scored with shared weights (ENAS, random_ws): their records say so."""
        return any(r.get("shared_weights") for r in self.history)

    def policies(self) -> list[dict]:
        return [s["policy"] for s in self.steps if s.get("policy")]


def render_panels(state: RunState, names=PANELS, *, dpi: int = 80) -> dict[str, bytes]:
    """PNG bytes of each named panel that has data to show (pure: no widgets involved)."""
    from ..viz.drawing import draw_architecture, figure_to_png
    from ..viz.views import (
        plot_accuracy_vs_cost,
        plot_entropy_over_time,
        plot_policy_heatmap,
        plot_rewards,
    )

    figures = {}
    arch = state.latest_architecture()
    policies = state.policies()
    if "architecture" in names and arch is not None:
        figures["architecture"] = draw_architecture(arch, title=f"latest child (step {state.history[-1]['step']})")
    if "policy" in names and policies:
        figures["policy"] = plot_policy_heatmap(policies[-1], title=f"policy after update {len(policies)}")
    if "entropy" in names and len(policies) >= 2:
        figures["entropy"] = plot_entropy_over_time(policies)
    if "rewards" in names and state.steps:
        figures["rewards"] = plot_rewards(state.steps if state.steps[0].get("rewards") else state.history)
    elif "rewards" in names and state.history:
        figures["rewards"] = plot_rewards(state.history)
    if "advantages" in names and any(s.get("advantages") for s in state.steps):
        figures["advantages"] = plot_advantages(state.steps)
    if "tradeoff" in names and any(r.get("status") == "ok" for r in state.history):
        figures["tradeoff"] = plot_accuracy_vs_cost(state.history, cost="params")
    return {name: figure_to_png(fig, dpi=dpi) for name, fig in figures.items()}


def plot_advantages(steps, ax=None):
    """The advantages each update's loss used (points per step) and its baseline and KL.

    Pure: reads ``advantages``, ``baseline`` and ``kl`` from the step dicts (the update's own
    stats, as in ``steps.jsonl``), never recomputes them. Returns the Figure.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    used = [s for s in steps if s.get("advantages")]
    if ax is None:
        fig = Figure(figsize=(7.5, 3.6))
        ax = fig.add_axes((0.7 / 7.5, 0.5 / 3.6, 1 - 1.0 / 7.5, 1 - 1.05 / 3.6))  # margins in inches
    else:
        fig = ax.figure
    xs = [s["step"] for s in used for _ in s["advantages"]]
    ys = [float(a) for s in used for a in s["advantages"]]
    ax.axhline(0.0, color="grey", linewidth=0.8, zorder=1)
    ax.scatter(xs, ys, s=18, color="#0072b2", alpha=0.6, linewidths=0, zorder=2)
    last = used[-1] if used else None
    title = "Advantages the updates used"
    if last is not None and last.get("baseline") is not None:
        title += f"\nlast update: baseline b = {float(last['baseline']):.3g}"
        if last.get("kl") is not None:
            title += f", KL(pi_old || pi) = {float(last['kl']):.3g}, clip fraction {float(last.get('clip_fraction') or 0):.2f}"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("step (policy update)")
    ax.set_ylabel("advantage")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def warnings_for(state: RunState) -> list[str]:
    """The diagnostics that apply to ``state`` (entropy collapse, reward plateau)."""
    import numpy as np

    from ..run.diagnostics import entropy_collapse, reward_plateau

    messages = []
    policies = state.policies()
    if policies:
        maximum = sum(float(np.log(len(c))) for c in policies[-1]["choices"])
        totals = [float(np.sum(p["entropy"])) for p in policies]
        evaluated = len(state.history)
        messages.append(entropy_collapse(totals, maximum, progress=evaluated / max(state.budget, 1)))
    means = [float(np.mean(s["rewards"])) for s in state.steps if s.get("rewards")]
    messages.append(reward_plateau(means))
    return [m for m in messages if m]
