"""MNIST-1D (Greydanus 2020) as a dataset, and networks that take its 1 x 40 signals as they are.

The data is generated offline and split by the digits recipe; every network of the package
(children of the three spaces, ENAS supernets, DARTS relaxed supernets) runs its kernels,
pools and strides along the signal when the input height is 1.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasrl_nb.assembly.standalone import standalone_source
from nasrl_nb.bench.build import DATASET_DEFAULTS, BuildSettings, train_cell
from nasrl_nb.darts.relaxed_supernets import build_relaxed_supernet
from nasrl_nb.enas.supernet import build_shared_supernet
from nasrl_nb.nn import data as data_module
from nasrl_nb.nn.child_network import ChildNetwork
from nasrl_nb.nn.data import load_dataset
from nasrl_nb.nn.operations import FactorizedReduce, along_signal
from nasrl_nb.nn.training import train_and_evaluate
from nasrl_nb.spaces.registry import get_space

SIGNAL = (1, 1, 40)
ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def mnist1d():
    return load_dataset("mnist1d", seed=0)


def _arch(space_name: str, seed: int = 0):
    return get_space(space_name).sample(np.random.default_rng(seed))


# --- the data -------------------------------------------------------------------------------------
def test_mnist1d_is_a_split_standardized_one_row_signal(mnist1d):
    assert mnist1d.input_shape == SIGNAL and mnist1d.num_classes == 10
    assert (len(mnist1d.y_train), len(mnist1d.y_val), len(mnist1d.y_test)) == (3000, 1000, 1000)  # 5,000 pooled, 60/20/20
    assert float(mnist1d.X_train.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(mnist1d.X_train.std()) == pytest.approx(1.0, abs=1e-3)
    assert torch.bincount(mnist1d.y_val).tolist() == [100] * 10  # stratified by class


def test_mnist1d_is_generated_offline_deterministic_per_seed_and_leaves_global_rngs_alone(mnist1d, monkeypatch):
    """One regeneration (about 2 s) serves three checks: no download, the same data, global RNGs untouched."""
    # not ``import mnist1d.data``: here the name ``mnist1d`` is the fixture's dataset
    from mnist1d import data as generator

    def refuse(*args, **kwargs):
        raise AssertionError("get_dataset downloads; the package must generate MNIST-1D offline")

    monkeypatch.setattr(generator, "get_dataset", refuse)
    data_module._mnist1d_pool.cache_clear()  # generate again, not from the cache
    random.seed(123)
    np.random.seed(123)
    expected = (random.random(), np.random.rand())
    random.seed(123)
    np.random.seed(123)
    again = load_dataset("mnist1d", seed=0)
    assert (random.random(), np.random.rand()) == expected  # the generator's set_seed(42) was undone
    assert torch.equal(again.X_train, mnist1d.X_train) and torch.equal(again.y_test, mnist1d.y_test)
    other = load_dataset("mnist1d", seed=1)
    assert not torch.equal(other.y_train, mnist1d.y_train)  # another seed, another split
    assert load_dataset("mnist1d", max_samples=500).input_shape == SIGNAL


# --- along the signal ----------------------------------------------------------------------------
def test_along_signal_conv_is_a_1d_conv_and_pools_pool_along_the_signal():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 1, 11)
    conv = along_signal(nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1, bias=False)))[0]
    assert conv.kernel_size == (1, 3) and conv.stride == (1, 2) and conv.padding == (0, 1)
    expected = F.conv1d(x.squeeze(2), conv.weight.squeeze(2), stride=2, padding=1)  # (B, 4, 6)
    assert torch.allclose(conv(x).squeeze(2), expected, atol=1e-6)
    pools = along_signal(nn.ModuleList([nn.AvgPool2d(3, 2, 1, count_include_pad=False), nn.MaxPool2d(3, 1, 1), nn.AvgPool2d(2, 2)]))
    assert torch.allclose(pools[0](x).squeeze(2), F.avg_pool1d(x.squeeze(2), 3, 2, 1, count_include_pad=False))
    assert torch.allclose(pools[1](x).squeeze(2), F.max_pool1d(x.squeeze(2), 3, 1, 1))
    assert torch.allclose(pools[2](x).squeeze(2), F.avg_pool1d(x.squeeze(2), 2, 2))


def test_factorized_reduce_on_a_signal_reads_every_position():
    reduce = FactorizedReduce(2, 4, stride=2)
    x = torch.randn(1, 2, 1, 8, requires_grad=True)
    reduce(x).square().sum().backward()
    assert bool((x.grad[0, :, 0, 1::2] != 0).any())  # the offset grid sees the odd positions


@pytest.mark.parametrize("space_name", ["cell", "macro", "darts"])
def test_children_of_every_space_keep_a_height_of_1_and_train_a_step(space_name, mnist1d):
    torch.manual_seed(0)
    net = ChildNetwork(_arch(space_name), mnist1d.input_shape, mnist1d.num_classes, channels=8)
    kernels = [m.kernel_size for m in net.modules() if isinstance(m, (nn.Conv2d, nn.AvgPool2d, nn.MaxPool2d))]
    assert kernels and all(k[0] == 1 if isinstance(k, tuple) else k == 1 for k in kernels)  # 1 x k everywhere
    heights = []
    hooks = [m.register_forward_hook(lambda m, i, o: heights.append(o.shape[2])) for m in net.features.modules()
             if isinstance(m, nn.Conv2d)]
    X, y = mnist1d.X_train[:16], mnist1d.y_train[:16]
    logits = net(X)
    for h in hooks:
        h.remove()
    assert logits.shape == (16, 10) and set(heights) == {1}
    before = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_cell_network_halves_the_signal_twice_and_has_1d_kernels():
    arch = get_space("cell").parse(ALL_CONV)
    net = ChildNetwork(arch, SIGNAL, 10)
    assert net.features[:-1](torch.zeros(2, *SIGNAL)).shape == (2, 64, 1, 10)  # 40 -> 20 -> 10, height stays 1
    square = ChildNetwork(arch, (1, 8, 8), 10)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert sum(m.weight.numel() for m in convs) < sum(m.weight.numel() for m in square.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("space_name", ["cell", "macro"])
def test_enas_supernets_on_a_signal_equal_their_standalone_children(space_name):
    torch.manual_seed(0)
    space = get_space(space_name)
    supernet = build_shared_supernet(space, SIGNAL, 10, channels=8).eval()
    x = torch.randn(4, *SIGNAL)
    for seed in range(3):
        arch = _arch(space_name, seed)
        child = supernet.child(arch).eval()
        assert torch.allclose(supernet(x, arch), child(x), atol=1e-5)


@pytest.mark.parametrize("space_name", ["cell", "darts"])
def test_relaxed_supernets_run_on_a_signal_with_1d_kernels(space_name):
    torch.manual_seed(0)
    supernet = build_relaxed_supernet(get_space(space_name), SIGNAL, 10, channels=4)
    assert all(m.kernel_size[0] == 1 for m in supernet.modules() if isinstance(m, nn.Conv2d))
    logits = supernet(torch.randn(4, *SIGNAL))
    logits.sum().backward()
    alphas = [p for name, p in supernet.named_parameters() if name.startswith("alphas")]
    assert logits.shape == (4, 10) and alphas and all(bool(a.grad.abs().sum() > 0) for a in alphas)


def test_export_refuses_a_signal_with_a_clear_error():
    with pytest.raises(ValueError, match=r"input_shape: a height of 1 .* is not exported; allowed values: a height of 2"):
        standalone_source(get_space("cell").parse(ALL_CONV), input_shape=SIGNAL)


@pytest.mark.slow
def test_a_real_cell_learns_mnist1d_far_above_chance(mnist1d):
    torch.manual_seed(0)
    net = ChildNetwork(get_space("cell").parse(ALL_CONV), mnist1d.input_shape, mnist1d.num_classes)
    result = train_and_evaluate(net, mnist1d, epochs=2, lr=0.003, batch_size=128, seed=0, device="cpu", lr_schedule="cosine")
    assert result.val_accuracy > 0.6  # chance is 0.10 (digits-cell's settings: about 0.8 for this cell)


# --- the table's build settings --------------------------------------------------------------------
def test_build_settings_for_a_dataset_take_its_defaults_then_overrides():
    settings = BuildSettings.for_dataset("mnist1d", epochs=1)
    assert settings.dataset == "mnist1d" and settings.table_name == "mnist1d-cell" and settings.epochs == 1
    assert {k: getattr(settings, k) for k in DATASET_DEFAULTS["mnist1d"] if k != "epochs"} == {
        k: v for k, v in DATASET_DEFAULTS["mnist1d"].items() if k != "epochs"}
    assert BuildSettings.for_dataset() == BuildSettings() and BuildSettings().table_name == "digits-cell"
    assert settings.to_json()["dataset"] == "mnist1d"
    with pytest.raises(ValueError, match=r"^dataset: .*'nope'.*digits"):
        BuildSettings.for_dataset("nope")
    with pytest.raises(ValueError, match=r"^colour: not a build setting to override; allowed values: data_seed"):
        BuildSettings.for_dataset("mnist1d", colour=3)


def test_train_cell_on_mnist1d_gives_one_row_per_seed(mnist1d):
    settings = BuildSettings.for_dataset("mnist1d", channels=4, epochs=1, batch_size=256)
    rows = train_cell(ALL_CONV, settings, mnist1d)
    assert [r["seed"] for r in rows] == [0, 1] and all(0 <= r["val_accuracy"] <= 1 for r in rows)
    assert rows[0]["flops"] > 0 and rows[0]["val_accuracy_per_epoch"]
    assert rows[0]["params"] == ChildNetwork(get_space("cell").parse(ALL_CONV), SIGNAL, 10, channels=4).get_complexity_metrics()["params"]


@pytest.mark.slow
# 3 cells of width 4 after 1 epoch can tie: the build's seed correlation is then NaN (numpy warns while computing it)
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_bench_build_dataset_mnist1d_writes_mnist1d_cell(tmp_path, capsys):
    """The CLI's entry point in this process (``python -m nasrl_nb`` itself is run by tests/cli/test_cli_bench.py):
    the build's worker is still a spawned process, and the data is this session's cached MNIST-1D."""
    from nasrl_nb.cli.commands import main

    out = tmp_path / "build"
    args = ["bench", "build", "--dataset", "mnist1d", "--out", str(out), "--workers", "1", "--limit", "3", "--quiet",
            "--channels", "4", "--epochs", "1"]
    assert main(args) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["name"] == "mnist1d-cell" and meta["rows"] == 6 and "MNIST-1D" in meta["description"]
    assert meta["settings"] == {**BuildSettings.for_dataset("mnist1d", channels=4, epochs=1).to_json()}
    assert (out / "mnist1d-cell.csv.gz").exists() and (out / "mnist1d-cell.json").exists()
    assert main(["bench", "info", str(out / "mnist1d-cell.csv.gz")]) == 0
    assert capsys.readouterr().out.startswith("mnist1d-cell: 6 rows, 3 architectures in the table, 3 unique (of 6,466)")
    assert main(["bench", "build", "--dataset", "mnist", "--out", str(tmp_path / "x"), "--limit", "1"]) == 2
    assert "dataset: 'mnist' is not allowed; allowed values: digits, mnist1d" in capsys.readouterr().err


def test_make_search_trains_real_children_on_mnist1d(tmp_path):
    from nasrl_nb import make_search

    search = make_search("random", space="cell", dataset="mnist1d", budget=2, epochs=1, channels=4,
                         out_dir=tmp_path / "run", overwrite=True)
    assert search.evaluator.data.input_shape == SIGNAL
    search.run()
    accuracies = [r["val_accuracy"] for r in search.history]
    assert len(accuracies) == 2 and all(0 <= a <= 1 for a in accuracies)


def test_space_explorer_draws_and_costs_a_child_of_a_signal(mnist1d):
    from nasrl_nb.widgets import SpaceExplorer

    explorer = SpaceExplorer(get_space("cell"), data=mnist1d, arch=get_space("cell").parse(ALL_CONV))
    signal_metrics = explorer.update()
    square_metrics = ChildNetwork(get_space("cell").parse(ALL_CONV), (1, 8, 8), 10).get_complexity_metrics()
    assert explorer.picture.value and 0 < signal_metrics["params"] < square_metrics["params"]  # 1 x 3 kernels
