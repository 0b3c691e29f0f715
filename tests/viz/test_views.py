"""Views: the data each plot shows equals the data given, recomputed here independently.

Entropies are checked against ``torch.distributions.Categorical``, the running best and
the Pareto front against brute-force loops, the alpha weights against ``torch.softmax``.
Data is built by hand (dicts, namespaces), so no search has to run.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nasrl_nb.spaces.macro_space import MacroSpace  # noqa: E402
from nasrl_nb.viz.darts_plots import plot_alphas  # noqa: E402
from nasrl_nb.viz.drawing import figure_to_png  # noqa: E402
from nasrl_nb.viz.views import (  # noqa: E402
    plot_accuracy_vs_cost,
    plot_entropy_over_time,
    plot_policy_heatmap,
    plot_rewards,
    plot_training_curve,
)

CELL_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]


def random_snapshot(rng, space=None, concentration=1.0) -> dict:
    """A PolicySnapshot-shaped dict for ``space`` (macro, 16 decisions, by default)."""
    space = space or MacroSpace(num_layers=4)
    probs = [rng.dirichlet(np.full(len(d.choices), concentration)) for d in space.decisions]
    return {"decisions": [d.name for d in space.decisions], "choices": [d.choices for d in space.decisions],
            "probs": probs, "marginals": [rng.dirichlet(np.ones(len(p))) for p in probs]}


def random_records(rng, steps=12, batch=3) -> list[dict]:
    records = []
    for step in range(steps):
        for _ in range(batch):
            ok = rng.random() > 0.15
            accuracy = float(rng.uniform(0.2, 0.95))
            records.append({"step": step, "status": "ok" if ok else "failed",
                            "val_accuracy": accuracy if ok else None, "params": int(rng.integers(1_000, 500_000)),
                            "flops": int(rng.integers(10_000, 9_000_000)), "latency_ms": float(rng.uniform(0.1, 4.0)),
                            "reward": accuracy if ok else -0.5, "baseline": 0.4 + 0.01 * step})
    return records


def line_by_label(ax, label):
    (line,) = [line for line in ax.lines if line.get_label() == label]
    return line


# --- policy view ----------------------------------------------------------------------------------
def test_heatmap_image_is_the_probs_masked_where_a_decision_has_fewer_options():
    rng = np.random.default_rng(0)
    snapshot = random_snapshot(rng, MacroSpace(num_layers=4, skip_connections=True))
    fig = plot_policy_heatmap(snapshot)
    assert isinstance(fig, Figure)
    image = fig.axes[0].images[0].get_array()
    width = max(len(c) for c in snapshot["choices"])
    assert image.shape == (len(snapshot["probs"]), width)
    for i, row in enumerate(snapshot["probs"]):
        np.testing.assert_allclose(image[i, : len(row)].data, row)
        assert not image.mask[i, : len(row)].any() and image.mask[i, len(row):].all()
    texts = [t for t in fig.axes[0].texts]
    assert len(texts) == sum(len(c) for c in snapshot["choices"])  # one label per option
    assert sum(t.get_fontweight() == "bold" for t in texts) == len(snapshot["probs"])  # argmax per row
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == snapshot["decisions"]


def test_heatmap_reads_a_real_policy_snapshot_and_its_marginals():
    from nasrl_nb.controllers.lstm import LSTMController
    from nasrl_nb.spaces.cell_space import CellSpace

    torch.manual_seed(0)
    snapshot = LSTMController(CellSpace(), hidden_size=16).policy_snapshot(num_samples=32)
    fig = plot_policy_heatmap(snapshot, values="marginals", colorbar=False)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array().data, np.stack(snapshot.marginals))
    assert len(fig.axes) == 1  # no colorbar axes


def test_heatmap_rejects_bad_input():
    snapshot = random_snapshot(np.random.default_rng(1))
    with pytest.raises(ValueError, match="values: 'logits' is not allowed; allowed values: probs, marginals"):
        plot_policy_heatmap(snapshot, values="logits")
    snapshot["probs"] = snapshot["probs"][:-1]
    with pytest.raises(ValueError, match="snapshot: 16 decisions"):
        plot_policy_heatmap(snapshot)


def test_entropy_lines_equal_the_categorical_entropy_of_each_snapshot():
    rng = np.random.default_rng(2)
    from nasrl_nb.spaces.cell_space import CellSpace

    snapshots = [random_snapshot(rng, CellSpace(), concentration=1.0 / (1 + t)) for t in range(7)]
    fig = plot_entropy_over_time(snapshots)  # 6 decisions: one line each
    ax = fig.axes[0]
    assert len(ax.lines) == 6
    for d, line in enumerate(ax.lines):
        expected = [torch.distributions.Categorical(probs=torch.tensor(s["probs"][d])).entropy().item() for s in snapshots]
        np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-6)
        assert line.get_label() == snapshots[0]["decisions"][d]


def test_entropy_with_many_decisions_is_an_image_and_search_steps_give_the_x_axis():
    rng = np.random.default_rng(3)
    entropy = rng.uniform(0, 1.6, size=(10, 16))
    steps = [SimpleNamespace(step=5 + 2 * t, policy={"entropy": entropy[t], "decisions": [f"d{k}" for k in range(16)]})
             for t in range(10)]
    steps.insert(3, SimpleNamespace(step=99, policy=None))  # random search: no policy, skipped
    fig = plot_entropy_over_time(steps)
    image = fig.axes[0].images[0]
    np.testing.assert_allclose(image.get_array(), entropy.T)
    left, right, _, _ = image.get_extent()
    assert (left, right) == (4.0, 24.0)  # steps 5..23, one pixel each
    lines = plot_entropy_over_time(entropy, style="lines").axes[0].lines
    assert len(lines) == 16
    with pytest.raises(ValueError, match="style: 'bars' is not allowed"):
        plot_entropy_over_time(entropy, style="bars")


# --- reward view ----------------------------------------------------------------------------------
def test_reward_lines_are_the_running_best_and_the_baseline():
    rng = np.random.default_rng(4)
    records = random_records(rng)
    ax = plot_rewards(records).axes[0]
    best, running = [], -math.inf
    for step in range(12):
        for r in records:
            if r["step"] == step and r["status"] == "ok":
                running = max(running, r["reward"])
        best.append(running)
    line = line_by_label(ax, "running best")
    np.testing.assert_allclose(line.get_xdata(), range(12))
    np.testing.assert_allclose(line.get_ydata(), best)
    np.testing.assert_allclose(line_by_label(ax, "baseline").get_ydata(), [0.4 + 0.01 * s for s in range(12)])
    points = {c.get_label(): c.get_offsets() for c in ax.collections}
    assert len(points["sample"]) == sum(r["status"] == "ok" for r in records)
    assert len(points["failed child"]) == sum(r["status"] == "failed" for r in records)


def test_search_steps_and_their_records_give_the_same_reward_plot():
    rng = np.random.default_rng(5)
    records = random_records(rng, steps=6, batch=2)
    steps = [SimpleNamespace(step=s, rewards=[r["reward"] for r in records if r["step"] == s],
                             results=[{"status": r["status"]} for r in records if r["step"] == s],
                             baseline=0.4 + 0.01 * s) for s in range(6)]
    from_records, from_steps = plot_rewards(records).axes[0], plot_rewards(steps).axes[0]
    for label in ("running best", "baseline"):
        np.testing.assert_allclose(line_by_label(from_steps, label).get_ydata(), line_by_label(from_records, label).get_ydata())


def test_reward_plot_of_no_data_says_so():
    ax = plot_rewards([]).axes[0]
    assert [t.get_text() for t in ax.texts] == ["no rewards yet"]


def test_pareto_front_line_is_the_brute_force_non_dominated_set():
    rng = np.random.default_rng(6)
    records = random_records(rng, steps=20)
    ok = [r for r in records if r["status"] == "ok"]
    front = sorted((r["params"], r["val_accuracy"]) for r in ok
                   if not any(o["params"] <= r["params"] and o["val_accuracy"] >= r["val_accuracy"]
                              and (o["params"] < r["params"] or o["val_accuracy"] > r["val_accuracy"]) for o in ok))
    ax = plot_accuracy_vs_cost(records, cost="params").axes[0]
    line = line_by_label(ax, "Pareto front")
    assert list(zip(line.get_xdata(), line.get_ydata(), strict=True)) == front
    assert len(ax.collections[0].get_offsets()) == len(ok)  # failed children are not plotted
    assert ax.get_xscale() == "log"  # params span more than a decade
    assert ax.get_xlabel() == "parameters"
    assert not [line for line in plot_accuracy_vs_cost(records, "latency_ms", front=False).axes[0].lines]


def test_accuracy_vs_cost_rejects_unknown_cost():
    with pytest.raises(ValueError, match="cost: 'energy' is not allowed; allowed values: params, flops, latency_ms"):
        plot_accuracy_vs_cost([], cost="energy")


# --- alpha view -----------------------------------------------------------------------------------
def test_alpha_bars_are_the_softmax_per_edge_and_name_the_strongest_op():
    alphas = np.random.default_rng(7).normal(size=(6, 5))
    ax = plot_alphas(alphas, CELL_OPS).axes[0]
    weights = torch.softmax(torch.tensor(alphas), dim=-1).numpy()
    widths = np.array([[bar.get_width() for bar in container] for container in ax.containers]).T  # (edges, ops)
    np.testing.assert_allclose(widths, weights)
    strongest = [t.get_text() for t in ax.texts]
    assert strongest == [CELL_OPS[k] for k in weights.argmax(axis=1)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0→1", "0→2", "1→2", "0→3", "1→3", "2→3"]


def test_alpha_history_draws_one_panel_per_edge_into_the_given_axes():
    alphas = np.cumsum(np.random.default_rng(8).normal(size=(20, 6, 5)), axis=0)
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_alphas(alphas, CELL_OPS, ax=ax) is fig
    panels = ax.child_axes
    assert len(panels) == 6
    weights = torch.softmax(torch.tensor(alphas), dim=-1).numpy()
    for e, panel in enumerate(panels):
        for k, line in enumerate(panel.lines):
            np.testing.assert_allclose(line.get_ydata(), weights[:, e, k])
        assert panel.get_title().endswith(CELL_OPS[int(weights[-1, e].argmax())])


def test_alphas_reject_shapes_that_do_not_match_the_ops():
    with pytest.raises(ValueError, match=r"alphas: expected shape \(edges, 5\)"):
        plot_alphas(np.zeros((6, 4)), CELL_OPS)


# --- training curve, axes, rendering --------------------------------------------------------------
def test_training_curve_from_lists_and_from_a_result_record():
    losses, accuracies = [2.3, 1.5, 1.1, 0.8], [0.3, 0.55, 0.7, 0.72]
    fig = plot_training_curve(losses, accuracies)
    ax, twin = fig.axes
    np.testing.assert_allclose(ax.lines[0].get_ydata(), losses)
    np.testing.assert_allclose(twin.lines[0].get_ydata(), accuracies)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3, 4])
    record_fig = plot_training_curve({"train_losses": losses, "val_accuracies": accuracies, "status": "ok"})
    np.testing.assert_allclose(record_fig.axes[1].lines[0].get_ydata(), accuracies)
    assert len(plot_training_curve(losses).axes) == 1


def all_views(rng):
    records = random_records(rng)
    return [
        lambda ax: plot_policy_heatmap(random_snapshot(rng), ax=ax),
        lambda ax: plot_entropy_over_time(rng.uniform(size=(8, 4)), ax=ax),
        lambda ax: plot_rewards(records, ax=ax),
        lambda ax: plot_accuracy_vs_cost(records, "flops", ax=ax),
        lambda ax: plot_alphas(rng.normal(size=(6, 5)), CELL_OPS, ax=ax),
        lambda ax: plot_training_curve([1.0, 0.5], [0.5, 0.7], ax=ax),
    ]


def test_every_view_draws_into_a_given_axes():
    for view in all_views(np.random.default_rng(9)):
        fig = Figure()
        ax = fig.add_subplot()
        assert view(ax) is fig


def test_every_view_renders_to_png_from_a_background_thread():
    views = all_views(np.random.default_rng(10))
    with ThreadPoolExecutor(max_workers=2) as pool:
        pngs = list(pool.map(lambda view: figure_to_png(view(None), dpi=50), views))
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in pngs)
