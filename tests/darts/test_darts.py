"""DARTS: the bilevel step against hand-computed and autograd oracles, deriving, the strategy, resume."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from nasrl_nb.assembly.factory import make_search, resume_search
from nasrl_nb.bench.evaluator import TabularEvaluator
from nasrl_nb.darts.architect import BilevelOptimizer, RelaxedSupernet, finite_difference_hvp
from nasrl_nb.darts.mixed_op import MixedOp
from nasrl_nb.darts.relaxed_cell import RelaxedCellSupernet
from nasrl_nb.darts.strategy import DartsStrategy
from nasrl_nb.evaluators.base import FunctionEvaluator
from nasrl_nb.spaces.cell_space import CellSpace


# --- a two-op toy whose step can be written by hand -----------------------------------------------------
class TwoOpToy(nn.Module):
    """One edge, two ops: ``o_a(x) = w x`` and ``o_b(x) = x``; output ``(p_a w + p_b) x``, ``p = softmax(alpha)``."""

    op_names = ("scale", "identity")

    def __init__(self, w: float, alpha: tuple[float, float]):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64))
        self.alpha = nn.Parameter(torch.tensor(alpha, dtype=torch.float64))

    def forward(self, x):
        p = torch.softmax(self.alpha, dim=0)
        return (p[0] * self.w + p[1]) * x

    def weight_parameters(self):
        return [self.w]

    def arch_parameters(self):
        return [self.alpha]


def mse(out, y):
    return ((out - y) ** 2).mean()


def batch(x: float, y: float):
    return torch.tensor([x], dtype=torch.float64), torch.tensor([y], dtype=torch.float64)


def test_first_order_step_equals_the_hand_computed_step():
    w, alpha, (xt, yt), (xv, yv) = 0.7, (0.3, -0.2), (1.5, 2.0), (-1.0, 0.5)
    lr_w, lr_a, wd_w, wd_a = 0.1, 0.05, 0.01, 0.02
    toy = TwoOpToy(w, alpha)
    opt = BilevelOptimizer(toy, w_lr=lr_w, w_momentum=0.9, w_weight_decay=wd_w, grad_clip=None, alpha_lr=lr_a,
                           alpha_weight_decay=wd_a, criterion=mse)
    opt.step(batch(xt, yt), batch(xv, yv))

    # 1. architecture step: dL_val/dalpha by the chain rule, then Adam's first step
    pa = math.exp(alpha[0]) / (math.exp(alpha[0]) + math.exp(alpha[1]))
    pb = 1 - pa
    s = pa * w + pb
    dL_ds = 2 * (s * xv - yv) * xv
    ds_dalpha = (pa * pb * (w - 1), -pa * pb * (w - 1))  # d softmax: p_k (delta_kj - p_j)
    new_alpha = []
    for a, d in zip(alpha, ds_dalpha):
        g = dL_ds * d + wd_a * a  # Adam's L2 weight decay
        new_alpha.append(a - lr_a * g / (abs(g) + 1e-8))  # first Adam step: m_hat / sqrt(v_hat) = g / |g|
    # 2. weight step at the new alphas: SGD's first step (momentum buffer = gradient + weight decay)
    pa2 = math.exp(new_alpha[0]) / (math.exp(new_alpha[0]) + math.exp(new_alpha[1]))
    s2 = pa2 * w + (1 - pa2)
    g_w = 2 * (s2 * xt - yt) * xt * pa2 + wd_w * w
    assert toy.alpha.tolist() == pytest.approx(new_alpha, rel=1e-12)
    assert toy.w.item() == pytest.approx(w - lr_w * g_w, rel=1e-12)


def test_second_order_gradient_equals_autograd_through_the_unrolled_step():
    """Eq. 7 with the finite-difference H v of Eq. 8 against d/dalpha L_val(w - xi grad_w L_train(w, alpha), alpha)."""
    toy = TwoOpToy(0.7, (0.3, -0.2))
    train, val, xi = batch(1.5, 2.0), batch(-1.0, 0.5), 0.1
    opt = BilevelOptimizer(toy, w_lr=xi, second_order=True, criterion=mse)
    grads, info = opt.architecture_gradient(train, val)
    # the exact gradient: differentiate through the unrolled weight step
    w, alpha = toy.w.detach().clone().requires_grad_(True), toy.alpha.detach().clone().requires_grad_(True)

    def out(w_, a_, x):
        p = torch.softmax(a_, dim=0)
        return (p[0] * w_ + p[1]) * x

    (g_w,) = torch.autograd.grad(mse(out(w, alpha, train[0]), train[1]), w, create_graph=True)
    w_unrolled = w - xi * g_w
    (exact,) = torch.autograd.grad(mse(out(w_unrolled, alpha, val[0]), val[1]), alpha)
    torch.testing.assert_close(grads[0], exact, rtol=1e-6, atol=1e-9)
    assert info["eps"] > 0 and info["hvp_norm"] > 0
    assert toy.w.item() == 0.7 and toy.alpha.tolist() == [0.3, -0.2]  # the gradient changes nothing


def tiny_supernet(seed: int = 0) -> RelaxedCellSupernet:
    torch.manual_seed(seed)
    return RelaxedCellSupernet(CellSpace(), (1, 4, 4), 3, channels=2, cells_per_stage=1).double()


class SmoothRelaxedNet(nn.Module):
    """Two mixed edges of kink-free registry ops, tanh between: smooth, so finite differences converge.

    (A ReLU network is not: a step of ``eps v`` that moves a unit across its kink adds a jump of
    the gradient divided by ``2 eps``, which no ``eps`` removes.)
    """

    op_names = ("none", "skip_connect", "conv1x1", "conv3x3", "avgpool3x3")

    def __init__(self):
        super().__init__()
        self.edges = nn.ModuleList(MixedOp(3, 3, 1, self.op_names) for _ in range(2))
        self.stem = nn.Conv2d(1, 3, 3, padding=1)
        self.classifier = nn.Linear(3, 4)
        self.alphas = nn.Parameter(1e-1 * torch.randn(2, len(self.op_names)))

    def forward(self, x):
        w = torch.softmax(self.alphas, dim=-1)
        h = torch.tanh(self.edges[0](self.stem(x), w[0]))
        return self.classifier(torch.tanh(self.edges[1](h, w[1])).mean(dim=(2, 3)))

    def weight_parameters(self):
        return [p for name, p in self.named_parameters() if name != "alphas"]

    def arch_parameters(self):
        return [self.alphas]


def test_finite_difference_hvp_matches_double_backward():
    """DARTS Eq. 8 with the paper's eps = 0.01 / ||v|| against autograd's grad_alpha (grad_w L . v)."""
    torch.manual_seed(0)
    net = SmoothRelaxedNet().double()
    X, y = torch.randn(6, 1, 5, 5, dtype=torch.float64), torch.randint(0, 4, (6,))
    weights, alphas = net.weight_parameters(), net.arch_parameters()
    v = [torch.randn_like(p) for p in weights]
    loss = nn.functional.cross_entropy(net(X), y)
    grad_w = torch.autograd.grad(loss, weights, create_graph=True)
    (exact,) = torch.autograd.grad(sum((g * u).sum() for g, u in zip(grad_w, v)), alphas)
    before = [p.detach().clone() for p in weights]
    (approx,), eps = finite_difference_hvp(net, nn.functional.cross_entropy, (X, y), weights, alphas, v)
    norm_v = math.sqrt(sum(float((u * u).sum()) for u in v))
    assert eps == pytest.approx(0.01 / norm_v)  # the paper's eps
    torch.testing.assert_close(approx, exact, rtol=1e-3, atol=1e-6)  # central differences: error O(eps^2)
    (closer,), _ = finite_difference_hvp(net, nn.functional.cross_entropy, (X, y), weights, alphas, v, r=1e-4)
    assert (closer - exact).norm() < (approx - exact).norm()  # and it shrinks with eps
    assert all(torch.equal(p, b) for p, b in zip(weights, before))  # w is put back exactly


def test_architecture_gradient_leaves_weights_and_batchnorm_statistics_alone():
    net = tiny_supernet()
    X, y = torch.randn(8, 1, 4, 4, dtype=torch.float64), torch.randint(0, 3, (8,))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for second_order in (False, True):
        BilevelOptimizer(net, second_order=second_order).architecture_gradient((X[:4], y[:4]), (X[4:], y[4:]))
        assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())


def test_one_step_moves_both_parameter_sets():
    net = tiny_supernet()
    X, y = torch.randn(8, 1, 4, 4, dtype=torch.float64), torch.randint(0, 3, (8,))
    alpha, w = net.alphas.detach().clone(), net.stem[0].weight.detach().clone()
    stats = BilevelOptimizer(net, second_order=True).step((X[:4], y[:4]), (X[4:], y[4:]))
    assert not torch.equal(alpha, net.alphas) and not torch.equal(w, net.stem[0].weight)
    assert stats.hvp_norm is not None and stats.eps > 0 and math.isfinite(stats.train_loss)


# --- the relaxed cell supernet --------------------------------------------------------------------------------
def test_the_cell_supernet_follows_the_contract_and_derives_deterministically():
    net = tiny_supernet()
    assert isinstance(net, RelaxedSupernet)
    ids = {id(p) for p in net.weight_parameters()}
    assert id(net.alphas) not in ids and len(ids) == len(list(net.parameters())) - 1
    torch.testing.assert_close(net.arch_weights()["cell"].sum(dim=1), torch.ones(6, dtype=torch.float64))
    assert net.edge_names() == {"cell": ["0->1", "0->2", "1->2", "0->3", "1->3", "2->3"]}
    assert str(net.derive()) == str(net.derive())
    with torch.no_grad():
        net.alphas.zero_()  # a tie everywhere: the first op after `none`
        net.alphas[:, 0] = 5.0  # `none` strongest: still excluded
        net.alphas[2, 3] = 1.0  # edge 1->2: nor_conv_3x3
    arch = net.derive()
    assert str(arch) == "|skip_connect~0|+|skip_connect~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
    assert net.skip_share() == pytest.approx(5 / 6)
    assert net(torch.randn(2, 1, 4, 4, dtype=torch.float64)).shape == (2, 3)


def test_the_auxiliary_skip_adds_beta_times_the_input_to_every_edge():
    net = tiny_supernet()
    cell = net.blocks[0]
    x = torch.randn(2, 2, 4, 4, dtype=torch.float64)
    weights = torch.zeros(6, 5, dtype=torch.float64)
    weights[:, 0] = 1.0  # `none` everywhere: only the auxiliary skips carry signal
    skip = (weights == 0).tolist()
    assert not cell(x, weights, skip, 0.0).any()
    # node1 = b x; node2 = b x + b node1; node3 = b x + b node1 + b node2
    b = 0.5
    n1 = b * x
    n2 = b * x + b * n1
    torch.testing.assert_close(cell(x, weights, skip, b), b * x + b * n1 + b * n2)


# --- the strategy -------------------------------------------------------------------------------------------
def test_strategy_runs_epochs_and_reports_the_mixing_weights(tiny_digits):
    torch.manual_seed(0)
    strategy = DartsStrategy(CellSpace(), tiny_digits, channels=2, batch_size=32, epochs=4)
    archs = strategy.propose(2)  # a Proposal: the derived cells, and the epochs' statistics as its stats
    stats = {**archs.stats, **strategy.observe(archs, [{}, {}], [0.0, 0.0])}
    assert archs[-1] == strategy.supernet.derive() and strategy.epoch == 2
    assert not any(isinstance(value, list) and value and isinstance(value[0], dict) for value in vars(strategy).values())
    assert [e["epoch"] for e in stats["epochs"]] == [1, 2] and stats["ops"] == list(CellSpace().ops)
    for epoch in stats["epochs"]:
        assert len(epoch["weights"]["cell"]) == 6
        assert all(sum(row) == pytest.approx(1.0) for row in epoch["weights"]["cell"])
        assert 0.0 <= epoch["skip_share"] <= 1.0 and 0.0 <= epoch["supernet_val_accuracy"] <= 1.0
        assert epoch["steps"] == 2  # 90 examples per half, batches of 32: 2 whole batches
    assert stats["epochs"][1]["w_lr"] < stats["epochs"][0]["w_lr"]  # cosine annealing
    probs = strategy.choice_probabilities(archs[-1:])[0]
    assert [p["choice"] for p in probs] == list(archs[-1].choices) and all(0 < p["prob"] < 1 for p in probs)


def test_darts_minus_decays_beta_and_darts_plus_freezes_at_the_stop(tiny_digits):
    torch.manual_seed(0)
    minus = DartsStrategy(CellSpace(), tiny_digits, channels=2, epochs=4, remedy="darts-", aux_skip_weight=1.0)
    assert [minus.scheduled_aux_skip_weight(e) for e in (0, 2, 4, 6)] == [1.0, 0.5, 0.0, 0.0]
    plus = DartsStrategy(CellSpace(), tiny_digits, channels=2, batch_size=32, epochs=4, remedy="darts+", max_skips=2)
    with torch.no_grad():
        plus.supernet.alphas[:, 1] = 10.0  # skip_connect far ahead on every edge: the criterion fires at once
    proposal = plus.propose(1)
    first = proposal[0]
    assert plus.stopped_at == 1 and proposal.stats["epochs"][0]["stopped"] and plus.observe([first], [{}], [0.0])["stopped_at"] == 1
    alphas = plus.supernet.alphas.detach().clone()
    assert plus.propose(2) == [first, first] and plus.epoch == 1 and torch.equal(alphas, plus.supernet.alphas)


def test_bad_settings_name_the_field(tiny_digits):
    with pytest.raises(ValueError, match=r"^darts.remedy: 'bogus' is not allowed; allowed values: none, darts-, darts\+, r-darts-l2"):
        DartsStrategy(CellSpace(), tiny_digits, remedy="bogus")
    with pytest.raises(ValueError, match=r"^darts.remedy: 'bogus' is not allowed"):
        make_search(method="darts", dataset=tiny_digits, remedy="bogus")
    with pytest.raises(ValueError, match=r"^space: 'macro' has no relaxed supernet for DARTS; allowed values: cell"):
        make_search(method="darts", space="macro", dataset=tiny_digits, channels=2)
    with pytest.raises(ValueError, match=r"^data: expected a nasrl_nb.nn.data.Dataset"):
        DartsStrategy(CellSpace(), "digits")


# --- through the one search loop ------------------------------------------------------------------------------
def darts_run(out_dir, data, *, budget=3, resume=False, **settings):
    evaluator = FunctionEvaluator(lambda arch: {"val_accuracy": arch.choices.count("skip_connect") / 6})
    if resume:
        return resume_search(out_dir, evaluator=evaluator, dataset=data, **settings)
    return make_search(method="darts", dataset=data, evaluator=evaluator, budget=budget, channels=2, seed=3,
                       darts_kwargs={"batch_size": 45}, out_dir=out_dir, progress=False, **settings)


def read_lines(path):
    """The lines of a jsonl file, wall-clock ``seconds`` left out."""
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in path.read_text().splitlines()]


def test_search_writes_one_derived_cell_per_epoch_and_resumes_exactly(tmp_path, tiny_digits):
    full = darts_run(tmp_path / "full", tiny_digits, second_order=True)
    full.run()
    cut = darts_run(tmp_path / "cut", tiny_digits, second_order=True)
    cut.step()
    cut.step()
    del cut  # "killed" after two committed epochs
    resumed = darts_run(tmp_path / "cut", tiny_digits, resume=True)
    assert resumed.evaluations == 2
    resumed.run()
    history = read_lines(tmp_path / "full" / "history.jsonl")
    assert len(history) == 3 and history == read_lines(tmp_path / "cut" / "history.jsonl")
    steps = read_lines(tmp_path / "full" / "steps.jsonl")
    assert [s["stats"]["epochs"][0]["epoch"] for s in steps] == [1, 2, 3]
    assert steps == read_lines(tmp_path / "cut" / "steps.jsonl")
    assert [h["arch"] for h in history] == [s["stats"]["epochs"][0]["derived"] for s in steps]
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["strategy"]
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)["strategy"]
    assert torch.equal(a["supernet"]["alphas"], b["supernet"]["alphas"]) and a["epoch"] == b["epoch"] == 3
    assert all(torch.equal(a["supernet"][k], b["supernet"][k]) for k in a["supernet"])
    config = json.loads((tmp_path / "full" / "config.json").read_text())
    assert config["darts"]["second_order"] is True and config["darts"]["epochs"] == 3 and config["batch_size"] == 1


def test_search_on_the_digits_cell_table_trains_on_the_tables_data(tmp_path):
    evaluator = TabularEvaluator("bench:digits-cell")
    search = make_search(method="darts", dataset="bench:digits-cell", evaluator=evaluator, budget=1, channels=2,
                         max_samples=200, progress=False)
    assert search.strategy.data.name == "digits" and len(search.strategy.data.y_train) == 120
    search.run()
    assert search.history[0]["arch"] == str(search.strategy.supernet.derive())
    assert search.history[0]["table_entry"] is not None  # the ground truth answered


def test_traced_step_equals_the_step_and_shows_eq_7_term_by_term():
    nets = [tiny_supernet(), tiny_supernet()]
    X, y = torch.randn(8, 1, 4, 4, dtype=torch.float64), torch.randint(0, 3, (8,))
    plain = BilevelOptimizer(nets[0], second_order=True).step((X[:4], y[:4]), (X[4:], y[4:]))
    traced, trace = BilevelOptimizer(nets[1], second_order=True).traced_step((X[:4], y[:4]), (X[4:], y[4:]))
    assert plain == traced and torch.equal(nets[0].alphas, nets[1].alphas)
    torch.testing.assert_close(trace["grad_alpha"][0], trace["direct"][0] - trace["xi"] * trace["hvp"][0])
    assert torch.equal(trace["alphas_after"][0], nets[1].alphas.detach()) and trace["w_change_norm"] > 0
    assert not torch.equal(trace["alphas_before"][0], trace["alphas_after"][0])


def test_darts_settings_are_refused_for_other_methods(tiny_digits):
    with pytest.raises(ValueError, match=r"^remedy: only for methods darts; method 'random' does not use it$"):
        make_search(method="random", dataset=tiny_digits, remedy="darts-")
    with pytest.raises(ValueError, match=r"^darts_kwargs: unknown key 'xi'; allowed keys: second_order, batch_size"):
        make_search(method="darts", dataset=tiny_digits, darts_kwargs={"xi": 0.1})


def test_cli_runs_darts_with_its_options_then_exports_the_derived_cell(tmp_path, capsys):
    from nasrl_nb.cli.commands import main

    out = tmp_path / "run"
    args = ["search", "--method", "darts", "--space", "cell", "--dataset", "digits", "--second-order", "--remedy", "darts+",
            "--budget", "2", "--channels", "2", "--max-samples", "200", "--epochs", "1", "--device", "cpu", "--quiet",
            "--out", str(out)]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "darts" and summary["evaluations"] == 2 and summary["batch_size"] == 1
    assert summary["strategy"]["second_order"] is True and summary["strategy"]["remedy"] == "darts+"
    steps = read_lines(out / "steps.jsonl")
    assert [len(s["stats"]["epochs"]) for s in steps] == [1, 1] and steps[-1]["stats"]["ops"] == list(CellSpace().ops)
    assert main(["export", str(out)]) == 0
    assert f"ARCHITECTURE = {json.dumps(steps[-1]['stats']['epochs'][0]['derived'])}" in capsys.readouterr().out  # the last cell


def test_the_config_section_names_every_setting_of_the_strategy():
    import dataclasses
    import inspect

    from nasrl_nb.assembly.config import DartsConfig

    params = set(inspect.signature(DartsStrategy.__init__).parameters) - {"self", "space", "data", "channels",
                                                                            "cells_per_stage", "seed", "device"}
    assert {f.name for f in dataclasses.fields(DartsConfig)} == params  # channels, cells, device: from `child`


def test_the_run_folder_records_the_epochs_each_proposal_returned(tmp_path, tiny_digits):
    """steps.jsonl holds exactly the statistics the epochs returned (a twin search's strategy
    proposing by hand), in the record's order: the proposal's, then observe's."""
    darts_run(tmp_path / "run", tiny_digits, budget=2).run()
    steps = read_lines(tmp_path / "run" / "steps.jsonl")
    twin = darts_run(None, tiny_digits, budget=2).strategy
    proposals = [twin.propose(1) for _ in range(2)]
    assert [s["stats"]["epochs"][0]["epoch"] for s in steps] == [1, 2]
    for step, proposal in zip(steps, proposals, strict=True):
        assert list(step["stats"])[:7] == [*proposal.stats, "ops", "edges", "stopped_at"]
        assert {k: step["stats"][k] for k in proposal.stats} == json.loads(json.dumps(proposal.stats))
        assert step["stats"]["epochs"][0]["derived"] == str(proposal[0])
