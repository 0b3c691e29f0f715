"""What the student sees is what the update used: steps.jsonl, the dashboard's run state and the
step-through show the baseline and advantages from the update's own stats, on every step."""

from __future__ import annotations

import json
import statistics

import pytest

import nasrl_nb as nb
from nasrl_nb.assembly.factory import make_search
from nasrl_nb.evaluators.base import FunctionEvaluator

TOY = nb.custom_space({"arm": ["a", "b", "c"], "width": [8, 16]})


def toy_accuracy(arch):
    return {"a": 0.2, "b": 0.5, "c": 0.8}[arch.choices[0]] + (0.1 if arch.choices[1] == 16 else 0.0)


def toy_search(method, **kwargs):
    return make_search(method, space=TOY, dataset=None, evaluator=FunctionEvaluator(toy_accuracy, cache=False),
                       budget=16, batch_size=4, seed=0, progress=False, **kwargs)


@pytest.mark.parametrize("method", ["reinforce", "ppo"])
def test_steps_jsonl_records_the_baseline_and_advantages_the_loss_used(tmp_path, method):
    search = toy_search(method, out_dir=tmp_path / "run")
    search.run()
    lines = [json.loads(line) for line in (tmp_path / "run" / "steps.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == list(range(4))
    ema, seen = None, []
    for line, step in zip(lines, search.steps, strict=True):
        rewards = line["rewards"]
        seen += rewards
        if method == "reinforce":
            # rank advantages: sqrt(12) (F - 1/2), F the mid-rank quantile among the last 8 rewards; b their median
            window = seen[-8:]
            expected_b = statistics.median_low(window)  # torch.median: the lower middle
            quantiles = [(sum(w < r for w in window) + sum(w == r for w in window) / 2) / len(window) for r in rewards]
            assert line["baseline"] == pytest.approx(expected_b)
            assert line["advantages"] == pytest.approx([12 ** 0.5 * (q - 0.5) for q in quantiles], rel=1e-5, abs=1e-6)
        else:
            # the baseline is the moving average BEFORE this batch (decay 0.95); the first step uses the batch mean
            expected_b = statistics.fmean(rewards) if ema is None else ema
            scale = max(statistics.stdev(rewards), 0.02)  # ppo: this batch's reward std, floored ("batch")
            assert line["baseline"] == pytest.approx(expected_b)
            assert line["advantages"] == pytest.approx([(r - expected_b) / scale for r in rewards], rel=1e-5, abs=1e-6)
        # the file, the live step and the strategy's stats agree exactly
        assert line["baseline"] == step.baseline == step.stats["baseline"]
        assert line["advantages"] == step.advantages == step.stats["advantages"]
        assert line["kl"] == step.stats["kl"] and line["clip_fraction"] == step.stats["clip_fraction"]
        if method == "ppo":
            assert 0.0 <= line["kl"] <= 1.5 * 0.02 and 0.0 <= line["clip_fraction"] <= 1.0
        else:
            assert line["kl"] is None and line["clip_fraction"] is None
        ema = statistics.fmean(rewards) if ema is None else 0.95 * ema + 0.05 * statistics.fmean(rewards)


def test_run_state_and_panels_show_the_advantages_used(tmp_path):
    from nasrl_nb.widgets.panels import RunState, plot_advantages, render_panels

    search = toy_search("ppo", out_dir=tmp_path / "run")
    search.run()
    live, disk = RunState.from_search(search), RunState.load(tmp_path / "run")
    for state in (live, disk):
        assert [s["advantages"] for s in state.steps] == [s.advantages for s in search.steps]
        assert [s["baseline"] for s in state.steps] == [s.baseline for s in search.steps]
        assert [s["kl"] for s in state.steps] == [s.stats["kl"] for s in search.steps]
        assert "advantages" in render_panels(state)
    fig = plot_advantages(live.steps)
    drawn = fig.axes[0].collections[0].get_offsets()
    assert [float(y) for _, y in drawn] == pytest.approx([a for s in search.steps for a in s.advantages])
    assert f"b = {search.steps[-1].baseline:.3g}" in fig.axes[0].get_title()
    random = toy_search("random")
    random.run()
    assert "advantages" not in render_panels(RunState.from_search(random))  # no policy gradient, no panel


def test_step_through_shows_the_advantages_of_the_update_from_its_stats():
    from nasrl_nb.widgets import StepThroughWidget

    search = toy_search("ppo")
    stepper = StepThroughWidget(search)
    for _ in range(4):  # sample, build, train, reward
        stepper.advance(block=True)
    assert "this batch's mean reward" in stepper.text.value  # the first step has no moving average yet
    stepper.advance(block=True)  # update
    step = search.steps[0]
    for a in step.advantages:
        assert f"{a:+.3f}" in stepper.text.value
    assert f"baseline b = {step.baseline:.4g}" in stepper.text.value and "KL(pi_old || pi)" in stepper.text.value
    for _ in range(4):
        stepper.advance(block=True)
    assert f"baseline b = {search.strategy.current_baseline():.3f}" in stepper.text.value  # the EMA before step 1
