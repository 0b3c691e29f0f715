"""The data a dashboard draws, from a live search or from a run directory on disk.

:class:`RunState` is the one input of every view panel, so the live dashboard and the
replay viewer draw exactly the same pictures from the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..spaces.registry import space_from_spec
from ..spaces.search_space import SearchSpace

PANELS = ("architecture", "policy", "entropy", "rewards", "tradeoff")


@dataclass
class RunState:
    """History records and per-step summaries of a search (all plain JSON data).

    ``steps``: one dict per update with ``step``, ``rewards``, ``baseline`` and
    ``policy`` (a ``PolicySnapshot.to_dict()`` or None).
    """

    space: SearchSpace
    method: str
    budget: int
    history: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)

    @classmethod
    def from_search(cls, search) -> RunState:
        steps = [
            {"step": s.step, "rewards": list(s.rewards), "baseline": s.baseline,
             "policy": None if s.policy is None else s.policy.to_dict()}
            for s in list(search.steps)
        ]
        return cls(search.space, search.method, search.budget, list(search.history), steps)

    @classmethod
    def load(cls, run_dir) -> RunState:
        """Read ``summary.json``, ``history.jsonl`` and ``steps.jsonl`` written by a search."""
        run_dir = Path(run_dir)
        summary_path = run_dir / "summary.json"
        if not summary_path.exists():
            raise ValueError(f"run_dir: {str(run_dir)!r} holds no summary.json; pass the --out folder of a search")
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        return cls(
            space=space_from_spec(summary["space"]),
            method=summary["method"],
            budget=int(summary["budget"]),
            history=_read_jsonl(run_dir / "history.jsonl"),
            steps=_read_jsonl(run_dir / "steps.jsonl"),
        )

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
        return self.space.parse(self.history[-1]["arch"]) if self.history else None

    def best_record(self) -> dict | None:
        ok = [r for r in self.history if r.get("status") == "ok" and not r.get("constraint_violated")]
        return max(ok, key=lambda r: r["val_accuracy"]) if ok else None

    def policies(self) -> list[dict]:
        return [s["policy"] for s in self.steps if s.get("policy")]


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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
    if "tradeoff" in names and any(r.get("status") == "ok" for r in state.history):
        figures["tradeoff"] = plot_accuracy_vs_cost(state.history, cost="params")
    return {name: figure_to_png(fig, dpi=dpi) for name, fig in figures.items()}


def warnings_for(state: RunState) -> list[str]:
    """The diagnostics that apply to ``state`` (entropy collapse, reward plateau)."""
    import numpy as np

    from ..search.diagnostics import entropy_collapse, reward_plateau

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
